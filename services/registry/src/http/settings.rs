//! `/config`, `/mode` and `/contexts`.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use super::{ApiResult, AppState, Params, read_body, reply};
use crate::error::ApiError;
use crate::settings::{self, GLOBAL, Mode};
use crate::store::Setting;

#[derive(Deserialize)]
struct ConfigBody {
    compatibility: Option<String>,
    #[serde(rename = "compatibilityLevel")]
    compatibility_level: Option<String>,
}

#[derive(Deserialize)]
struct ModeBody {
    mode: Option<String>,
}

fn parse_json<T: for<'de> Deserialize<'de>>(
    body: Result<Bytes, BytesRejection>,
) -> Result<T, ApiError> {
    serde_json::from_slice(&read_body(body)?).map_err(|err| ApiError::BadRequest(err.to_string()))
}

fn level_from(body: Result<Bytes, BytesRejection>) -> Result<String, ApiError> {
    let body: ConfigBody = parse_json(body)?;
    let raw = body
        .compatibility
        .or(body.compatibility_level)
        .unwrap_or_default();
    Ok(settings::parse_level(&raw)?.to_string())
}

pub(super) async fn contexts() -> Response {
    reply(json!(["."]))
}

pub(super) async fn get_global_config(State(state): State<AppState>) -> ApiResult {
    let level = settings::global_level(&state.store).await?;
    Ok(reply(json!({ "compatibilityLevel": level.to_string() })))
}

pub(super) async fn put_global_config(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let level = level_from(body)?;
    state
        .store
        .put_setting(Setting::Compatibility, GLOBAL, &level)
        .await?;
    Ok(reply(json!({ "compatibility": level })))
}

pub(super) async fn delete_global_config(State(state): State<AppState>) -> ApiResult {
    let previous = settings::global_level(&state.store).await?;
    state
        .store
        .delete_setting(Setting::Compatibility, GLOBAL)
        .await?;
    Ok(reply(json!({ "compatibilityLevel": previous.to_string() })))
}

pub(super) async fn get_config(
    State(state): State<AppState>,
    Path(subject): Path<String>,
    params: Params,
) -> ApiResult {
    let level = match state
        .store
        .setting(Setting::Compatibility, &subject)
        .await?
    {
        Some(raw) => settings::parse_level(&raw)?,
        None if params.flag("defaultToGlobal") => settings::global_level(&state.store).await?,
        None => return Err(ApiError::SubjectConfigNotFound(subject)),
    };
    Ok(reply(json!({ "compatibilityLevel": level.to_string() })))
}

pub(super) async fn put_config(
    State(state): State<AppState>,
    Path(subject): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let level = level_from(body)?;
    state
        .store
        .put_setting(Setting::Compatibility, &subject, &level)
        .await?;
    Ok(reply(json!({ "compatibility": level })))
}

pub(super) async fn delete_config(
    State(state): State<AppState>,
    Path(subject): Path<String>,
) -> ApiResult {
    if !state.store.subject_exists(&subject).await? {
        return Err(ApiError::SubjectNotFound(subject));
    }
    match state
        .store
        .delete_setting(Setting::Compatibility, &subject)
        .await?
    {
        Some(previous) => Ok(reply(json!({ "compatibilityLevel": previous }))),
        None => Err(ApiError::SubjectConfigNotFound(subject)),
    }
}

pub(super) async fn get_global_mode(State(state): State<AppState>) -> ApiResult {
    Ok(reply(
        json!({ "mode": settings::global_mode(&state.store).await?.to_string() }),
    ))
}

pub(super) async fn put_global_mode(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let body: ModeBody = parse_json(body)?;
    let mode: Mode = body.mode.unwrap_or_default().parse()?;
    state
        .store
        .put_setting(Setting::Mode, GLOBAL, &mode.to_string())
        .await?;
    Ok(reply(json!({ "mode": mode.to_string() })))
}

pub(super) async fn get_mode(
    State(state): State<AppState>,
    Path(subject): Path<String>,
    params: Params,
) -> ApiResult {
    let mode = match state.store.setting(Setting::Mode, &subject).await? {
        Some(raw) => raw.parse::<Mode>()?,
        None if params.flag("defaultToGlobal") => settings::global_mode(&state.store).await?,
        None => return Err(ApiError::SubjectModeNotFound(subject)),
    };
    Ok(reply(json!({ "mode": mode.to_string() })))
}

pub(super) async fn put_mode(
    State(state): State<AppState>,
    Path(subject): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let body: ModeBody = parse_json(body)?;
    let mode: Mode = body.mode.unwrap_or_default().parse()?;
    state
        .store
        .put_setting(Setting::Mode, &subject, &mode.to_string())
        .await?;
    Ok(reply(json!({ "mode": mode.to_string() })))
}

pub(super) async fn delete_mode(
    State(state): State<AppState>,
    Path(subject): Path<String>,
) -> ApiResult {
    match state.store.delete_setting(Setting::Mode, &subject).await? {
        Some(previous) => Ok(reply(json!({ "mode": previous }))),
        None => Err(ApiError::SubjectModeNotFound(subject)),
    }
}
