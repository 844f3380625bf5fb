//! Sessions in Redis, and the rotating refresh tokens that keep them going.
//!
//! A session is the hash `sagaway:session:{sid}` holding `user`, `roles`, `refresh` (the
//! SHA-256 of the current refresh token) and one `used:{hash}` field per refresh token already
//! rotated away, with a TTL renewed at every rotation. A refresh token is `{sid}.{secret}` with a
//! 256-bit random secret; Redis only ever sees its hash. Rotation is one Lua script, so two
//! concurrent refreshes with the same token cannot both win: the second finds the token among
//! the used ones, which is reuse, and the whole session is deleted. Deleting a session also
//! publishes its id on `live::REVOKED_CHANNEL`, in the same atomic step, so that every gateway's
//! [`SessionCache`] forgets it: the revoking gateway refuses the session from the very next
//! request, the others as soon as the message reaches them (see `auth::live`).
//!
//! The set `sagaway:user-sessions:{user}` names each user's sessions, so that all of them can
//! be ended at once ([`Sessions::revoke_all`]: "log out everywhere", or an administrator
//! locking a user out). It lives as long as the user's longest-lived session: every login and
//! rotation adds its session to it and renews it to the session TTL. Ending one session takes it out of the set; a
//! session that merely expired stays in it until the set expires, harmlessly. The scripts name
//! the set from the session's `user` field, a key they are not given: Sagaway's Redis is one
//! node, not a cluster.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use redis::aio::ConnectionManager;
use ring::rand::{SecureRandom as _, SystemRandom};
use sagaway_platform::identity::Role;

use crate::auth::live::{REVOKED_CHANNEL, SessionCache};
use crate::store::{Store, digest};

/// The prefix of a session's key; the session id follows.
const SESSION_PREFIX: &str = "sagaway:session:";

/// The prefix of the set of a user's sessions; the user id follows.
const USER_SESSIONS_PREFIX: &str = "sagaway:user-sessions:";

/// Rotates `KEYS[1]`'s refresh hash from `ARGV[1]` to `ARGV[2]` and renews the TTL (`ARGV[3]`)
/// of the session and of its user's set (`ARGV[6]` and the user id), adding the session's id
/// (`ARGV[5]`) to the set (a session opened before the set existed joins it at its first
/// refresh); on reuse deletes the session, takes it out of the set and publishes its id on
/// channel `ARGV[4]`.
const ROTATE: &str = r"
if redis.call('EXISTS', KEYS[1]) == 0 then return {'missing'} end
local user = redis.call('HGET', KEYS[1], 'user')
if redis.call('HGET', KEYS[1], 'refresh') == ARGV[1] then
  redis.call('HSET', KEYS[1], 'refresh', ARGV[2], 'used:' .. ARGV[1], '1')
  redis.call('EXPIRE', KEYS[1], ARGV[3])
  redis.call('SADD', ARGV[6] .. user, ARGV[5])
  redis.call('EXPIRE', ARGV[6] .. user, ARGV[3])
  local roles = redis.call('HGET', KEYS[1], 'roles')
  return {'rotated', user, roles}
end
if redis.call('HEXISTS', KEYS[1], 'used:' .. ARGV[1]) == 1 then
  redis.call('DEL', KEYS[1])
  redis.call('SREM', ARGV[6] .. user, ARGV[5])
  redis.call('PUBLISH', ARGV[4], ARGV[5])
  return {'reused'}
end
return {'invalid'}
";

/// Deletes session `KEYS[1]`, takes `ARGV[2]` (its id) out of its user's set (`ARGV[3]` and
/// the user id) and publishes the id on channel `ARGV[1]`.
const REVOKE: &str = r"
local user = redis.call('HGET', KEYS[1], 'user')
redis.call('DEL', KEYS[1])
if user then redis.call('SREM', ARGV[3] .. user, ARGV[2]) end
redis.call('PUBLISH', ARGV[1], ARGV[2])
return 0
";

/// Deletes every session in the user's set `KEYS[1]` (keys `ARGV[1]` and the id), publishes
/// each id on channel `ARGV[2]`, deletes the set; returns the ids of the sessions that were
/// still there.
const REVOKE_ALL: &str = r"
local ended = {}
for _, sid in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('DEL', ARGV[1] .. sid) == 1 then table.insert(ended, sid) end
  redis.call('PUBLISH', ARGV[2], sid)
end
redis.call('DEL', KEYS[1])
return ended
";

/// A live session's owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Session id.
    pub sid: String,
    /// The user id.
    pub user_id: String,
    /// The user's roles at login.
    pub roles: Vec<Role>,
}

/// Why a refresh failed (every case answers 401).
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    /// Not a token this gateway issued, or for a session that is gone.
    #[error("invalid refresh token")]
    Invalid,
    /// The token was already rotated away: the session is now revoked.
    #[error("refresh token reused: session revoked")]
    Reused,
    /// Redis failed.
    #[error("session store: {0}")]
    Store(#[from] redis::RedisError),
}

/// The session store.
pub struct Sessions {
    store: Store,
    ttl: Duration,
    cache: Arc<SessionCache>,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions").field("ttl", &self.ttl).finish()
    }
}

