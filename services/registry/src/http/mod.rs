//! The registry's REST routes, in Confluent's shapes (API v7).
//!
//! Bodies are read as JSON whatever the content type (clients send
//! `application/vnd.schemaregistry.v1+json`, `application/vnd.schemaregistry+json` or
//! `application/json`); answers carry `application/vnd.schemaregistry.v1+json`. An unknown
//! route or method answers 404 with a Confluent error body, never 405, since clients probe
//! optional routes (confluent-kafka-python 2.14+ first asks `/associations/...`) and fall back
//! only on 404. Fields newer than the v7 shapes are added only when the request carries
//! `Confluent-Accept-Unknown-Properties: true`, since older Java clients reject unknown fields.

mod compatibility;
mod schemas;
mod settings;
mod subjects;

use std::collections::HashMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequestParts, Query};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::Value;

use crate::error::ApiError;
use crate::schema::Reference;
use crate::store::{Store, VersionRecord};

/// The content type of every answer.
pub const CONTENT_TYPE_V1: &str = "application/vnd.schemaregistry.v1+json";

/// The header with which newer clients accept response fields they may not know.
pub const ACCEPT_UNKNOWN_PROPERTIES: &str = "confluent-accept-unknown-properties";

type ApiResult = Result<Response, ApiError>;

/// Shared state of the routes.
#[derive(Debug, Clone)]
pub struct AppState {
    /// Storage and caches.
    pub store: Store,
}

/// The REST routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(root))
        .route("/contexts", get(settings::contexts))
        .route("/schemas/types", get(schemas::types))
        .route("/schemas/ids/{id}", get(schemas::by_id))
        .route("/schemas/ids/{id}/schema", get(schemas::raw_by_id))
        .route("/schemas/ids/{id}/versions", get(schemas::versions_of_id))
        .route("/schemas/ids/{id}/subjects", get(schemas::subjects_of_id))
        .route("/subjects", get(subjects::list))
        .route(
            "/subjects/{subject}",
            post(subjects::lookup).delete(subjects::delete_subject),
        )
        .route(
            "/subjects/{subject}/versions",
            get(subjects::versions).post(subjects::register),
        )
        .route(
            "/subjects/{subject}/versions/{version}",
            get(subjects::version).delete(subjects::delete_version),
        )
        .route(
            "/subjects/{subject}/versions/{version}/schema",
            get(subjects::raw_version),
        )
        .route(
            "/subjects/{subject}/versions/{version}/referencedby",
            get(subjects::referenced_by),
        )
        .route(
            "/compatibility/subjects/{subject}/versions",
            post(compatibility::against_all),
        )
        .route(
            "/compatibility/subjects/{subject}/versions/{version}",
            post(compatibility::against_version),
        )
        .route(
            "/config",
            get(settings::get_global_config)
                .put(settings::put_global_config)
                .delete(settings::delete_global_config),
        )
        .route(
            "/config/{subject}",
            get(settings::get_config)
                .put(settings::put_config)
                .delete(settings::delete_config),
        )
        .route(
            "/mode",
            get(settings::get_global_mode).put(settings::put_global_mode),
        )
        .route(
            "/mode/{subject}",
            get(settings::get_mode)
                .put(settings::put_mode)
                .delete(settings::delete_mode),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(not_found)
        .with_state(state)
}

/// A JSON answer with the registry's content type.
pub fn reply(value: Value) -> Response {
    ([(CONTENT_TYPE, CONTENT_TYPE_V1)], value.to_string()).into_response()
}

async fn root() -> Response {
    reply(serde_json::json!({}))
}

async fn not_found() -> ApiError {
    ApiError::RouteNotFound
}

/// Query parameters, read leniently: the Python client writes booleans as `True`/`False`.
#[derive(Debug, Default)]
pub(crate) struct Params(HashMap<String, String>);

impl Params {
    fn flag(&self, name: &str) -> bool {
        self.0.get(name).is_some_and(|value| {
            matches!(value.to_ascii_lowercase().as_str(), "true" | "1" | "yes")
        })
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Query(map) = Query::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map_err(|err| ApiError::BadRequest(err.body_text()))?;
        Ok(Params(map))
    }
}

/// Whether the client accepts response fields newer than the v7 shapes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Extended(bool);

impl<S: Send + Sync> FromRequestParts<S> for Extended {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let accepts = parts
            .headers
            .get(ACCEPT_UNKNOWN_PROPERTIES)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.eq_ignore_ascii_case("true"));
        Ok(Extended(accepts))
    }
}

/// A schema in a request body (register, look up, check compatibility).
#[derive(Debug, Deserialize)]
pub(crate) struct SchemaBody {
    schema: Option<String>,
    #[serde(rename = "schemaType")]
    schema_type: Option<String>,
    #[serde(default)]
    references: Option<Vec<ReferenceBody>>,
    /// IMPORT mode: the id to keep.
    id: Option<i32>,
    /// IMPORT mode: the version to keep.
    version: Option<i32>,
}

/// A reference as clients send it; some send extra `null` fields, which are ignored.
#[derive(Debug, Deserialize)]
struct ReferenceBody {
    name: Option<String>,
    subject: Option<String>,
    version: Option<i32>,
}

impl SchemaBody {
    /// Parses a body; malformed JSON is a 400 saying where, other schema types a 42201.
    fn parse(body: Result<Bytes, BytesRejection>) -> Result<Self, ApiError> {
        let bytes = read_body(body)?;
        let parsed: SchemaBody =
            serde_json::from_slice(&bytes).map_err(|err| ApiError::BadRequest(err.to_string()))?;
        match parsed.schema_type.as_deref() {
            None | Some("AVRO") => {}
            Some(other) => {
                return Err(ApiError::InvalidSchema(format!(
                    "schema type {other} is not supported by this registry; only AVRO"
                )));
            }
        }
        if parsed.schema.as_deref().is_none_or(str::is_empty) {
            return Err(ApiError::InvalidSchema(
                "the request has no schema".to_owned(),
            ));
        }
        Ok(parsed)
    }

    fn text(&self) -> &str {
        self.schema.as_deref().unwrap_or_default()
    }

    fn references(&self) -> Result<Vec<Reference>, ApiError> {
        self.references
            .iter()
            .flatten()
            .map(
                |reference| match (&reference.name, &reference.subject, reference.version) {
                    (Some(name), Some(subject), Some(version)) => Ok(Reference {
                        name: name.clone(),
                        subject: subject.clone(),
                        version,
                    }),
                    _ => Err(ApiError::InvalidSchema(
                        "a reference needs name, subject and version".to_owned(),
                    )),
                },
            )
            .collect()
    }
}

/// The request body, or the matching Confluent error.
pub(crate) fn read_body(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge(crate::MAX_BODY_BYTES)
        } else {
            ApiError::BadRequest(rejection.body_text())
        }
    })
}

/// A subject version as Confluent answers it.
pub(crate) fn version_json(found: &VersionRecord, extended: Extended) -> Value {
    let mut body = serde_json::json!({
        "subject": found.subject,
        "version": found.version,
        "id": found.id,
        "schema": found.schema,
    });
    // schemaType is omitted for AVRO; references only when there are some.
    if !found.references.is_empty() {
        body["references"] = serde_json::to_value(&found.references).unwrap_or_default();
    }
    if extended.0 {
        body["deleted"] = found.deleted.into();
        body["ts"] = found.registered_ms.into();
    }
    body
}
