//! OrderCreated: every line reserved or none, never oversold, once per order.

use sagaway_contracts::events::{AnyEvent, StockShortfallReason};
use sagaway_product::saga::SagaConfig;

use super::{Saga, new_order, order_created};
use crate::helpers::wait_until;
use crate::participant::WITHIN;

#[tokio::test]
async fn an_order_in_stock_is_reserved_with_prices_a_total_and_an_expiry() {
    let saga = Saga::start().await;
    let (mug, tee) = (saga.product(10, 1290).await, saga.product(5, 2490).await);
    let (order_id, user_id) = new_order();

    saga.send(order_created(order_id, user_id, &[(mug, 2), (tee, 1)]))
        .await;

    let answers = saga.wait_for_answers(order_id, 1).await;
    let [AnyEvent::StockReserved(reserved)] = answers.as_slice() else {
        panic!("expected one StockReserved, got {answers:?}");
    };
    let mut lines: Vec<_> = reserved
        .lines
        .iter()
        .map(|l| (l.product_id.clone(), l.quantity, l.unit_price_minor))
        .collect();
    lines.sort();
    let mut expected = vec![(mug.to_string(), 2, 1290), (tee.to_string(), 1, 2490)];
    expected.sort();
    assert_eq!(lines, expected);
    assert_eq!(reserved.total_minor, 2 * 1290 + 2490);
    assert_eq!(reserved.currency, "EUR");
    assert_eq!(reserved.user_id, user_id.to_string());
    let ttl_ms = 1800 * 1000;
    let from_now = reserved.expires_at - reserved.metadata.occurred_at;
    assert!(
        (ttl_ms - 5000..=ttl_ms + 5000).contains(&from_now),
        "{from_now} ms"
    );
    assert_eq!(saga.stock(mug).await, (8, 2, 0));
    assert_eq!(saga.stock(tee).await, (4, 1, 0));
    assert_eq!(
        saga.reservation_status(order_id).await,
        Some(("RESERVED".into(), None))
    );
    saga.finish().await;
}

#[tokio::test]
async fn an_order_short_of_stock_fails_with_the_shortfall_and_moves_no_stock() {
    let saga = Saga::start().await;
    let (scarce, plenty) = (saga.product(2, 500).await, saga.product(50, 700).await);
    let (order_id, user_id) = new_order();

    saga.send(order_created(
        order_id,
        user_id,
        &[(scarce, 3), (plenty, 1)],
    ))
    .await;

    let answers = saga.wait_for_answers(order_id, 1).await;
    let [AnyEvent::StockReservationFailed(failed)] = answers.as_slice() else {
        panic!("expected one StockReservationFailed, got {answers:?}");
    };
    let shortfalls: Vec<_> = failed
        .shortfalls
        .iter()
        .map(|s| (s.product_id.clone(), s.requested, s.available, s.reason))
        .collect();
    assert_eq!(
        shortfalls,
        [(
            scarce.to_string(),
            3,
            2,
            StockShortfallReason::InsufficientStock
        )]
    );
    assert_eq!(saga.stock(scarce).await, (2, 0, 0));
    assert_eq!(saga.stock(plenty).await, (50, 0, 0));
    assert_eq!(saga.reservation_status(order_id).await, None);
    saga.finish().await;
}

#[tokio::test]
async fn an_order_for_an_unknown_product_fails_with_product_not_found() {
    let saga = Saga::start().await;
    let known = saga.product(5, 500).await;
    let unknown = uuid::Uuid::now_v7();
    let (order_id, user_id) = new_order();

    saga.send(order_created(
        order_id,
        user_id,
        &[(known, 1), (unknown, 4)],
    ))
    .await;

    let answers = saga.wait_for_answers(order_id, 1).await;
    let [AnyEvent::StockReservationFailed(failed)] = answers.as_slice() else {
        panic!("expected one StockReservationFailed, got {answers:?}");
    };
    let shortfalls: Vec<_> = failed
        .shortfalls
        .iter()
        .map(|s| (s.product_id.clone(), s.requested, s.available, s.reason))
        .collect();
    assert_eq!(
        shortfalls,
        [(
            unknown.to_string(),
            4,
            0,
            StockShortfallReason::ProductNotFound
        )]
    );
    assert_eq!(saga.stock(known).await, (5, 0, 0));
    saga.finish().await;
}

