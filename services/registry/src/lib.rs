//! Sagaway's Avro contract registry: a schema registry that speaks Confluent's REST API, so
//! Confluent serializers in any language use it unchanged, storing in PostgreSQL.
//!
//! - [`Config`] and [`Application`]: settings, the bound listener, the run loop.
//! - [`http`]: the REST routes (Confluent API v7), plus `/health/*` and `/metrics`.
//! - [`store`]: schemas, subject versions, levels and modes in PostgreSQL (`migrations/`).
//! - [`cache`]: schemas by id in memory; subject caches kept right across instances by
//!   LISTEN/NOTIFY.
//! - [`schema`]: parsing, references, normalization; [`compat`]: compatibility checks through
//!   the engine in `sagaway_contracts::compat`; [`settings`]: levels and modes.
//! - [`auth`]: optional basic auth for writes (and reads); [`error`]: Confluent's error codes.

pub mod auth;
pub mod cache;
pub mod compat;
pub mod error;
pub mod http;
pub mod schema;
pub mod settings;
pub mod store;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use sagaway_platform::admin::{self, Readiness};
use sagaway_platform::config::{ConfigError, Env, Secret};
use sqlx::PgPool;
use tokio::net::TcpListener;

/// Name in logs and metrics.
pub const SERVICE_NAME: &str = "registry";

/// The largest request body accepted (a schema with its envelope); larger ones get 413.
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// The registry's configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// `SAGAWAY_HTTP_ADDR` (`0.0.0.0:8081`, Confluent's port).
    pub http_addr: SocketAddr,
    /// `SAGAWAY_DATABASE_URL` (`postgres://postgres:postgres@127.0.0.1:5432/sagaway_registry`).
    pub database_url: Secret,
    /// `SAGAWAY_DATABASE_MAX_CONNECTIONS` (`10`).
    pub database_max_connections: u32,
    /// `SAGAWAY_REGISTRY_BASIC_AUTH` (empty: open): `user:password[,...]` allowed to write.
    pub access: auth::Access,
    /// `SAGAWAY_REGISTRY_CACHE_TTL_MS` (`5000`): longest a subject cache entry lives if a change
    /// notification was missed.
    pub cache_ttl: Duration,
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
            access: auth::Access {
                users: auth::Access::parse_users(&env.string("SAGAWAY_REGISTRY_BASIC_AUTH", "")),
                // `SAGAWAY_REGISTRY_PROTECT_READS` (`false`): require credentials for reads too.
                protect_reads: env.parse("SAGAWAY_REGISTRY_PROTECT_READS", false)?,
            },
            cache_ttl: Duration::from_millis(env.parse("SAGAWAY_REGISTRY_CACHE_TTL_MS", 5000)?),
        })
    }
}

/// The registry with its listener bound and its database migrated.
#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    pool: PgPool,
    access: auth::Access,
    cache_ttl: Duration,
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
        Ok(Self {
            listener,
            pool,
            access: config.access,
            cache_ttl: config.cache_ttl,
        })
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
        tracing::info!(service = SERVICE_NAME, http = %self.addr(), "listening");
        let Self {
            listener,
            pool,
            access,
            cache_ttl,
        } = self;
        let readiness_pool = pool.clone();
        let readiness = Readiness::default().with("database", move || {
            let pool = readiness_pool.clone();
            async move { sagaway_platform::db::ping(&pool).await }
        });
        let cache = Arc::new(cache::Cache::new(cache_ttl));
        let follower = tokio::spawn(cache::follow_changes(pool.clone(), Arc::clone(&cache)));
        let state = http::AppState {
            store: store::Store::new(pool, cache),
        };
        let router = http::router(state)
            .merge(admin::router(SERVICE_NAME, readiness))
            .layer(axum::middleware::from_fn_with_state(
                Arc::new(access),
                auth::guard,
            ))
            .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES));
        let served = admin::serve(listener, router, shutdown)
            .await
            .context("registry HTTP server");
        follower.abort();
        served
    }
}
