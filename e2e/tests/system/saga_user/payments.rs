//! StockReserved: the payment captured from the balance once, or refused with its reason.

use std::time::Duration;

use sagaway_contracts::events::{AnyEvent, EventMetadata, PaymentFailureReason};
use uuid::Uuid;

use super::{Saga, stock_reserved};

/// Asserts the only answer about `order_id` is a PaymentFailed for `reason`.
async fn assert_refused(saga: &Saga, order_id: Uuid, reason: PaymentFailureReason) {
    let answers = saga.wait_for_answers(order_id, 1).await;
    let [AnyEvent::PaymentFailed(failed)] = answers.as_slice() else {
        panic!("expected one PaymentFailed, got {answers:?}");
    };
    assert_eq!(failed.reason, reason);
    assert_eq!(saga.payment_status(order_id).await, None);
    assert!(saga.entries_of(order_id).await.is_empty());
}

#[tokio::test]
async fn a_reserved_order_is_paid_from_the_balance() {
    let saga = Saga::start().await;
    let user_id = saga.customer(10_000).await;
    let order_id = Uuid::now_v7();

    saga.send(stock_reserved(order_id, user_id, 2_500)).await;

    let answers = saga.wait_for_answers(order_id, 1).await;
    let [AnyEvent::PaymentCompleted(completed)] = answers.as_slice() else {
        panic!("expected one PaymentCompleted, got {answers:?}");
    };
    assert_eq!(
        (completed.amount_minor, completed.currency.as_str()),
        (2_500, "EUR")
    );
    assert_eq!(completed.user_id, user_id.to_string());
    assert_eq!(saga.balance(user_id).await, 7_500);
    assert_eq!(saga.entries_of(order_id).await, [("DEBIT".into(), 2_500)]);
    assert_eq!(
        saga.payment_status(order_id).await.as_deref(),
        Some("CAPTURED")
    );
    saga.finish().await;
}

#[tokio::test]
async fn a_balance_short_of_the_total_fails_the_payment_and_keeps_the_money() {
    let saga = Saga::start().await;
    let user_id = saga.customer(1_000).await;
    let order_id = Uuid::now_v7();

    saga.send(stock_reserved(order_id, user_id, 1_001)).await;

    assert_refused(&saga, order_id, PaymentFailureReason::InsufficientFunds).await;
    assert_eq!(saga.balance(user_id).await, 1_000);
    saga.finish().await;
}

#[tokio::test]
async fn a_reservation_for_an_unknown_account_fails_with_account_not_found() {
    let saga = Saga::start().await;
    let order_id = Uuid::now_v7();

    saga.send(stock_reserved(order_id, Uuid::now_v7(), 500))
        .await;

    assert_refused(&saga, order_id, PaymentFailureReason::AccountNotFound).await;
    saga.finish().await;
}

#[tokio::test]
async fn a_reservation_that_expired_before_it_arrived_is_not_paid() {
    let saga = Saga::start().await;
    let user_id = saga.customer(1_000).await;
    let order_id = Uuid::now_v7();
    let mut expired = stock_reserved(order_id, user_id, 500);
    expired.expires_at -= i64::try_from(Duration::from_secs(3600).as_millis()).expect("fits");

    saga.send(expired).await;

    assert_refused(&saga, order_id, PaymentFailureReason::Unknown).await;
    assert_eq!(saga.balance(user_id).await, 1_000);
    saga.finish().await;
}

#[tokio::test]
async fn a_reservation_delivered_many_times_is_paid_once() {
    let saga = Saga::start().await;
    let user_id = saga.customer(10_000).await;
    let order_id = Uuid::now_v7();
    let reserved = stock_reserved(order_id, user_id, 3_000);
    // The same event three times, and twice re-sent under new event ids.
    let mut deliveries = vec![reserved.clone(), reserved.clone(), reserved.clone()];
    for _ in 0..2 {
        let mut resent = reserved.clone();
        resent.metadata = EventMetadata::new(reserved.metadata.correlation_id.clone(), None, "t");
        deliveries.push(resent);
    }
    let event_ids: Vec<String> = deliveries
        .iter()
        .map(|event| event.metadata.event_id.clone())
        .collect();

    for delivery in deliveries {
        saga.send(delivery).await;
    }

    saga.wait_until_applied(&event_ids).await;
    assert_eq!(
        saga.events_written(order_id).await,
        1,
        "one PaymentCompleted"
    );
    let answers = saga.wait_for_answers(order_id, 1).await;
    assert!(
        matches!(answers.as_slice(), [AnyEvent::PaymentCompleted(_)]),
        "{answers:?}"
    );
    assert_eq!(saga.balance(user_id).await, 7_000);
    assert_eq!(saga.entries_of(order_id).await, [("DEBIT".into(), 3_000)]);
    saga.finish().await;
}
