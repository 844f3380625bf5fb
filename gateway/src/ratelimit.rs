//! Rate limits per client IP (every API request, the auth endpoints included) and per user
//! (authenticated requests), as fixed windows counted in Redis so that every gateway instance
//! shares them. Over the limit is 429 with `Retry-After` (seconds to the next window). A limit
//! of 0 is off. Redis failing lets requests through (logged): losing rate limiting for a while
//! beats losing the API.
//!
//! Counting happens in one of two ways:
//!
//! - **In-process, synced** (`SAGAWAY_RATE_LIMIT_SYNC_MS` > 0, the default): each gateway counts
//!   in memory ([`LocalCounts`]) and adds its counts to the shared counters in Redis every
//!   interval ([`RateLimiter::sync_forever`]), reading back the totals. A request is judged on
//!   the last total seen plus what this gateway counted since, so a single gateway counts
//!   exactly and several gateways together may let through up to one interval's worth of the
//!   others' requests beyond a limit. Redis failing leaves the limits per gateway.
//! - **In Redis per request** (`SAGAWAY_RATE_LIMIT_SYNC_MS=0`): every request increments its
//!   counters in Redis, exact across gateways at the cost of a round trip each.
//!
//! In the second way an authenticated request still costs one round trip in all: [`per_ip`]
//! does not count a request that carries a bearer token for a guarded `/v1/` path but leaves a
//! [`DeferredIp`] for the auth guard, which counts the IP, reads the session and counts the
//! user in one Lua script ([`RateLimiter::admit`], run by `EVALSHA`). The guard marks the
//! request [`UserCounted`] so that [`per_user`] does not count it again.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sagaway_platform::identity::Identity;

use crate::error::GatewayError;
use crate::store::Store;

/// Counts the IP (`KEYS[2]`) when `ARGV[3]` is 1, checks that session `KEYS[1]` belongs to user
/// `ARGV[1]`, and counts the user (`KEYS[3]`) when `ARGV[4]` is 1 and the session is live.
/// Counters expire after `ARGV[2]` seconds. Answers `{live, ip count, user count, session's
/// remaining life in ms}`.
const ADMIT: &str = r"
local ip = 0
if ARGV[3] == '1' then
  ip = redis.call('INCR', KEYS[2])
  if ip == 1 then redis.call('EXPIRE', KEYS[2], ARGV[2]) end
end
local live = 0
if redis.call('HGET', KEYS[1], 'user') == ARGV[1] then live = 1 end
local user = 0
if live == 1 and ARGV[4] == '1' then
  user = redis.call('INCR', KEYS[3])
  if user == 1 then redis.call('EXPIRE', KEYS[3], ARGV[2]) end
end
return {live, ip, user, redis.call('PTTL', KEYS[1])}
";

/// The SHA-1 Redis knows [`ADMIT`] by, for `EVALSHA`.
static ADMIT_SHA: LazyLock<String> = LazyLock::new(|| {
    let digest = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, ADMIT.as_bytes());
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
});

/// The limits and where they are counted.
#[derive(Debug, Clone)]
pub struct RateLimiter {
    /// The Redis store.
    pub store: Store,
    /// Requests per window per client IP (0: off).
    pub per_ip: u64,
    /// Requests per window per user (0: off).
    pub per_user: u64,
    /// The window.
    pub window: Duration,
    /// Prefix of the counters' keys, so that separate deployments sharing a Redis (or tests)
    /// count separately.
    pub namespace: Arc<str>,
    /// Counts kept in-process between syncs; `None` counts every request in Redis.
    pub local: Option<Arc<LocalCounts>>,
    /// How often [`RateLimiter::sync_forever`] adds the local counts to Redis.
    pub sync: Duration,
}

/// Requests counted by this gateway, per counter, and the shared totals last read from Redis.
#[derive(Debug, Default)]
pub struct LocalCounts {
    counters: Mutex<HashMap<String, Tally>>,
}

