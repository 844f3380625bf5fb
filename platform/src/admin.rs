//! The admin HTTP surface every process answers: `/health/live` (the process runs),
//! `/health/ready` (its dependencies answer) and `/metrics` (Prometheus text format).

use std::future::Future;
use std::sync::{Arc, OnceLock};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use futures::future::BoxFuture;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;

type Check = Arc<dyn Fn() -> BoxFuture<'static, Result<(), String>> + Send + Sync>;

/// The named checks `/health/ready` runs; each must answer for the process to be ready.
#[derive(Clone, Default)]
pub struct Readiness {
    checks: Vec<(&'static str, Check)>,
}

impl std::fmt::Debug for Readiness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<_> = self.checks.iter().map(|(name, _)| *name).collect();
        f.debug_struct("Readiness").field("checks", &names).finish()
    }
}

impl Readiness {
    /// Adds a check called `name`.
    pub fn with<F, Fut>(mut self, name: &'static str, check: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        self.checks
            .push((name, Arc::new(move || Box::pin(check()))));
        self
    }

    /// Runs every check concurrently; the answer lists each by name.
    pub async fn run(&self) -> (bool, serde_json::Map<String, serde_json::Value>) {
        let results = futures::future::join_all(self.checks.iter().map(|(name, check)| {
            let check = Arc::clone(check);
            async move {
                let outcome =
                    tokio::time::timeout(std::time::Duration::from_secs(3), check()).await;
                let outcome = outcome.unwrap_or_else(|_| Err("timed out after 3 s".to_owned()));
                (*name, outcome)
            }
        }))
        .await;
        let ready = results.iter().all(|(_, outcome)| outcome.is_ok());
        let checks = results
            .into_iter()
            .map(|(name, outcome)| {
                let value = match outcome {
                    Ok(()) => serde_json::Value::from("ok"),
                    Err(reason) => serde_json::Value::from(reason),
                };
                (name.to_owned(), value)
            })
            .collect();
        (ready, checks)
    }
}

/// The process-wide Prometheus recorder (installed on first use).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            // Fails only if another recorder was installed first; the handle still renders ours.
            drop(metrics::set_global_recorder(recorder));
            handle
        })
        .clone()
}

#[derive(Clone)]
struct AdminState {
    service: &'static str,
    readiness: Readiness,
    metrics: PrometheusHandle,
}

/// The admin routes for `service` (its name appears in the answers and in `sagaway_build_info`).
pub fn router(service: &'static str, readiness: Readiness) -> Router {
    let metrics = metrics_handle();
    metrics::gauge!("sagaway_build_info", "service" => service, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
    Router::new()
        .route("/health/live", get(live))
        .route("/health/ready", get(ready))
        .route("/metrics", get(render_metrics))
        .with_state(AdminState {
            service,
            readiness,
            metrics,
        })
}

async fn live(State(state): State<AdminState>) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok", "service": state.service }))
}

async fn ready(State(state): State<AdminState>) -> Response {
    let (ready, checks) = state.readiness.run().await;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = serde_json::json!({
        "status": if ready { "ok" } else { "unavailable" },
        "service": state.service,
        "checks": checks,
    });
    (status, Json(body)).into_response()
}

async fn render_metrics(State(state): State<AdminState>) -> impl IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        state.metrics.render(),
    )
}

/// Serves `router` on `listener` until `shutdown` completes, then drains open requests.
///
/// Accepted connections get `TCP_NODELAY`: an answer is sent when it is written, not held back
/// by Nagle's algorithm until the client's delayed ACK (up to 40 ms on Linux) arrives.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::serve::ListenerExt as _;
    let listener = listener.tap_io(|stream| {
        if let Err(err) = stream.set_nodelay(true) {
            tracing::debug!(error = %err, "setting TCP_NODELAY failed");
        }
    });
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
