//! Compensation: a captured payment given back when its reservation expires or its order is
//! cancelled, once; a cancellation seen first stops the payment.

use sagaway_contracts::events::{AnyEvent, RefundReason, StockReleaseReason};
use uuid::Uuid;

use super::{Saga, order_cancelled, stock_released, stock_reserved};

/// A customer with 10 000 cents and an order of theirs paid 4 000 of them.
async fn paid_order(saga: &Saga) -> (Uuid, Uuid) {
    let user_id = saga.customer(10_000).await;
    let order_id = Uuid::now_v7();
    saga.send(stock_reserved(order_id, user_id, 4_000)).await;
    let answers = saga.wait_for_answers(order_id, 1).await;
    assert!(
        matches!(answers.as_slice(), [AnyEvent::PaymentCompleted(_)]),
        "{answers:?}"
    );
    assert_eq!(saga.balance(user_id).await, 6_000);
    (order_id, user_id)
}

/// Asserts the answers about `order_id` are PaymentCompleted then one PaymentRefunded for
/// `reason`, and the money is back.
async fn assert_refunded_once(saga: &Saga, order_id: Uuid, user_id: Uuid, reason: RefundReason) {
    let answers = saga.wait_for_answers(order_id, 2).await;
    let [
        AnyEvent::PaymentCompleted(paid),
        AnyEvent::PaymentRefunded(refunded),
    ] = answers.as_slice()
    else {
        panic!("expected PaymentCompleted then PaymentRefunded, got {answers:?}");
    };
    assert_eq!(refunded.reason, reason);
    assert_eq!(refunded.payment_id, paid.payment_id);
    assert_eq!(refunded.amount_minor, 4_000);
    assert_eq!(saga.events_written(order_id).await, 2);
    assert_eq!(saga.balance(user_id).await, 10_000);
    assert_eq!(
        saga.entries_of(order_id).await,
        [("DEBIT".into(), 4_000), ("REFUND".into(), 4_000)]
    );
    assert_eq!(
        saga.payment_status(order_id).await.as_deref(),
        Some("REFUNDED")
    );
}

#[tokio::test]
async fn an_expired_reservation_gets_its_payment_refunded() {
    let saga = Saga::start().await;
    let (order_id, user_id) = paid_order(&saga).await;
    let expired = stock_released(order_id, user_id, StockReleaseReason::Expired);
    let event_id = expired.metadata.event_id.clone();

    saga.send(expired).await;

    saga.wait_until_applied(&[event_id]).await;
    assert_refunded_once(&saga, order_id, user_id, RefundReason::ReservationExpired).await;
    saga.finish().await;
}

#[tokio::test]
async fn a_cancelled_order_is_refunded_once_even_when_its_reservation_also_expires() {
    let saga = Saga::start().await;
    let (order_id, user_id) = paid_order(&saga).await;
    let cancel = order_cancelled(order_id, user_id);
    let expired = stock_released(order_id, user_id, StockReleaseReason::Expired);
    let released = stock_released(order_id, user_id, StockReleaseReason::OrderCancelled);
    let event_ids = [
        cancel.metadata.event_id.clone(),
        expired.metadata.event_id.clone(),
        released.metadata.event_id.clone(),
    ];

    saga.send(cancel).await;
    saga.wait_until_applied(&event_ids[..1]).await;
    saga.send(expired).await;
    saga.send(released).await;

    saga.wait_until_applied(&event_ids).await;
    assert_refunded_once(&saga, order_id, user_id, RefundReason::OrderCancelled).await;
    saga.finish().await;
}

#[tokio::test]
async fn an_order_cancelled_before_its_reservation_arrives_is_never_paid() {
    let saga = Saga::start().await;
    let user_id = saga.customer(10_000).await;
    let order_id = Uuid::now_v7();
    let cancel = order_cancelled(order_id, user_id);
    let reserved = stock_reserved(order_id, user_id, 4_000);
    let event_ids = [
        cancel.metadata.event_id.clone(),
        reserved.metadata.event_id.clone(),
    ];

    saga.send(cancel).await;
    saga.wait_until_applied(&event_ids[..1]).await;
    saga.send(reserved).await;

    saga.wait_until_applied(&event_ids).await;
    assert_eq!(saga.events_written(order_id).await, 0);
    assert_eq!(saga.payment_status(order_id).await, None);
    assert_eq!(saga.balance(user_id).await, 10_000);
    assert!(saga.entries_of(order_id).await.is_empty());
    saga.finish().await;
}

#[tokio::test]
async fn a_release_after_a_failed_payment_changes_nothing() {
    let saga = Saga::start().await;
    let user_id = saga.customer(100).await;
    let order_id = Uuid::now_v7();
    saga.send(stock_reserved(order_id, user_id, 4_000)).await;
    saga.wait_for_answers(order_id, 1).await;
    let released = stock_released(order_id, user_id, StockReleaseReason::PaymentFailed);
    let event_id = released.metadata.event_id.clone();

    saga.send(released).await;

    saga.wait_until_applied(&[event_id]).await;
    assert_eq!(
        saga.events_written(order_id).await,
        1,
        "only the PaymentFailed"
    );
    assert_eq!(saga.balance(user_id).await, 100);
    saga.finish().await;
}
