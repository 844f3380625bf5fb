//! Structured logs and traces.
//!
//! Logs are JSON lines by default (`SAGAWAY_LOG_FORMAT=pretty` for humans), filtered by
//! `RUST_LOG` (default `info`). Each line carries the fields of the spans it happened in: every
//! gRPC request runs in a span with its method, `request_id` and `correlation_id` (the
//! `x-request-id` the gateway sets, which also correlates the saga), and every consumed event in
//! a span with its `correlation_id`, type and id. When `SAGAWAY_OTLP_ENDPOINT` (or the standard
//! `OTEL_EXPORTER_OTLP_ENDPOINT`) names a collector, those spans are also exported as traces over
//! OTLP/gRPC, with the process's binary name as the service name.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

use crate::config::Env;

/// Keeps the trace exporter alive; call [`Telemetry::shutdown`] before exiting so buffered
/// spans are sent.
#[derive(Debug, Default)]
#[must_use = "dropping the guard at once loses buffered traces; keep it until the end of main"]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Flushes and stops the trace exporter, if there is one.
    pub fn shutdown(self) {
        if let Some(provider) = self.provider
            && let Err(err) = provider.shutdown()
        {
            tracing::warn!(error = %err, "flushing traces at shutdown failed");
        }
    }
}

/// Installs the global subscriber (and the OTLP exporter when configured). Call once, first
/// thing in `main`.
pub fn init(env: &Env) -> Telemetry {
    let filter = EnvFilter::try_new(env.string("RUST_LOG", "info"))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let endpoint = env.string(
        "SAGAWAY_OTLP_ENDPOINT",
        &env.string("OTEL_EXPORTER_OTLP_ENDPOINT", ""),
    );
    let provider = (!endpoint.is_empty())
        .then(|| otlp_provider(&endpoint))
        .and_then(|result| {
            result
                .map_err(|err| {
                    eprintln!("SAGAWAY_OTLP_ENDPOINT={endpoint:?}: traces are not exported: {err}")
                })
                .ok()
        });
    let traces = provider
        .as_ref()
        .map(|provider| tracing_opentelemetry::layer().with_tracer(provider.tracer("sagaway")));
    let registry = tracing_subscriber::registry().with(filter).with(traces);
    let result = if env.string("SAGAWAY_LOG_FORMAT", "json") == "pretty" {
        registry
            .with(tracing_subscriber::fmt::layer().with_target(true))
            .try_init()
    } else {
        let json = tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .with_target(true);
        registry.with(json).try_init()
    };
    // A subscriber may already be installed (several apps in one test process): keep it.
    drop(result);
    Telemetry { provider }
}

fn otlp_provider(
    endpoint: &str,
) -> Result<SdkTracerProvider, opentelemetry_otlp::ExporterBuildError> {
    use opentelemetry_otlp::WithExportConfig as _;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint)
        .build()?;
    let service = std::env::current_exe()
        .ok()
        .and_then(|path| {
            path.file_stem()
                .map(|stem| stem.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "sagaway".to_owned());
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(service)
        .build();
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build())
}
