//! Authentication served by the gateway itself: register, login, refresh, logout and the JWK
//! Set, plus the [`guard`] every transcoded route goes through.
//!
//! Login opens a session in Redis ([`sessions`]) and answers a short-lived access token
//! ([`tokens`], signed with a key from [`keys`]) and an opaque refresh token. Refreshing rotates
//! the refresh token; presenting one already rotated away revokes the whole session. Logout
//! deletes the session, so every token of it is refused on the next request; `revoke` ends
//! every session of a user at once (one's own, or anyone's with the admin role).

pub mod guard;
pub mod keys;
pub mod live;
pub mod openapi;
pub mod sessions;
pub mod tokens;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::uri::PathAndQuery;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use prost::Message as _;
use prost_reflect::{DescriptorPool, DynamicMessage};
use sagaway_platform::identity::Role;
use serde_json::{Value, json};
use tonic::Status;

use crate::client::Backend;
use crate::error::GatewayError;
use crate::headers::outgoing_metadata;
use crate::protect::only;
use crate::transcode::reply_json;

use self::sessions::{RefreshError, Sessions};
use self::tokens::{TokenError, Tokens};

/// The user service, whose internal RPCs register and authenticate.
const USER_SERVICE: &str = "sagaway.user.v1.UserService";

/// Everything the auth endpoints and the guard need.
#[derive(Debug)]
pub struct Auth {
    /// Access tokens.
    pub tokens: Tokens,
    /// Sessions and refresh tokens.
    pub sessions: Sessions,
    /// The user service.
    pub users: Arc<Backend>,
    /// Descriptors of the user service's messages.
    pub pool: DescriptorPool,
    /// Deadline of a call to the user service.
    pub timeout: Duration,
}

/// `/v1/auth/{register,login,refresh,logout,revoke}` and `/.well-known/jwks.json`.
pub fn router(auth: Arc<Auth>) -> Router {
    Router::new()
        .route(
            "/v1/auth/register",
            post(register).fallback(|| only(Method::POST)),
        )
        .route(
            "/v1/auth/login",
            post(login).fallback(|| only(Method::POST)),
        )
        .route(
            "/v1/auth/refresh",
            post(refresh).fallback(|| only(Method::POST)),
        )
        .route(
            "/v1/auth/logout",
            post(logout).fallback(|| only(Method::POST)),
        )
        .route(
            "/v1/auth/revoke",
            post(revoke).fallback(|| only(Method::POST)),
        )
        .route(
            "/.well-known/jwks.json",
            get(jwks).fallback(|| only(Method::GET)),
        )
        .with_state(auth)
}

type Answer = Result<Response, GatewayError>;

/// `{email, password, display_name}` → the new user, 201.
async fn register(State(auth): State<Arc<Auth>>, headers: HeaderMap, body: Bytes) -> Answer {
    let reply = auth.call("RegisterUser", &headers, &body).await?;
    let user = reply_json(&reply, Some("user"))?;
    Ok((StatusCode::CREATED, Json(user)).into_response())
}

/// `{email, password}` → a new session and its tokens.
async fn login(State(auth): State<Arc<Auth>>, headers: HeaderMap, body: Bytes) -> Answer {
    let reply = auth.call("AuthenticateUser", &headers, &body).await?;
    let user = reply_json(&reply, Some("user"))?;
    let user_id = user["userId"]
        .as_str()
        .ok_or_else(|| Status::internal("the user service answered no user id"))?;
    let roles: Vec<Role> = user["roles"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|role| role.as_str()?.strip_prefix("ROLE_")?.parse().ok())
        .collect();
    let (sid, refresh) = auth
        .sessions
        .create(user_id, &roles)
        .await
        .map_err(store_unavailable)?;
    auth.token_answer(user_id, &roles, &sid, refresh)
}

/// `{refresh_token}` → new tokens; the presented refresh token is spent.
async fn refresh(State(auth): State<Arc<Auth>>, body: Bytes) -> Answer {
    #[derive(serde::Deserialize)]
    struct Body {
        #[serde(alias = "refreshToken")]
        refresh_token: String,
    }
    let body: Body = serde_json::from_slice(&body)
        .map_err(|err| GatewayError::bad_request(format!("invalid JSON in body: {err}")))?;
    let (session, next) = match auth.sessions.rotate(&body.refresh_token).await {
        Ok(rotated) => rotated,
        Err(RefreshError::Store(err)) => return Err(store_unavailable(err)),
        Err(refused) => return Err(Status::unauthenticated(refused.to_string()).into()),
    };
    auth.token_answer(&session.user_id, &session.roles, &session.sid, next)
}

