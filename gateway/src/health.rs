//! Readiness of the gateway: Redis answers a PING and every backend answers the standard
//! `grpc.health.v1.Health/Check` with SERVING, each within a short timeout.

use std::sync::Arc;
use std::time::Duration;

use axum::http::uri::PathAndQuery;
use bytes::Bytes;
use prost::Message as _;
use sagaway_platform::admin::Readiness;

use crate::client::Backend;

const HEALTH_CHECK: &str = "/grpc.health.v1.Health/Check";

/// `grpc.health.v1.HealthCheckResponse`: only its status is read.
#[derive(Clone, PartialEq, prost::Message)]
struct HealthCheckResponse {
    #[prost(int32, tag = "1")]
    status: i32,
}

/// `ServingStatus::SERVING`.
const SERVING: i32 = 1;

/// Adds a `backend:{name}` check per backend to `readiness`.
pub fn with_backends(
    mut readiness: Readiness,
    backends: Vec<Arc<Backend>>,
    timeout: Duration,
) -> Readiness {
    for backend in backends {
        // Readiness names are `'static`; there are a handful of backends, leaked once at start-up.
        let name: &'static str = Box::leak(format!("backend:{}", backend.name()).into_boxed_str());
        readiness = readiness.with(name, move || check(Arc::clone(&backend), timeout));
    }
    readiness
}

/// One health check of `backend` (the overall service, `service: ""`).
pub async fn check(backend: Arc<Backend>, timeout: Duration) -> Result<(), String> {
    // An empty HealthCheckRequest encodes to no bytes.
    let mut request = tonic::Request::new(Bytes::new());
    request.set_timeout(timeout);
    let reply = tokio::time::timeout(
        timeout,
        backend.unary(&PathAndQuery::from_static(HEALTH_CHECK), request),
    )
    .await
    .map_err(|_| format!("no answer within {} ms", timeout.as_millis()))?
    .map_err(|status| format!("{:?}", status.code()))?;
    let status = HealthCheckResponse::decode(reply.into_inner())
        .map_err(|err| format!("undecodable health answer: {err}"))?
        .status;
    if status == SERVING {
        Ok(())
    } else {
        Err(format!("not serving (status {status})"))
    }
}

/// Redis answers a PING.
pub async fn redis_ping(client: redis::Client) -> Result<(), String> {
    let mut connection = client
        .get_multiplexed_async_connection()
        .await
        .map_err(|err| format!("redis: {err}"))?;
    redis::cmd("PING")
        .query_async::<String>(&mut connection)
        .await
        .map(drop)
        .map_err(|err| format!("redis: {err}"))
}
