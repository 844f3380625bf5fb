//! Reading the catalogue: who may, single products, pages, and batch lookups.

use sagaway_contracts::pb::product as pb;
use sagaway_platform::paging::Cursor;
use tonic::Code;
use uuid::Uuid;

use super::{TestApp, mug};
use crate::helpers::{admin, customer, violated_fields};

#[tokio::test]
async fn reads_need_an_identity_or_a_calling_service_and_changes_need_an_identity() {
    let app = TestApp::spawn().await;
    let product = app.create(&admin(), mug()).await.expect("created");
    let mut client = app.client();
    let get = || pb::GetProductRequest {
        product_id: product.product_id.clone(),
    };

    let anonymous = [
        client.get_product(get()).await.map(drop),
        client
            .list_products(pb::ListProductsRequest::default())
            .await
            .map(drop),
        client
            .batch_get_products(pb::BatchGetProductsRequest::default())
            .await
            .map(drop),
        client
            .create_product(pb::CreateProductRequest {
                product: Some(mug()),
            })
            .await
            .map(drop),
        client
            .restock_product(pb::RestockProductRequest {
                product_id: product.product_id.clone(),
                quantity: 1,
            })
            .await
            .map(drop),
    ];
    let mut from_a_service = tonic::Request::new(get());
    from_a_service
        .metadata_mut()
        .insert("x-sagaway-caller", "order-service".parse().expect("ascii"));
    let service_read = client.get_product(from_a_service).await;

    for refused in anonymous {
        assert_eq!(
            refused.expect_err("no identity").code(),
            Code::Unauthenticated
        );
    }
    assert_eq!(
        service_read
            .expect("a calling service may read")
            .into_inner(),
        product
    );
    app.stop().await;
}

#[tokio::test]
async fn get_product_reports_a_malformed_id_and_an_unknown_one() {
    let app = TestApp::spawn().await;

    let malformed = app.get(&customer(), "x").await.expect_err("invalid");
    let unknown = app
        .get(&customer(), &Uuid::new_v4().to_string())
        .await
        .expect_err("unknown");

    assert_eq!(
        (malformed.code(), violated_fields(&malformed)),
        (Code::InvalidArgument, vec!["product_id".into()])
    );
    assert_eq!(unknown.code(), Code::NotFound, "{unknown:?}");
    app.stop().await;
}

#[tokio::test]
async fn listing_products_pages_oldest_first_without_gaps_or_duplicates() {
    let app = TestApp::spawn().await;
    app.insert_products(17).await;

    let mut listed = Vec::new();
    let mut token = String::new();
    loop {
        let page = app.list(4, &token).await.expect("page");
        assert!(page.products.len() <= 4);
        listed.extend(page.products.into_iter().map(|product| product.sku));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }

    assert_eq!(listed, app.skus_oldest_first().await);
    app.stop().await;
}

#[tokio::test]
async fn list_pages_hold_20_products_by_default_and_at_most_100() {
    let app = TestApp::spawn().await;
    app.insert_products(120).await;

    let default_page = app.list(0, "").await.expect("default page");
    let huge_page = app.list(500, "").await.expect("clamped page");
    let rest = app
        .list(500, &huge_page.next_page_token)
        .await
        .expect("last page");

    assert_eq!(default_page.products.len(), 20);
    assert_eq!(huge_page.products.len(), 100);
    assert_eq!(
        (rest.products.len(), rest.next_page_token.as_str()),
        (20, "")
    );
    app.stop().await;
}

#[tokio::test]
async fn listing_products_refuses_a_negative_page_size_and_a_token_it_did_not_issue() {
    let app = TestApp::spawn().await;
    let users_token = Cursor {
        created_at: sqlx::types::chrono::Utc::now(),
        id: Uuid::new_v4(),
    }
    .encode("users");
    let cases: [(i32, &str, &[&str]); 3] = [
        (-1, "", &["page_size"]),
        (10, &users_token, &["page_token"]),
        (-1, "garbage", &["page_size", "page_token"]),
    ];
    for (page_size, token, fields) in cases {
        let refused = app.list(page_size, token).await.expect_err("refused");
        assert_eq!(refused.code(), Code::InvalidArgument);
        assert_eq!(violated_fields(&refused), fields, "{page_size} {token:?}");
    }
    app.stop().await;
}

#[tokio::test]
async fn batch_get_answers_in_request_order_and_lists_unknown_and_malformed_ids_once() {
    let app = TestApp::spawn().await;
    let mug = app.create(&admin(), mug()).await.expect("mug");
    let tee = app
        .create(
            &admin(),
            pb::Product {
                sku: "SAGA-TEE".into(),
                ..self::mug()
            },
        )
        .await
        .expect("tee");
    let unknown = Uuid::new_v4().to_string();
    let ids: [&str; 6] = [
        &tee.product_id,
        "junk",
        &mug.product_id,
        &unknown,
        &tee.product_id,
        "junk",
    ];

    let answer = app
        .batch_get(ids.iter().map(|id| id.to_string()).collect())
        .await
        .expect("answer");

    let found: Vec<&str> = answer.products.iter().map(|p| p.sku.as_str()).collect();
    assert_eq!(found, ["SAGA-TEE", "SAGA-MUG"]);
    assert_eq!(answer.missing_product_ids, ["junk".to_owned(), unknown]);
    app.stop().await;
}

#[tokio::test]
async fn batch_get_refuses_more_than_100_ids() {
    let app = TestApp::spawn().await;
    let ids = |n| {
        (0..n)
            .map(|_| Uuid::new_v4().to_string())
            .collect::<Vec<_>>()
    };

    let at_the_limit = app
        .batch_get(ids(sagaway_product::domain::MAX_IDS))
        .await
        .expect("100 is fine");
    let refused = app
        .batch_get(ids(sagaway_product::domain::MAX_IDS + 1))
        .await
        .expect_err("too many");

    assert_eq!(at_the_limit.missing_product_ids.len(), 100);
    assert_eq!(
        (refused.code(), violated_fields(&refused)),
        (Code::InvalidArgument, vec!["product_ids".into()])
    );
    app.stop().await;
}