impl Sessions {
    /// Sessions in `store`, living `ttl` when idle, remembered as live in `cache`.
    pub fn new(store: Store, ttl: Duration, cache: Arc<SessionCache>) -> Self {
        Self { store, ttl, cache }
    }

    /// The live sessions this gateway remembers.
    pub fn cache(&self) -> &Arc<SessionCache> {
        &self.cache
    }

    async fn redis(&self) -> Result<ConnectionManager, redis::RedisError> {
        self.store.connection().await
    }

    /// Opens a session; returns its id and its first refresh token.
    pub async fn create(
        &self,
        user_id: &str,
        roles: &[Role],
    ) -> Result<(String, String), redis::RedisError> {
        let sid = uuid::Uuid::new_v4().to_string();
        let refresh = refresh_token(&sid);
        let roles: Vec<&str> = roles.iter().map(|role| role.as_str()).collect();
        let fields = [
            ("user", user_id.to_owned()),
            ("roles", roles.join(",")),
            ("refresh", hash(&refresh)),
        ];
        let sessions = user_sessions_key(user_id);
        redis::pipe()
            .atomic()
            .hset_multiple(key(&sid), &fields)
            .ignore()
            .expire(key(&sid), self.ttl_secs())
            .ignore()
            .sadd(&sessions, &sid)
            .ignore()
            .expire(&sessions, self.ttl_secs())
            .ignore()
            .query_async::<()>(&mut self.redis().await?)
            .await?;
        Ok((sid, refresh))
    }

    /// Exchanges `refresh` for the session and a new refresh token; a reused token revokes.
    pub async fn rotate(&self, refresh: &str) -> Result<(Session, String), RefreshError> {
        let (sid, _) = refresh.split_once('.').ok_or(RefreshError::Invalid)?;
        let next = refresh_token(sid);
        let outcome: Vec<String> = redis::cmd("EVAL")
            .arg(ROTATE)
            .arg(1)
            .arg(key(sid))
            .arg(hash(refresh))
            .arg(hash(&next))
            .arg(self.ttl_secs())
            .arg(REVOKED_CHANNEL)
            .arg(sid)
            .arg(USER_SESSIONS_PREFIX)
            .query_async(&mut self.redis().await?)
            .await?;
        match outcome.as_slice() {
            [status, user, roles] if status == "rotated" => {
                let session = Session {
                    sid: sid.to_owned(),
                    user_id: user.clone(),
                    roles: parse_roles(roles),
                };
                Ok((session, next))
            }
            [status] if status == "reused" => {
                self.cache.evict(sid);
                tracing::warn!(session = sid, "refresh token reused: session revoked");
                Err(RefreshError::Reused)
            }
            _ => Err(RefreshError::Invalid),
        }
    }

    /// Ends session `sid` at once, here and (through the revocation channel) on every gateway.
    pub async fn revoke(&self, sid: &str) -> Result<(), redis::RedisError> {
        redis::cmd("EVAL")
            .arg(REVOKE)
            .arg(1)
            .arg(key(sid))
            .arg(REVOKED_CHANNEL)
            .arg(sid)
            .arg(USER_SESSIONS_PREFIX)
            .query_async::<()>(&mut self.redis().await?)
            .await?;
        self.cache.evict(sid);
        Ok(())
    }

    /// Ends every session of `user_id` at once, here and on every gateway; returns how many
    /// were live.
    pub async fn revoke_all(&self, user_id: &str) -> Result<usize, redis::RedisError> {
        let ended: Vec<String> = redis::cmd("EVAL")
            .arg(REVOKE_ALL)
            .arg(1)
            .arg(user_sessions_key(user_id))
            .arg(SESSION_PREFIX)
            .arg(REVOKED_CHANNEL)
            .query_async(&mut self.redis().await?)
            .await?;
        for sid in &ended {
            self.cache.evict(sid);
        }
        Ok(ended.len())
    }

    /// The user whose session `sid` is, if it is live.
    pub async fn owner(&self, sid: &str) -> Result<Option<String>, redis::RedisError> {
        redis::cmd("HGET")
            .arg(key(sid))
            .arg("user")
            .query_async(&mut self.redis().await?)
            .await
    }

    fn ttl_secs(&self) -> i64 {
        i64::try_from(self.ttl.as_secs()).unwrap_or(i64::MAX).max(1)
    }
}

/// The Redis key of session `sid`.
pub fn key(sid: &str) -> String {
    format!("{SESSION_PREFIX}{sid}")
}

/// The Redis key of the set of `user_id`'s sessions.
fn user_sessions_key(user_id: &str) -> String {
    format!("{USER_SESSIONS_PREFIX}{user_id}")
}

/// `{sid}.{256 random bits, base64url}`.
fn refresh_token(sid: &str) -> String {
    let mut secret = [0_u8; 32];
    SystemRandom::new()
        .fill(&mut secret)
        .unwrap_or_else(|_| panic!("the system random source failed"));
    format!("{sid}.{}", URL_SAFE_NO_PAD.encode(secret))
}

/// SHA-256 of a refresh token: all Redis ever stores of it.
fn hash(token: &str) -> String {
    digest(token.as_bytes())
}

/// Roles from their comma-separated names, unknown names skipped.
pub fn parse_roles(names: &str) -> Vec<Role> {
    names
        .split(',')
        .filter_map(|name| name.parse().ok())
        .collect()
}
