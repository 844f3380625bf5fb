//! Live sessions remembered in-process for a moment (`SAGAWAY_SESSION_CACHE_MS`), so that an
//! authenticated request need not ask Redis whether its session still exists.
//!
//! Revocation holds from the next request on the gateway that revokes, and on every other
//! gateway from the moment the revocation message reaches it:
//!
//! - Whoever revokes a session (logout, `/v1/auth/revoke`, a reused refresh token) deletes it in
//!   Redis and, in the same atomic step, publishes its id on [`REVOKED_CHANNEL`]. Every gateway
//!   listens there ([`listen`]) and forgets the session when the message arrives; the revoking
//!   gateway also forgets it before it answers. Redis sends the message before it answers the
//!   revoking gateway, so it normally lands long before the client's next request can reach
//!   another gateway; one too busy to read its subscription at that instant may serve a request
//!   or two more from the cache, never past the entry's age.
//! - While the subscription is not up (at start, after Redis restarts or the connection drops)
//!   the cache is empty and unused: every request asks Redis, as with the cache turned off. A
//!   revocation published while nobody listened is therefore never missed.
//! - A session read from Redis is only remembered if no revocation (of any session) arrived
//!   while it was being read ([`SessionCache::epoch`]): a revocation overtaking the read cannot
//!   be undone by it.
//! - An entry lives at most `SAGAWAY_SESSION_CACHE_MS` and never past the session's own expiry
//!   in Redis, which bounds how long a session deleted behind the gateway's back (by hand in
//!   Redis, say) stays usable.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use futures::StreamExt as _;

/// The Redis channel revoked session ids are published on.
pub const REVOKED_CHANNEL: &str = "sagaway:sessions:revoked";

/// Entries beyond this are not added (a flood of distinct sessions must not grow memory without
/// bound); expired ones are swept when it is reached.
const MAX_ENTRIES: usize = 100_000;

/// Sessions known to be live, for a short while.
#[derive(Debug)]
pub struct SessionCache {
    max_age: Duration,
    entries: Mutex<HashMap<String, Entry>>,
    /// Bumped by every eviction and reset; a read that saw another value may not fill.
    epoch: AtomicU64,
    /// True while the revocation subscription is up: only then is the cache used.
    listening: AtomicBool,
}

#[derive(Debug)]
struct Entry {
    user_id: String,
    until: Instant,
}

impl SessionCache {
    /// A cache keeping entries at most `max_age`; zero turns it off.
    pub fn new(max_age: Duration) -> Self {
        Self {
            max_age,
            entries: Mutex::new(HashMap::new()),
            epoch: AtomicU64::new(0),
            listening: AtomicBool::new(false),
        }
    }

    /// Whether the cache is configured at all.
    pub fn enabled(&self) -> bool {
        !self.max_age.is_zero()
    }

    /// True when session `sid` of `user_id` is remembered as live (and the cache is in use).
    pub fn is_live(&self, sid: &str, user_id: &str) -> bool {
        if !self.listening.load(Ordering::Acquire) {
            return false;
        }
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries
            .get(sid)
            .is_some_and(|entry| entry.user_id == user_id && entry.until > Instant::now())
    }

