//! Ending every session of a user at once (`POST /v1/auth/revoke`): one's own ("log out
//! everywhere"), or anyone's with the admin role; refused from the next request by the gateway
//! that revoked, and by the others on the revocation message, without touching other users'
//! sessions.

use reqwest::Method;
use serde_json::json;

use super::{
    ADMIN_EMAIL, ADMIN_PASSWORD, System, assert_revoked_at, claims_of, delete_in_redis, send_to,
};

#[tokio::test]
async fn a_user_ends_all_their_sessions_at_once_and_may_log_in_again() {
    let system = System::start().await;
    let (email, logins) = system.customer_with_sessions(2).await;
    let [phone, laptop] = logins.as_slice() else {
        unreachable!("two sessions")
    };
    let other = system.customer().await;
    for token in [&phone.access, &laptop.access] {
        assert_eq!(system.me(token).await.status, 200);
    }

    let revoked = system
        .send(Method::POST, "/v1/auth/revoke", Some(&phone.access), None)
        .await;
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    assert_eq!(revoked.body, json!({ "revoked_sessions": 2 }));
    for token in [&phone.access, &laptop.access] {
        let refused = system.me(token).await;
        assert_eq!(
            (refused.status, refused.message()),
            (401, "session revoked")
        );
    }
    assert_eq!(system.refresh(&laptop.refresh).await.status, 401);
    let again = system
        .send(Method::POST, "/v1/auth/revoke", Some(&phone.access), None)
        .await;
    assert_eq!(
        (again.status, again.message()),
        (401, "session revoked"),
        "a revoked token revokes nothing"
    );
    assert_eq!(
        system.me(&other.access).await.status,
        200,
        "others unaffected"
    );
    let fresh = system.login(&email, "correct horse").await;
    assert_eq!(system.me(&fresh.access).await.status, 200);
    system.stop().await;
}

#[tokio::test]
async fn an_admin_ends_another_users_sessions_on_every_gateway() {
    let system = System::start().await;
    let (other, other_base) = system.gateway_told_by_message().await;
    let customer = system.customer().await;
    let user_id = claims_of(&customer.access)["sub"].clone();
    // The other gateway remembers the session as live before the revocation.
    let me = send_to(
        &other_base,
        Method::GET,
        "/v1/me",
        Some(&customer.access),
        None,
    )
    .await;
    assert_eq!(me.status, 200);
    assert_eq!(system.me(&customer.access).await.status, 200);

    let admin = system.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let body = json!({ "user_id": user_id });
    let revoked = system
        .send(
            Method::POST,
            "/v1/auth/revoke",
            Some(&admin.access),
            Some(body),
        )
        .await;
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    assert_eq!(revoked.body["revoked_sessions"], 1);
    assert_eq!(
        system.me(&customer.access).await.status,
        401,
        "at once where revoked"
    );
    assert_revoked_at(&other_base, &customer.access).await;
    assert_eq!(system.refresh(&customer.refresh).await.status, 401);
    assert_eq!(
        system.me(&admin.access).await.status,
        200,
        "the admin's own session lives"
    );
    other.stop().await.expect("gateway stops");
    system.stop().await;
}

#[tokio::test]
async fn another_users_sessions_take_the_admin_role_and_a_user_id() {
    let system = System::start().await;
    let (alice, bob) = (system.customer().await, system.customer().await);
    let bob_id = claims_of(&bob.access)["sub"].clone();

    let refused = system
        .send(
            Method::POST,
            "/v1/auth/revoke",
            Some(&alice.access),
            Some(json!({ "user_id": bob_id })),
        )
        .await;
    assert_eq!(
        (refused.status, refused.message()),
        (403, "revoking another user's sessions takes the admin role")
    );
    assert_eq!(
        system.me(&bob.access).await.status,
        200,
        "bob still signed in"
    );

    let bad = system
        .send(
            Method::POST,
            "/v1/auth/revoke",
            Some(&alice.access),
            Some(json!({ "user_id": "bob" })),
        )
        .await;
    assert_eq!(
        (bad.status, bad.message()),
        (400, "user_id must be a user id (UUID)")
    );
    let anonymous = system
        .send(Method::POST, "/v1/auth/revoke", None, None)
        .await;
    assert_eq!(anonymous.status, 401);
    let wrong_method = system
        .send(Method::GET, "/v1/auth/revoke", Some(&alice.access), None)
        .await;
    assert_eq!(wrong_method.status, 405);
    assert_eq!(
        system.me(&alice.access).await.status,
        200,
        "nothing was revoked"
    );
    system.stop().await;
}

#[tokio::test]
async fn a_session_missing_from_its_users_set_joins_it_at_its_next_refresh() {
    // As a session opened before the gateway kept the set would be.
    let system = System::start().await;
    let login = system.customer().await;
    let user = claims_of(&login.access)["sub"]
        .as_str()
        .expect("sub")
        .to_owned();
    let removed = delete_in_redis(&format!("sagaway:user-sessions:{user}")).await;
    assert_eq!(removed, 1, "login put the session in the set");

    let refreshed = system.refresh(&login.refresh).await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    let access = refreshed.body["access_token"].as_str().expect("token");
    let revoked = system
        .send(Method::POST, "/v1/auth/revoke", Some(access), None)
        .await;
    assert_eq!(revoked.body, json!({ "revoked_sessions": 1 }));
    assert_eq!(system.me(access).await.status, 401);
    system.stop().await;
}
