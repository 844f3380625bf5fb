//! Request-wide header handling: the request id every answer carries, and the identity headers
//! a client must never be able to set.

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use sagaway_platform::identity;
use tonic::metadata::MetadataMap;

/// The request id header, kept when the client sends one and generated (UUID) otherwise.
pub const REQUEST_ID: &str = "x-request-id";

/// Headers copied into gRPC metadata; nothing else a client sends is forwarded.
const FORWARDED: [&str; 3] = [REQUEST_ID, "traceparent", "tracestate"];

/// Keeps or generates `x-request-id`, and returns it on the response.
pub async fn request_id(mut request: Request, next: Next) -> Response {
    let given = request
        .headers()
        .get(REQUEST_ID)
        .filter(|value| !value.is_empty() && value.len() <= 200 && value.to_str().is_ok())
        .cloned();
    let id = given.unwrap_or_else(|| {
        HeaderValue::from_str(&uuid::Uuid::new_v4().to_string())
            .unwrap_or_else(|_| HeaderValue::from_static("unknown"))
    });
    request.headers_mut().insert(REQUEST_ID, id.clone());
    let mut response = next.run(request).await;
    response.headers_mut().insert(REQUEST_ID, id);
    response
}

/// Removes client-sent identity headers before anything else sees them: identity comes only
/// from the gateway's own authentication, as a `platform::identity::Identity` extension.
pub async fn strip_identity(mut request: Request, next: Next) -> Response {
    for name in [
        identity::USER_ID,
        identity::ROLES,
        identity::SESSION_ID,
        identity::CALLER,
    ] {
        request.headers_mut().remove(name);
    }
    next.run(request).await
}

/// The metadata of a backend call: the forwarded headers plus the caller's identity, if any.
pub fn outgoing_metadata(headers: &HeaderMap, caller: Option<&identity::Identity>) -> MetadataMap {
    let mut metadata = MetadataMap::new();
    for name in FORWARDED {
        if let Some(value) = headers.get(name).and_then(|value| value.to_str().ok()) {
            identity::insert(&mut metadata, name, value);
        }
    }
    if let Some(caller) = caller {
        caller.write_to(&mut metadata);
    }
    metadata
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_tracing_headers_and_the_vouched_identity_are_forwarded() {
        let mut headers = HeaderMap::new();
        headers.insert(identity::USER_ID, HeaderValue::from_static("forged"));
        headers.insert(identity::ROLES, HeaderValue::from_static("admin"));
        headers.insert("traceparent", HeaderValue::from_static("00-abc-def-01"));
        headers.insert("authorization", HeaderValue::from_static("Bearer x"));
        let metadata = outgoing_metadata(&headers, None);
        assert!(metadata.get(identity::USER_ID).is_none());
        assert!(metadata.get(identity::ROLES).is_none());
        assert!(metadata.get("authorization").is_none());
        assert_eq!(
            metadata.get("traceparent").and_then(|v| v.to_str().ok()),
            Some("00-abc-def-01")
        );

        let caller = identity::Identity {
            user_id: uuid::Uuid::new_v4(),
            roles: vec![identity::Role::Customer],
            session_id: None,
        };
        let metadata = outgoing_metadata(&headers, Some(&caller));
        assert_eq!(
            identity::Identity::from_metadata(&metadata).expect("identity"),
            caller
        );
    }
}
