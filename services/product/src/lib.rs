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

pub mod api;
pub mod catalog;
mod config;
mod convert;
pub mod domain;
pub mod error;
pub mod setup;
pub mod store;

use std::future::Future;
use std::net::SocketAddr;

use sagaway_contracts::pb::product::product_service_server::ProductServiceServer;
use sagaway_platform::admin::Readiness;
use sagaway_platform::kafka::BrokerProbe;
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
}

impl Application {
    /// Connects to the database, applies the migrations and seeds the demo catalogue when
    /// configured (in the background if the database is not up yet), and binds both listeners.
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
        let readiness = Readiness::default()
            .with("database", {
                let (pool, prepared) = (pool.clone(), prepared.clone());
                move || {
                    let (pool, prepared) = (pool.clone(), prepared.clone());
                    async move { prepared.check(&pool).await }
                }
            })
            .with("broker", move || {
                let broker = broker.clone();
                async move { broker.check().await }
            });
        let inner = GrpcApplication::bind(
            &config.service,
            readiness,
            vec!["sagaway.product.v1.ProductService"],
            sagaway_contracts::FILE_DESCRIPTOR_SET,
        )
        .await?;
        let catalog = catalog::Catalog::new(pool, config.currency);
        Ok(Self {
            inner,
            api: api::ProductServiceApi::new(catalog),
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

    /// Serves until `shutdown` completes, then drains in-flight requests.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let routes = tonic::service::Routes::new(ProductServiceServer::new(self.api));
        self.inner.run_until_stopped(routes, shutdown).await
    }
}
