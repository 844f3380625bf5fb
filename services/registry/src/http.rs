//! The registry's REST routes, in Confluent's shapes.
//!
//! Bodies are read as JSON whatever the content type (clients send
//! `application/vnd.schemaregistry.v1+json`, `application/vnd.schemaregistry+json` or
//! `application/json`), answers carry `application/vnd.schemaregistry.v1+json`, and an unknown
//! route answers 404 with a Confluent error body, never 405, since clients probe optional routes
//! and fall back only on 404.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::store::{Store, SubjectVersion};

/// The content type of every answer.
pub const CONTENT_TYPE_V1: &str = "application/vnd.schemaregistry.v1+json";

type ApiResult = Result<Response, ApiError>;

/// The REST routes over `store`.
pub fn router(store: Store) -> Router {
    Router::new()
        .route("/", get(root))
        .route("/schemas/types", get(schema_types))
        .route("/schemas/ids/{id}", get(schema_by_id))
        .route("/subjects", get(subjects))
        .route("/subjects/{subject}", axum::routing::post(lookup))
        .route("/subjects/{subject}/versions", get(versions).post(register))
        .route("/subjects/{subject}/versions/{version}", get(version))
        .fallback(not_found)
        .method_not_allowed_fallback(not_found)
        .with_state(store)
}

fn reply(value: Value) -> Response {
    ([(CONTENT_TYPE, CONTENT_TYPE_V1)], value.to_string()).into_response()
}

#[derive(Deserialize)]
struct SchemaBody {
    schema: String,
    #[serde(rename = "schemaType")]
    schema_type: Option<String>,
}

fn parse_schema_body(body: &Bytes) -> Result<String, ApiError> {
    let parsed: SchemaBody =
        serde_json::from_slice(body).map_err(|err| ApiError::BadRequest(err.to_string()))?;
    match parsed.schema_type.as_deref() {
        None | Some("AVRO") => Ok(parsed.schema),
        Some(other) => Err(ApiError::InvalidSchema(format!(
            "schema type {other} is not supported; only AVRO"
        ))),
    }
}

fn parse_version(raw: &str) -> Result<Option<i32>, ApiError> {
    match raw {
        "latest" | "-1" => Ok(None),
        _ => match raw.parse::<i32>() {
            Ok(v) if v > 0 => Ok(Some(v)),
            _ => Err(ApiError::InvalidVersion(raw.to_owned())),
        },
    }
}

fn version_json(found: SubjectVersion) -> Value {
    // schemaType is omitted for AVRO: older clients reject fields they do not know.
    json!({ "subject": found.subject, "version": found.version, "id": found.id, "schema": found.schema })
}

async fn root() -> Response {
    reply(json!({}))
}

async fn schema_types() -> Response {
    reply(json!(["AVRO"]))
}

async fn schema_by_id(State(store): State<Store>, Path(id): Path<String>) -> ApiResult {
    let id: i32 = id
        .parse()
        .map_err(|_| ApiError::SchemaNotFound(id.clone()))?;
    let schema = store.schema_by_id(id).await?;
    Ok(reply(json!({ "schema": schema })))
}

async fn subjects(State(store): State<Store>) -> ApiResult {
    Ok(reply(json!(store.subjects().await?)))
}

async fn versions(State(store): State<Store>, Path(subject): Path<String>) -> ApiResult {
    Ok(reply(json!(store.versions(&subject).await?)))
}

async fn version(
    State(store): State<Store>,
    Path((subject, version)): Path<(String, String)>,
) -> ApiResult {
    let version = parse_version(&version)?;
    Ok(reply(version_json(store.version(&subject, version).await?)))
}

async fn register(
    State(store): State<Store>,
    Path(subject): Path<String>,
    body: Bytes,
) -> ApiResult {
    let schema = parse_schema_body(&body)?;
    let id = store.register(&subject, &schema).await?;
    Ok(reply(json!({ "id": id })))
}

async fn lookup(State(store): State<Store>, Path(subject): Path<String>, body: Bytes) -> ApiResult {
    let schema = parse_schema_body(&body)?;
    Ok(reply(version_json(store.lookup(&subject, &schema).await?)))
}

async fn not_found() -> ApiError {
    ApiError::RouteNotFound
}
