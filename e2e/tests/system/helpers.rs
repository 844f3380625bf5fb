//! Starting the real processes on port 0 with fresh databases.

use std::net::SocketAddr;
use std::time::Duration;

use sagaway_platform::config::{Env, Secret};
use sagaway_platform::kafka::KafkaConfig;
use sagaway_platform::service::ServiceConfig;

/// PostgreSQL server URL, without a database.
pub(crate) fn pg_url() -> String {
    std::env::var("SAGAWAY_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres:postgres@127.0.0.1:5432".into())
}

/// Redis URL.
pub(crate) fn redis_url() -> String {
    std::env::var("SAGAWAY_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// Broker settings with the short group timeouts the embedded broker needs.
pub(crate) fn kafka() -> KafkaConfig {
    KafkaConfig {
        brokers: std::env::var("SAGAWAY_KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".into()),
        session_timeout_ms: 2000,
        heartbeat_interval_ms: 200,
    }
}

/// A unique name for per-test resources.
pub(crate) fn unique(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}

/// Creates a fresh database and returns its URL.
pub(crate) async fn fresh_database() -> String {
    let name = unique("sagaway_test");
    let admin = format!("{}/postgres", pg_url());
    let pool = sqlx::PgPool::connect(&admin)
        .await
        .expect("connect to PostgreSQL (is scripts/test.sh's setup done?)");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&pool)
        .await
        .expect("create database");
    format!("{}/{name}", pg_url())
}

/// A running process: its addresses and the handle that stops it.
pub(crate) struct Running {
    pub(crate) addr: SocketAddr,
    pub(crate) admin: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Running {
    fn start<F>(
        addr: SocketAddr,
        admin: SocketAddr,
        run: impl FnOnce(tokio::sync::oneshot::Receiver<()>) -> F,
    ) -> Self
    where
        F: std::future::Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(run(stopped));
        Self {
            addr,
            admin,
            stop: Some(stop),
            task,
        }
    }

    /// HTTP base URL of the admin surface.
    pub(crate) fn admin_url(&self) -> String {
        format!("http://{}", self.admin)
    }

    /// gRPC endpoint URL.
    pub(crate) fn grpc_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Sends the shutdown signal and waits for the process to drain and return.
    pub(crate) async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(Duration::from_secs(10), &mut self.task).await??
    }
}

async fn shutdown(stopped: tokio::sync::oneshot::Receiver<()>) {
    let _ = stopped.await;
}

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// The settings every gRPC service takes, on port 0, with `database_url`.
pub(crate) fn service_config(name: &'static str, database_url: &str) -> ServiceConfig {
    ServiceConfig {
        name,
        grpc_addr: loopback(),
        admin_addr: loopback(),
        database_url: Secret::new(database_url),
        database_max_connections: 5,
        kafka: kafka(),
        schema_registry_url: "http://127.0.0.1:8081".into(),
    }
}

/// Which gRPC service to start.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Service {
    Order,
    Product,
    User,
}

impl Service {
    pub(crate) const ALL: [Service; 3] = [Service::Order, Service::Product, Service::User];

    /// The fully qualified gRPC service name.
    pub(crate) fn grpc_name(self) -> &'static str {
        match self {
            Service::Order => "sagaway.order.v1.OrderService",
            Service::Product => "sagaway.product.v1.ProductService",
            Service::User => "sagaway.user.v1.UserService",
        }
    }
}

/// Starts one gRPC service against the database at `database_url`.
pub(crate) async fn spawn_service(service: Service, database_url: &str) -> Running {
    macro_rules! start {
        ($krate:ident $(, $field:ident: $value:expr)*) => {{
            let config = $krate::Config {
                service: service_config($krate::SERVICE_NAME, database_url),
                $($field: $value,)*
            };
            let app = $krate::Application::build(config)
                .await
                .expect("service builds");
            let (addr, admin) = (app.grpc_addr(), app.admin_addr());
            Running::start(addr, admin, |stopped| {
                app.run_until_stopped(shutdown(stopped))
            })
        }};
    }
    match service {
        Service::Order => start!(sagaway_order, product_url: "http://127.0.0.1:50052".into()),
        Service::Product => start!(sagaway_product),
        Service::User => start!(sagaway_user),
    }
}

/// Starts the registry on a fresh database.
pub(crate) async fn spawn_registry() -> Running {
    spawn_registry_with(
        &fresh_database().await,
        sagaway_registry::auth::Access::default(),
    )
    .await
}

/// Starts a registry on `database_url` (several instances may share one) with `access`.
pub(crate) async fn spawn_registry_with(
    database_url: &str,
    access: sagaway_registry::auth::Access,
) -> Running {
    let config = sagaway_registry::Config {
        http_addr: loopback(),
        database_url: Secret::new(database_url),
        database_max_connections: 5,
        access,
        cache_ttl: Duration::from_secs(30),
    };
    let app = sagaway_registry::Application::build(config)
        .await
        .expect("registry builds");
    let addr = app.addr();
    Running::start(addr, addr, |stopped| {
        app.run_until_stopped(shutdown(stopped))
    })
}

/// Starts the gateway against the test Redis.
pub(crate) async fn spawn_gateway() -> Running {
    let env = Env::from_pairs([("SAGAWAY_HTTP_ADDR", "127.0.0.1:0")]);
    let mut config = sagaway_gateway::Config::from_env(&env).expect("gateway config");
    config.redis_url = redis_url();
    let app = sagaway_gateway::Application::build(config)
        .await
        .expect("gateway builds");
    let addr = app.addr();
    Running::start(addr, addr, |stopped| {
        app.run_until_stopped(shutdown(stopped))
    })
}

/// GETs `url` and returns the status and JSON body (Null when the body is not JSON).
pub(crate) async fn get_json(url: &str) -> (u16, serde_json::Value) {
    let response = reqwest::get(url)
        .await
        .unwrap_or_else(|err| panic!("GET {url}: {err}"));
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
    )
}
