//! The gateway's one Redis connection, shared by sessions, idempotency keys and rate limits:
//! opened on first use (so the gateway starts while Redis is still coming up) and reconnecting
//! by itself afterwards.

use std::sync::Arc;

use redis::aio::ConnectionManager;
use tokio::sync::OnceCell;

/// A cheap-to-clone handle on the shared connection (middleware state is cloned per request).
#[derive(Clone)]
pub struct Store {
    shared: Arc<Shared>,
}

struct Shared {
    client: redis::Client,
    connection: OnceCell<ConnectionManager>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

impl Store {
    /// A store on `client`, not connected yet.
    pub fn new(client: redis::Client) -> Self {
        Self {
            shared: Arc::new(Shared {
                client,
                connection: OnceCell::new(),
            }),
        }
    }

    /// A store on the Redis at `url` (`redis://host:port`), not connected yet.
    pub fn open(url: &str) -> Result<Self, redis::RedisError> {
        redis::Client::open(url).map(Self::new)
    }

    /// The connection, opened on first use.
    pub async fn connection(&self) -> Result<ConnectionManager, redis::RedisError> {
        let shared = &self.shared;
        shared
            .connection
            .get_or_try_init(|| ConnectionManager::new(shared.client.clone()))
            .await
            .cloned()
    }
}

/// SHA-256 of `bytes`, base64url: how secrets and request fingerprints are kept in Redis.
pub fn digest(bytes: &[u8]) -> String {
    use base64::Engine as _;
    let hash = ring::digest::digest(&ring::digest::SHA256, bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(hash.as_ref())
}
