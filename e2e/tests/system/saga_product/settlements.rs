//! What happens to a reservation afterwards: released by compensation or expiry, committed
//! when the order completes.

use std::time::Duration;

use sagaway_contracts::events::{AnyEvent, StockReleaseReason};
use sagaway_product::saga::SagaConfig;
use uuid::Uuid;

use crate::helpers::wait_until;
use crate::participant::WITHIN;

use super::{Saga, new_order, order_cancelled, order_completed, order_created, payment_failed};

/// A product with 10 units and an order that reserved 4 of them.
async fn reserved_order(saga: &Saga) -> (Uuid, Uuid, Uuid) {
    let product = saga.product(10, 450).await;
    let (order_id, user_id) = new_order();
    saga.send(order_created(order_id, user_id, &[(product, 4)]))
        .await;
    let answers = saga.wait_for_answers(order_id, 1).await;
    assert!(
        matches!(answers[0], AnyEvent::StockReserved(_)),
        "{answers:?}"
    );
    (product, order_id, user_id)
}

/// Asserts the second answer about `order_id` is a StockReleased for `reason` giving back
/// `quantity` of `product`.
async fn assert_released(
    saga: &Saga,
    order_id: Uuid,
    product: Uuid,
    quantity: i64,
    reason: StockReleaseReason,
) -> AnyEvent {
    let answers = saga.wait_for_answers(order_id, 2).await;
    let [_, AnyEvent::StockReleased(released)] = answers.as_slice() else {
        panic!("expected StockReserved then StockReleased, got {answers:?}");
    };
    assert_eq!(released.reason, reason);
    let lines: Vec<_> = released
        .lines
        .iter()
        .map(|l| (l.product_id.clone(), l.quantity))
        .collect();
    assert_eq!(lines, [(product.to_string(), quantity)]);
    answers[1].clone()
}

#[tokio::test]
async fn a_failed_payment_releases_the_reservation() {
    let saga = Saga::start().await;
    let (product, order_id, user_id) = reserved_order(&saga).await;

    saga.send(payment_failed(order_id, user_id)).await;

    assert_released(
        &saga,
        order_id,
        product,
        4,
        StockReleaseReason::PaymentFailed,
    )
    .await;
    assert_eq!(saga.stock(product).await, (10, 0, 0));
    assert_eq!(
        saga.reservation_status(order_id).await,
        Some(("RELEASED".into(), Some("PAYMENT_FAILED".into())))
    );
    saga.finish().await;
}

#[tokio::test]
async fn a_cancelled_order_releases_the_reservation_once() {
    let saga = Saga::start().await;
    let (product, order_id, user_id) = reserved_order(&saga).await;
    let (cancel, cancel_again) = (
        order_cancelled(order_id, user_id),
        order_cancelled(order_id, user_id),
    );
    let late_failure = payment_failed(order_id, user_id);
    let event_ids = [
        cancel.metadata.event_id.clone(),
        cancel_again.metadata.event_id.clone(),
        late_failure.metadata.event_id.clone(),
    ];

    saga.send(cancel).await;
    saga.send(cancel_again).await;
    let reason = StockReleaseReason::OrderCancelled;
    assert_released(&saga, order_id, product, 4, reason).await;
    // Another topic: sent only now, so that it cannot overtake the cancellation.
    saga.send(late_failure).await;

    wait_until("all three events are applied", WITHIN, || async {
        let applied: i64 =
            sqlx::query_scalar("SELECT count(*) FROM inbox WHERE event_id = ANY($1)")
                .bind(&event_ids[..])
                .fetch_one(&saga.db)
                .await
                .expect("inbox");
        applied == 3
    })
    .await;
    let outbox_rows: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE message_key = $1")
        .bind(order_id.to_string())
        .fetch_one(&saga.db)
        .await
        .expect("outbox");
    assert_eq!(outbox_rows, 2, "one StockReserved and one StockReleased");
    assert_eq!(saga.stock(product).await, (10, 0, 0));
    saga.finish().await;
}

