//! `/subjects/...`: register, look up, list, read and delete subject versions.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use serde_json::json;

use super::{ApiResult, AppState, Extended, Params, SchemaBody, reply, version_json};
use crate::compat;
use crate::error::ApiError;
use crate::schema;
use crate::settings::{self, Mode};
use crate::store::{NewSchema, VersionSpec};

pub(super) async fn list(State(state): State<AppState>, params: Params) -> ApiResult {
    let prefix = params.get("subjectPrefix").unwrap_or_default();
    Ok(reply(json!(
        state.store.subjects(prefix, params.flag("deleted")).await?
    )))
}

pub(super) async fn versions(
    State(state): State<AppState>,
    Path(subject): Path<String>,
    params: Params,
) -> ApiResult {
    let versions = state
        .store
        .versions(&subject, params.flag("deleted"))
        .await?;
    Ok(reply(json!(
        versions.iter().map(|v| v.version).collect::<Vec<_>>()
    )))
}

pub(super) async fn version(
    State(state): State<AppState>,
    Path((subject, version)): Path<(String, String)>,
    params: Params,
    extended: Extended,
) -> ApiResult {
    let spec = VersionSpec::parse(&version)?;
    let found = state
        .store
        .version(&subject, spec, params.flag("deleted"))
        .await?;
    Ok(reply(version_json(&found, extended)))
}

pub(super) async fn raw_version(
    State(state): State<AppState>,
    Path((subject, version)): Path<(String, String)>,
    params: Params,
) -> ApiResult {
    let spec = VersionSpec::parse(&version)?;
    let found = state
        .store
        .version(&subject, spec, params.flag("deleted"))
        .await?;
    Ok(super::schemas::raw(&found.schema))
}

pub(super) async fn referenced_by(
    State(state): State<AppState>,
    Path((subject, version)): Path<(String, String)>,
) -> ApiResult {
    let spec = VersionSpec::parse(&version)?;
    let found = state.store.version(&subject, spec, true).await?;
    Ok(reply(json!(
        state.store.referenced_by(&subject, found.version).await?
    )))
}

pub(super) async fn register(
    State(state): State<AppState>,
    Path(subject): Path<String>,
    extended: Extended,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let body = SchemaBody::parse(body)?;
    let mode = settings::effective_mode(&state.store, &subject).await?;
    let import = match (mode, body.id, body.version) {
        (Mode::ReadOnly, ..) => {
            return Err(ApiError::OperationNotPermitted(format!(
                "Subject {subject} is in read-only mode"
            )));
        }
        (Mode::Import, id, version) => Some((id, version)),
        (Mode::ReadWrite, None, _) => None,
        (Mode::ReadWrite, Some(_), _) => {
            return Err(ApiError::OperationNotPermitted(format!(
                "Subject {subject} is not in import mode; a schema id can only be given in IMPORT mode"
            )));
        }
    };
    let references = body.references()?;
    let referenced = state.store.resolve_references(&references).await?;
    let parsed = schema::parse(body.text(), &referenced)?;
    let new = NewSchema {
        schema: schema::normalize(body.text())?,
        references,
        import,
    };
    if let Some((id, version)) = state.store.identical_version(&subject, &new).await? {
        return Ok(register_answer(id, version, extended));
    }
    let level = settings::effective_level(&state.store, &subject).await?;
    let (id, version) = state
        .store
        .register(&subject, &new, |existing| {
            if import.is_some() {
                return Ok(());
            }
            let problems = compat::check_history(level, &parsed, existing)?;
            if problems.is_empty() {
                Ok(())
            } else {
                Err(ApiError::Incompatible {
                    subject: subject.clone(),
                    details: problems,
                })
            }
        })
        .await?;
    Ok(register_answer(id, version, extended))
}

fn register_answer(id: i32, version: i32, extended: Extended) -> axum::response::Response {
    let mut answer = json!({ "id": id });
    if extended.0 {
        answer["version"] = version.into();
    }
    reply(answer)
}

pub(super) async fn lookup(
    State(state): State<AppState>,
    Path(subject): Path<String>,
    params: Params,
    extended: Extended,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let body = SchemaBody::parse(body)?;
    let references = body.references()?;
    let referenced = state.store.resolve_references(&references).await?;
    schema::parse(body.text(), &referenced)?;
    let normalized = schema::normalize(body.text())?;
    let found = state
        .store
        .lookup(&subject, &normalized, &references, params.flag("deleted"))
        .await?;
    Ok(reply(version_json(&found, extended)))
}

pub(super) async fn delete_version(
    State(state): State<AppState>,
    Path((subject, version)): Path<(String, String)>,
    params: Params,
) -> ApiResult {
    let spec = VersionSpec::parse(&version)?;
    settings::ensure_writable(&state.store, &subject).await?;
    Ok(reply(json!(
        state
            .store
            .delete_version(&subject, spec, params.flag("permanent"))
            .await?
    )))
}

pub(super) async fn delete_subject(
    State(state): State<AppState>,
    Path(subject): Path<String>,
    params: Params,
) -> ApiResult {
    settings::ensure_writable(&state.store, &subject).await?;
    Ok(reply(json!(
        state
            .store
            .delete_subject(&subject, params.flag("permanent"))
            .await?
    )))
}
