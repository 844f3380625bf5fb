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
        fetch_wait_ms: 10,
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
    pub(crate) fn start<F>(
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
        Service::Order => start!(
            sagaway_order,
            product_url: "http://127.0.0.1:50052".into(),
            product_deadline: Duration::from_secs(2),
            product_attempts: 3,
            publisher: sagaway_platform::outbox::PublisherConfig::default(),
            saga: sagaway_order::saga::SagaConfig::disabled()
        ),
        Service::Product => start!(
            sagaway_product,
            currency: Default::default(),
            seed_demo_catalog: false,
            saga: sagaway_product::saga::SagaConfig::disabled(),
            publisher: Default::default()
        ),
        Service::User => start!(
            sagaway_user,
            currency: Default::default(),
            admin: None,
            saga: sagaway_user::saga::SagaConfig::disabled(),
            publisher: Default::default()
        ),
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

/// Starts the gateway against the test Redis, with no reachable backend.
pub(crate) async fn spawn_gateway() -> Running {
    spawn_gateway_with(|_| {}, None).await
}

/// Starts the gateway against the test Redis after `configure` has adjusted its configuration
/// (backends point nowhere until it does), vouching for `identity` on every request when given.
pub(crate) async fn spawn_gateway_with(
    configure: impl FnOnce(&mut sagaway_gateway::Config),
    identity: Option<sagaway_platform::identity::Identity>,
) -> Running {
    let env = Env::from_pairs([("SAGAWAY_HTTP_ADDR", "127.0.0.1:0")]);
    let mut config = sagaway_gateway::Config::from_env(&env).expect("gateway config");
    config.redis_url = redis_url();
    config.order_url = "http://127.0.0.1:1".into();
    config.product_url = "http://127.0.0.1:1".into();
    config.user_url = "http://127.0.0.1:1".into();
    // Every gateway counts its own rate limits, so tests sharing Redis do not limit each other.
    config.rate_limit_namespace = unique("ratelimit");
    // Windows are fixed and aligned to the clock: with the default minute, a test that counts
    // requests across a minute boundary would see its counters reset. A day makes that rare.
    config.rate_limit_window = Duration::from_secs(86_400);
    configure(&mut config);
    let mut app = sagaway_gateway::Application::build(config)
        .await
        .expect("gateway builds");
    if let Some(identity) = identity {
        app = app.with_identity_for_tests(identity);
    }
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

/// The tests' own migrations (numbered from 100, as a service's are), applied after the
/// platform's outbox and inbox tables.
static TEST_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("tests/system/migrations");

/// A pool on a fresh database holding the platform's tables and the tests' `test_effects`.
pub(crate) async fn migrated_pool() -> sqlx::PgPool {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(8)
        .connect(&fresh_database().await)
        .await
        .expect("connect to the fresh database");
    sagaway_platform::db::migrate(&pool, &TEST_MIGRATIONS)
        .await
        .expect("platform and test migrations apply");
    pool
}

/// Creates `topics` (if missing) with `partitions` partitions on the broker of `kafka`.
pub(crate) async fn create_topics(kafka: &KafkaConfig, topics: &[String], partitions: i32) {
    sagaway_platform::kafka::ensure_topics(kafka, topics, partitions)
        .await
        .unwrap_or_else(|err| panic!("creating {topics:?}: {err}"));
}

/// Polls `check` every 50 ms until it holds; fails the test after `within`.
pub(crate) async fn wait_until<F, Fut>(what: &str, within: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + within;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {within:?} waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub(crate) use sagaway_e2e::topic::{Received, TopicMarks};

/// Everything `topic` holds right now: each partition read from its start up to the high
/// watermark found on entry, in offset order within a partition.
pub(crate) async fn read_topic(kafka: &KafkaConfig, topic: &str) -> Vec<Received> {
    read_topic_since(kafka, topic, &TopicMarks::default()).await
}

/// The current end offset of every partition of `topic`.
pub(crate) async fn topic_marks(kafka: &KafkaConfig, topic: &str) -> TopicMarks {
    use rdkafka::consumer::{BaseConsumer, Consumer as _};
    let config = kafka.consumer(&unique("e2e-marks"));
    let topic = topic.to_owned();
    tokio::task::spawn_blocking(move || {
        let timeout = Duration::from_secs(10);
        let consumer: BaseConsumer = config.create().expect("marks consumer");
        let metadata = consumer
            .fetch_metadata(Some(&topic), timeout)
            .expect("topic metadata");
        let partitions: Vec<i32> = metadata
            .topics()
            .iter()
            .flat_map(|t| t.partitions().iter().map(|p| p.id()))
            .collect();
        partitions
            .into_iter()
            .map(|p| {
                (
                    p,
                    consumer
                        .fetch_watermarks(&topic, p, timeout)
                        .expect("watermarks")
                        .1,
                )
            })
            .collect()
    })
    .await
    .expect("topic marks")
}

/// What `topic` holds after `marks` (from the start for partitions without a mark), up to the
/// high watermark found on entry ([`sagaway_e2e::topic::read_topic`], within 90 s).
pub(crate) async fn read_topic_since(
    kafka: &KafkaConfig,
    topic: &str,
    marks: &TopicMarks,
) -> Vec<Received> {
    let config = kafka.consumer(&unique("e2e-reader"));
    let (topic, marks) = (topic.to_owned(), marks.clone());
    tokio::task::spawn_blocking(move || {
        sagaway_e2e::topic::read_topic(&config, &topic, &marks, Duration::from_secs(90))
            .unwrap_or_else(|err| panic!("{err:#}"))
    })
    .await
    .expect("topic reader")
}

/// A background task (a publisher or a consumer) that tests stop politely or kill.
pub(crate) struct Background {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Background {
    /// Spawns `run`, handing it a shutdown future.
    pub(crate) fn spawn<F, Fut>(run: F) -> Self
    where
        F: FnOnce(std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>) -> Fut,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(run(Box::pin(shutdown(stopped))));
        Self {
            stop: Some(stop),
            task,
        }
    }

    /// Signals shutdown and waits for the task to finish.
    pub(crate) async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(Duration::from_secs(30), &mut self.task)
            .await
            .expect("background task stops within 30 s")
            .expect("background task ends cleanly");
    }

    /// Kills the task where it stands (as a crash would) and waits until it is gone.
    pub(crate) async fn kill(self) {
        self.task.abort();
        let ended = self.task.await;
        assert!(
            ended.as_ref().is_err_and(|err| err.is_cancelled()) || ended.is_ok(),
            "killed task ended with {ended:?}"
        );
    }
}

/// A `nisshi` broker of the test's own, durable in a temporary directory, that can be killed
/// and restarted on the same data; the process is killed when this is dropped.
pub(crate) struct PrivateBroker {
    binary: std::path::PathBuf,
    dir: std::path::PathBuf,
    port: u16,
    child: Option<std::process::Child>,
}

impl PrivateBroker {
    /// Starts a broker on a free port; waits until it accepts connections.
    pub(crate) async fn start() -> Self {
        let binary = nisshi_binary();
        let dir = std::env::temp_dir().join(unique("sagaway-broker"));
        std::fs::create_dir_all(&dir).expect("broker data directory");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let mut broker = Self {
            binary,
            dir,
            port,
            child: None,
        };
        broker.launch().await;
        broker
    }

    /// Settings for clients of this broker.
    pub(crate) fn kafka(&self) -> KafkaConfig {
        KafkaConfig {
            brokers: format!("127.0.0.1:{}", self.port),
            ..kafka()
        }
    }

    /// SIGKILLs the broker and waits until it has exited.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the broker again on the same port and data.
    pub(crate) async fn restart(&mut self) {
        self.kill();
        self.launch().await;
    }

    async fn launch(&mut self) {
        let url = format!("tcp://127.0.0.1:{}", self.port);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("broker.log"))
            .expect("broker log");
        let child = std::process::Command::new(&self.binary)
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            // 0.6.0 resolves the SQLite path against its working directory.
            .args(["--storage-engine", "sqlite://broker.db"])
            .current_dir(&self.dir)
            .stdout(log.try_clone().expect("broker log"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|err| panic!("starting {}: {err}", self.binary.display()));
        self.child = Some(child);
        let address = format!("127.0.0.1:{}", self.port);
        wait_until(
            "the private broker accepts connections",
            Duration::from_secs(30),
            || {
                let address = address.clone();
                async move { tokio::net::TcpStream::connect(address).await.is_ok() }
            },
        )
        .await;
    }
}

impl Drop for PrivateBroker {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The durable `nisshi` binary: on PATH, or where `cargo install` puts it.
fn nisshi_binary() -> std::path::PathBuf {
    let on_path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default();
    let cargo_bin =
        std::env::var_os("HOME").map(|home| std::path::PathBuf::from(home).join(".cargo/bin"));
    on_path
        .into_iter()
        .chain(cargo_bin)
        .map(|dir| dir.join("nisshi"))
        .find(|candidate| candidate.is_file())
        .expect("the nisshi broker (cargo install nisshi --version 0.6.0 --locked --features libsql,dynostore)")
}

/// An `OrderCompleted` for `order_id` whose `total_minor` is its sequence number within the
/// order, so tests can check the order events arrive in.
pub(crate) fn numbered_event(
    order_id: &str,
    seq: i64,
    correlation_id: &str,
) -> sagaway_contracts::events::AnyEvent {
    sagaway_contracts::events::OrderCompleted {
        metadata: sagaway_contracts::events::EventMetadata::new(correlation_id, None, "e2e-test"),
        order_id: order_id.to_owned(),
        user_id: "user-1".into(),
        total_minor: seq,
        currency: "EUR".into(),
    }
    .into()
}

/// Starts the user service on `database_url` (several may share one), creating `admin` at
/// start-up when given, as `SAGAWAY_ADMIN_EMAIL` and `SAGAWAY_ADMIN_PASSWORD` do. Accounts
/// only: its saga is off, so it does not join the shared consumer group on the shared topics.
pub(crate) async fn spawn_user_service(
    database_url: &str,
    admin: Option<sagaway_user::AdminAccount>,
) -> Running {
    let saga = sagaway_user::saga::SagaConfig::disabled();
    spawn_user_service_with(database_url, admin, saga, "http://127.0.0.1:8081").await
}

/// Starts the user service on `database_url` with the saga settings `saga` (whether it runs,
/// its consumer group and topics) and the registry at `registry_url`.
pub(crate) async fn spawn_user_service_with(
    database_url: &str,
    admin: Option<sagaway_user::AdminAccount>,
    saga: sagaway_user::saga::SagaConfig,
    registry_url: &str,
) -> Running {
    let mut service = service_config(sagaway_user::SERVICE_NAME, database_url);
    service.schema_registry_url = registry_url.to_owned();
    start_user_service(service, admin, saga).await
}

/// Starts the user service with `service` settings (its database, broker and registry) and
/// the saga settings `saga`; the outbox polls every 200 ms.
pub(crate) async fn start_user_service(
    service: ServiceConfig,
    admin: Option<sagaway_user::AdminAccount>,
    saga: sagaway_user::saga::SagaConfig,
) -> Running {
    let config = sagaway_user::Config {
        service,
        currency: Default::default(),
        admin,
        saga,
        publisher: sagaway_platform::outbox::PublisherConfig {
            poll_interval: Duration::from_millis(200),
            ..Default::default()
        },
    };
    let app = sagaway_user::Application::build(config)
        .await
        .expect("user service builds");
    let (addr, admin) = (app.grpc_addr(), app.admin_addr());
    Running::start(addr, admin, |stopped| {
        app.run_until_stopped(shutdown(stopped))
    })
}

/// Starts the product service on `database_url` (several may share one), seeding the demo
/// catalogue when asked, as `SAGAWAY_SEED_DEMO_CATALOG=true` does. Catalogue only: its saga is
/// off, so it does not join the shared consumer group on the shared topics.
pub(crate) async fn spawn_product_service(database_url: &str, seed_demo_catalog: bool) -> Running {
    let saga = sagaway_product::saga::SagaConfig::disabled();
    spawn_product_service_with(
        database_url,
        seed_demo_catalog,
        saga,
        "http://127.0.0.1:8081",
    )
    .await
}

/// Starts the product service on `database_url` with the saga settings `saga` (whether it
/// runs, its consumer group, reservation TTL and grace, sweep interval) and the registry at
/// `registry_url`.
pub(crate) async fn spawn_product_service_with(
    database_url: &str,
    seed_demo_catalog: bool,
    saga: sagaway_product::saga::SagaConfig,
    registry_url: &str,
) -> Running {
    let mut service = service_config(sagaway_product::SERVICE_NAME, database_url);
    service.schema_registry_url = registry_url.to_owned();
    start_product_service(service, seed_demo_catalog, saga).await
}

/// Starts the product service with `service` settings (its database, broker and registry)
/// and the saga settings `saga`; the outbox polls every 200 ms.
pub(crate) async fn start_product_service(
    service: ServiceConfig,
    seed_demo_catalog: bool,
    saga: sagaway_product::saga::SagaConfig,
) -> Running {
    let config = sagaway_product::Config {
        service,
        currency: Default::default(),
        seed_demo_catalog,
        saga,
        publisher: sagaway_platform::outbox::PublisherConfig {
            poll_interval: Duration::from_millis(200),
            ..Default::default()
        },
    };
    let app = sagaway_product::Application::build(config)
        .await
        .expect("product service builds");
    let (addr, admin) = (app.grpc_addr(), app.admin_addr());
    Running::start(addr, admin, |stopped| {
        app.run_until_stopped(shutdown(stopped))
    })
}

/// A gRPC channel to `url`.
pub(crate) async fn grpc_channel(url: String) -> tonic::transport::Channel {
    tonic::transport::Channel::from_shared(url)
        .expect("gRPC url")
        .connect()
        .await
        .expect("connect over gRPC")
}

/// A customer as the gateway forwards one: a fresh user id and the customer role.
pub(crate) fn customer() -> sagaway_platform::identity::Identity {
    identity_with(
        uuid::Uuid::new_v4(),
        &[sagaway_platform::identity::Role::Customer],
    )
}

/// An admin as the gateway forwards one: a fresh user id and the customer and admin roles.
pub(crate) fn admin() -> sagaway_platform::identity::Identity {
    use sagaway_platform::identity::Role;
    identity_with(uuid::Uuid::new_v4(), &[Role::Customer, Role::Admin])
}

/// The identity of user `user_id` holding `roles`, with a session.
pub(crate) fn identity_with(
    user_id: uuid::Uuid,
    roles: &[sagaway_platform::identity::Role],
) -> sagaway_platform::identity::Identity {
    sagaway_platform::identity::Identity {
        user_id,
        roles: roles.to_vec(),
        session_id: Some(unique("session")),
    }
}

/// `message` as a request carrying `identity` in its metadata, as the gateway sends it.
pub(crate) fn as_caller<T>(
    identity: &sagaway_platform::identity::Identity,
    message: T,
) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    identity.write_to(request.metadata_mut());
    request
}

/// The field names of the `google.rpc.BadRequest` violations a status carries, in order.
pub(crate) fn violated_fields(status: &tonic::Status) -> Vec<String> {
    sagaway_platform::status::violations(status)
        .into_iter()
        .map(|violation| violation.field)
        .collect()
}

/// Starts the order service on `database_url`, asking the product service at `product_url`,
/// with the saga settings `saga` (whether it runs, its consumer group and topics) and the
/// registry at `registry_url`.
pub(crate) async fn spawn_order_service_with(
    database_url: &str,
    product_url: &str,
    saga: sagaway_order::saga::SagaConfig,
    registry_url: &str,
) -> Running {
    let mut service = service_config(sagaway_order::SERVICE_NAME, database_url);
    service.schema_registry_url = registry_url.to_owned();
    start_order_service(service, product_url, saga).await
}

/// Starts the order service with `service` settings (its database, broker and registry),
/// asking the product service at `product_url`, with the saga settings `saga`; the outbox
/// polls every 200 ms.
pub(crate) async fn start_order_service(
    service: ServiceConfig,
    product_url: &str,
    saga: sagaway_order::saga::SagaConfig,
) -> Running {
    let config = sagaway_order::Config {
        service,
        product_url: product_url.to_owned(),
        product_deadline: Duration::from_secs(2),
        product_attempts: 3,
        publisher: sagaway_platform::outbox::PublisherConfig {
            poll_interval: Duration::from_millis(200),
            ..Default::default()
        },
        saga,
    };
    let app = sagaway_order::Application::build(config)
        .await
        .expect("order service builds");
    let (addr, admin) = (app.grpc_addr(), app.admin_addr());
    Running::start(addr, admin, |stopped| {
        app.run_until_stopped(shutdown(stopped))
    })
}