    /// The current epoch: read it before asking Redis, give it to [`SessionCache::remember`].
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Remembers that `sid` of `user_id` was live when read at `epoch`, for at most the cache's
    /// age and `expires_in` (the session's remaining life in Redis). Nothing happens if a
    /// revocation or reset came in since `epoch`, or while the cache is not in use.
    pub fn remember(&self, epoch: u64, sid: &str, user_id: &str, expires_in: Duration) {
        if !self.enabled() || !self.listening.load(Ordering::Acquire) {
            return;
        }
        let now = Instant::now();
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        // Checked under the lock that evictions also take, so none can slip in between.
        if self.epoch.load(Ordering::Acquire) != epoch {
            return;
        }
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, entry| entry.until > now);
            if entries.len() >= MAX_ENTRIES {
                return;
            }
        }
        entries.insert(
            sid.to_owned(),
            Entry {
                user_id: user_id.to_owned(),
                until: now + self.max_age.min(expires_in),
            },
        );
    }

    /// Forgets session `sid` (it was revoked).
    pub fn evict(&self, sid: &str) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        self.epoch.fetch_add(1, Ordering::AcqRel);
        entries.remove(sid);
    }

    /// Forgets everything and starts or stops using the cache.
    fn reset(&self, listening: bool) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        self.epoch.fetch_add(1, Ordering::AcqRel);
        entries.clear();
        self.listening.store(listening, Ordering::Release);
    }

    /// Entries held (for tests and diagnostics).
    pub fn len(&self) -> usize {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// True when nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Follows [`REVOKED_CHANNEL`] for as long as the gateway runs, evicting each revoked session;
/// reconnects after a failure, with the cache out of use until the subscription is back.
pub async fn listen(client: redis::Client, cache: std::sync::Arc<SessionCache>) {
    if !cache.enabled() {
        return;
    }
    let mut delay = Duration::from_millis(100);
    loop {
        match client.get_async_pubsub().await {
            Ok(mut pubsub) => match pubsub.subscribe(REVOKED_CHANNEL).await {
                Ok(()) => {
                    // Subscribed: whatever was revoked before now is not in the (empty) cache.
                    cache.reset(true);
                    tracing::debug!("listening for session revocations");
                    delay = Duration::from_millis(100);
                    let mut messages = pubsub.on_message();
                    while let Some(message) = messages.next().await {
                        match message.get_payload::<String>() {
                            Ok(sid) => cache.evict(&sid),
                            // Unreadable: forget everything rather than keep a revoked session.
                            Err(_) => cache.reset(true),
                        }
                    }
                    cache.reset(false);
                    tracing::warn!("session revocation subscription ended; reconnecting");
                }
                Err(err) => {
                    tracing::warn!(error = %err, "subscribing to session revocations failed");
                }
            },
            Err(err) => {
                cache.reset(false);
                tracing::warn!(error = %err, "connecting for session revocations failed");
            }
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listening(max_age: Duration) -> SessionCache {
        let cache = SessionCache::new(max_age);
        cache.reset(true);
        cache
    }

    #[test]
    fn a_remembered_session_is_live_for_its_owner_only_until_it_ages_out() {
        let cache = listening(Duration::from_millis(50));
        let epoch = cache.epoch();
        cache.remember(epoch, "s1", "u1", Duration::from_secs(3600));
        assert!(cache.is_live("s1", "u1"));
        assert!(
            !cache.is_live("s1", "u2"),
            "another user's token for the session"
        );
        assert!(!cache.is_live("s2", "u1"));
        std::thread::sleep(Duration::from_millis(60));
        assert!(!cache.is_live("s1", "u1"), "aged out");
    }

    #[test]
    fn an_entry_never_outlives_the_session_in_redis() {
        let cache = listening(Duration::from_secs(60));
        cache.remember(cache.epoch(), "s1", "u1", Duration::from_millis(20));
        assert!(cache.is_live("s1", "u1"));
        std::thread::sleep(Duration::from_millis(30));
        assert!(!cache.is_live("s1", "u1"));
    }

    #[test]
    fn a_revocation_during_the_read_keeps_the_session_out() {
        let cache = listening(Duration::from_secs(60));
        let epoch = cache.epoch();
        // The read is in flight; a revocation (of any session) arrives meanwhile.
        cache.evict("s1");
        cache.remember(epoch, "s1", "u1", Duration::from_secs(60));
        assert!(!cache.is_live("s1", "u1"));
        assert!(cache.is_empty());
    }

    #[test]
    fn evicting_forgets_a_session_at_once() {
        let cache = listening(Duration::from_secs(60));
        cache.remember(cache.epoch(), "s1", "u1", Duration::from_secs(60));
        cache.remember(cache.epoch(), "s2", "u1", Duration::from_secs(60));
        cache.evict("s1");
        assert!(!cache.is_live("s1", "u1"));
        assert!(cache.is_live("s2", "u1"));
    }

    #[test]
    fn nothing_is_used_or_kept_while_not_listening_or_turned_off() {
        let cache = SessionCache::new(Duration::from_secs(60));
        cache.remember(cache.epoch(), "s1", "u1", Duration::from_secs(60));
        assert!(cache.is_empty(), "not subscribed yet");
        cache.reset(true);
        cache.remember(cache.epoch(), "s1", "u1", Duration::from_secs(60));
        assert!(cache.is_live("s1", "u1"));
        cache.reset(false);
        assert!(!cache.is_live("s1", "u1"), "subscription lost");
        assert!(cache.is_empty());

        let off = listening(Duration::ZERO);
        off.remember(off.epoch(), "s1", "u1", Duration::from_secs(60));
        assert!(!off.is_live("s1", "u1"));
    }
}
