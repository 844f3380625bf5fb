//! The Sagaway order service. Owns orders, their lines and status history (database
//! `sagaway_orders`), starts the order saga by writing `OrderCreated` to its outbox in the same
//! transaction as the order, and publishes its outbox to Kafka.
//!
//! - [`Config`]: settings from the environment (see the README's configuration table).
//! - [`Application`]: binds gRPC (`SAGAWAY_GRPC_ADDR`, default 50051) and admin HTTP
//!   (`SAGAWAY_ADMIN_ADDR`, default 51051), runs the outbox publisher, serves until stopped.
//! - [`api`]: the thin `sagaway.order.v1.OrderService` layer; [`orders`]: what each RPC does;
//!   [`domain`]: statuses and new orders parsed from requests; [`store`]: SQL;
//!   [`catalog`]: the product service client; [`error`]: failures and their gRPC statuses.
//! - [`saga`]: the order state machine: the inbox handler moving orders to their outcome on
//!   stock and payment events. [`Application`] runs it beside the gRPC server, with the outbox
//!   publisher, all sharing its shutdown.

pub mod api;
pub mod catalog;
pub mod domain;
pub mod error;
pub mod orders;
pub mod saga;
pub mod store;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use futures::FutureExt as _;
use sagaway_contracts::codec::EventCodec;
use sagaway_contracts::pb::order::order_service_server::OrderServiceServer;
use sagaway_contracts::registry::RegistryClient;
use sagaway_platform::config::{ConfigError, Env};
use sagaway_platform::inbox::{Consumer, join_consumer};
use sagaway_platform::kafka::BrokerProbe;
use sagaway_platform::outbox::{Publisher, PublisherConfig};
use sagaway_platform::service::{GrpcApplication, ServiceConfig};

/// Name in logs, metrics, events (`producer`) and `x-sagaway-caller`.
pub const SERVICE_NAME: &str = "order-service";
/// Default gRPC port (DESIGN.md).
pub const DEFAULT_GRPC_PORT: u16 = 50051;
/// Default database.
pub const DEFAULT_DATABASE: &str = "sagaway_orders";

/// The service's own migrations (versions 100+).
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// The order service's configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Settings every service shares.
    pub service: ServiceConfig,
    /// `SAGAWAY_PRODUCT_URL` (`http://127.0.0.1:50052`): the product service, asked whether
    /// ordered products exist.
    pub product_url: String,
    /// `SAGAWAY_PRODUCT_DEADLINE_MS` (`2000`): deadline of each call to the product service.
    pub product_deadline: Duration,
    /// `SAGAWAY_PRODUCT_ATTEMPTS` (`3`): calls made when the product service is UNAVAILABLE.
    pub product_attempts: u32,
    /// The outbox publisher (`SAGAWAY_OUTBOX_*`).
    pub publisher: PublisherConfig,
    /// The order saga's consumer (`SAGAWAY_ORDER_SAGA`, `SAGAWAY_ORDER_CONSUMER_GROUP`).
    pub saga: saga::SagaConfig,
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
            product_deadline: Duration::from_millis(
                env.parse("SAGAWAY_PRODUCT_DEADLINE_MS", 2000)?,
            ),
            product_attempts: env.parse("SAGAWAY_PRODUCT_ATTEMPTS", 3)?,
            publisher: PublisherConfig::from_env(env)?,
            saga: saga::SagaConfig::from_env(env)?,
        })
    }
}

/// The running service: database migrated, listeners bound, dependencies wired.
#[derive(Debug)]
pub struct Application {
    inner: GrpcApplication,
    orders: orders::Orders,
    publisher: Publisher,
    consumer: Consumer<saga::OrderSaga>,
    saga: saga::SagaConfig,
}

impl Application {
    /// Migrates the database, wires the product client, the publisher and the saga's consumer,
    /// binds both listeners.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let pool = sagaway_platform::db::lazy_pool(
            config.service.database_url.expose(),
            config.service.database_max_connections,
        )?;
        let prepared = sagaway_platform::schema::prepare(SERVICE_NAME, {
            let pool = pool.clone();
            move || {
                let pool = pool.clone();
                async move { Ok(sagaway_platform::db::migrate(&pool, &MIGRATOR).await?) }
            }
        })
        .await?;
        let catalog = catalog::Catalog::new(
            &config.product_url,
            config.product_deadline,
            config.product_attempts,
        )?;
        let codec = EventCodec::new(RegistryClient::new(&config.service.schema_registry_url));
        let publisher = Publisher::new(
            pool.clone(),
            &config.service.kafka,
            codec.clone(),
            config.publisher.clone(),
        )?;
        let consumer = Consumer::new(
            pool.clone(),
            &config.service.kafka,
            codec,
            config.saga.consumer(),
            saga::OrderSaga,
        );
        let broker = BrokerProbe::new(&config.service.kafka)?;
        let readiness =
            sagaway_platform::service::database_and_broker(pool.clone(), prepared, broker);
        let inner = GrpcApplication::bind(
            &config.service,
            readiness,
            vec!["sagaway.order.v1.OrderService"],
            sagaway_contracts::FILE_DESCRIPTOR_SET,
        )
        .await?;
        Ok(Self {
            inner,
            orders: orders::Orders::new(pool, catalog),
            publisher,
            consumer,
            saga: config.saga,
        })
    }

    /// The bound gRPC address.
    pub fn grpc_addr(&self) -> SocketAddr {
        self.inner.grpc_addr()
    }

    /// The bound admin HTTP address.
    pub fn admin_addr(&self) -> SocketAddr {
        self.inner.admin_addr()
    }

    /// Serves, publishes and consumes until `shutdown` completes; then drains in-flight
    /// requests, lets the publisher finish its batch and the consumer its message.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let shutdown = shutdown.boxed().shared();
        let publisher = tokio::spawn(self.publisher.run(shutdown.clone()));
        let consumer = if self.saga.participation.enabled {
            Some(tokio::spawn(self.consumer.run(shutdown.clone())))
        } else {
            tracing::info!("the saga is turned off (SAGAWAY_ORDER_SAGA=false)");
            None
        };
        let routes = tonic::service::Routes::new(OrderServiceServer::new(
            api::OrderServiceApi::new(self.orders),
        ));
        let served = self.inner.run_until_stopped(routes, shutdown).await;
        if let Err(err) = publisher.await {
            tracing::error!(error = %err, "outbox publisher task failed");
        }
        if let Some(consumer) = consumer {
            join_consumer(consumer).await;
        }
        served
    }
}
