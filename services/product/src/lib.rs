//! The Sagaway product service. Owns the catalogue and stock (database `sagaway_products`):
//! available and reserved quantities, reservations with an expiry, and the stock events of the
//! saga.
//!
//! - [`Config`]: settings from the environment (see the README's configuration table and the
//!   struct's own list: the system currency and the demo catalogue).
//! - [`Application`]: prepares the database (migrations, the demo catalogue when asked), binds
//!   gRPC (`SAGAWAY_GRPC_ADDR`, default port 50052) and admin HTTP (`SAGAWAY_ADMIN_ADDR`,
//!   default port 51052) and serves until stopped.
//! - [`api`]: the `sagaway.product.v1.ProductService` handlers, thin: caller, parse, call,
//!   convert.
//! - [`catalog`]: the operations; changes need a verified [`domain::Admin`].
//! - [`domain`]: values parsed at the boundary (sku, name, description, price, quantity, batch
//!   lookups) and the rules on products.
//! - [`store`]: the SQL, one function per statement; [`setup`]: migrations and the demo seed.
//! - [`error`]: the service's failures and their one conversion to gRPC statuses.
//! - [`saga`]: the order saga's stock side: the inbox handler reserving, releasing and
//!   committing stock, and the expiry sweeper. [`Application`] runs them beside the gRPC
//!   server, with the outbox publisher that sends the stock events, all sharing its shutdown.

pub mod api;
pub mod catalog;
mod config;
mod convert;
pub mod domain;
pub mod error;
pub mod saga;
pub mod setup;
pub mod store;

use std::future::Future;
use std::net::SocketAddr;

use futures::FutureExt as _;
use sagaway_contracts::codec::EventCodec;
use sagaway_contracts::pb::product::product_service_server::ProductServiceServer;
use sagaway_contracts::registry::RegistryClient;
use sagaway_platform::inbox::{Consumer, join_consumer};
use sagaway_platform::kafka::BrokerProbe;
use sagaway_platform::outbox::Publisher;
use sagaway_platform::service::GrpcApplication;

pub use config::Config;

/// Name in logs and metrics.
pub const SERVICE_NAME: &str = "product-service";
/// Default gRPC port (DESIGN.md).
pub const DEFAULT_GRPC_PORT: u16 = 50052;
/// Default database.
pub const DEFAULT_DATABASE: &str = "sagaway_products";

/// The running service: database prepared, listeners bound, dependencies wired.
#[derive(Debug)]
pub struct Application {
    inner: GrpcApplication,
    api: api::ProductServiceApi,
    publisher: Publisher,
    consumer: Consumer<saga::StockSaga>,
    sweeper: (sqlx::PgPool, saga::SagaConfig),
}

impl Application {
    /// Connects to the database, applies the migrations and seeds the demo catalogue when
    /// configured (in the background if the database is not up yet), wires the outbox
    /// publisher, the saga's consumer and the expiry sweeper, and binds both listeners.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let pool = sagaway_platform::db::lazy_pool(
            config.service.database_url.expose(),
            config.service.database_max_connections,
        )?;
        let prepared = sagaway_platform::schema::prepare(SERVICE_NAME, {
            let (pool, currency, seed) = (pool.clone(), config.currency, config.seed_demo_catalog);
            move || {
                let pool = pool.clone();
                async move { setup::prepare(&pool, currency, seed).await }
            }
        })
        .await?;
        let broker = BrokerProbe::new(&config.service.kafka)?;
        let readiness =
            sagaway_platform::service::database_and_broker(pool.clone(), prepared.clone(), broker);
        let inner = GrpcApplication::bind(
            &config.service,
            readiness,
            vec!["sagaway.product.v1.ProductService"],
            sagaway_contracts::FILE_DESCRIPTOR_SET,
        )
        .await?;
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
            saga::StockSaga::new(config.saga.clone(), config.currency),
        );
        let sweeper = (pool.clone(), config.saga.clone());
        let catalog = catalog::Catalog::new(pool, config.currency);
        Ok(Self {
            inner,
            api: api::ProductServiceApi::new(catalog),
            publisher,
            consumer,
            sweeper,
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

    /// Serves, publishes, consumes and sweeps until `shutdown` completes; then drains in-flight
    /// requests, lets the publisher finish its batch and the consumer its message.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let shutdown = shutdown.boxed().shared();
        let publisher = tokio::spawn(self.publisher.run(shutdown.clone()));
        let (pool, saga) = self.sweeper;
        let (consumer, sweeper) = if saga.participation.enabled {
            let consumer = self.consumer.run(shutdown.clone());
            let sweeper = saga::expiry::run(pool, saga, shutdown.clone());
            (Some(tokio::spawn(consumer)), Some(tokio::spawn(sweeper)))
        } else {
            tracing::info!("the saga is turned off (SAGAWAY_PRODUCT_SAGA=false)");
            (None, None)
        };
        let routes = tonic::service::Routes::new(ProductServiceServer::new(self.api));
        let served = self.inner.run_until_stopped(routes, shutdown).await;
        if let Err(err) = publisher.await {
            tracing::error!(error = %err, "outbox publisher task failed");
        }
        if let Some(consumer) = consumer {
            join_consumer(consumer).await;
        }
        if let Some(Err(err)) = futures::future::OptionFuture::from(sweeper).await {
            tracing::error!(error = %err, "reservation sweeper task failed");
        }
        served
    }
}
