//! Optional access control: HTTP basic auth for writes (registering, deleting, changing config
//! or mode) and, when configured, for reads too. Health and metrics stay open.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use sagaway_platform::config::Secret;

use crate::error::ApiError;

/// Who may do what.
#[derive(Debug, Clone, Default)]
pub struct Access {
    /// `user:password` pairs allowed to write (empty: writes are open).
    pub users: Vec<(String, Secret)>,
    /// Also require credentials for reads.
    pub protect_reads: bool,
}

impl Access {
    /// Parses `SAGAWAY_REGISTRY_BASIC_AUTH` (`user:password[,user:password...]`).
    pub fn parse_users(raw: &str) -> Vec<(String, Secret)> {
        raw.split(',')
            .filter_map(|pair| pair.trim().split_once(':'))
            .map(|(user, password)| (user.to_owned(), Secret::new(password)))
            .collect()
    }

    fn allows(&self, authorization: Option<&str>) -> bool {
        let Some(encoded) = authorization.and_then(|value| value.strip_prefix("Basic ")) else {
            return false;
        };
        let Some(decoded) = base64_decode(encoded.trim()) else {
            return false;
        };
        let Some((user, password)) = decoded.split_once(':') else {
            return false;
        };
        self.users.iter().any(|(known, secret)| {
            known == user && constant_time_eq(secret.expose().as_bytes(), password.as_bytes())
        })
    }
}

/// True for requests that change the registry.
fn is_write(method: &Method, path: &str) -> bool {
    match *method {
        Method::PUT | Method::DELETE => true,
        // POST /subjects/{s} is a lookup and /compatibility/... a check: both are reads.
        Method::POST => {
            path.starts_with("/subjects/") && path.trim_end_matches('/').ends_with("/versions")
        }
        _ => false,
    }
}

/// The middleware.
pub async fn guard(State(access): State<Arc<Access>>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let open = path.starts_with("/health/") || path == "/metrics";
    let needs_credentials = !access.users.is_empty()
        && !open
        && (access.protect_reads || is_write(request.method(), path));
    if needs_credentials {
        let authorization = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        if !access.allows(authorization) {
            return ApiError::Unauthorized(
                "valid credentials are required for this operation".to_owned(),
            )
            .into_response();
        }
    }
    next.run(request).await
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Standard base64 (with or without padding), enough for an `Authorization` header.
fn base64_decode(input: &str) -> Option<String> {
    let mut bits: u32 = 0;
    let mut count = 0;
    let mut out = Vec::with_capacity(input.len() * 3 / 4);
    for byte in input.bytes().filter(|b| *b != b'=') {
        let value = match byte {
            b'A'..=b'Z' => byte - b'A',
            b'a'..=b'z' => byte - b'a' + 26,
            b'0'..=b'9' => byte - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        bits = (bits << 6) | u32::from(value);
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push(((bits >> count) & 0xff) as u8);
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_checked_exactly() {
        let access = Access {
            users: Access::parse_users("ci:s3cret, ops:other"),
            protect_reads: false,
        };
        // "ci:s3cret" in base64.
        assert!(access.allows(Some("Basic Y2k6czNjcmV0")));
        assert!(!access.allows(Some("Basic Y2k6d3Jvbmc=")), "wrong password");
        assert!(!access.allows(Some("Bearer x")));
        assert!(!access.allows(None));
    }

    #[test]
    fn lookups_and_compatibility_checks_are_reads() {
        assert!(is_write(&Method::POST, "/subjects/a/versions"));
        assert!(!is_write(&Method::POST, "/subjects/a"));
        assert!(!is_write(
            &Method::POST,
            "/compatibility/subjects/a/versions"
        ));
        assert!(is_write(&Method::DELETE, "/subjects/a"));
        assert!(is_write(&Method::PUT, "/config"));
        assert!(!is_write(&Method::GET, "/subjects"));
    }
}
