//! Serving a tonic service the way every Sagaway service does: with `grpc.health.v1.Health`
//! (each service reported SERVING) and server reflection (v1 and v1alpha, so both current and
//! older `grpcurl`-style tools can list and describe the API).

use std::future::Future;

use tokio::net::TcpListener;
use tonic::service::Routes;
use tonic::transport::server::TcpIncoming;
use tonic_health::ServingStatus;

/// Errors while setting up or running the gRPC server.
#[derive(Debug, thiserror::Error)]
pub enum GrpcServeError {
    /// The descriptor set for reflection did not decode.
    #[error("building the reflection service failed")]
    Reflection(#[from] tonic_reflection::server::Error),
    /// The server stopped with a transport error.
    #[error("gRPC server failed")]
    Transport(#[from] tonic::transport::Error),
}

/// The span every gRPC request runs in: its method and the request id the gateway forwards,
/// which is also the saga's correlation id, so every log line of the request carries them.
fn request_span(request: &tonic::codegen::http::Request<()>) -> tracing::Span {
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    };
    let request_id = header("x-request-id");
    tracing::info_span!(
        "grpc",
        method = %request.uri().path(),
        request_id = %request_id,
        correlation_id = %request_id,
        traceparent = %header("traceparent"),
    )
}

/// Reflection that advertises exactly what this server serves: its own services and health
/// (the shared descriptor set also describes the other services, which live elsewhere).
fn reflection_builder<'b>(
    file_descriptor_set: &'b [u8],
    service_names: &[&str],
) -> tonic_reflection::server::Builder<'b> {
    let builder = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(file_descriptor_set)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .with_service_name(HEALTH_SERVICE);
    service_names
        .iter()
        .fold(builder, |builder, name| builder.with_service_name(*name))
}

/// The standard health service's name.
pub const HEALTH_SERVICE: &str = "grpc.health.v1.Health";

/// Serves `routes` plus health and reflection on `listener` until `shutdown` completes.
///
/// `service_names` are the fully qualified services in `routes`; health reports each SERVING
/// (and the overall `""` service) until shutdown begins, then NOT_SERVING while draining.
pub async fn serve(
    listener: TcpListener,
    routes: Routes,
    service_names: &[&str],
    file_descriptor_set: &'static [u8],
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), GrpcServeError> {
    let (reporter, health) = tonic_health::server::health_reporter();
    for name in service_names.iter().copied().chain([""]) {
        reporter
            .set_service_status(name, ServingStatus::Serving)
            .await;
    }
    let reflection_v1 = reflection_builder(file_descriptor_set, service_names)
        .with_service_name("grpc.reflection.v1.ServerReflection")
        .build_v1()?;
    let reflection_v1alpha = reflection_builder(file_descriptor_set, service_names)
        .with_service_name("grpc.reflection.v1alpha.ServerReflection")
        .build_v1alpha()?;

    let names: Vec<String> = service_names
        .iter()
        .map(|name| (*name).to_owned())
        .collect();
    let drain = async move {
        shutdown.await;
        for name in names.iter().map(String::as_str).chain([""]) {
            reporter
                .set_service_status(name, ServingStatus::NotServing)
                .await;
        }
    };

    tonic::transport::Server::builder()
        .trace_fn(request_span)
        .add_routes(routes)
        .add_service(health)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        // tonic applies its own `tcp_nodelay` only to addresses it binds itself; without it,
        // Nagle's algorithm holds small replies back until the client's delayed ACK (40 ms).
        .serve_with_incoming_shutdown(TcpIncoming::from(listener).with_nodelay(Some(true)), drain)
        .await?;
    Ok(())
}
