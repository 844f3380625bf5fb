//! What a client may send: request body and header size limits (413, 431, with JSON bodies)
//! and the CORS policy for browser callers.

use std::error::Error as _;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::LengthLimitError;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::config::Protection;
use crate::error::GatewayError;

/// Refuses oversized header sets (431) and bodies (413); the body is read here, once, so every
/// handler behind sees a complete body within the limit.
pub async fn limit(
    State(limits): State<Arc<Protection>>,
    request: Request,
    next: Next,
) -> Response {
    let headers = request.headers();
    if headers.len() > limits.max_headers {
        let message = format!("more than {} request headers", limits.max_headers);
        return too_large(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, message);
    }
    let header_bytes: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if header_bytes > limits.max_header_bytes {
        let message = format!("request headers exceed {} bytes", limits.max_header_bytes);
        return too_large(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, message);
    }
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
    let max = limits.max_body_bytes;
    if declared.is_some_and(|length| length > max as u64) {
        return body_too_large(max);
    }
    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, max).await {
        Ok(bytes) => bytes,
        // A chunked body has no Content-Length: the limit is found while reading.
        Err(err) if is_length_limit(&err) => return body_too_large(max),
        Err(err) => {
            return GatewayError::bad_request(format!("reading the body: {err}")).into_response();
        }
    };
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

fn is_length_limit(err: &axum::Error) -> bool {
    let mut source = err.source();
    while let Some(cause) = source {
        if cause.is::<LengthLimitError>() {
            return true;
        }
        source = cause.source();
    }
    false
}

fn body_too_large(max: usize) -> Response {
    let message = format!("the request body exceeds {max} bytes");
    too_large(StatusCode::PAYLOAD_TOO_LARGE, message)
}

fn too_large(status: StatusCode, message: String) -> Response {
    GatewayError::TooLarge { status, message }.into_response()
}

/// Headers a browser may send cross-origin besides the CORS-safelisted ones.
const ALLOWED_HEADERS: [&str; 6] = [
    "authorization",
    "content-type",
    "idempotency-key",
    "x-request-id",
    "x-request-timeout-ms",
    "traceparent",
];

/// Headers a browser script may read from an answer.
const EXPOSED_HEADERS: [&str; 3] = ["x-request-id", "retry-after", "idempotent-replayed"];

/// The CORS layer for `origins`; `None` (no CORS headers at all) when the list is empty.
/// Preflight `OPTIONS` requests are answered by the layer itself.
pub fn cors(origins: &[String]) -> anyhow::Result<Option<CorsLayer>> {
    if origins.is_empty() {
        return Ok(None);
    }
    let origins = origins
        .iter()
        .map(|origin| HeaderValue::from_str(origin))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| anyhow::anyhow!("SAGAWAY_CORS_ALLOWED_ORIGINS: {err}"))?;
    let names = |list: &[&'static str]| -> Vec<HeaderName> {
        list.iter().map(|n| HeaderName::from_static(n)).collect()
    };
    Ok(Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
            ])
            .allow_headers(names(&ALLOWED_HEADERS))
            .expose_headers(names(&EXPOSED_HEADERS))
            .max_age(std::time::Duration::from_secs(600)),
    ))
}

/// The JSON 405 for a gateway-served route called with another method.
pub async fn only(allowed: Method) -> Response {
    GatewayError::MethodNotAllowed(vec![allowed]).into_response()
}
