//! The shape every gRPC service shares: its configuration, an application that binds its gRPC
//! and admin listeners up front (port 0 works, so tests run the real thing), and a run loop
//! that serves both until the shutdown future completes.

use std::future::Future;
use std::net::SocketAddr;

use anyhow::Context as _;
use futures::FutureExt as _;
use tokio::net::TcpListener;
use tonic::service::Routes;

use crate::admin::{self, Readiness};
use crate::config::{ConfigError, Env, Secret};
use crate::kafka::KafkaConfig;

/// Settings every gRPC service reads.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// Short name used in logs and metrics, e.g. `order-service`.
    pub name: &'static str,
    /// `SAGAWAY_GRPC_ADDR`: where gRPC listens.
    pub grpc_addr: SocketAddr,
    /// `SAGAWAY_ADMIN_ADDR`: where `/health/*` and `/metrics` listen (default: gRPC port + 1000).
    pub admin_addr: SocketAddr,
    /// `SAGAWAY_DATABASE_URL`: the service's own PostgreSQL database.
    pub database_url: Secret,
    /// `SAGAWAY_DATABASE_MAX_CONNECTIONS` (`10`).
    pub database_max_connections: u32,
    /// Broker settings (`SAGAWAY_KAFKA_*`).
    pub kafka: KafkaConfig,
    /// `SAGAWAY_SCHEMA_REGISTRY_URL` (`http://127.0.0.1:8081`).
    pub schema_registry_url: String,
}

impl ServiceConfig {
    /// Reads the settings; `grpc_port` and `database` are the service's defaults.
    pub fn from_env(
        env: &Env,
        name: &'static str,
        grpc_port: u16,
        database: &str,
    ) -> Result<Self, ConfigError> {
        let grpc_addr: SocketAddr = env.parse(
            "SAGAWAY_GRPC_ADDR",
            SocketAddr::from(([0, 0, 0, 0], grpc_port)),
        )?;
        let admin_port = if grpc_addr.port() == 0 {
            0
        } else {
            grpc_addr.port().saturating_add(1000)
        };
        let admin_addr = env.parse(
            "SAGAWAY_ADMIN_ADDR",
            SocketAddr::new(grpc_addr.ip(), admin_port),
        )?;
        let default_url = format!("postgres://postgres:postgres@127.0.0.1:5432/{database}");
        Ok(Self {
            name,
            grpc_addr,
            admin_addr,
            database_url: env.secret("SAGAWAY_DATABASE_URL", &default_url),
            database_max_connections: env.parse("SAGAWAY_DATABASE_MAX_CONNECTIONS", 10)?,
            kafka: KafkaConfig::from_env(env)?,
            schema_registry_url: env.string("SAGAWAY_SCHEMA_REGISTRY_URL", "http://127.0.0.1:8081"),
        })
    }
}

/// The readiness every gRPC service reports: its database prepared (migrated) and answering,
/// and the broker answering a metadata request.
pub fn database_and_broker(
    pool: sqlx::PgPool,
    prepared: crate::schema::Prepared,
    broker: crate::kafka::BrokerProbe,
) -> Readiness {
    Readiness::default()
        .with("database", move || {
            let (pool, prepared) = (pool.clone(), prepared.clone());
            async move { prepared.check(&pool).await }
        })
        .with("broker", move || {
            let broker = broker.clone();
            async move { broker.check().await }
        })
}

/// A gRPC service with its listeners bound, ready to run.
#[derive(Debug)]
pub struct GrpcApplication {
    name: &'static str,
    grpc: TcpListener,
    admin: TcpListener,
    readiness: Readiness,
    service_names: Vec<&'static str>,
    file_descriptor_set: &'static [u8],
}

impl GrpcApplication {
    /// Binds both listeners of `config`.
    pub async fn bind(
        config: &ServiceConfig,
        readiness: Readiness,
        service_names: Vec<&'static str>,
        file_descriptor_set: &'static [u8],
    ) -> anyhow::Result<Self> {
        let grpc = TcpListener::bind(config.grpc_addr)
            .await
            .with_context(|| format!("binding gRPC on {} (SAGAWAY_GRPC_ADDR)", config.grpc_addr))?;
        let admin = TcpListener::bind(config.admin_addr)
            .await
            .with_context(|| {
                format!(
                    "binding admin HTTP on {} (SAGAWAY_ADMIN_ADDR)",
                    config.admin_addr
                )
            })?;
        Ok(Self {
            name: config.name,
            grpc,
            admin,
            readiness,
            service_names,
            file_descriptor_set,
        })
    }

    /// The bound gRPC address (the real port when 0 was asked for).
    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    /// The bound admin HTTP address.
    pub fn admin_addr(&self) -> SocketAddr {
        self.admin
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    /// Serves gRPC (with health and reflection) and admin HTTP until `shutdown` completes;
    /// in-flight requests drain before it returns.
    pub async fn run_until_stopped(
        self,
        routes: Routes,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let shutdown = shutdown.boxed().shared();
        tracing::info!(
            service = self.name,
            grpc = %self.grpc_addr(),
            admin = %self.admin_addr(),
            "listening"
        );
        let admin_router = admin::router(self.name, self.readiness);
        let grpc = crate::grpc::serve(
            self.grpc,
            routes,
            &self.service_names,
            self.file_descriptor_set,
            shutdown.clone(),
        );
        let admin = admin::serve(self.admin, admin_router, shutdown);
        let (grpc, admin) = tokio::join!(grpc, admin);
        grpc.context("gRPC server")?;
        admin.context("admin HTTP server")?;
        tracing::info!(service = self.name, "stopped");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_port_defaults_to_grpc_port_plus_1000() {
        let env = Env::from_pairs([("SAGAWAY_GRPC_ADDR", "127.0.0.1:60051")]);
        let config = ServiceConfig::from_env(&env, "t", 50051, "db").expect("config");
        assert_eq!(config.admin_addr, "127.0.0.1:61051".parse().expect("addr"));
        let defaults = ServiceConfig::from_env(&Env::default(), "t", 50052, "sagaway_products")
            .expect("config");
        assert_eq!(defaults.grpc_addr.port(), 50052);
        assert_eq!(defaults.admin_addr.port(), 51052);
        assert!(
            defaults
                .database_url
                .expose()
                .ends_with("/sagaway_products")
        );
    }
}
