//! Rate limits per client IP (every API request, the auth endpoints included) and per user
//! (authenticated requests), as fixed windows counted in Redis so that every gateway instance
//! shares them. Over the limit is 429 with `Retry-After` (seconds to the next window). A limit
//! of 0 is off. Redis failing lets requests through (logged): losing rate limiting for a while
//! beats losing the API.

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sagaway_platform::identity::Identity;

use crate::error::GatewayError;
use crate::store::Store;

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
    pub namespace: String,
}

/// Counts the request against its client IP.
pub async fn per_ip(State(limiter): State<RateLimiter>, request: Request, next: Next) -> Response {
    let ip = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip().to_string());
    if let Some(ip) = ip
        && let Err(limited) = limiter.check("ip", &ip, limiter.per_ip).await
    {
        return limited.into_response();
    }
    next.run(request).await
}

/// Counts the request against its authenticated user (after the auth guard).
pub async fn per_user(
    State(limiter): State<RateLimiter>,
    request: Request,
    next: Next,
) -> Response {
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
    async fn check(&self, scope: &str, who: &str, limit: u64) -> Result<(), GatewayError> {
        if limit == 0 {
            return Ok(());
        }
        let window = self.window.as_secs().max(1);
        let now = crate::auth::tokens::now();
        let counter = format!(
            "{}:ratelimit:{scope}:{who}:{}",
            self.namespace,
            now / window
        );
        match self.count(&counter, window).await {
            Ok(count) if count > limit => Err(GatewayError::RateLimited {
                message: format!("rate limit of {limit} requests per {window}s per {scope} hit"),
                retry_after: window - now % window,
            }),
            Ok(_) => Ok(()),
            Err(error) => {
                tracing::warn!(error = %error, "rate limit store unavailable; not limiting");
                Ok(())
            }
        }
    }

    async fn count(&self, counter: &str, window: u64) -> Result<u64, redis::RedisError> {
        let mut redis = self.store.connection().await?;
        let (count,): (u64,) = redis::pipe()
            .atomic()
            .incr(counter, 1)
            .expire(counter, i64::try_from(window).unwrap_or(60))
            .ignore()
            .query_async(&mut redis)
            .await?;
        Ok(count)
    }
}