#[derive(Debug, Clone, Copy)]
struct Tally {
    /// The counter's total in Redis when last synced.
    shared: u64,
    /// Counted here since, not yet added to Redis.
    pending: u64,
    /// The window the counter belongs to (its key names it too).
    window: u64,
}

impl LocalCounts {
    /// Counts one request on `counter` (of `window`); returns the count it makes.
    fn add(&self, counter: &str, window: u64) -> u64 {
        let mut counters = self.counters.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(tally) = counters.get_mut(counter) {
            tally.pending += 1;
            return tally.shared + tally.pending;
        }
        let first = Tally {
            shared: 0,
            pending: 1,
            window,
        };
        counters.insert(counter.to_owned(), first);
        1
    }

    /// The counters with requests not yet in Redis, and how many; forgets counters of windows
    /// before `window` that have nothing left to add.
    fn pending(&self, window: u64) -> Vec<(String, u64)> {
        let mut counters = self.counters.lock().unwrap_or_else(PoisonError::into_inner);
        counters.retain(|_, tally| tally.pending > 0 || tally.window >= window);
        counters
            .iter()
            .filter(|(_, tally)| tally.pending > 0)
            .map(|(counter, tally)| (counter.clone(), tally.pending))
            .collect()
    }

    /// Records that `sent` requests of `counter` reached Redis, which now holds `total`.
    fn synced(&self, counter: &str, sent: u64, total: u64) {
        let mut counters = self.counters.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(tally) = counters.get_mut(counter) {
            tally.pending = tally.pending.saturating_sub(sent);
            tally.shared = total;
        }
    }
}

/// The client IP of a request whose count [`per_ip`] left to the auth guard.
#[derive(Debug, Clone)]
pub struct DeferredIp(pub String);

/// Put on a request by the auth guard once its user has been counted.
#[derive(Debug, Clone, Copy)]
pub struct UserCounted;

/// What one [`RateLimiter::admit`] round trip found.
#[derive(Debug)]
pub struct Admission {
    /// The session exists and belongs to the token's user.
    pub live: bool,
    /// How long the session lives on in Redis (when read there and live).
    pub expires_in: Option<Duration>,
    /// The IP's limit refused the request.
    pub ip_limited: Option<GatewayError>,
    /// The user's limit refused the request (only counted for a live session).
    pub user_limited: Option<GatewayError>,
}

/// True for requests the auth guard will see with a token: it counts their IP itself.
fn guard_counts(request: &Request) -> bool {
    let path = request.uri().path();
    path.starts_with("/v1/")
        && !path.starts_with("/v1/auth/")
        && request.headers().contains_key(header::AUTHORIZATION)
}

/// Counts the request against its client IP, or leaves that to the auth guard.
pub async fn per_ip(
    State(limiter): State<RateLimiter>,
    mut request: Request,
    next: Next,
) -> Response {
    let ip = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip().to_string());
    if let Some(ip) = ip {
        if guard_counts(&request) {
            request.extensions_mut().insert(DeferredIp(ip));
        } else if let Err(limited) = limiter.check("ip", &ip, limiter.per_ip).await {
            return limited.into_response();
        }
    }
    next.run(request).await
}

/// Counts the request against its authenticated user (after the auth guard), unless the guard
/// already has.
pub async fn per_user(
    State(limiter): State<RateLimiter>,
    request: Request,
    next: Next,
) -> Response {
    if request.extensions().get::<UserCounted>().is_some() {
        return next.run(request).await;
    }
    let user = request
        .extensions()
        .get::<Identity>()
        .map(|identity| identity.user_id.to_string());
    if let Some(user) = user
        && let Err(limited) = limiter.check("user", &user, limiter.per_user).await
    {
        return limited.into_response();
    }
    next.run(request).await
}

impl RateLimiter {
    /// The counter of `who` in the current window.
    fn counter(&self, scope: &str, who: &str, now: u64) -> String {
        format!(
            "{}:ratelimit:{scope}:{who}:{}",
            self.namespace,
            now / self.window_secs()
        )
    }

