//! Sagaway's Avro contract registry: a schema registry that speaks Confluent's REST API, so
//! Confluent serializers in any language use it unchanged, storing in PostgreSQL.
//!
//! - [`Config`] and [`Application`]: settings, the bound listener, the run loop.
//! - [`http`]: the REST routes, plus `/health/*` and `/metrics` on the same port.
//! - [`store`]: schemas and subject versions in PostgreSQL (migrations in `migrations/`).
//! - [`error`]: Confluent's error codes and body.
//!
//! This first cut serves the core of the API (register, look up, fetch by id, list subjects and
//! versions); the registry issue completes the v7 surface and the compatibility checks.

pub mod error;
pub mod http;
pub mod store;

use std::future::Future;
use std::net::SocketAddr;

use anyhow::Context as _;
use sagaway_platform::admin::{self, Readiness};
use sagaway_platform::config::{ConfigError, Env, Secret};
use sqlx::PgPool;
use tokio::net::TcpListener;

/// Name in logs and metrics.
pub const SERVICE_NAME: &str = "registry";

/// The registry's configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// `SAGAWAY_HTTP_ADDR` (`0.0.0.0:8081`, Confluent's port).
    pub http_addr: SocketAddr,
    /// `SAGAWAY_DATABASE_URL` (`postgres://postgres:postgres@127.0.0.1:5432/sagaway_registry`).
    pub database_url: Secret,
    /// `SAGAWAY_DATABASE_MAX_CONNECTIONS` (`10`).
    pub database_max_connections: u32,
}

impl Config {
    /// Reads the configuration; a bad value names its variable.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            http_addr: env.parse("SAGAWAY_HTTP_ADDR", SocketAddr::from(([0, 0, 0, 0], 8081)))?,
            database_url: env.secret(
                "SAGAWAY_DATABASE_URL",
                "postgres://postgres:postgres@127.0.0.1:5432/sagaway_registry",
            ),
            database_max_connections: env.parse("SAGAWAY_DATABASE_MAX_CONNECTIONS", 10)?,
        })
    }
}

/// The registry with its listener bound and its database migrated.
#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    pool: PgPool,
}

impl Application {
    /// Connects to the database, applies migrations and binds the listener.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let pool = sagaway_platform::db::lazy_pool(
            config.database_url.expose(),
            config.database_max_connections,
        )?;
        sqlx::migrate!("./migrations").run(&pool).await.context(
            "applying registry migrations (is PostgreSQL up and SAGAWAY_DATABASE_URL right?)",
        )?;
        let listener = TcpListener::bind(config.http_addr)
            .await
            .with_context(|| format!("binding HTTP on {} (SAGAWAY_HTTP_ADDR)", config.http_addr))?;
        Ok(Self { listener, pool })
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
        let pool = self.pool.clone();
        let readiness = Readiness::default().with("database", move || {
            let pool = pool.clone();
            async move { sagaway_platform::db::ping(&pool).await }
        });
        tracing::info!(service = SERVICE_NAME, http = %self.addr(), "listening");
        let router = http::router(store::Store::new(self.pool))
            .merge(admin::router(SERVICE_NAME, readiness));
        admin::serve(self.listener, router, shutdown)
            .await
            .context("registry HTTP server")
    }
}
