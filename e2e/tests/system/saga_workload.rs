//! The whole saga under a randomized workload: the three services (saga on) on a broker of
//! the test's own, hundreds of orders from many customers over a small catalogue with short
//! stock, short funds and cancels mixed in, then the invariant checker
//! (`sagaway_e2e::saga::check`) over the three databases and the dead-letter topics.
//!
//! The broker is private so that the services' default consumer groups read only this test's
//! events, from a short log (see `PrivateBroker`). `SAGAWAY_TEST_SAGA_SEED` replays a seed.

use std::time::Duration;

use sagaway_contracts::topics;
use sagaway_e2e::saga::check::{Checker, DeadLetters, Participants, TERMINAL};
use sagaway_e2e::saga::workload::{self, Clients, Pace, Rng, Shape};

use crate::helpers::{
    PrivateBroker, create_topics, fresh_database, service_config, spawn_registry,
    start_order_service, start_product_service, start_user_service,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_randomized_workload_ends_with_all_six_invariants_holding() {
    let seed: u64 = std::env::var("SAGAWAY_TEST_SAGA_SEED")
        .ok()
        .and_then(|raw| raw.parse().ok())
        .unwrap_or(20_261_121);
    eprintln!("seed {seed} (replay with SAGAWAY_TEST_SAGA_SEED={seed})");
    let broker = PrivateBroker::start().await;
    let kafka = broker.kafka();
    let mut saga_topics = Vec::new();
    for topic in topics::SAGA_TOPICS {
        saga_topics.push(topic.to_owned());
        saga_topics.push(format!("{topic}{}", topics::DLQ_SUFFIX));
    }
    create_topics(&kafka, &saga_topics, 3).await;
    let registry = spawn_registry().await;
    let (orders_db, products_db, users_db) = (
        fresh_database().await,
        fresh_database().await,
        fresh_database().await,
    );
    let settings = |name: &'static str, db: &str| {
        let mut service = service_config(name, db);
        service.kafka = kafka.clone();
        service.schema_registry_url = registry.admin_url();
        service
    };
    let product = start_product_service(
        settings(sagaway_product::SERVICE_NAME, &products_db),
        false,
        sagaway_product::saga::SagaConfig::default(),
    )
    .await;
    let user = start_user_service(
        settings(sagaway_user::SERVICE_NAME, &users_db),
        None,
        sagaway_user::saga::SagaConfig::default(),
    )
    .await;
    let order = start_order_service(
        settings(sagaway_order::SERVICE_NAME, &orders_db),
        &product.grpc_url(),
        sagaway_order::saga::SagaConfig::default(),
    )
    .await;

    let clients = Clients::connect(&order.grpc_url(), &product.grpc_url(), &user.grpc_url())
        .await
        .expect("clients");
    // Short stock (about 170 units for about 1,200 wanted), funds that run out, 10% cancels.
    let shape = Shape {
        funds: (1_000, 15_000),
        ..Shape::contended(16, 8)
    };
    let mut rng = Rng::new(seed);
    let fixture = workload::prepare(&clients, &shape, &mut rng, &seed.to_string())
        .await
        .expect("catalogue and customers");
    let pace = Pace {
        orders: 300,
        rate: 0.0,
        concurrency: 8,
    };
    let placed = workload::place_orders(&clients, &fixture, &shape, pace, &mut rng, |_, _| {})
        .await
        .expect("orders placed");
    assert_eq!(
        placed.orders.len(),
        pace.orders,
        "every CreateOrder succeeds: {:?}",
        placed.create_errors
    );

    let checker = Checker::connect(Participants::new(&orders_db, &products_db, &users_db))
        .await
        .expect("checker");
    let settled = checker
        .wait_for_quiescence(Duration::from_secs(240), Duration::from_secs(60), |p| {
            eprintln!("  {p}")
        })
        .await
        .expect("progress");
    let dead_letters = DeadLetters {
        kafka: kafka.clone(),
        registry_url: registry.admin_url(),
    };
    let report = checker.check(Some(&dead_letters)).await.expect("check");
    eprintln!("{report}");
    assert!(settled.is_quiescent(), "the saga did not settle: {settled}");
    assert!(report.holds(), "invariants violated:\n{report}");

    // The workload really exercised every path and the checker really counted it.
    assert_eq!(report.count(1, "orders"), Some(pace.orders as i64));
    for status in TERMINAL {
        let n = report.count(1, status).unwrap_or(0);
        assert!(n > 0, "no order ended {status}:\n{report}");
    }
    assert_eq!(report.count(2, "received"), Some(fixture.stock));
    assert_eq!(report.count(3, "topups"), Some(fixture.funds));
    assert_eq!(report.count(6, "unpublished"), Some(0));
    assert_eq!(report.count(6, "dead_lettered"), Some(0));

    // The checker can fail: break three invariants by hand and it names exactly those.
    order.stop().await.expect("order service stops");
    tamper_and_recheck(&checker, &orders_db, &users_db, &products_db).await;

    user.stop().await.expect("user service stops");
    product.stop().await.expect("product service stops");
    registry.stop().await.expect("registry stops");
    drop(broker);
}

/// Breaks invariants 1 (an order reopened), 3 (money from nowhere) and 6 (an applied event
/// forgotten) in the stopped system's databases and checks that the checker reports those
/// and only those (the reopened order also breaks 5: its history no longer matches).
async fn tamper_and_recheck(checker: &Checker, orders_db: &str, users_db: &str, products_db: &str) {
    let orders = sqlx::PgPool::connect(orders_db).await.expect("orders");
    sqlx::query(
        "UPDATE orders SET status = 'STOCK_RESERVED' \
         WHERE id = (SELECT id FROM orders WHERE status = 'REJECTED' LIMIT 1)",
    )
    .execute(&orders)
    .await
    .expect("reopen an order");
    let users = sqlx::PgPool::connect(users_db).await.expect("users");
    sqlx::query(
        "UPDATE users SET balance_minor = balance_minor + 1 \
         WHERE id = (SELECT id FROM users LIMIT 1)",
    )
    .execute(&users)
    .await
    .expect("mint money");
    let products = sqlx::PgPool::connect(products_db).await.expect("products");
    sqlx::query(
        "DELETE FROM inbox WHERE event_id = (SELECT event_id FROM inbox \
         WHERE topic = $1 LIMIT 1)",
    )
    .bind(topics::ORDER_EVENTS)
    .execute(&products)
    .await
    .expect("forget an applied event");
    let report = checker.check(None).await.expect("check");
    let failed: Vec<u8> = report
        .verdicts
        .iter()
        .filter(|v| !v.holds())
        .map(|v| v.number)
        .collect();
    assert_eq!(failed, vec![1, 3, 5, 6], "{report}");
    assert_eq!(report.count(1, "open"), Some(1));
}
