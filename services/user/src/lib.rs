//! The Sagaway user service. Owns users, credentials and balances (database `sagaway_users`),
//! and takes and refunds payments in the saga.
//!
//! - [`Config`]: settings from the environment (see the README's configuration table and the
//!   struct's own list: the system currency and the bootstrap admin).
//! - [`Application`]: prepares the database (migrations, the configured admin), binds gRPC
//!   (`SAGAWAY_GRPC_ADDR`, default port 50053) and admin HTTP (`SAGAWAY_ADMIN_ADDR`, default
//!   port 51053) and serves until stopped.
//! - [`api`]: the `sagaway.user.v1.UserService` handlers, thin: identity, parse, call, convert.
//! - [`accounts`]: the operations and who may perform them.
//! - [`domain`]: values parsed at the boundary (email, password, display name, top-up) and the
//!   rules on accounts and balances.
//! - [`credentials`]: argon2id password hashing on the blocking pool.
//! - [`store`]: the SQL, one function per statement; [`setup`]: migrations and bootstrap.
//! - [`error`]: the service's failures and their one conversion to gRPC statuses.
//! - [`saga`]: the order saga's payment side: the inbox handler capturing and refunding
//!   payments. [`Application`] runs it beside the gRPC server, with the outbox publisher that
//!   sends the payment events, all sharing its shutdown.

pub mod accounts;
pub mod api;
mod config;
mod convert;
pub mod credentials;
pub mod domain;
pub mod error;
pub mod saga;
pub mod setup;
pub mod store;

use std::future::Future;
use std::net::SocketAddr;

use futures::FutureExt as _;
use sagaway_contracts::codec::EventCodec;
use sagaway_contracts::pb::user::user_service_server::UserServiceServer;
use sagaway_contracts::registry::RegistryClient;
use sagaway_platform::inbox::{Consumer, join_consumer};
use sagaway_platform::kafka::BrokerProbe;
use sagaway_platform::outbox::Publisher;
use sagaway_platform::service::GrpcApplication;

pub use config::{AdminAccount, Config};

/// Name in logs and metrics.
pub const SERVICE_NAME: &str = "user-service";
/// Default gRPC port (DESIGN.md).
pub const DEFAULT_GRPC_PORT: u16 = 50053;
/// Default database.
pub const DEFAULT_DATABASE: &str = "sagaway_users";

/// The running service: database prepared, listeners bound, dependencies wired.
#[derive(Debug)]
pub struct Application {
    inner: GrpcApplication,
    api: api::UserServiceApi,
    publisher: Publisher,
    consumer: Consumer<saga::PaymentSaga>,
    saga: saga::SagaConfig,
}

impl Application {
    /// Connects to the database, applies the migrations and creates the configured admin (in
    /// the background if the database is not up yet), wires the outbox publisher and the
    /// saga's consumer, and binds both listeners.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let pool = sagaway_platform::db::lazy_pool(
            config.service.database_url.expose(),
            config.service.database_max_connections,
        )?;
        let accounts = accounts::Accounts::new(
            pool.clone(),
            credentials::Hasher::default(),
            config.currency,
        );
        let prepared = sagaway_platform::schema::prepare(SERVICE_NAME, {
            let (pool, accounts, admin) = (pool.clone(), accounts.clone(), config.admin.clone());
            move || {
                let (pool, accounts, admin) = (pool.clone(), accounts.clone(), admin.clone());
                async move { setup::prepare(&pool, &accounts, admin.as_ref()).await }
            }
        })
        .await?;
        let broker = BrokerProbe::new(&config.service.kafka)?;
        let readiness =
            sagaway_platform::service::database_and_broker(pool.clone(), prepared, broker);
        let inner = GrpcApplication::bind(
            &config.service,
            readiness,
            vec!["sagaway.user.v1.UserService"],
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
            pool,
            &config.service.kafka,
            codec,
            config.saga.consumer(),
            saga::PaymentSaga,
        );
        Ok(Self {
            inner,
            api: api::UserServiceApi::new(accounts),
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
            tracing::info!("the saga is turned off (SAGAWAY_USER_SAGA=false)");
            None
        };
        let routes = tonic::service::Routes::new(UserServiceServer::new(self.api));
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
