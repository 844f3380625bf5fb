//! Sagaway's HTTP gateway, the one door HTTP clients use.
//!
//! Today it binds its port and answers `/health/live`, `/health/ready` (Redis answers) and
//! `/metrics`; every other path answers 404 with a JSON body. Authentication (JWT bound to Redis
//! sessions) and transcoding from the `google.api.http` annotations land with the gateway issue.

use std::future::Future;
use std::net::SocketAddr;

use anyhow::Context as _;
use axum::Json;
use axum::Router;
use axum::http::StatusCode;
use sagaway_platform::admin::{self, Readiness};
use sagaway_platform::config::{ConfigError, Env};
use tokio::net::TcpListener;

/// Name in logs and metrics.
pub const SERVICE_NAME: &str = "gateway";

/// The gateway's configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// `SAGAWAY_HTTP_ADDR` (`0.0.0.0:8080`).
    pub http_addr: SocketAddr,
    /// `SAGAWAY_REDIS_URL` (`redis://127.0.0.1:6379`): sessions, rate limits, idempotency keys.
    pub redis_url: String,
    /// `SAGAWAY_ORDER_URL` (`http://127.0.0.1:50051`).
    pub order_url: String,
    /// `SAGAWAY_PRODUCT_URL` (`http://127.0.0.1:50052`).
    pub product_url: String,
    /// `SAGAWAY_USER_URL` (`http://127.0.0.1:50053`).
    pub user_url: String,
}

impl Config {
    /// Reads the configuration; a bad value names its variable.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            http_addr: env.parse("SAGAWAY_HTTP_ADDR", SocketAddr::from(([0, 0, 0, 0], 8080)))?,
            redis_url: env.string("SAGAWAY_REDIS_URL", "redis://127.0.0.1:6379"),
            order_url: env.string("SAGAWAY_ORDER_URL", "http://127.0.0.1:50051"),
            product_url: env.string("SAGAWAY_PRODUCT_URL", "http://127.0.0.1:50052"),
            user_url: env.string("SAGAWAY_USER_URL", "http://127.0.0.1:50053"),
        })
    }
}

/// The gateway with its listener bound.
#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    redis: redis::Client,
}

impl Application {
    /// Binds the listener; Redis is connected per readiness check until sessions land.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let redis = redis::Client::open(config.redis_url.as_str()).with_context(|| {
            format!(
                "SAGAWAY_REDIS_URL={:?} is not a Redis URL",
                config.redis_url
            )
        })?;
        let listener = TcpListener::bind(config.http_addr)
            .await
            .with_context(|| format!("binding HTTP on {} (SAGAWAY_HTTP_ADDR)", config.http_addr))?;
        Ok(Self { listener, redis })
    }

    /// The bound address (the real port when 0 was asked for).
    pub fn addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    /// Serves until `shutdown` completes, then drains open requests.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let redis = self.redis.clone();
        let readiness = Readiness::default().with("redis", move || redis_ping(redis.clone()));
        let router = Router::new()
            .merge(admin::router(SERVICE_NAME, readiness))
            .fallback(not_found);
        tracing::info!(service = SERVICE_NAME, http = %self.addr(), "listening");
        admin::serve(self.listener, router, shutdown)
            .await
            .context("gateway HTTP server")
    }
}

async fn redis_ping(client: redis::Client) -> Result<(), String> {
    let mut connection = client
        .get_multiplexed_async_connection()
        .await
        .map_err(|err| format!("redis: {err}"))?;
    redis::cmd("PING")
        .query_async::<String>(&mut connection)
        .await
        .map(drop)
        .map_err(|err| format!("redis: {err}"))
}

async fn not_found() -> (StatusCode, Json<serde_json::Value>) {
    (
        StatusCode::NOT_FOUND,
        Json(serde_json::json!({ "code": 5, "message": "no route for this path", "details": [] })),
    )
}
