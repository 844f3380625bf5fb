//! Several gateways in front of the same services and Redis: a session each gateway remembers
//! as live (`auth::live`) is refused by the revoking gateway from the next request and by the
//! others as soon as the revocation message reaches them (well before their cache age), and
//! the rate limits counted in each gateway's memory add up in Redis.

use std::time::Duration;

use reqwest::Method;
use sagaway_gateway::auth::keys::JwtAlgorithm;

use super::{System, assert_revoked_at, claims_of, delete_in_redis, send_to};

async fn me_at(base: &str, token: &str) -> (u16, String) {
    let answer = send_to(base, Method::GET, "/v1/me", Some(token), None).await;
    (answer.status, answer.message().to_owned())
}

#[tokio::test]
async fn a_logout_on_one_gateway_is_refused_there_at_once_and_by_another_on_the_message() {
    let system = System::start().await;
    let (other, other_base) = system.gateway_told_by_message().await;
    let login = system.customer().await;
    // The other gateway reads the session once, then answers from memory.
    for _ in 0..3 {
        assert_eq!(me_at(&other_base, &login.access).await.0, 200);
    }
    let logout = system
        .send(Method::POST, "/v1/auth/logout", Some(&login.access), None)
        .await;
    assert_eq!(logout.status, 204, "{}", logout.body);
    assert_eq!(system.me(&login.access).await.status, 401);
    assert_revoked_at(&other_base, &login.access).await;
    other.stop().await.expect("gateway stops");
    system.stop().await;
}

#[tokio::test]
async fn a_reused_refresh_token_on_one_gateway_revokes_the_session_on_another() {
    let system = System::start().await;
    let (other, other_base) = system.gateway_told_by_message().await;
    let login = system.customer().await;
    assert_eq!(me_at(&other_base, &login.access).await.0, 200);
    let rotated = system.refresh(&login.refresh).await;
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    assert_eq!(me_at(&other_base, &login.access).await.0, 200, "still live");
    let reused = system.refresh(&login.refresh).await;
    assert_eq!(reused.status, 401, "{}", reused.body);
    assert_revoked_at(&other_base, &login.access).await;
    other.stop().await.expect("gateway stops");
    system.stop().await;
}

/// Deletes the session of `access` straight in Redis, as an operator might: without the
/// revocation message.
async fn delete_session_in_redis(access: &str) {
    let sid = claims_of(access)["sid"].as_str().expect("sid").to_owned();
    let deleted = delete_in_redis(&format!("sagaway:session:{sid}")).await;
    assert_eq!(deleted, 1, "the session existed");
}

#[tokio::test]
async fn a_session_deleted_behind_the_gateways_back_ends_within_the_cache_age() {
    let system = System::start_configured(JwtAlgorithm::EdDSA, |config| {
        config.auth.session_cache = Duration::from_millis(300);
    })
    .await;
    let login = system.customer().await;
    assert_eq!(system.me(&login.access).await.status, 200);
    // Only the cache's age bounds a session deleted without the revocation message.
    delete_session_in_redis(&login.access).await;
    assert_eq!(
        system.me(&login.access).await.status,
        200,
        "remembered for at most SAGAWAY_SESSION_CACHE_MS"
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    let refused = system.me(&login.access).await;
    assert_eq!(
        (refused.status, refused.message()),
        (401, "session revoked")
    );
    system.stop().await;
}

#[tokio::test]
async fn with_the_cache_off_a_session_deleted_in_redis_is_refused_at_once() {
    let system = System::start_configured(JwtAlgorithm::EdDSA, |config| {
        config.auth.session_cache = Duration::ZERO;
    })
    .await;
    let login = system.customer().await;
    assert_eq!(system.me(&login.access).await.status, 200);
    delete_session_in_redis(&login.access).await;
    assert_eq!(system.me(&login.access).await.status, 401);
    system.stop().await;
}

/// Four requests of one user through gateway A, then through gateway B: counting in Redis, B
/// refuses at once; counting in-process, B judges a user it has not counted yet on its own
/// count until its next sync reads the shared total back, and refuses from then on.
async fn a_users_limit_holds_across_gateways(sync: Duration, wait: Duration) {
    let system = System::start_configured(JwtAlgorithm::EdDSA, move |config| {
        config.rate_limit_per_user = 4;
        config.rate_limit_sync = sync;
    })
    .await;
    let (other, other_base) = system
        .another_gateway(move |config| {
            config.rate_limit_per_user = 4;
            config.rate_limit_sync = sync;
        })
        .await;
    let login = system.customer().await;
    for _ in 0..4 {
        assert_eq!(system.me(&login.access).await.status, 200);
    }
    tokio::time::sleep(wait).await;
    if !sync.is_zero() {
        assert_eq!(
            me_at(&other_base, &login.access).await.0,
            200,
            "B's own count"
        );
        tokio::time::sleep(wait).await;
    }
    let (status, message) = me_at(&other_base, &login.access).await;
    assert_eq!(status, 429, "{message}");
    assert!(message.contains("per user"), "{message}");
    // A's own count is exact whatever B did.
    assert_eq!(system.me(&login.access).await.status, 429);
    other.stop().await.expect("gateway stops");
    system.stop().await;
}

#[tokio::test]
async fn in_process_counts_reach_the_other_gateways_within_a_sync_interval() {
    a_users_limit_holds_across_gateways(Duration::from_millis(20), Duration::from_millis(300))
        .await;
}

#[tokio::test]
async fn counting_in_redis_per_request_is_shared_at_once() {
    a_users_limit_holds_across_gateways(Duration::ZERO, Duration::ZERO).await;
}
