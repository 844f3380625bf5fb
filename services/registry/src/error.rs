//! Errors in Confluent's shape: an HTTP status and a body `{"error_code": N, "message": "..."}`
//! with Confluent's codes, which clients in every language switch on.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// A registry error as clients see it.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 40401.
    #[error("Subject '{0}' not found.")]
    SubjectNotFound(String),
    /// 40402.
    #[error("Version {0} not found.")]
    VersionNotFound(String),
    /// 40403.
    #[error("Schema {0} not found")]
    SchemaNotFound(String),
    /// 42201.
    #[error("Invalid schema: {0}")]
    InvalidSchema(String),
    /// 42202.
    #[error(
        "The specified version '{0}' is not a valid version id. Allowed values are between [1, 2^31-1] and the string \"latest\""
    )]
    InvalidVersion(String),
    /// 404 for a route that does not exist (clients probe optional routes and fall back on 404).
    #[error("HTTP 404 Not Found")]
    RouteNotFound,
    /// 400 for a body that is not the JSON expected.
    #[error("Unrecognized request body: {0}")]
    BadRequest(String),
    /// 50001: the store failed.
    #[error("Error in the backend data store")]
    Store(#[from] sqlx::Error),
}

impl ApiError {
    fn status_and_code(&self) -> (StatusCode, u32) {
        match self {
            ApiError::SubjectNotFound(_) => (StatusCode::NOT_FOUND, 40401),
            ApiError::VersionNotFound(_) => (StatusCode::NOT_FOUND, 40402),
            ApiError::SchemaNotFound(_) => (StatusCode::NOT_FOUND, 40403),
            ApiError::InvalidSchema(_) => (StatusCode::UNPROCESSABLE_ENTITY, 42201),
            ApiError::InvalidVersion(_) => (StatusCode::UNPROCESSABLE_ENTITY, 42202),
            ApiError::RouteNotFound => (StatusCode::NOT_FOUND, 404),
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, 400),
            ApiError::Store(_) => (StatusCode::INTERNAL_SERVER_ERROR, 50001),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if let ApiError::Store(cause) = &self {
            // The client sees the code only; the log keeps the cause.
            tracing::error!(error = %cause, "registry store failure");
        }
        let body = serde_json::json!({ "error_code": code, "message": self.to_string() });
        (status, Json(body)).into_response()
    }
}
