//! Sagaway's HTTP gateway, the one door HTTP clients use.
//!
//! Routes are built at start-up from the `google.api.http` options in the descriptor sets of the
//! configured backends ([`routes`], [`template`]); one handler ([`transcode`]) maps each request
//! to its RPC with proto3 JSON both ways ([`fields`] for path and query values) and calls the
//! backend with a generic client ([`client`]); failures become JSON `google.rpc.Status` bodies
//! in one place ([`error`]). [`headers`] keeps the request id and strips forged identity headers.
//! [`openapi`] generates `/openapi.json` from the same routes. [`idempotency`] replays answers
//! to a repeated `Idempotency-Key` (in Redis through [`store`]) and [`ratelimit`] counts
//! requests per IP and per user, in-process and synced to Redis, or in Redis per request.
//! [`protect`] limits body and header sizes and applies CORS; [`observe`] counts and times every
//! request per route template and writes the access log. It also answers `/health/live`,
//! `/health/ready` (Redis and every backend's gRPC health, [`health`]), `/metrics` and `/docs`
//! ([`docs`]).
//! [`auth`] serves register, login, refresh, logout and the JWK Set, and guards every `/v1/`
//! route: a bearer token bound to a live Redis session (remembered briefly in-process, every
//! revocation reaching every gateway over Redis pub/sub) becomes an [`Identity`] extension,
//! which the transcoder forwards as gRPC metadata.

pub mod auth;
pub mod client;
pub mod config;
pub mod docs;
pub mod error;
pub mod fields;
pub mod headers;
pub mod health;
pub mod idempotency;
pub mod observe;
pub mod openapi;
pub mod protect;
pub mod ratelimit;
pub mod routes;
pub mod store;
pub mod template;
pub mod transcode;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use axum::middleware::from_fn_with_state;
use axum::routing::get;
use axum::{Extension, Json, Router};
use prost_reflect::DescriptorPool;
use sagaway_platform::admin::{self, Readiness};
use sagaway_platform::identity::Identity;
use serde_json::Value;
use tokio::net::TcpListener;
use tower::ServiceBuilder;

pub use config::{AuthConfig, Config, ExtraBackend, Protection, RouteTimeout};

use crate::auth::Auth;
use crate::auth::guard::{self, Guard};
use crate::auth::keys::KeySet;
use crate::auth::live::SessionCache;
use crate::auth::sessions::Sessions;
use crate::auth::tokens::Tokens;
use crate::client::Backend;
use crate::idempotency::Idempotency;
use crate::ratelimit::RateLimiter;
use crate::routes::RouteTable;
use crate::store::Store;
use crate::transcode::Transcoder;

/// Name in logs and metrics.
pub const SERVICE_NAME: &str = "gateway";

/// The gateway with its listener bound and its routes built.
#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    redis: redis::Client,
    transcoder: Arc<Transcoder>,
    auth: Arc<Auth>,
    idempotency: Idempotency,
    limiter: RateLimiter,
    identity: Option<Identity>,
    protection: Protection,
    health_timeout: std::time::Duration,
}