#[tokio::test]
async fn two_orders_racing_for_the_last_unit_on_two_instances_reserve_it_once() {
    let saga = Saga::start_with(2, SagaConfig::default()).await;
    let last = saga.product(1, 990).await;
    let (first, first_user) = new_order();
    let (second, second_user) = new_order();

    tokio::join!(
        saga.send(order_created(first, first_user, &[(last, 1)])),
        saga.send(order_created(second, second_user, &[(last, 1)])),
    );

    let mut answers = saga.wait_for_answers(first, 1).await;
    answers.extend(saga.wait_for_answers(second, 1).await);
    let reserved = answers
        .iter()
        .filter(|a| matches!(a, AnyEvent::StockReserved(_)))
        .count();
    let failed = answers
        .iter()
        .filter(|a| matches!(a, AnyEvent::StockReservationFailed(_)))
        .count();
    assert_eq!((reserved, failed), (1, 1), "{answers:?}");
    assert_eq!(saga.stock(last).await, (0, 1, 0));
    saga.finish().await;
}

#[tokio::test]
async fn the_same_order_created_delivered_many_times_reserves_once() {
    let saga = Saga::start().await;
    let product = saga.product(10, 300).await;
    let (order_id, user_id) = new_order();
    let event = order_created(order_id, user_id, &[(product, 3)]);

    let mut event_ids = vec![event.metadata.event_id.clone()];
    for _ in 0..5 {
        saga.send(event.clone()).await;
    }
    // The order service re-sending it would give it a new event id.
    for _ in 0..3 {
        let mut resent = event.clone();
        resent.metadata = super::metadata();
        event_ids.push(resent.metadata.event_id.clone());
        saga.send(resent).await;
    }

    wait_until(
        "the four distinct deliveries are in the inbox",
        WITHIN,
        || async {
            let applied: i64 =
                sqlx::query_scalar("SELECT count(*) FROM inbox WHERE event_id = ANY($1)")
                    .bind(&event_ids)
                    .fetch_one(&saga.db)
                    .await
                    .expect("inbox");
            applied == 4
        },
    )
    .await;
    let answers = saga.wait_for_answers(order_id, 1).await;
    assert!(
        matches!(answers.as_slice(), [AnyEvent::StockReserved(_)]),
        "{answers:?}"
    );
    let outbox_rows: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE message_key = $1")
        .bind(order_id.to_string())
        .fetch_one(&saga.db)
        .await
        .expect("outbox");
    assert_eq!(outbox_rows, 1);
    assert_eq!(saga.stock(product).await, (7, 3, 0));
    saga.finish().await;
}

#[tokio::test]
async fn a_crowd_of_orders_for_a_few_units_on_two_instances_never_oversells() {
    let saga = Saga::start_with(2, SagaConfig::default()).await;
    let scarce = saga.product(3, 100).await;
    let orders: Vec<_> = (0..12).map(|_| new_order()).collect();

    futures::future::join_all(
        orders.iter().map(|&(order_id, user_id)| {
            saga.send(order_created(order_id, user_id, &[(scarce, 1)]))
        }),
    )
    .await;

    let ids: Vec<_> = orders.iter().map(|&(order_id, _)| order_id).collect();
    wait_until("every order is answered", WITHIN, || async {
        saga.answers_to(&ids).await.len() == ids.len()
    })
    .await;
    let answers = saga.answers_to(&ids).await;
    assert!(answers.values().all(|a| a.len() == 1), "{answers:?}");
    let reserved = answers
        .values()
        .filter(|a| matches!(a[0], AnyEvent::StockReserved(_)))
        .count();
    assert_eq!(reserved, 3);
    assert_eq!(saga.stock(scarce).await, (0, 3, 0));
    saga.finish().await;
}