#[tokio::test]
async fn a_completed_order_commits_the_reservation_as_sold() {
    let saga = Saga::start().await;
    let (product, order_id, user_id) = reserved_order(&saga).await;

    saga.send(order_completed(order_id, user_id)).await;

    let answers = saga.wait_for_answers(order_id, 2).await;
    let [_, AnyEvent::StockCommitted(committed)] = answers.as_slice() else {
        panic!("expected StockReserved then StockCommitted, got {answers:?}");
    };
    let lines: Vec<_> = committed
        .lines
        .iter()
        .map(|l| (l.product_id.clone(), l.quantity))
        .collect();
    assert_eq!(lines, [(product.to_string(), 4)]);
    assert_eq!(saga.stock(product).await, (6, 0, 4));
    assert_eq!(
        saga.reservation_status(order_id).await,
        Some(("COMMITTED".into(), None))
    );
    saga.finish().await;
}

/// Reservations that live one second, released as soon as they are overdue.
fn short_lived() -> SagaConfig {
    SagaConfig {
        reservation_ttl: Duration::from_secs(1),
        reservation_grace: Duration::ZERO,
        sweep_interval: Duration::from_millis(200),
        ..SagaConfig::default()
    }
}

#[tokio::test]
async fn a_reservation_not_paid_in_time_expires_and_its_stock_returns() {
    let saga = Saga::start_with(1, short_lived()).await;
    let (product, order_id, _) = reserved_order(&saga).await;

    let released = assert_released(&saga, order_id, product, 4, StockReleaseReason::Expired).await;

    let answers = saga.answers(order_id).await;
    let AnyEvent::StockReserved(reserved) = &answers[0] else {
        panic!("{answers:?}");
    };
    assert_eq!(
        released.metadata().correlation_id,
        reserved.metadata.correlation_id,
        "the sweeper keeps the saga's correlation id"
    );
    assert_eq!(saga.stock(product).await, (10, 0, 0));
    assert_eq!(
        saga.reservation_status(order_id).await,
        Some(("RELEASED".into(), Some("EXPIRED".into())))
    );
    saga.finish().await;
}

#[tokio::test]
async fn an_order_completed_after_its_reservation_expired_is_sold_from_available_stock() {
    let saga = Saga::start_with(1, short_lived()).await;
    let (product, order_id, user_id) = reserved_order(&saga).await;
    assert_released(&saga, order_id, product, 4, StockReleaseReason::Expired).await;

    saga.send(order_completed(order_id, user_id)).await;

    let answers = saga.wait_for_answers(order_id, 3).await;
    assert!(
        matches!(answers[2], AnyEvent::StockCommitted(_)),
        "{answers:?}"
    );
    assert_eq!(saga.stock(product).await, (6, 0, 4));
    saga.finish().await;
}

#[tokio::test]
async fn an_order_completed_after_its_expired_stock_was_sold_again_commits_nothing() {
    // Long enough for the rival below to buy the stock before its own reservation expires.
    let config = SagaConfig {
        reservation_ttl: Duration::from_secs(3),
        ..short_lived()
    };
    let saga = Saga::start_with(1, config).await;
    let (product, order_id, user_id) = reserved_order(&saga).await;
    assert_released(&saga, order_id, product, 4, StockReleaseReason::Expired).await;
    let (rival, rival_user) = new_order();
    saga.send(order_created(rival, rival_user, &[(product, 8)]))
        .await;
    saga.wait_for_answers(rival, 1).await;
    saga.send(order_completed(rival, rival_user)).await;
    let answers = saga.wait_for_answers(rival, 2).await;
    assert!(
        matches!(answers[1], AnyEvent::StockCommitted(_)),
        "{answers:?}"
    );

    let late = order_completed(order_id, user_id);
    let late_id = late.metadata.event_id.clone();
    saga.send(late).await;

    wait_until("the late OrderCompleted is applied", WITHIN, || async {
        let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM inbox WHERE event_id = $1")
            .bind(&late_id)
            .fetch_one(&saga.db)
            .await
            .expect("inbox");
        applied == 1
    })
    .await;
    let outbox_rows: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE message_key = $1")
        .bind(order_id.to_string())
        .fetch_one(&saga.db)
        .await
        .expect("outbox");
    assert_eq!(
        outbox_rows, 2,
        "StockReserved and StockReleased, no StockCommitted"
    );
    assert_eq!(
        saga.reservation_status(order_id).await,
        Some(("RELEASED".into(), Some("EXPIRED".into())))
    );
    assert_eq!(saga.stock(product).await, (2, 0, 8));
    saga.finish().await;
}