impl Application {
    /// Binds the listener and builds the routes; a bad descriptor set or rule fails here.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let redis = redis::Client::open(config.redis_url.as_str()).with_context(|| {
            format!(
                "SAGAWAY_REDIS_URL={:?} is not a Redis URL",
                config.redis_url
            )
        })?;
        let routes = build_routes(&config)?;
        for route in routes.describe() {
            tracing::info!(route, "route");
        }
        let store = Store::new(redis.clone());
        let auth = Arc::new(build_auth(&config, &store)?);
        let listener = TcpListener::bind(config.http_addr)
            .await
            .with_context(|| format!("binding HTTP on {} (SAGAWAY_HTTP_ADDR)", config.http_addr))?;
        let transcoder = Arc::new(Transcoder {
            routes,
            timeout: config.timeout,
            get_attempts: config.get_attempts,
        });
        Ok(Self {
            listener,
            redis,
            transcoder,
            auth,
            idempotency: Idempotency {
                store: store.clone(),
                ttl: config.idempotency_ttl,
            },
            limiter: RateLimiter {
                store,
                per_ip: config.rate_limit_per_ip,
                per_user: config.rate_limit_per_user,
                window: config.rate_limit_window,
                namespace: config.rate_limit_namespace.as_str().into(),
                local: (!config.rate_limit_sync.is_zero())
                    .then(|| Arc::new(ratelimit::LocalCounts::default())),
                sync: config.rate_limit_sync,
            },
            identity: None,
            protection: config.protection.clone(),
            health_timeout: config.health_timeout,
        })
    }

    /// Vouches for `identity` on every request instead of asking for a bearer token (role rules
    /// still apply). For tests only; there is deliberately no way to choose an identity over HTTP.
    pub fn with_identity_for_tests(mut self, identity: Identity) -> Self {
        self.identity = Some(identity);
        self
    }

    /// The route table, one line per route (`GET /v1/products/{product_id} -> ...`).
    pub fn routes(&self) -> Vec<String> {
        self.transcoder.routes.describe()
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
        let redis = self.redis.clone();
        let readiness = health::with_backends(
            Readiness::default().with("redis", move || health::redis_ping(redis.clone())),
            self.transcoder.routes.backends(),
            self.health_timeout,
        );
        let cors = protect::cors(&self.protection.cors_allowed_origins)?;
        // Background work for as long as the gateway serves: revocations for the session cache,
        // and the in-process rate-limit counts into Redis.
        let revocations = tokio::spawn(auth::live::listen(
            self.redis.clone(),
            Arc::clone(self.auth.sessions.cache()),
        ));
        let syncer = tokio::spawn(self.limiter.clone().sync_forever());
        let mut document = openapi::document(&self.transcoder.routes);
        auth::openapi::describe(&mut document);
        let document = Arc::new(document);
        // Each stack below is one `Router::layer` call: axum boxes the service once per call,
        // so composing with `ServiceBuilder` (outermost first) saves allocations per request.
        let transcoding = Router::new()
            .route(
                "/openapi.json",
                get(move || async move { Json(Value::clone(&document)) }),
            )
            .route("/docs", get(docs::page))
            .fallback(transcode::handle)
            .with_state(Arc::clone(&self.transcoder))
            // Idempotency and the per-user limit need the guard's identity.
            .layer(
                ServiceBuilder::new()
                    .layer(from_fn_with_state(
                        Guard {
                            auth: Arc::clone(&self.auth),
                            transcoder: Arc::clone(&self.transcoder),
                            limiter: self.limiter.clone(),
                        },
                        guard::authenticate,
                    ))
                    .layer(from_fn_with_state(
                        self.limiter.clone(),
                        ratelimit::per_user,
                    ))
                    .layer(from_fn_with_state(
                        self.idempotency.clone(),
                        idempotency::idempotent,
                    )),
            );
        let api = auth::router(Arc::clone(&self.auth))
            .merge(transcoding)
            .layer(from_fn_with_state(self.limiter.clone(), ratelimit::per_ip));
        let mut router = admin::router(SERVICE_NAME, readiness).merge(api);
        if let Some(identity) = self.identity.clone() {
            router = router.layer(Extension(identity));
        }
        // The request id first, then metrics and the access log see everything, CORS answers
        // preflights, and the limits run before any handler reads the body.
        let router = router.layer(
            ServiceBuilder::new()
                .layer(axum::middleware::from_fn(headers::request_id))
                .layer(from_fn_with_state(
                    Arc::clone(&self.transcoder),
                    observe::observe,
                ))
                .option_layer(cors)
                // The limit below is the one enforced; axum's own 2 MiB default would cap it.
                .layer(axum::extract::DefaultBodyLimit::disable())
                .layer(from_fn_with_state(
                    Arc::new(self.protection.clone()),
                    protect::limit,
                ))
                .layer(axum::middleware::from_fn(headers::strip_identity)),
        );
        tracing::info!(service = SERVICE_NAME, http = %self.addr(), "listening");
        let served = admin::serve(self.listener, router, shutdown)
            .await
            .context("gateway HTTP server");
        revocations.abort();
        syncer.abort();
        // The counts of the last interval still go to Redis (best effort: Redis may be gone).
        if let Err(error) = self.limiter.sync_once().await {
            tracing::debug!(error = %error, "last rate-limit sync failed");
        }
        served
    }
}

