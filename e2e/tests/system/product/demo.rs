//! The demo catalogue (`SAGAWAY_SEED_DEMO_CATALOG`): seeded once, and only into an empty
//! catalogue.

use super::{TestApp, mug};
use crate::helpers::{admin, fresh_database};

#[tokio::test]
async fn the_demo_catalogue_is_seeded_once_across_restarts_and_concurrent_starts() {
    let database_url = fresh_database().await;
    let (first, second) = tokio::join!(
        TestApp::spawn_on(&database_url, true),
        TestApp::spawn_on(&database_url, true)
    );
    let seeded = first.skus_oldest_first().await;
    first.stop().await;
    second.stop().await;

    let restarted = TestApp::spawn_on(&database_url, true).await;
    let page = restarted.list(100, "").await.expect("catalogue");

    assert_eq!(seeded.len(), 6, "{seeded:?}");
    assert_eq!(
        page.products
            .iter()
            .map(|p| p.sku.clone())
            .collect::<Vec<_>>(),
        seeded
    );
    assert!(page.products.iter().all(|p| {
        p.stock.is_some_and(|stock| stock.available > 0)
            && p.price
                .as_ref()
                .is_some_and(|price| price.currency_code == "EUR" && price.amount_minor > 0)
    }));
    restarted.stop().await;
}

#[tokio::test]
async fn the_demo_catalogue_is_not_seeded_when_disabled_or_into_a_catalogue_with_products() {
    let database_url = fresh_database().await;
    let unseeded = TestApp::spawn_on(&database_url, false).await;
    assert!(
        unseeded.skus_oldest_first().await.is_empty(),
        "off by default"
    );
    unseeded
        .create(&admin(), mug())
        .await
        .expect("an admin's own product");
    unseeded.stop().await;

    let restarted = TestApp::spawn_on(&database_url, true).await;

    assert_eq!(restarted.skus_oldest_first().await, ["SAGA-MUG"]);
    restarted.stop().await;
}
