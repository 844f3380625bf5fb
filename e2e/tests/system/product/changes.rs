//! Creating and restocking products: admins only, every field checked, skus unique.

use sagaway_contracts::pb::common::Money;
use sagaway_contracts::pb::product as pb;
use tonic::Code;
use uuid::Uuid;

use super::{TestApp, mug};
use crate::helpers::{admin, as_caller, customer, violated_fields};

#[tokio::test]
async fn an_admin_creates_a_product_that_every_authenticated_caller_can_read() {
    let app = TestApp::spawn().await;
    let ignored_id = Uuid::new_v4().to_string();

    let created = app
        .create(
            &admin(),
            pb::Product {
                product_id: ignored_id.clone(),
                ..mug()
            },
        )
        .await
        .expect("created");
    let read = app
        .get(&customer(), &created.product_id)
        .await
        .expect("read by a customer");

    assert_ne!(created.product_id, ignored_id, "the server assigns the id");
    assert_eq!(
        (created.sku.as_str(), created.name.as_str()),
        ("SAGA-MUG", "Sagaway mug")
    );
    assert_eq!(created.price, mug().price);
    assert_eq!(
        created.stock,
        Some(pb::Stock {
            available: 12,
            reserved: 0
        })
    );
    assert!(created.create_time.is_some() && created.create_time == created.update_time);
    assert_eq!(read, created);
    app.stop().await;
}

#[tokio::test]
async fn create_product_reports_each_bad_field_as_its_own_violation() {
    let app = TestApp::spawn().await;
    let money = |amount_minor, code: &str| {
        Some(Money {
            amount_minor,
            currency_code: code.into(),
        })
    };
    let stock = |available, reserved| {
        Some(pb::Stock {
            available,
            reserved,
        })
    };
    let cases: Vec<(pb::Product, &[&str])> = vec![
        (
            pb::Product {
                sku: String::new(),
                ..mug()
            },
            &["product.sku"],
        ),
        (
            pb::Product {
                sku: "has space".into(),
                ..mug()
            },
            &["product.sku"],
        ),
        (
            pb::Product {
                sku: "S".repeat(65),
                ..mug()
            },
            &["product.sku"],
        ),
        (
            pb::Product {
                name: " ".into(),
                ..mug()
            },
            &["product.name"],
        ),
        (
            pb::Product {
                name: "n".repeat(201),
                ..mug()
            },
            &["product.name"],
        ),
        (
            pb::Product {
                description: "d".repeat(2001),
                ..mug()
            },
            &["product.description"],
        ),
        (
            pb::Product {
                price: None,
                ..mug()
            },
            &["product.price"],
        ),
        (
            pb::Product {
                price: money(0, "EUR"),
                ..mug()
            },
            &["product.price.amount_minor"],
        ),
        (
            pb::Product {
                price: money(-5, "EUR"),
                ..mug()
            },
            &["product.price.amount_minor"],
        ),
        (
            pb::Product {
                price: money(100, "USD"),
                ..mug()
            },
            &["product.price.currency_code"],
        ),
        (
            pb::Product {
                stock: stock(-1, 0),
                ..mug()
            },
            &["product.stock.available"],
        ),
        (
            pb::Product {
                stock: stock(1, 1),
                ..mug()
            },
            &["product.stock.reserved"],
        ),
        (
            pb::Product {
                sku: String::new(),
                name: String::new(),
                price: None,
                ..mug()
            },
            &["product.sku", "product.name", "product.price"],
        ),
    ];
    for (product, fields) in cases {
        let refused = app
            .create(&admin(), product.clone())
            .await
            .expect_err("refused");
        assert_eq!(refused.code(), Code::InvalidArgument, "{product:?}");
        assert_eq!(violated_fields(&refused), fields, "{product:?}");
    }
    let missing = app
        .client()
        .create_product(as_caller(
            &admin(),
            pb::CreateProductRequest { product: None },
        ))
        .await;
    assert_eq!(violated_fields(&missing.expect_err("refused")), ["product"]);
    assert!(
        app.skus_oldest_first().await.is_empty(),
        "nothing invalid was stored"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_second_product_with_the_same_sku_is_already_exists() {
    let app = TestApp::spawn().await;
    app.create(&admin(), mug()).await.expect("first");

    let again = app
        .create(
            &admin(),
            pb::Product {
                name: "Another mug".into(),
                ..mug()
            },
        )
        .await
        .expect_err("duplicate");

    assert_eq!(again.code(), Code::AlreadyExists, "{again:?}");
    app.stop().await;
}

#[tokio::test]
async fn customers_may_read_the_catalogue_but_not_create_or_restock() {
    let app = TestApp::spawn().await;
    let product = app.create(&admin(), mug()).await.expect("created");

    let create = app
        .create(
            &customer(),
            pb::Product {
                sku: "OTHER".into(),
                ..mug()
            },
        )
        .await
        .expect_err("denied");
    let restock = app
        .restock(&customer(), &product.product_id, 5)
        .await
        .expect_err("denied");

    assert_eq!(create.code(), Code::PermissionDenied, "{create:?}");
    assert_eq!(restock.code(), Code::PermissionDenied, "{restock:?}");
    assert_eq!(
        app.get(&customer(), &product.product_id)
            .await
            .expect("read")
            .stock,
        mug().stock
    );
    app.stop().await;
}

#[tokio::test]
async fn restocking_adds_to_the_available_stock_and_moves_the_update_time() {
    let app = TestApp::spawn().await;
    let product = app.create(&admin(), mug()).await.expect("created");

    app.restock(&admin(), &product.product_id, 5)
        .await
        .expect("restocked");
    let restocked = app
        .restock(&admin(), &product.product_id, 3)
        .await
        .expect("restocked again");

    assert_eq!(
        restocked.stock,
        Some(pb::Stock {
            available: 20,
            reserved: 0
        })
    );
    assert_eq!(restocked.create_time, product.create_time);
    let (before, after) = (
        product.update_time.expect("time"),
        restocked.update_time.expect("time"),
    );
    assert!(
        (after.seconds, after.nanos) > (before.seconds, before.nanos),
        "{before:?} -> {after:?}"
    );
    app.stop().await;
}

#[tokio::test]
async fn restock_refuses_a_bad_quantity_an_unknown_product_and_an_overflow() {
    let app = TestApp::spawn().await;
    let product = app.create(&admin(), mug()).await.expect("created");
    let id = product.product_id.as_str();
    let unknown = Uuid::new_v4().to_string();
    let cases: [(&str, i64, Code, &[&str]); 5] = [
        (id, 0, Code::InvalidArgument, &["quantity"]),
        (id, -3, Code::InvalidArgument, &["quantity"]),
        ("nope", 1, Code::InvalidArgument, &["product_id"]),
        (&unknown, 1, Code::NotFound, &[]),
        (id, i64::MAX, Code::FailedPrecondition, &[]),
    ];
    for (product_id, quantity, code, fields) in cases {
        let refused = app
            .restock(&admin(), product_id, quantity)
            .await
            .expect_err("refused");
        assert_eq!(refused.code(), code, "{product_id} {quantity}");
        assert_eq!(violated_fields(&refused), fields, "{product_id} {quantity}");
    }
    assert_eq!(
        app.get(&admin(), id).await.expect("read").stock,
        mug().stock,
        "stock unchanged"
    );
    app.stop().await;
}
