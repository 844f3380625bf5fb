//! `Idempotency-Key` on unsafe methods (POST, PUT, PATCH, DELETE), kept in Redis.
//!
//! The key is scoped to the caller (their user id, so one client cannot replay another's answer)
//! and stored as a hash. The first request claims it with `SET NX` as *in progress* together with
//! a fingerprint of method, path and body; when the backend has answered, a non-5xx answer is
//! stored in its place for [`IdempotencyConfig::ttl`]. A later request with the same key and the
//! same fingerprint gets the stored answer (`Idempotent-Replayed: true`), with another fingerprint
//! 422, and while the first is still in progress 409. A 5xx answer releases the key so the client
//! may retry; a gateway that dies mid-request leaves a claim that expires after
//! [`IN_PROGRESS_TTL_SECS`]. Redis being down answers 503 rather than risking a double effect.

use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use redis::AsyncCommands as _;
use sagaway_platform::identity::Identity;
use serde::{Deserialize, Serialize};
use tonic::Status;

use crate::error::GatewayError;
use crate::store::{Store, digest};

/// The request header.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// How long a claim may stay in progress before another request may take the key.
pub const IN_PROGRESS_TTL_SECS: u64 = 60;

/// Largest request body fingerprinted (the transcoder's own limit).
const MAX_BODY: usize = 1 << 20;

/// Where answers are kept and for how long.
#[derive(Debug, Clone)]
pub struct Idempotency {
    /// The Redis store.
    pub store: Store,
    /// How long a stored answer is replayed.
    pub ttl: Duration,
}

/// What is kept under a key.
#[derive(Debug, Serialize, Deserialize)]
struct Record {
    fingerprint: String,
    status: Option<u16>,
    body: Option<String>,
}

/// The middleware; requests without the header, or with a safe method, pass untouched.
pub async fn idempotent(State(idem): State<Idempotency>, request: Request, next: Next) -> Response {
    let unsafe_method = matches!(
        *request.method(),
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    );
    let Some(key) = request
        .headers()
        .get(IDEMPOTENCY_KEY)
        .filter(|_| unsafe_method)
        .cloned()
    else {
        return next.run(request).await;
    };
    match idem.run(&key, request, next).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

impl Idempotency {
    async fn run(
        &self,
        key: &HeaderValue,
        request: Request,
        next: Next,
    ) -> Result<Response, GatewayError> {
        if key.is_empty() || key.len() > 255 {
            return Err(GatewayError::bad_request(
                "Idempotency-Key must be 1 to 255 characters",
            ));
        }
        let (parts, body) = request.into_parts();
        let body = axum::body::to_bytes(body, MAX_BODY)
            .await
            .map_err(|err| GatewayError::bad_request(format!("reading the body: {err}")))?;
        let caller = parts
            .extensions
            .get::<Identity>()
            .map_or_else(|| "anonymous".to_owned(), |id| id.user_id.to_string());
        let slot = format!("sagaway:idempotency:{caller}:{}", digest(key.as_bytes()));
        let mut seen = format!("{} {}\n", parts.method, parts.uri).into_bytes();
        seen.extend_from_slice(&body);
        let fingerprint = digest(&seen);
        if let Some(earlier) = self.claim(&slot, &fingerprint).await? {
            return earlier;
        }
        let response = next.run(Request::from_parts(parts, Body::from(body))).await;
        self.remember(&slot, fingerprint, response).await
    }

    /// `None` when this request now holds the key; otherwise the answer to give instead.
    async fn claim(
        &self,
        slot: &str,
        fingerprint: &str,
    ) -> Result<Option<Result<Response, GatewayError>>, GatewayError> {
        let mut redis = self.store.connection().await.map_err(unavailable)?;
        let pending = serde_json::to_string(&Record {
            fingerprint: fingerprint.to_owned(),
            status: None,
            body: None,
        })
        .map_err(|err| Status::internal(err.to_string()))?;
        let claimed: Option<String> = redis::cmd("SET")
            .arg(slot)
            .arg(pending)
            .arg("NX")
            .arg("EX")
            .arg(IN_PROGRESS_TTL_SECS)
            .query_async(&mut redis)
            .await
            .map_err(unavailable)?;
        if claimed.is_some() {
            return Ok(None);
        }
        let stored: Option<String> = redis.get(slot).await.map_err(unavailable)?;
        let record: Option<Record> = stored.and_then(|text| serde_json::from_str(&text).ok());
        let answer = match record {
            Some(record) if record.fingerprint != fingerprint => Err(GatewayError::Unprocessable(
                "Idempotency-Key was already used with a different request".into(),
            )),
            Some(Record {
                status: Some(status),
                body,
                ..
            }) => Ok(replay(status, body.unwrap_or_default())),
            _ => Err(
                Status::aborted("a request with this Idempotency-Key is still in progress").into(),
            ),
        };
        Ok(Some(answer))
    }

    /// Stores a non-5xx answer under `slot`, or releases the key after a 5xx.
    async fn remember(
        &self,
        slot: &str,
        fingerprint: String,
        response: Response,
    ) -> Result<Response, GatewayError> {
        let (parts, body) = response.into_parts();
        let bytes = axum::body::to_bytes(body, usize::MAX)
            .await
            .map_err(|err| Status::internal(format!("reading the answer: {err}")))?;
        let mut redis = self.store.connection().await.map_err(unavailable)?;
        let text = std::str::from_utf8(&bytes).ok();
        match text.filter(|_| !parts.status.is_server_error()) {
            Some(text) => {
                let record = Record {
                    fingerprint,
                    status: Some(parts.status.as_u16()),
                    body: Some(text.to_owned()),
                };
                let record = serde_json::to_string(&record)
                    .map_err(|err| Status::internal(err.to_string()))?;
                redis
                    .set_ex::<_, _, ()>(slot, record, self.ttl.as_secs().max(1))
                    .await
                    .map_err(unavailable)?;
            }
            None => redis.del::<_, ()>(slot).await.map_err(unavailable)?,
        }
        Ok(Response::from_parts(parts, Body::from(bytes)))
    }
}

fn replay(status: u16, body: String) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
    response
}

fn unavailable(error: redis::RedisError) -> GatewayError {
    tracing::error!(error = %error, "idempotency store");
    Status::unavailable("idempotency store unavailable").into()
}
