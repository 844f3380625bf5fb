//! The JWT attack table: forged, stale and revoked tokens, each refused with its reason.
//! Forged tokens are built from base64 and ring, signed with the key the gateway was given.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::Method;
use ring::signature::Ed25519KeyPair;
use sagaway_gateway::auth::keys::JwtAlgorithm;
use serde_json::{Value, json};

use super::{Signer, System, claims_of};
fn encode(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

/// A token with `header` and `claims`, signed with `key` or left unsigned.
fn forge(header: &Value, claims: &Value, key: Option<&Signer>) -> String {
    let input = format!("{}.{}", encode(header), encode(claims));
    let signature = key.map_or_else(Vec::new, |key| key.sign(input.as_bytes()));
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// The token signed by `signer`, with one bit of the signature flipped.
fn tampered(header: &Value, claims: &Value, signer: &Signer) -> String {
    let input = format!("{}.{}", encode(header), encode(claims));
    let mut signature = signer.sign(input.as_bytes());
    if let Some(last) = signature.last_mut() {
        *last ^= 1;
    }
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

#[tokio::test]
async fn a_refreshed_session_is_revoked_whole_when_an_old_refresh_token_is_reused() {
    let system = System::start().await;
    let email = format!("{}@sagaway.test", uuid::Uuid::new_v4().simple());
    let registered = system.register(&email).await;
    assert_eq!(registered.status, 201, "{}", registered.body);
    assert_eq!(registered.body["email"], email.as_str());
    let first = system.login(&email, "correct horse").await;
    let me = system.me(&first.access).await;
    assert_eq!(
        (me.status, &me.body["userId"]),
        (200, &registered.body["userId"])
    );

    let rotated = system.refresh(&first.refresh).await;
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    let second_access = rotated.body["access_token"].as_str().expect("token");
    let second_refresh = rotated.body["refresh_token"].as_str().expect("refresh");
    assert_ne!(second_refresh, first.refresh);
    assert_eq!(system.me(second_access).await.status, 200);
    assert_eq!(
        system.me(&first.access).await.status,
        200,
        "valid until exp"
    );

    let reused = system.refresh(&first.refresh).await;
    assert_eq!(reused.status, 401, "{}", reused.body);
    assert!(reused.message().contains("reused"), "{}", reused.body);
    let after = system.me(second_access).await;
    assert_eq!(
        (after.status, after.message()),
        (401, "session revoked"),
        "{}",
        after.body
    );
    assert_eq!(system.refresh(second_refresh).await.status, 401);
    system.stop().await;
}

#[tokio::test]
async fn logout_revokes_the_session_on_the_very_next_request() {
    let system = System::start().await;
    let login = system.customer().await;
    assert_eq!(system.me(&login.access).await.status, 200);
    let out = system
        .send(Method::POST, "/v1/auth/logout", Some(&login.access), None)
        .await;
    assert_eq!(out.status, 204, "{}", out.body);
    let after = system.me(&login.access).await;
    assert_eq!((after.status, after.message()), (401, "session revoked"));
    assert_eq!(system.refresh(&login.refresh).await.status, 401);
    system.stop().await;
}

#[tokio::test]
async fn every_forged_or_stale_token_is_refused_with_its_reason() {
    attack_table(JwtAlgorithm::EdDSA).await;
}

#[tokio::test]
async fn every_forged_or_stale_token_is_refused_by_an_rs256_gateway_too() {
    attack_table(JwtAlgorithm::RS256).await;
}

/// Every attack against a gateway signing with `algorithm`, each answered 401 with its reason.
async fn attack_table(algorithm: JwtAlgorithm) {
    let system = System::start_signing_with(algorithm).await;
    let live = system.customer().await;
    let revoked = system.customer().await;
    system
        .send(Method::POST, "/v1/auth/logout", Some(&revoked.access), None)
        .await;
    let valid = claims_of(&live.access);
    let now = valid["iat"].as_u64().expect("iat");
    let with = |changes: Value| {
        let mut claims = valid.clone();
        for (name, value) in changes.as_object().expect("object") {
            claims[name] = value.clone();
        }
        claims
    };
    let alg = system.signer.alg();
    let header = json!({ "alg": alg, "typ": "JWT", "kid": system.kid });
    let signed = |claims: &Value| forge(&header, claims, Some(&system.signer));
    let hs256 = {
        let header = json!({ "alg": "HS256", "typ": "JWT", "kid": system.kid });
        let input = format!("{}.{}", encode(&header), encode(&valid));
        let public = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &system.signer.public());
        let tag = ring::hmac::sign(&public, input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
    };
    let stranger = Signer::Ed(
        Ed25519KeyPair::from_pkcs8(
            Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new())
                .expect("key")
                .as_ref(),
        )
        .expect("key"),
    );
    // "signed by another key" puts a stranger's Ed25519 signature under the gateway's own
    // header and kid, whatever the gateway's algorithm.
    let table = [
        (
            "alg none",
            forge(&json!({ "alg": "none", "kid": system.kid }), &valid, None),
            "alg not allowed",
        ),
        ("HS256 keyed with the public key", hs256, "alg not allowed"),
        (
            "expired",
            signed(&with(
                json!({ "iat": now - 7200, "nbf": now - 7200, "exp": now - 3600 }),
            )),
            "expired",
        ),
        (
            "not yet valid",
            signed(&with(json!({ "nbf": now + 3600, "exp": now + 7200 }))),
            "not yet valid",
        ),
        (
            "wrong iss",
            signed(&with(json!({ "iss": "evil" }))),
            "wrong issuer",
        ),
        (
            "wrong aud",
            signed(&with(json!({ "aud": "elsewhere" }))),
            "wrong audience",
        ),
        (
            "signed by another key",
            forge(&header, &valid, Some(&stranger)),
            "bad signature",
        ),
        (
            "tampered signature",
            tampered(&header, &valid, &system.signer),
            "bad signature",
        ),
        (
            "tampered claims",
            {
                let token = signed(&valid);
                let parts: Vec<&str> = token.split('.').collect();
                let admin = with(json!({ "roles": ["customer", "admin"] }));
                format!("{}.{}.{}", parts[0], encode(&admin), parts[2])
            },
            "bad signature",
        ),
        (
            "unknown kid",
            forge(
                &json!({ "alg": alg, "kid": "nope" }),
                &valid,
                Some(&system.signer),
            ),
            "unknown kid",
        ),
        ("revoked session", revoked.access.clone(), "session revoked"),
        ("no token at all", String::new(), "missing bearer token"),
    ];
    for (case, token, reason) in table {
        let token = (!token.is_empty()).then_some(token.as_str());
        let answer = system.send(Method::GET, "/v1/products", token, None).await;
        assert_eq!(
            (answer.status, answer.message()),
            (401, reason),
            "{case}: {}",
            answer.body
        );
    }
    assert_eq!(system.me(&live.access).await.status, 200, "the original");
    let bare = reqwest::get(format!("{}/v1/products", system.base))
        .await
        .expect("answers");
    assert_eq!(
        bare.headers()["www-authenticate"],
        "Bearer realm=\"sagaway\""
    );
    system.stop().await;
}
