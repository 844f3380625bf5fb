//! Errors in Confluent's shape: an HTTP status and a body `{"error_code": N, "message": "..."}`
//! with Confluent's codes, which clients in every language switch on. Client mistakes are
//! always 4xx (the Python client retries 5xx).

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
    /// 40404: soft-deleting a subject that is already soft-deleted.
    #[error("Subject '{0}' was soft deleted. Set permanent=true to delete permanently")]
    SubjectSoftDeleted(String),
    /// 40405: permanently deleting a subject that was not soft-deleted first.
    #[error("Subject '{0}' was not deleted first before being permanently deleted")]
    SubjectNotSoftDeleted(String),
    /// 40406: soft-deleting a version that is already soft-deleted.
    #[error("Subject '{0}' Version {1} was soft deleted. Set permanent=true to delete permanently")]
    VersionSoftDeleted(String, i32),
    /// 40407: permanently deleting a version that was not soft-deleted first.
    #[error("Subject '{0}' Version {1} was not deleted first before being permanently deleted")]
    VersionNotSoftDeleted(String, i32),
    /// 40408.
    #[error("Subject '{0}' does not have subject-level compatibility configured")]
    SubjectConfigNotFound(String),
    /// 40409.
    #[error("Subject '{0}' does not have subject-level mode configured")]
    SubjectModeNotFound(String),
    /// 409: the schema breaks the subject's compatibility level.
    #[error(
        "Schema being registered is incompatible with an earlier schema for subject \"{subject}\", details: {details:?}"
    )]
    Incompatible {
        /// The subject.
        subject: String,
        /// One line per incompatibility.
        details: Vec<String>,
    },
    /// 42201.
    #[error("Invalid schema: {0}")]
    InvalidSchema(String),
    /// 42202.
    #[error(
        "The specified version '{0}' is not a valid version id. Allowed values are between [1, 2^31-1] and the string \"latest\""
    )]
    InvalidVersion(String),
    /// 42203.
    #[error(
        "Invalid compatibility level. Valid values are none, backward, forward, full, backward_transitive, forward_transitive, and full_transitive (got {0:?})"
    )]
    InvalidCompatibilityLevel(String),
    /// 42204.
    #[error("Invalid mode. Valid values are READWRITE, READONLY and IMPORT (got {0:?})")]
    InvalidMode(String),
    /// 42205: a write the current mode forbids.
    #[error("{0}")]
    OperationNotPermitted(String),
    /// 404 for a route that does not exist (clients probe optional routes and fall back on 404).
    #[error("HTTP 404 Not Found")]
    RouteNotFound,
    /// 400 for a body that is not the JSON expected.
    #[error("Unrecognized request body: {0}")]
    BadRequest(String),
    /// 401 when writes (or reads) are protected and the credentials are missing or wrong.
    #[error("Unauthorized: {0}")]
    Unauthorized(String),
    /// 413 for a body over the limit.
    #[error("Request body is larger than the {0}-byte limit")]
    PayloadTooLarge(usize),
    /// 50001: the store failed.
    #[error("Error in the backend data store")]
    Store(#[from] sqlx::Error),
}

impl ApiError {
    /// The HTTP status and Confluent error code.
    pub fn status_and_code(&self) -> (StatusCode, u32) {
        use ApiError::*;
        match self {
            SubjectNotFound(_) => (StatusCode::NOT_FOUND, 40401),
            VersionNotFound(_) => (StatusCode::NOT_FOUND, 40402),
            SchemaNotFound(_) => (StatusCode::NOT_FOUND, 40403),
            SubjectSoftDeleted(_) => (StatusCode::NOT_FOUND, 40404),
            SubjectNotSoftDeleted(_) => (StatusCode::NOT_FOUND, 40405),
            VersionSoftDeleted(..) => (StatusCode::NOT_FOUND, 40406),
            VersionNotSoftDeleted(..) => (StatusCode::NOT_FOUND, 40407),
            SubjectConfigNotFound(_) => (StatusCode::NOT_FOUND, 40408),
            SubjectModeNotFound(_) => (StatusCode::NOT_FOUND, 40409),
            Incompatible { .. } => (StatusCode::CONFLICT, 409),
            InvalidSchema(_) => (StatusCode::UNPROCESSABLE_ENTITY, 42201),
            InvalidVersion(_) => (StatusCode::UNPROCESSABLE_ENTITY, 42202),
            InvalidCompatibilityLevel(_) => (StatusCode::UNPROCESSABLE_ENTITY, 42203),
            InvalidMode(_) => (StatusCode::UNPROCESSABLE_ENTITY, 42204),
            OperationNotPermitted(_) => (StatusCode::UNPROCESSABLE_ENTITY, 42205),
            RouteNotFound => (StatusCode::NOT_FOUND, 404),
            BadRequest(_) => (StatusCode::BAD_REQUEST, 400),
            Unauthorized(_) => (StatusCode::UNAUTHORIZED, 401),
            PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, 413),
            Store(_) => (StatusCode::INTERNAL_SERVER_ERROR, 50001),
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
        let mut response = crate::http::reply(body);
        *response.status_mut() = status;
        if matches!(self, ApiError::Unauthorized(_)) {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Basic realm=\"sagaway-registry\""),
            );
        }
        response
    }
}