/// Routes for the built-in services (from the built-in descriptor set) and every extra backend.
fn build_routes(config: &Config) -> anyhow::Result<RouteTable> {
    let mut table = RouteTable::default();
    let builtin = DescriptorPool::decode(sagaway_contracts::pb::FILE_DESCRIPTOR_SET)
        .context("decoding the built-in descriptor set")?;
    let services = [
        (
            "order",
            "sagaway.order.v1.OrderService",
            &config.order_url,
            "SAGAWAY_ORDER_URL",
        ),
        (
            "product",
            "sagaway.product.v1.ProductService",
            &config.product_url,
            "SAGAWAY_PRODUCT_URL",
        ),
        (
            "user",
            "sagaway.user.v1.UserService",
            &config.user_url,
            "SAGAWAY_USER_URL",
        ),
    ];
    for (name, service, urls, variable) in services {
        let backend = Backend::new(name, &config::urls(urls), config.connect_timeout)
            .with_context(|| format!("{variable}={urls:?}"))?;
        let service = builtin
            .get_service_by_name(service)
            .with_context(|| format!("{service} is missing from the descriptor set"))?;
        table.add_service(&service, &Arc::new(backend))?;
    }
    for extra in &config.extra_backends {
        let context = || format!("{} backend {:?}", config::EXTRA_BACKENDS, extra.name);
        let bytes = std::fs::read(&extra.descriptor_set)
            .with_context(|| format!("reading {}", extra.descriptor_set.display()))
            .with_context(context)?;
        let pool = DescriptorPool::decode(bytes.as_slice()).with_context(context)?;
        let backend = Arc::new(
            Backend::new(&extra.name, &extra.urls, config.connect_timeout).with_context(context)?,
        );
        for service in pool.services() {
            table
                .add_service(&service, &backend)
                .with_context(context)?;
        }
    }
    table
        .set_deadlines(&config.route_timeouts)
        .map_err(|reason| anyhow::anyhow!("{}: {reason}", config::ROUTE_TIMEOUTS))?;
    Ok(table)
}

