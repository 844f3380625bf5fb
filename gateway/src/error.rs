//! Every failure the gateway answers with, and the one place a gRPC status becomes an HTTP
//! response: the standard code mapping and a `google.rpc.Status` JSON body that keeps details.

use axum::Json;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use prost::Message as _;
use serde_json::{Value, json};
use tonic::{Code, Status};

/// A request the gateway could not complete.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The backend (or the gateway on its behalf) answered with this status.
    #[error("{}: {}", .0.code(), .0.message())]
    Status(#[from] Status),
    /// The path is known but not for this method; carries the methods that are.
    #[error("method not allowed")]
    MethodNotAllowed(Vec<Method>),
    /// A well-formed request the gateway will not process (an `Idempotency-Key` reused with
    /// another request): 422 with code INVALID_ARGUMENT.
    #[error("unprocessable: {0}")]
    Unprocessable(String),
    /// The request is too large (413 for a body, 431 for headers); code RESOURCE_EXHAUSTED.
    #[error("too large: {message}")]
    TooLarge {
        /// 413 or 431.
        status: StatusCode,
        /// Which limit.
        message: String,
    },
    /// A rate limit was hit: 429 with `Retry-After` (seconds).
    #[error("rate limited: {message}")]
    RateLimited {
        /// Which limit.
        message: String,
        /// Seconds until the window resets.
        retry_after: u64,
    },
}

impl GatewayError {
    /// No route for the path: 404.
    pub fn no_route() -> Self {
        Self::Status(Status::not_found("no route for this path"))
    }

    /// A client mistake in the request (bad JSON, a wrong type, an unknown field): 400.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::Status(Status::invalid_argument(message))
    }
}

/// The HTTP status for a gRPC code (the standard mapping).
pub fn http_status(code: Code) -> StatusCode {
    match code {
        Code::Ok => StatusCode::OK,
        Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => {
            StatusCode::BAD_REQUEST
        }
        Code::Unauthenticated => StatusCode::UNAUTHORIZED,
        Code::PermissionDenied => StatusCode::FORBIDDEN,
        Code::NotFound => StatusCode::NOT_FOUND,
        Code::AlreadyExists | Code::Aborted => StatusCode::CONFLICT,
        Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
        Code::Cancelled => StatusCode::from_u16(499).unwrap_or(StatusCode::BAD_REQUEST),
        Code::Unimplemented => StatusCode::NOT_IMPLEMENTED,
        Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Code::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
        Code::Unknown | Code::Internal | Code::DataLoss => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for GatewayError {
    fn into_response(self) -> Response {
        match self {
            GatewayError::Status(status) => status_response(&status),
            GatewayError::Unprocessable(message) => {
                let body = json!({
                    "code": Code::InvalidArgument as i32, "message": message, "details": [],
                });
                (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response()
            }
            GatewayError::TooLarge { status, message } => {
                let body = json!({
                    "code": Code::ResourceExhausted as i32, "message": message, "details": [],
                });
                (status, Json(body)).into_response()
            }
            GatewayError::RateLimited {
                message,
                retry_after,
            } => {
                let body = json!({
                    "code": Code::ResourceExhausted as i32, "message": message, "details": [],
                });
                let mut response = (StatusCode::TOO_MANY_REQUESTS, Json(body)).into_response();
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
                response
            }
            GatewayError::MethodNotAllowed(allowed) => {
                let allow: Vec<&str> = allowed.iter().map(Method::as_str).collect();
                let allow = allow.join(", ");
                let body = json!({
                    "code": Code::Unimplemented as i32,
                    "message": format!("method not allowed here; allowed: {allow}"),
                    "details": [],
                });
                let mut response = (StatusCode::METHOD_NOT_ALLOWED, Json(body)).into_response();
                if let Ok(value) = HeaderValue::from_str(&allow) {
                    response.headers_mut().insert(header::ALLOW, value);
                }
                response
            }
        }
    }
}

fn status_response(status: &Status) -> Response {
    let http = http_status(status.code());
    // A 5xx body never carries internals (transport errors name hosts and ports): the log does.
    let (message, details) = if http.is_server_error() && status.code() != Code::Unimplemented {
        tracing::warn!(code = ?status.code(), message = status.message(), "backend call failed");
        (public_message(status.code()).to_owned(), Vec::new())
    } else {
        (status.message().to_owned(), details_json(status.details()))
    };
    let body = json!({ "code": status.code() as i32, "message": message, "details": details });
    (http, Json(body)).into_response()
}

fn public_message(code: Code) -> &'static str {
    match code {
        Code::Unavailable => "the backend is unavailable",
        Code::DeadlineExceeded => "the backend did not answer before the deadline",
        _ => "internal error",
    }
}

/// The `details` of an encoded `google.rpc.Status` (`grpc-status-details-bin`) as JSON:
/// `google.rpc.BadRequest` with its field violations, anything else as `@type` plus base64.
pub fn details_json(encoded: &[u8]) -> Vec<Value> {
    let Ok(status) = tonic_types::pb::Status::decode(encoded) else {
        return Vec::new();
    };
    status
        .details
        .iter()
        .map(|any| {
            let bad_request = any
                .type_url
                .ends_with("/google.rpc.BadRequest")
                .then(|| tonic_types::pb::BadRequest::decode(any.value.as_slice()).ok())
                .flatten();
            match bad_request {
                Some(bad) => json!({
                    "@type": any.type_url,
                    "fieldViolations": bad.field_violations.iter().map(|v| json!({
                        "field": v.field,
                        "description": v.description,
                    })).collect::<Vec<_>>(),
                }),
                None => json!({
                    "@type": any.type_url,
                    "value": base64::engine::general_purpose::STANDARD.encode(&any.value),
                }),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_codes_map_to_the_standard_http_statuses() {
        let table = [
            (Code::InvalidArgument, 400),
            (Code::FailedPrecondition, 400),
            (Code::OutOfRange, 400),
            (Code::Unauthenticated, 401),
            (Code::PermissionDenied, 403),
            (Code::NotFound, 404),
            (Code::AlreadyExists, 409),
            (Code::Aborted, 409),
            (Code::ResourceExhausted, 429),
            (Code::Cancelled, 499),
            (Code::Unimplemented, 501),
            (Code::Unavailable, 503),
            (Code::DeadlineExceeded, 504),
            (Code::Internal, 500),
            (Code::Unknown, 500),
            (Code::DataLoss, 500),
        ];
        for (code, http) in table {
            assert_eq!(http_status(code).as_u16(), http, "{code:?}");
        }
    }

    #[test]
    fn bad_request_details_keep_their_field_violations() {
        let status = sagaway_platform::status::invalid_argument(vec![
            sagaway_platform::status::Violation::new("name", "is empty"),
        ]);
        let details = details_json(status.details());
        assert_eq!(
            details,
            vec![json!({
                "@type": "type.googleapis.com/google.rpc.BadRequest",
                "fieldViolations": [{ "field": "name", "description": "is empty" }],
            })]
        );
    }
}
