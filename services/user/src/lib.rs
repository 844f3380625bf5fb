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

pub mod accounts;
pub mod api;
mod config;
mod convert;
pub mod credentials;
pub mod domain;
pub mod error;
pub mod setup;
pub mod store;

use std::future::Future;
use std::net::SocketAddr;

use sagaway_contracts::pb::user::user_service_server::UserServiceServer;
use sagaway_platform::kafka::BrokerProbe;
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
}

impl Application {
    /// Connects to the database, applies the migrations and creates the configured admin (in
    /// the background if the database is not up yet), and binds both listeners.
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
        let readiness = sagaway_platform::service::database_and_broker(pool, prepared, broker);
        let inner = GrpcApplication::bind(
            &config.service,
            readiness,
            vec!["sagaway.user.v1.UserService"],
            sagaway_contracts::FILE_DESCRIPTOR_SET,
        )
        .await?;
        Ok(Self {
            inner,
            api: api::UserServiceApi::new(accounts),
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
        let routes = tonic::service::Routes::new(UserServiceServer::new(self.api));
        self.inner.run_until_stopped(routes, shutdown).await
    }
}