/// Bearer → the session is deleted; 204.
async fn logout(State(auth): State<Arc<Auth>>, headers: HeaderMap) -> Answer {
    let claims = bearer(&headers)
        .and_then(|token| auth.tokens.verify(token))
        .map_err(unauthenticated)?;
    auth.sessions
        .revoke(&claims.sid)
        .await
        .map_err(store_unavailable)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Bearer and `{user_id}` (the caller's own when absent) → every session of that user ends at
/// once, here and on every gateway; 200 with how many were live. Another user's sessions take
/// the admin role; the caller's own session must still be live.
async fn revoke(State(auth): State<Arc<Auth>>, headers: HeaderMap, body: Bytes) -> Answer {
    #[derive(Default, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Body {
        #[serde(default, alias = "userId")]
        user_id: Option<String>,
    }
    let claims = bearer(&headers)
        .and_then(|token| auth.tokens.verify(token))
        .map_err(unauthenticated)?;
    let owner = auth
        .sessions
        .owner(&claims.sid)
        .await
        .map_err(store_unavailable)?;
    if owner.as_deref() != Some(claims.sub.as_str()) {
        return Err(unauthenticated(TokenError::SessionRevoked));
    }
    let body: Body = if body.is_empty() {
        Body::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|err| GatewayError::bad_request(format!("invalid JSON in body: {err}")))?
    };
    let user = match body.user_id {
        None => claims.sub.clone(),
        Some(given) => uuid::Uuid::parse_str(given.trim())
            .map_err(|_| GatewayError::bad_request("user_id must be a user id (UUID)"))?
            .to_string(),
    };
    let admin = claims.roles.iter().any(|role| role == Role::Admin.as_str());
    if user != claims.sub && !admin {
        let message = "revoking another user's sessions takes the admin role";
        return Err(Status::permission_denied(message).into());
    }
    let ended = auth
        .sessions
        .revoke_all(&user)
        .await
        .map_err(store_unavailable)?;
    tracing::info!(user = %user, by = %claims.sub, sessions = ended, "sessions revoked");
    Ok(Json(json!({ "revoked_sessions": ended })).into_response())
}

/// The public keys that verify access tokens.
async fn jwks(State(auth): State<Arc<Auth>>) -> Json<Value> {
    Json(auth.tokens.keys().jwks())
}

impl Auth {
    /// Calls a user-service RPC with the JSON `body` as its request.
    async fn call(
        &self,
        method: &str,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<DynamicMessage, GatewayError> {
        let rpc = self
            .pool
            .get_service_by_name(USER_SERVICE)
            .and_then(|service| service.methods().find(|rpc| rpc.name() == method))
            .ok_or_else(|| Status::internal(format!("{USER_SERVICE}/{method} is unknown")))?;
        let mut json = serde_json::Deserializer::from_slice(body);
        let message = DynamicMessage::deserialize(rpc.input(), &mut json)
            .and_then(|message| json.end().map(|()| message))
            .map_err(|err| GatewayError::bad_request(format!("invalid JSON in body: {err}")))?;
        let metadata = outgoing_metadata(headers, None);
        let payload = Bytes::from(message.encode_to_vec());
        let mut request = tonic::Request::from_parts(metadata, Default::default(), payload);
        request.set_timeout(self.timeout);
        let path = PathAndQuery::try_from(format!("/{USER_SERVICE}/{method}"))
            .map_err(|_| Status::internal(format!("{USER_SERVICE}/{method} is not a gRPC path")))?;
        let reply = tokio::time::timeout(self.timeout, self.users.unary(&path, request))
            .await
            .unwrap_or_else(|_| Err(Status::deadline_exceeded("deadline exceeded")))?;
        DynamicMessage::decode(rpc.output(), reply.into_inner())
            .map_err(|err| Status::internal(format!("undecodable reply: {err}")).into())
    }

    fn token_answer(&self, user_id: &str, roles: &[Role], sid: &str, refresh: String) -> Answer {
        let access = self
            .tokens
            .issue(user_id, roles, sid)
            .map_err(|_| Status::internal("signing failed"))?;
        let body = json!({
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": self.tokens.ttl().as_secs(),
            "refresh_token": refresh,
        });
        let mut response = Json(body).into_response();
        response.headers_mut().insert(
            header::CACHE_CONTROL,
            header::HeaderValue::from_static("no-store"),
        );
        Ok(response)
    }
}

/// The token of an `Authorization: Bearer` header.
pub fn bearer(headers: &HeaderMap) -> Result<&str, TokenError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .ok_or(TokenError::Missing)?;
    let (scheme, token) = value.trim().split_once(' ').ok_or(TokenError::Missing)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(TokenError::Missing);
    }
    Ok(token.trim())
}

/// A refused token as a 401 whose message says why.
pub fn unauthenticated(error: TokenError) -> GatewayError {
    Status::unauthenticated(error.to_string()).into()
}

/// Redis failing is the gateway being unavailable, not the client's fault.
pub fn store_unavailable(error: redis::RedisError) -> GatewayError {
    tracing::error!(error = %error, "session store");
    Status::unavailable("session store unavailable").into()
}
