//! ListUsers: admins only, oldest first, in pages that neither skip nor repeat.

use sagaway_platform::paging::Cursor;
use tonic::Code;
use uuid::Uuid;

use super::TestApp;
use crate::helpers::{admin, violated_fields};

#[tokio::test]
async fn listing_users_is_for_admins_only() {
    let app = TestApp::spawn().await;
    let (_, identity) = app.customer().await;

    let refused = app.list(&identity, 0, "").await.expect_err("denied");

    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    app.stop().await;
}

#[tokio::test]
async fn listing_users_pages_oldest_first_without_gaps_or_duplicates() {
    let app = TestApp::spawn().await;
    app.insert_customers(23).await;
    let admin = admin();

    let mut listed = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let page = app.list(&admin, 5, &token).await.expect("page");
        assert!(page.users.len() <= 5);
        listed.extend(page.users.into_iter().map(|user| user.user_id));
        pages += 1;
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }

    assert_eq!(listed, app.ids_oldest_first().await);
    assert_eq!(pages, 5, "23 users in pages of 5");
    app.stop().await;
}

#[tokio::test]
async fn list_pages_hold_20_users_by_default_and_at_most_100() {
    let app = TestApp::spawn().await;
    app.insert_customers(130).await;

    let default_page = app.list(&admin(), 0, "").await.expect("default page");
    let huge_page = app.list(&admin(), 1000, "").await.expect("clamped page");
    let rest = app
        .list(&admin(), 1000, &huge_page.next_page_token)
        .await
        .expect("last page");

    assert_eq!(default_page.users.len(), 20);
    assert_eq!(huge_page.users.len(), 100);
    assert_eq!((rest.users.len(), rest.next_page_token.as_str()), (30, ""));
    app.stop().await;
}

#[tokio::test]
async fn listing_users_refuses_a_negative_page_size_and_a_token_it_did_not_issue() {
    let app = TestApp::spawn().await;
    let products_token = Cursor {
        created_at: sqlx::types::chrono::Utc::now(),
        id: Uuid::new_v4(),
    }
    .encode("products");
    let cases: [(i32, &str, &[&str]); 4] = [
        (-1, "", &["page_size"]),
        (0, "bm90LWEtdG9rZW4", &["page_token"]),
        (0, &products_token, &["page_token"]),
        (-5, "%%%", &["page_size", "page_token"]),
    ];
    for (page_size, token, fields) in cases {
        let refused = app
            .list(&admin(), page_size, token)
            .await
            .expect_err("refused");
        assert_eq!(
            refused.code(),
            Code::InvalidArgument,
            "{page_size} {token:?}"
        );
        assert_eq!(violated_fields(&refused), fields, "{page_size} {token:?}");
    }
    app.stop().await;
}
