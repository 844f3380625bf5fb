//! `/schemas/...`: schemas by global id, served from memory after the first read.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{ApiResult, AppState, CONTENT_TYPE_V1, Params, reply};
use crate::error::ApiError;

fn parse_id(raw: &str) -> Result<i32, ApiError> {
    raw.parse()
        .map_err(|_| ApiError::SchemaNotFound(raw.to_owned()))
}

/// A schema's own JSON as the body (what the `/schema` routes return).
pub(super) fn raw(schema: &str) -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, CONTENT_TYPE_V1)],
        schema.to_owned(),
    )
        .into_response()
}

pub(super) async fn types() -> Response {
    reply(json!(["AVRO"]))
}

pub(super) async fn by_id(
    State(state): State<AppState>,
    Path(id): Path<String>,
    _params: Params,
) -> ApiResult {
    let found = state.store.schema_by_id(parse_id(&id)?).await?;
    let mut body = json!({ "schema": found.schema });
    if !found.references.is_empty() {
        body["references"] = serde_json::to_value(&found.references).unwrap_or_default();
    }
    Ok(reply(body))
}

pub(super) async fn raw_by_id(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult {
    let found = state.store.schema_by_id(parse_id(&id)?).await?;
    Ok(raw(&found.schema))
}

pub(super) async fn versions_of_id(
    State(state): State<AppState>,
    Path(id): Path<String>,
    params: Params,
) -> ApiResult {
    let pairs = state
        .store
        .id_versions(parse_id(&id)?, params.flag("deleted"))
        .await?;
    let body: Vec<_> = pairs
        .into_iter()
        .map(|(subject, version)| json!({ "subject": subject, "version": version }))
        .collect();
    Ok(reply(json!(body)))
}

pub(super) async fn subjects_of_id(
    State(state): State<AppState>,
    Path(id): Path<String>,
    params: Params,
) -> ApiResult {
    let pairs = state
        .store
        .id_versions(parse_id(&id)?, params.flag("deleted"))
        .await?;
    let mut subjects: Vec<String> = pairs.into_iter().map(|(subject, _)| subject).collect();
    subjects.dedup();
    Ok(reply(json!(subjects)))
}