    fn window_secs(&self) -> u64 {
        self.window.as_secs().max(1)
    }

    fn refusal(&self, scope: &str, limit: u64, now: u64) -> GatewayError {
        let window = self.window_secs();
        GatewayError::RateLimited {
            message: format!("rate limit of {limit} requests per {window}s per {scope} hit"),
            retry_after: window - now % window,
        }
    }

    /// Counts one request of `who` against `limit` on its own (in-process, or one round trip).
    pub async fn check(&self, scope: &str, who: &str, limit: u64) -> Result<(), GatewayError> {
        if limit == 0 {
            return Ok(());
        }
        let now = crate::auth::tokens::now();
        if let Some(local) = &self.local {
            return match self.count_in(local, scope, who, limit, now) {
                Some(refusal) => Err(refusal),
                None => Ok(()),
            };
        }
        let counter = self.counter(scope, who, now);
        let counted = self.add_in_redis(&[(counter, 1)]).await;
        match counted.map(|totals| totals.first().copied().unwrap_or_default()) {
            Ok(count) if count > limit => Err(self.refusal(scope, limit, now)),
            Ok(_) => Ok(()),
            Err(error) => {
                tracing::warn!(error = %error, "rate limit store unavailable; not limiting");
                Ok(())
            }
        }
    }

    /// Adds each `(counter, requests)` to Redis, each counter expiring with its window, in one
    /// atomic round trip; the counters' new totals, in order.
    async fn add_in_redis(&self, counts: &[(String, u64)]) -> Result<Vec<u64>, redis::RedisError> {
        let mut pipe = redis::pipe();
        pipe.atomic();
        for (counter, requests) in counts {
            pipe.incr(counter, *requests)
                .expire(counter, self.expiry())
                .ignore();
        }
        let mut redis = self.store.connection().await?;
        pipe.query_async(&mut redis).await
    }

    fn expiry(&self) -> i64 {
        i64::try_from(self.window_secs()).unwrap_or(60)
    }

    /// True when requests are counted without asking Redis (in-process, or no limit is on), so
    /// that a request whose session is known live needs no round trip ([`RateLimiter::admit_live`]).
    pub fn counts_locally(&self) -> bool {
        self.local.is_some() || (self.per_ip == 0 && self.per_user == 0)
    }

    /// Counts a request of a session known to be live, in-process: `ip` (when given) and then
    /// the user. Only meaningful when [`RateLimiter::counts_locally`].
    pub fn admit_live(&self, user_id: &str, ip: Option<&str>) -> Admission {
        let now = crate::auth::tokens::now();
        let (ip_limited, user_limited) = self.count_here(user_id, ip, true, now);
        Admission {
            live: true,
            expires_in: None,
            ip_limited,
            user_limited,
        }
    }

    /// The in-process counts of one request: the IP's refusal, then the user's (counted only
    /// for a live session).
    fn count_here(
        &self,
        user_id: &str,
        ip: Option<&str>,
        live: bool,
        now: u64,
    ) -> (Option<GatewayError>, Option<GatewayError>) {
        let Some(local) = &self.local else {
            return (None, None);
        };
        let ip_limited = ip
            .filter(|_| self.per_ip > 0)
            .and_then(|ip| self.count_in(local, "ip", ip, self.per_ip, now));
        let user_limited = (live && self.per_user > 0)
            .then(|| self.count_in(local, "user", user_id, self.per_user, now))
            .flatten();
        (ip_limited, user_limited)
    }

    /// Counts one request of `who` in-process; the refusal when that passes `limit`.
    fn count_in(
        &self,
        local: &LocalCounts,
        scope: &str,
        who: &str,
        limit: u64,
        now: u64,
    ) -> Option<GatewayError> {
        let count = local.add(&self.counter(scope, who, now), now / self.window_secs());
        (count > limit).then(|| self.refusal(scope, limit, now))
    }

