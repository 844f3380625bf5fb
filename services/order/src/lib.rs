//! The Sagaway order service. Owns orders and their status history (database `sagaway_orders`), starts the order saga by writing `OrderCreated` to its outbox, and follows the saga to a terminal state.
//!
//! - [`Config`]: settings from the environment (see the README's configuration table).
//! - [`Application`]: binds gRPC (`SAGAWAY_GRPC_ADDR`, default port 50051) and admin HTTP
//!   (`SAGAWAY_ADMIN_ADDR`, default port 51051) and serves until stopped.
//! - [`api`]: the `sagaway.order.v1.OrderService` implementation.

pub mod api;

use std::future::Future;
use std::net::SocketAddr;

use sagaway_contracts::pb::order::order_service_server::OrderServiceServer;
use sagaway_platform::admin::Readiness;
use sagaway_platform::config::{ConfigError, Env};
use sagaway_platform::kafka::BrokerProbe;
use sagaway_platform::service::{GrpcApplication, ServiceConfig};

/// Name in logs and metrics.
pub const SERVICE_NAME: &str = "order-service";
/// Default gRPC port (DESIGN.md).
pub const DEFAULT_GRPC_PORT: u16 = 50051;
/// Default database.
pub const DEFAULT_DATABASE: &str = "sagaway_orders";

/// The order service's configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Settings every service shares.
    pub service: ServiceConfig,
    /// `SAGAWAY_PRODUCT_URL` (`http://127.0.0.1:50052`): the product service, asked whether
    /// ordered products exist.
    pub product_url: String,
}

impl Config {
    /// Reads the configuration; a bad value names its variable.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            service: ServiceConfig::from_env(
                env,
                SERVICE_NAME,
                DEFAULT_GRPC_PORT,
                DEFAULT_DATABASE,
            )?,
            product_url: env.string("SAGAWAY_PRODUCT_URL", "http://127.0.0.1:50052"),
        })
    }
}

/// The running service: listeners bound, dependencies wired.
#[derive(Debug)]
pub struct Application {
    inner: GrpcApplication,
}

impl Application {
    /// Connects (lazily) to the database and broker and binds both listeners.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let pool = sagaway_platform::db::lazy_pool(
            config.service.database_url.expose(),
            config.service.database_max_connections,
        )?;
        let broker = BrokerProbe::new(&config.service.kafka)?;
        let readiness = Readiness::default()
            .with("database", move || {
                let pool = pool.clone();
                async move { sagaway_platform::db::ping(&pool).await }
            })
            .with("broker", move || {
                let broker = broker.clone();
                async move { broker.check().await }
            });
        let inner = GrpcApplication::bind(
            &config.service,
            readiness,
            vec!["sagaway.order.v1.OrderService"],
            sagaway_contracts::FILE_DESCRIPTOR_SET,
        )
        .await?;
        Ok(Self { inner })
    }

    /// The bound gRPC address.
    pub fn grpc_addr(&self) -> SocketAddr {
        self.inner.grpc_addr()
    }

    /// The bound admin HTTP address.
    pub fn admin_addr(&self) -> SocketAddr {
        self.inner.admin_addr()
    }

    /// Serves until `shutdown` completes, then drains in-flight requests.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let routes = tonic::service::Routes::new(OrderServiceServer::new(api::OrderServiceApi));
        self.inner.run_until_stopped(routes, shutdown).await
    }
}