/// Keys, sessions and the user-service client behind the auth endpoints.
fn build_auth(config: &Config, store: &Store) -> anyhow::Result<Auth> {
    let keys = KeySet::load(&config.auth)?;
    let users = Backend::new(
        "user",
        &config::urls(&config.user_url),
        config.connect_timeout,
    )
    .with_context(|| format!("SAGAWAY_USER_URL={:?}", config.user_url))?;
    Ok(Auth {
        tokens: Tokens::new(keys, &config.auth),
        sessions: Sessions::new(
            store.clone(),
            config.auth.session_ttl,
            Arc::new(SessionCache::new(config.auth.session_cache)),
        ),
        users: Arc::new(users),
        pool: DescriptorPool::decode(sagaway_contracts::pb::FILE_DESCRIPTOR_SET)
            .context("decoding the built-in descriptor set")?,
        timeout: config.timeout,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routes::Lookup;
    use axum::http::Method;
    use sagaway_platform::config::Env;

    fn builtin_routes() -> RouteTable {
        let config = Config::from_env(&Env::default()).expect("default config");
        build_routes(&config).expect("routes build")
    }

    #[tokio::test]
    async fn routes_come_from_the_annotations_of_every_builtin_service() {
        let mut routes = builtin_routes().describe();
        routes.sort();
        assert_eq!(
            routes,
            [
                "GET /v1/me -> sagaway.user.v1.UserService/GetMe",
                "GET /v1/orders -> sagaway.order.v1.OrderService/ListOrders",
                "GET /v1/orders/{order_id} -> sagaway.order.v1.OrderService/GetOrder",
                "GET /v1/orders/{order_id}/history -> sagaway.order.v1.OrderService/ListOrderStatusHistory",
                "GET /v1/products -> sagaway.product.v1.ProductService/ListProducts",
                "GET /v1/products/{product_id} -> sagaway.product.v1.ProductService/GetProduct",
                "GET /v1/users -> sagaway.user.v1.UserService/ListUsers",
                "GET /v1/users/{user_id} -> sagaway.user.v1.UserService/GetUser",
                "POST /v1/orders -> sagaway.order.v1.OrderService/CreateOrder",
                "POST /v1/orders/{order_id}:cancel -> sagaway.order.v1.OrderService/CancelOrder",
                "POST /v1/products -> sagaway.product.v1.ProductService/CreateProduct",
                "POST /v1/products/{product_id}:restock -> sagaway.product.v1.ProductService/RestockProduct",
                "POST /v1/users/{user_id}/balance:topUp -> sagaway.user.v1.UserService/TopUpBalance",
            ]
        );
    }

    #[tokio::test]
    async fn route_deadlines_apply_to_every_binding_of_their_method_and_typos_are_refused() {
        let env = Env::from_pairs([(
            config::ROUTE_TIMEOUTS,
            "sagaway.order.v1.OrderService.CreateOrder=3s",
        )]);
        let table = build_routes(&Config::from_env(&env).expect("config")).expect("routes");
        for route in table.routes() {
            let expected =
                (route.rpc.name() == "CreateOrder").then_some(std::time::Duration::from_secs(3));
            assert_eq!(route.deadline, expected, "{}", route.rpc.full_name());
        }
        let env = Env::from_pairs([(
            config::ROUTE_TIMEOUTS,
            "sagaway.order.v1.OrderService.CreateOrdr=3s",
        )]);
        let err = build_routes(&Config::from_env(&env).expect("config")).expect_err("typo");
        assert!(err.to_string().contains("CreateOrdr"), "{err}");
    }

    #[tokio::test]
    async fn lookups_tell_a_custom_verb_from_a_variable_and_a_wrong_method_from_no_route() {
        let table = builtin_routes();
        let found = |method: Method, path: &str| match table.lookup(&method, path) {
            Lookup::Found(route, bindings) => format!("{} {bindings:?}", route.rpc.name()),
            Lookup::WrongMethod(allowed) => format!("405 {allowed:?}"),
            Lookup::NotFound => "404".to_owned(),
        };
        let table = [
            (
                Method::POST,
                "/v1/orders/o-1:cancel",
                r#"CancelOrder [(["order_id"], "o-1")]"#,
            ),
            (
                Method::GET,
                "/v1/orders/o-1",
                r#"GetOrder [(["order_id"], "o-1")]"#,
            ),
            (Method::GET, "/v1/orders/o-1:cancel", "405 [POST]"),
            (Method::DELETE, "/v1/orders", "405 [GET, POST]"),
            (
                Method::GET,
                "/v1/orders/o-1/history",
                r#"ListOrderStatusHistory [(["order_id"], "o-1")]"#,
            ),
            (Method::GET, "/v1/me", "GetMe []"),
            (Method::GET, "/v1/nowhere", "404"),
            (Method::GET, "/v1/orders/o-1/nothing", "404"),
        ];
        for (method, path, expected) in table {
            assert_eq!(found(method.clone(), path), expected, "{method} {path}");
        }
    }

    #[tokio::test]
    async fn the_openapi_document_describes_routes_with_their_proto_comments() {
        let document = openapi::document(&builtin_routes());
        assert_eq!(document["openapi"], "3.1.0");
        let get = &document["paths"]["/v1/products/{product_id}"]["get"];
        assert_eq!(get["parameters"][0]["name"], "product_id", "{get}");
        assert!(
            get["description"]
                .as_str()
                .is_some_and(|d| d.starts_with("Returns one product")),
            "{get}"
        );
        let list = &document["paths"]["/v1/orders"]["get"]["parameters"];
        let names: Vec<&str> = list
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p["name"].as_str())
            .collect();
        assert_eq!(names, ["page_size", "page_token", "status"]);
        let create = &document["paths"]["/v1/products"]["post"]["requestBody"];
        assert_eq!(
            create["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/sagaway.product.v1.Product"
        );
        let product = &document["components"]["schemas"]["sagaway.product.v1.Product"];
        assert_eq!(
            product["properties"]["createTime"]["allOf"][0]["format"], "date-time",
            "{product}"
        );
        let status = &document["components"]["schemas"]["sagaway.order.v1.OrderStatus"];
        assert_eq!(status["enum"][6], "ORDER_STATUS_CANCELLED");
    }
}
