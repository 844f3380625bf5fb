//! The guard in front of every transcoded route: a verified bearer token bound to a live session
//! becomes the [`Identity`] the transcoder forwards, and the coarse role rules of [`ROLE_RULES`]
//! are applied. Ownership (a customer sees only their orders) stays with the owning service.
//!
//! Unknown paths and wrong methods pass through so the transcoder answers 404 and 405; paths
//! outside `/v1/` are not guarded. The session is read from Redis (in the same round trip as the
//! rate-limit counters when those are counted in Redis, `ratelimit::RateLimiter::admit`) unless
//! this gateway saw it live a moment ago (`auth::live`, which every revocation reaches at once,
//! so a revoked session is refused from the next request).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sagaway_platform::identity::{Identity, Role};
use tonic::Status;

use crate::auth::tokens::TokenError;
use crate::auth::{Auth, bearer, sessions, store_unavailable, unauthenticated};
use crate::error::GatewayError;
use crate::observe::AuthenticatedUser;
use crate::ratelimit::{DeferredIp, RateLimiter, UserCounted};
use crate::routes::{Lookup, Route, resolve};
use crate::transcode::Transcoder;

/// Routes that need a role beyond a login: method, path template as annotated, role.
/// Every other `/v1/` route needs only a login; the `/v1/auth/` endpoints need none.
pub const ROLE_RULES: [(&str, &str, Role); 3] = [
    ("POST", "/v1/products", Role::Admin),
    ("POST", "/v1/products/{product_id}:restock", Role::Admin),
    ("GET", "/v1/users", Role::Admin),
];

/// The role `method` on `template` needs beyond a login, if any.
pub fn required_role(method: &Method, template: &str) -> Option<Role> {
    ROLE_RULES
        .iter()
        .find(|(m, t, _)| *m == method.as_str() && *t == template)
        .map(|(_, _, role)| *role)
}

/// What the guard consults.
#[derive(Debug, Clone)]
pub struct Guard {
    /// Tokens and sessions.
    pub auth: Arc<Auth>,
    /// The routes, to know the template a path matched.
    pub transcoder: Arc<Transcoder>,
    /// The rate limits, counted in the same Redis round trip as the session check.
    pub limiter: RateLimiter,
}

/// The middleware: authenticates, authorises and attaches the identity.
pub async fn authenticate(
    State(guard): State<Guard>,
    mut request: Request,
    next: Next,
) -> Response {
    // Set by `ratelimit::per_ip` when it left this request's IP count to us.
    let deferred = request
        .extensions_mut()
        .remove::<DeferredIp>()
        .map(|DeferredIp(ip)| ip);
    let Some(route) = route_of(&guard, &mut request) else {
        // Unknown paths and wrong methods pass to the transcoder (404, 405), counted by IP.
        if let Some(limited) = count_ip(&guard, deferred.as_deref()).await {
            return limited.into_response();
        }
        return next.run(request).await;
    };
    // A test harness may already vouch for an identity (`Application::with_identity_for_tests`).
    let identity = match request.extensions().get::<Identity>().cloned() {
        Some(identity) => {
            if let Some(limited) = count_ip(&guard, deferred.as_deref()).await {
                return limited.into_response();
            }
            identity
        }
        None => match identify(&guard, request.headers(), deferred.as_deref()).await {
            Ok(identity) => {
                request.extensions_mut().insert(UserCounted);
                identity
            }
            Err(error) => return challenge(error.into_response()),
        },
    };
    if let Some(role) = required_role(request.method(), route.template.as_str())
        && !identity.roles.contains(&role)
    {
        let message = format!("this route needs the {role} role");
        return GatewayError::from(Status::permission_denied(message)).into_response();
    }
    let user = AuthenticatedUser(identity.user_id);
    request.extensions_mut().insert(identity);
    let mut response = next.run(request).await;
    response.extensions_mut().insert(user);
    response
}

/// The route of a `/v1/` request that has one; `None` for everything else.
fn route_of(guard: &Guard, request: &mut Request) -> Option<Arc<Route>> {
    if !request.uri().path().starts_with("/v1/") {
        return None;
    }
    match resolve(&guard.transcoder.routes, request) {
        Lookup::Found(route, _) => Some(Arc::clone(route)),
        Lookup::WrongMethod(_) | Lookup::NotFound => None,
    }
}

/// Counts a deferred IP on its own; the refusal if it is over its limit.
async fn count_ip(guard: &Guard, ip: Option<&str>) -> Option<GatewayError> {
    let ip = ip?;
    guard
        .limiter
        .check("ip", ip, guard.limiter.per_ip)
        .await
        .err()
}

/// A 401 names the scheme it wants (RFC 6750).
fn challenge(mut response: Response) -> Response {
    if response.status() == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"sagaway\""),
        );
    }
    response
}

/// The identity of a verified token whose session is live. One Redis round trip reads the
/// session and counts the request against `ip` (when deferred to us) and the user; a token
/// refused before Redis still counts against its IP. The IP limit is answered before the
/// session (as when it was counted first), the user limit only for a live session.
async fn identify(
    guard: &Guard,
    headers: &HeaderMap,
    ip: Option<&str>,
) -> Result<Identity, GatewayError> {
    let verified = bearer(headers)
        .and_then(|token| guard.auth.tokens.verify(token))
        .and_then(|claims| {
            let user_id = uuid::Uuid::parse_str(&claims.sub)
                .map_err(|_| TokenError::BadClaim("sub".into()))?;
            Ok((claims, user_id))
        });
    let (claims, user_id) = match verified {
        Ok(verified) => verified,
        Err(error) => {
            if let Some(limited) = count_ip(guard, ip).await {
                return Err(limited);
            }
            return Err(unauthenticated(error));
        }
    };
    // A session this gateway saw live a moment ago, with the counts kept in-process, needs no
    // round trip; otherwise Redis is asked, and a live answer remembered (`auth::live`).
    let cache = guard.auth.sessions.cache();
    let admission = if guard.limiter.counts_locally() && cache.is_live(&claims.sid, &claims.sub) {
        guard.limiter.admit_live(&claims.sub, ip)
    } else {
        let epoch = cache.epoch();
        let admission = guard
            .limiter
            .admit(&sessions::key(&claims.sid), &claims.sub, ip)
            .await
            .map_err(store_unavailable)?;
        if let Some(expires_in) = admission.expires_in {
            cache.remember(epoch, &claims.sid, &claims.sub, expires_in);
        }
        admission
    };
    if let Some(limited) = admission.ip_limited {
        return Err(limited);
    }
    if !admission.live {
        return Err(unauthenticated(TokenError::SessionRevoked));
    }
    if let Some(limited) = admission.user_limited {
        return Err(limited);
    }
    Ok(Identity {
        user_id,
        roles: claims
            .roles
            .iter()
            .filter_map(|role| role.parse().ok())
            .collect(),
        session_id: Some(claims.sid.clone()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_routes_are_listed_and_everything_else_needs_only_a_login() {
        let table = [
            (Method::POST, "/v1/products", Some(Role::Admin)),
            (
                Method::POST,
                "/v1/products/{product_id}:restock",
                Some(Role::Admin),
            ),
            (Method::GET, "/v1/users", Some(Role::Admin)),
            (Method::GET, "/v1/products", None),
            (Method::GET, "/v1/users/{user_id}", None),
            (Method::POST, "/v1/orders", None),
        ];
        for (method, template, role) in table {
            assert_eq!(
                required_role(&method, template),
                role,
                "{method} {template}"
            );
        }
    }
}
