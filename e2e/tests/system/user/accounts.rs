//! Reading accounts, who may read and change them, and top-ups with their ledger.

use sagaway_contracts::pb::common::Money;
use sagaway_contracts::pb::user as pb;
use tonic::Code;
use uuid::Uuid;

use super::{TestApp, eur};
use crate::helpers::{admin, as_caller, customer, violated_fields};

#[tokio::test]
async fn a_user_and_an_admin_may_get_the_user_but_another_customer_may_not() {
    let app = TestApp::spawn().await;
    let (user, own_identity) = app.customer().await;

    let by_themself = app
        .get_user(&own_identity, &user.user_id)
        .await
        .expect("own account");
    let by_admin = app
        .get_user(&admin(), &user.user_id)
        .await
        .expect("admin reads");
    let by_stranger = app
        .get_user(&customer(), &user.user_id)
        .await
        .expect_err("denied");
    let stranger_probing = app
        .get_user(&customer(), &Uuid::new_v4().to_string())
        .await
        .expect_err("denied");

    assert_eq!((&by_themself, &by_admin), (&user, &user));
    assert_eq!(
        by_stranger.code(),
        Code::PermissionDenied,
        "{by_stranger:?}"
    );
    assert_eq!(
        stranger_probing.code(),
        Code::PermissionDenied,
        "whether or not the user exists"
    );
    app.stop().await;
}

#[tokio::test]
async fn get_user_reports_a_malformed_id_and_an_unknown_one() {
    let app = TestApp::spawn().await;

    let malformed = app
        .get_user(&admin(), "not-a-uuid")
        .await
        .expect_err("invalid");
    let unknown = app
        .get_user(&admin(), &Uuid::new_v4().to_string())
        .await
        .expect_err("unknown");

    assert_eq!(
        (malformed.code(), violated_fields(&malformed)),
        (Code::InvalidArgument, vec!["user_id".into()])
    );
    assert_eq!(unknown.code(), Code::NotFound, "{unknown:?}");
    app.stop().await;
}

#[tokio::test]
async fn get_me_returns_the_caller_and_not_found_once_the_account_is_gone() {
    let app = TestApp::spawn().await;
    let (user, identity) = app.customer().await;

    let me = app
        .client()
        .get_me(as_caller(&identity, pb::GetMeRequest {}))
        .await
        .expect("me")
        .into_inner();
    let ghost = app
        .client()
        .get_me(as_caller(&customer(), pb::GetMeRequest {}))
        .await
        .expect_err("gone");

    assert_eq!(me, user);
    assert_eq!(ghost.code(), Code::NotFound, "{ghost:?}");
    app.stop().await;
}

#[tokio::test]
async fn every_rpc_but_register_and_authenticate_refuses_a_caller_without_identity() {
    let app = TestApp::spawn().await;
    let (user, _) = app.customer().await;
    let mut client = app.client();
    let mut forged = tonic::Request::new(pb::GetMeRequest {});
    forged
        .metadata_mut()
        .insert("x-sagaway-user-id", "not-a-uuid".parse().expect("ascii"));

    let refusals = [
        client
            .get_user(pb::GetUserRequest {
                user_id: user.user_id.clone(),
            })
            .await
            .map(drop),
        client.get_me(pb::GetMeRequest {}).await.map(drop),
        client.get_me(forged).await.map(drop),
        client
            .top_up_balance(pb::TopUpBalanceRequest {
                user_id: user.user_id.clone(),
                amount: eur(100),
            })
            .await
            .map(drop),
        client
            .list_users(pb::ListUsersRequest::default())
            .await
            .map(drop),
    ];

    for refused in refusals {
        assert_eq!(
            refused.expect_err("no identity").code(),
            Code::Unauthenticated
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn a_top_up_adds_to_the_balance_and_writes_one_ledger_entry_each_time() {
    let app = TestApp::spawn().await;
    let (user, identity) = app.customer().await;

    let after_own = app
        .top_up(&identity, &user.user_id, eur(1500))
        .await
        .expect("own top-up");
    let after_admin = app
        .top_up(&admin(), &user.user_id, eur(250))
        .await
        .expect("admin top-up");

    assert_eq!(after_own.balance, eur(1500));
    assert_eq!(after_admin.balance, eur(1750));
    let entries: Vec<(String, i64, Option<Uuid>)> = sqlx::query_as(
        "SELECT kind, amount_minor, order_id FROM balance_entries WHERE user_id = $1::uuid ORDER BY created_at, id",
    )
    .bind(&user.user_id)
    .fetch_all(&app.db)
    .await
    .expect("ledger");
    assert_eq!(
        entries,
        [("TOPUP".into(), 1500, None), ("TOPUP".into(), 250, None)]
    );
    app.stop().await;
}

#[tokio::test]
async fn a_top_up_with_a_bad_amount_names_the_field_at_fault() {
    let app = TestApp::spawn().await;
    let (user, identity) = app.customer().await;
    let money = |amount_minor, code: &str| {
        Some(Money {
            amount_minor,
            currency_code: code.into(),
        })
    };
    let cases: [(&str, Option<Money>, &[&str]); 6] = [
        (&user.user_id, None, &["amount"]),
        (&user.user_id, eur(0), &["amount.amount_minor"]),
        (&user.user_id, eur(-100), &["amount.amount_minor"]),
        (&user.user_id, money(100, "USD"), &["amount.currency_code"]),
        (&user.user_id, money(100, "eur"), &["amount.currency_code"]),
        ("not-a-uuid", eur(100), &["user_id"]),
    ];
    for (user_id, amount, fields) in cases {
        let refused = app
            .top_up(&identity, user_id, amount.clone())
            .await
            .expect_err("refused");
        assert_eq!(refused.code(), Code::InvalidArgument, "{amount:?}");
        assert_eq!(violated_fields(&refused), fields, "{amount:?}");
    }
    let me = app.get_user(&identity, &user.user_id).await.expect("me");
    assert_eq!(me.balance, eur(0), "no refused top-up changed the balance");
    app.stop().await;
}

#[tokio::test]
async fn a_customer_may_not_top_up_someone_else_and_an_unknown_user_is_not_found() {
    let app = TestApp::spawn().await;
    let (user, _) = app.customer().await;

    let by_stranger = app
        .top_up(&customer(), &user.user_id, eur(100))
        .await
        .expect_err("denied");
    let unknown = app
        .top_up(&admin(), &Uuid::new_v4().to_string(), eur(100))
        .await
        .expect_err("unknown");

    assert_eq!(
        by_stranger.code(),
        Code::PermissionDenied,
        "{by_stranger:?}"
    );
    assert_eq!(unknown.code(), Code::NotFound, "{unknown:?}");
    app.stop().await;
}

#[tokio::test]
async fn a_top_up_that_would_overflow_the_balance_is_a_failed_precondition() {
    let app = TestApp::spawn().await;
    let (user, identity) = app.customer().await;
    sqlx::query("UPDATE users SET balance_minor = $2 WHERE id = $1::uuid")
        .bind(&user.user_id)
        .bind(i64::MAX - 10)
        .execute(&app.db)
        .await
        .expect("nearly full balance");

    let refused = app
        .top_up(&identity, &user.user_id, eur(11))
        .await
        .expect_err("overflow");

    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    app.stop().await;
}
