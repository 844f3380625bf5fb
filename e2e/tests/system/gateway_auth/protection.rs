//! Protection in front of the backends: `Idempotency-Key` answers replayed from Redis, and rate
//! limits per client IP and per user answered with 429 and `Retry-After`.

use std::time::Duration;

use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::routing::post;
use reqwest::Method;
use sagaway_gateway::idempotency::{Idempotency, idempotent};
use sagaway_gateway::store::Store;
use serde_json::{Value, json};

use sagaway_gateway::auth::keys::JwtAlgorithm;

use super::{ADMIN_EMAIL, ADMIN_PASSWORD, System};
use crate::helpers::{customer, redis_url, spawn_gateway_with, unique};

async fn post_with_key(url: &str, token: &str, key: &str, body: &Value) -> reqwest::Response {
    reqwest::Client::new()
        .request(Method::POST, url)
        .bearer_auth(token)
        .header("idempotency-key", key)
        .json(body)
        .send()
        .await
        .expect("answers")
}

#[tokio::test]
async fn a_repeated_idempotency_key_replays_the_first_answer_and_another_body_is_422() {
    let system = System::start().await;
    let admin = system.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let url = format!("{}/v1/products", system.base);
    let key = unique("key");
    let mug = json!({
        "sku": unique("MUG"),
        "name": "Mug",
        "price": { "amountMinor": "990", "currencyCode": "EUR" },
        "stock": { "available": "1" },
    });
    let first = post_with_key(&url, &admin.access, &key, &mug).await;
    assert_eq!(first.status(), 200);
    let first: Value = first.json().await.expect("json");

    let again = post_with_key(&url, &admin.access, &key, &mug).await;
    assert_eq!(again.status(), 200);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again: Value = again.json().await.expect("json");
    assert_eq!(again["productId"], first["productId"], "no second product");

    let other = json!({ "sku": unique("MUG"), "name": "Other" });
    let refused = post_with_key(&url, &admin.access, &key, &other).await;
    assert_eq!(refused.status(), 422);
    system.stop().await;
}

async fn slow_create() -> &'static str {
    tokio::time::sleep(Duration::from_millis(600)).await;
    r#"{"created":true}"#
}

#[tokio::test]
async fn a_duplicate_sent_while_the_first_is_in_flight_is_409() {
    let idempotency = Idempotency {
        store: Store::open(&redis_url()).expect("redis url"),
        ttl: Duration::from_secs(60),
    };
    let app = Router::new()
        .route("/things", post(slow_create))
        .layer(from_fn_with_state(idempotency, idempotent));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let url = format!("http://{}/things", listener.local_addr().expect("addr"));
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let key = unique("key");
    let send = || {
        reqwest::Client::new()
            .post(&url)
            .header("idempotency-key", &key)
            .body("{}")
            .send()
    };
    let first = tokio::spawn(send());
    tokio::time::sleep(Duration::from_millis(150)).await;
    let duplicate = send().await.expect("answers");
    assert_eq!(duplicate.status(), 409);
    let first = first.await.expect("joins").expect("answers");
    assert_eq!(first.status(), 200);
    assert_eq!(
        send().await.expect("answers").status(),
        200,
        "then replayed"
    );
    server.abort();
}

#[tokio::test]
async fn a_client_ip_over_its_limit_gets_429_with_retry_after() {
    let gateway = spawn_gateway_with(|config| config.rate_limit_per_ip = 3, None).await;
    let url = format!("http://{}/.well-known/jwks.json", gateway.addr);
    for _ in 0..3 {
        assert_eq!(reqwest::get(&url).await.expect("answers").status(), 200);
    }
    let limited = reqwest::get(&url).await.expect("answers");
    assert_eq!(limited.status(), 429);
    let retry: u64 = limited.headers()["retry-after"]
        .to_str()
        .expect("text")
        .parse()
        .expect("seconds");
    // Seconds to the end of the window (a day in tests: see `spawn_gateway_with`).
    assert!((1..=86_400).contains(&retry), "{retry}");
    gateway.stop().await.expect("gateway stops");
}

#[tokio::test]
async fn a_user_over_their_limit_gets_429_while_the_limit_is_per_user() {
    let gateway =
        spawn_gateway_with(|config| config.rate_limit_per_user = 2, Some(customer())).await;
    let url = format!("http://{}/v1/products/p-1", gateway.addr);
    let mut statuses = vec![];
    for _ in 0..3 {
        statuses.push(reqwest::get(&url).await.expect("answers").status().as_u16());
    }
    assert_eq!(
        statuses,
        [503, 503, 429],
        "the backend is down; the limit still counts"
    );
    gateway.stop().await.expect("gateway stops");
}

#[tokio::test]
async fn bearer_requests_count_against_ip_and_user_in_the_session_round_trip() {
    // Per user: two logins of the same user share a limit; another user has their own.
    let system = System::start_configured(JwtAlgorithm::EdDSA, |config| {
        config.rate_limit_per_user = 3;
    })
    .await;
    let (_, logins) = system.customer_with_sessions(2).await;
    let [phone, laptop] = logins.as_slice() else {
        unreachable!("two sessions")
    };
    let other = system.customer().await;
    let mut statuses = vec![];
    for token in [&phone.access, &laptop.access, &phone.access, &laptop.access] {
        statuses.push(system.me(token).await.status);
    }
    assert_eq!(statuses, [200, 200, 200, 429], "per user, not per session");
    assert_eq!(
        system.me(&other.access).await.status,
        200,
        "others unaffected"
    );
    // A revoked session is 401 and does not use up its user's count.
    system
        .send(Method::POST, "/v1/auth/logout", Some(&other.access), None)
        .await;
    for _ in 0..4 {
        let refused = system.me(&other.access).await;
        assert_eq!(
            (refused.status, refused.message()),
            (401, "session revoked")
        );
    }
    system.stop().await;

    // Per IP: valid, revoked and forged tokens all count; past the limit the IP is refused
    // before the token is even looked at.
    let system = System::start_configured(JwtAlgorithm::EdDSA, |config| {
        config.rate_limit_per_ip = 6;
    })
    .await;
    let login = system.customer().await; // register and login: 2 requests
    let mut statuses = vec![system.me(&login.access).await.status];
    statuses.push(system.me("not.a.token").await.status);
    system
        .send(Method::POST, "/v1/auth/logout", Some(&login.access), None)
        .await; // the 5th
    statuses.push(system.me(&login.access).await.status);
    statuses.push(system.me(&login.access).await.status);
    statuses.push(system.me("not.a.token").await.status);
    assert_eq!(statuses, [200, 401, 401, 429, 429]);
    system.stop().await;
}