    /// Adds the in-process counts to Redis every `sync` interval and reads back the totals, for
    /// as long as the gateway runs. Does nothing when requests are counted in Redis.
    pub async fn sync_forever(self) {
        if self.local.is_none() {
            return;
        }
        let mut failing = false;
        loop {
            tokio::time::sleep(self.sync).await;
            match self.sync_once().await {
                Ok(()) if failing => {
                    tracing::info!("rate-limit counts reach Redis again");
                    failing = false;
                }
                Ok(()) => {}
                Err(error) if !failing => {
                    tracing::warn!(error = %error, "rate-limit counts cannot reach Redis; limits hold per gateway meanwhile");
                    failing = true;
                }
                Err(_) => {}
            }
        }
    }

    /// One sync: every counter with requests not yet in Redis, in one pipeline.
    pub async fn sync_once(&self) -> Result<(), redis::RedisError> {
        let Some(local) = &self.local else {
            return Ok(());
        };
        let now = crate::auth::tokens::now();
        let batch = local.pending(now / self.window_secs());
        if batch.is_empty() {
            return Ok(());
        }
        let totals = self.add_in_redis(&batch).await?;
        for ((counter, sent), total) in batch.iter().zip(totals) {
            local.synced(counter, *sent, total);
        }
        Ok(())
    }

    /// In one round trip: checks that session key `session` belongs to `user_id`, and, when
    /// counting in Redis, counts `ip` (when given and its limit is on) and then `user_id` when
    /// the session is live (in-process counting does the same without Redis). A Redis failure
    /// is an error here (the session cannot be checked), unlike in [`RateLimiter::check`].
    pub async fn admit(
        &self,
        session: &str,
        user_id: &str,
        ip: Option<&str>,
    ) -> Result<Admission, redis::RedisError> {
        let now = crate::auth::tokens::now();
        let in_redis = self.local.is_none();
        let count_ip = in_redis && ip.is_some() && self.per_ip > 0;
        let count_user = in_redis && self.per_user > 0;
        let ip_key = ip.map_or_else(String::new, |ip| self.counter("ip", ip, now));
        let user_key = self.counter("user", user_id, now);
        let invocation = |command: &str, script: &str| {
            let mut cmd = redis::cmd(command);
            cmd.arg(script)
                .arg(3)
                .arg(session)
                .arg(&ip_key)
                .arg(&user_key)
                .arg(user_id)
                .arg(self.expiry())
                .arg(u8::from(count_ip))
                .arg(u8::from(count_user));
            cmd
        };
        let mut redis = self.store.connection().await?;
        let answer: Result<(u8, u64, u64, i64), _> = invocation("EVALSHA", &ADMIT_SHA)
            .query_async(&mut redis)
            .await;
        let (live, ip_count, user_count, ttl_ms) = match answer {
            Err(error) if error.kind() == redis::ErrorKind::NoScriptError => {
                // First use on this Redis (or after SCRIPT FLUSH): EVAL also caches it.
                invocation("EVAL", ADMIT).query_async(&mut redis).await?
            }
            other => other?,
        };
        let live = live == 1;
        let (ip_limited, user_limited) = if in_redis {
            (
                (count_ip && ip_count > self.per_ip).then(|| self.refusal("ip", self.per_ip, now)),
                (count_user && user_count > self.per_user)
                    .then(|| self.refusal("user", self.per_user, now)),
            )
        } else {
            self.count_here(user_id, ip, live, now)
        };
        Ok(Admission {
            live,
            // -1: the session has no expiry; -2: it is gone (and `live` is false).
            expires_in: live.then(|| match u64::try_from(ttl_ms) {
                Ok(ms) => Duration::from_millis(ms),
                Err(_) => Duration::MAX,
            }),
            ip_limited,
            user_limited,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_is_known_by_its_sha1() {
        assert_eq!(ADMIT_SHA.len(), 40);
        assert!(ADMIT_SHA.chars().all(|c| c.is_ascii_hexdigit()));
    }
}
