//! Registering, signing in, and the admin account created from configuration.

use sagaway_contracts::pb::user as pb;
use tonic::Code;
use uuid::Uuid;

use super::{PASSWORD, TestApp, eur};
use crate::helpers::{fresh_database, violated_fields};

#[tokio::test]
async fn registration_creates_a_customer_with_a_normalized_email_and_a_zero_balance() {
    let app = TestApp::spawn().await;

    let user = app
        .register("  Ada.Lovelace@Example.COM ", PASSWORD, " Ada Lovelace ")
        .await
        .expect("registers");

    assert!(Uuid::parse_str(&user.user_id).is_ok(), "{}", user.user_id);
    assert_eq!(user.email, "ada.lovelace@example.com");
    assert_eq!(user.display_name, "Ada Lovelace");
    assert_eq!(user.roles, [pb::Role::Customer as i32]);
    assert_eq!(user.balance, eur(0));
    assert!(user.create_time.is_some_and(|time| time.seconds > 0));
    let stored: String = sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1::uuid")
        .bind(&user.user_id)
        .fetch_one(&app.db)
        .await
        .expect("stored hash");
    assert!(
        stored.starts_with("$argon2id$") && !stored.contains(PASSWORD),
        "{stored}"
    );
    app.stop().await;
}

#[tokio::test]
async fn registration_reports_each_bad_field_as_its_own_violation() {
    let app = TestApp::spawn().await;
    let long_email = format!("{}@example.com", "a".repeat(250));
    let cases: [(&str, &str, &str, &[&str]); 8] = [
        ("not-an-email", PASSWORD, "Ada", &["email"]),
        ("", PASSWORD, "Ada", &["email"]),
        (&long_email, PASSWORD, "Ada", &["email"]),
        ("ada@example.com", "short", "Ada", &["password"]),
        ("ada@example.com", &"p".repeat(129), "Ada", &["password"]),
        ("ada@example.com", PASSWORD, "   ", &["display_name"]),
        (
            "ada@example.com",
            PASSWORD,
            &"n".repeat(101),
            &["display_name"],
        ),
        ("nope", "", "", &["email", "password", "display_name"]),
    ];
    for (email, password, display_name, fields) in cases {
        let refused = app
            .register(email, password, display_name)
            .await
            .expect_err("refused");
        assert_eq!(
            refused.code(),
            Code::InvalidArgument,
            "{email:?}: {refused:?}"
        );
        assert_eq!(
            violated_fields(&refused),
            fields,
            "{email:?} / {display_name:?}"
        );
    }
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&app.db)
        .await
        .expect("count");
    assert_eq!(count, 0, "nothing invalid was stored");
    app.stop().await;
}

#[tokio::test]
async fn registering_an_email_twice_is_already_exists_even_in_another_case() {
    let app = TestApp::spawn().await;
    app.register("grace@example.com", PASSWORD, "Grace")
        .await
        .expect("first registers");

    let again = app
        .register(" GRACE@example.com", "another password", "Grace 2")
        .await
        .expect_err("duplicate");

    assert_eq!(again.code(), Code::AlreadyExists, "{again:?}");
    app.stop().await;
}

#[tokio::test]
async fn a_user_authenticates_with_their_password_and_their_email_in_any_case() {
    let app = TestApp::spawn().await;
    let registered = app
        .register("alan@example.com", PASSWORD, "Alan")
        .await
        .expect("registers");

    let signed_in = app
        .authenticate(" Alan@Example.com ", PASSWORD)
        .await
        .expect("authenticates");

    assert_eq!(signed_in, registered);
    app.stop().await;
}

#[tokio::test]
async fn an_unknown_email_and_a_wrong_password_are_refused_with_the_same_code_and_message() {
    let app = TestApp::spawn().await;
    app.register("alan@example.com", PASSWORD, "Alan")
        .await
        .expect("registers");

    let wrong_password = app
        .authenticate("alan@example.com", "not the password")
        .await
        .expect_err("refused");
    let unknown_email = app
        .authenticate("nobody@example.com", PASSWORD)
        .await
        .expect_err("refused");
    let malformed_email = app.authenticate("", "").await.expect_err("refused");

    for refused in [&wrong_password, &unknown_email, &malformed_email] {
        assert_eq!(refused.code(), Code::Unauthenticated, "{refused:?}");
        assert_eq!(refused.message(), "invalid email or password");
    }
    app.stop().await;
}

fn configured_admin(email: &str) -> sagaway_user::AdminAccount {
    sagaway_user::AdminAccount {
        email: sagaway_user::domain::Email::parse(email).expect("email"),
        password: sagaway_user::domain::Password::parse("admin-password").expect("password"),
    }
}

#[tokio::test]
async fn the_configured_admin_is_created_once_across_two_starts_and_can_sign_in() {
    let database_url = fresh_database().await;
    let first = TestApp::spawn_on(
        database_url.clone(),
        Some(configured_admin("Root@Example.com")),
    )
    .await;
    first.stop().await;

    let second = TestApp::spawn_on(database_url, Some(configured_admin("root@example.com"))).await;
    let signed_in = second
        .authenticate("root@example.com", "admin-password")
        .await
        .expect("admin signs in");

    let admins: i64 = sqlx::query_scalar("SELECT count(*) FROM users WHERE 'admin' = ANY(roles)")
        .fetch_one(&second.db)
        .await
        .expect("count");
    assert_eq!(admins, 1);
    assert!(
        signed_in.roles.contains(&(pb::Role::Admin as i32)),
        "{signed_in:?}"
    );
    second.stop().await;
}

#[tokio::test]
async fn an_existing_account_with_the_admin_email_is_left_unchanged() {
    let app = TestApp::spawn().await;
    let customer = app
        .register("boss@example.com", PASSWORD, "Not yet an admin")
        .await
        .expect("registers");
    let database_url = app.database_url.clone();
    app.stop().await;

    let restarted =
        TestApp::spawn_on(database_url, Some(configured_admin("boss@example.com"))).await;
    let signed_in = restarted
        .authenticate("boss@example.com", PASSWORD)
        .await
        .expect("old password still works");

    assert_eq!(signed_in, customer, "roles, name and password untouched");
    restarted.stop().await;
}
