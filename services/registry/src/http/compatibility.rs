//! `/compatibility/...`: would this schema be accepted? (`?verbose=true` returns the reasons.)

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use serde_json::json;

use super::{ApiResult, AppState, Params, SchemaBody, reply};
use crate::compat;
use crate::error::ApiError;
use crate::schema::{self, Parsed};
use crate::settings;
use crate::store::{VersionRecord, VersionSpec};

async fn parse_body(
    state: &AppState,
    body: Result<Bytes, BytesRejection>,
) -> Result<Parsed, ApiError> {
    let body = SchemaBody::parse(body)?;
    let referenced = state.store.resolve_references(&body.references()?).await?;
    schema::parse(body.text(), &referenced)
}

async fn with_references(
    state: &AppState,
    versions: Vec<VersionRecord>,
) -> Result<Vec<(VersionRecord, Vec<String>)>, ApiError> {
    let mut out = Vec::with_capacity(versions.len());
    for version in versions {
        let referenced = state.store.resolve_references(&version.references).await?;
        out.push((version, referenced));
    }
    Ok(out)
}

fn answer(problems: Vec<String>, params: &Params) -> ApiResult {
    let mut body = json!({ "is_compatible": problems.is_empty() });
    if params.flag("verbose") {
        body["messages"] = json!(problems);
    }
    Ok(reply(body))
}

/// Against the versions the subject's level names (all live ones for transitive levels).
pub(super) async fn against_all(
    State(state): State<AppState>,
    Path(subject): Path<String>,
    params: Params,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let parsed = parse_body(&state, body).await?;
    let existing = match state.store.versions(&subject, false).await {
        Ok(versions) => versions,
        Err(ApiError::SubjectNotFound(_)) => Vec::new(),
        Err(err) => return Err(err),
    };
    let level = settings::effective_level(&state.store, &subject).await?;
    let existing = with_references(&state, existing).await?;
    answer(compat::check_history(level, &parsed, &existing)?, &params)
}

/// Against one version, in the direction of the subject's level.
pub(super) async fn against_version(
    State(state): State<AppState>,
    Path((subject, version)): Path<(String, String)>,
    params: Params,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let spec = VersionSpec::parse(&version)?;
    let parsed = parse_body(&state, body).await?;
    let target = state.store.version(&subject, spec, false).await?;
    let level = compat::non_transitive(settings::effective_level(&state.store, &subject).await?);
    let existing = with_references(&state, vec![target]).await?;
    answer(compat::check_history(level, &parsed, &existing)?, &params)
}
