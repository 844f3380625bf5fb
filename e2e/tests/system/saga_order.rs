//! The order service's side of the order saga, driven through Kafka: each test creates a real
//! order through the order service (with a product service behind it for the existence check,
//! its own saga off), then produces stock and payment events about it (encoded through a
//! registry of its own, keyed by order id) to topics of its own, and checks the order's state,
//! its status history, and the order events published on `sagaway.order.events` since the
//! test began.
//!
//! Each test runs its own order service on a fresh database, consuming its own topics (the
//! service's `SagaConfig` names them), so concurrently running tests do not see each other's
//! events.

use std::ops::Deref;
use std::time::Duration;

use sagaway_contracts::events::{
    AnyEvent, CommittedLine, OrderCancelReason, PaymentCompleted, PaymentFailed,
    PaymentFailureReason, PaymentRefunded, RefundReason, ReservedLine, StockCommitted,
    StockReleaseReason, StockReleased, StockReservationFailed, StockReserved, StockShortfall,
    StockShortfallReason,
};
use sagaway_contracts::pb::common::Money;
use sagaway_contracts::pb::order::{self as pb, order_service_client::OrderServiceClient};
use sagaway_contracts::pb::product::{
    self as product_pb, product_service_client::ProductServiceClient,
};
use sagaway_contracts::topics;
use sagaway_order::saga::SagaConfig;
use sagaway_platform::inbox::{Participation, dlq_headers};
use uuid::Uuid;

use crate::helpers::{
    Running, TopicMarks, admin, as_caller, customer, fresh_database, grpc_channel,
    read_topic_since, spawn_order_service_with, spawn_product_service, unique,
};
use crate::participant::{Participant, WITHIN, metadata};

/// The unit price the tests' StockReserved carries.
const UNIT_PRICE: i64 = 1250;

/// An order service taking part in the saga, the product service it asks, and what the tests
/// drive it with (it dereferences to its [`Participant`]: `send`, `wait_for_answers`, ...).
struct Saga {
    participant: Participant,
    order: Running,
    product: Running,
    saga: SagaConfig,
    orders: OrderServiceClient<tonic::transport::Channel>,
    products: ProductServiceClient<tonic::transport::Channel>,
}

impl Deref for Saga {
    type Target = Participant;

    fn deref(&self) -> &Participant {
        &self.participant
    }
}

/// A real PENDING order: its id, its customer, its one product and quantity.
#[derive(Debug, Clone, Copy)]
struct Placed {
    id: Uuid,
    user_id: Uuid,
    product_id: Uuid,
    quantity: i64,
}

impl Saga {
    /// An order service consuming stock and payment topics of its own and answering on the
    /// order topic (its own OrderCreated, published when a test places an order, is not an
    /// answer), with a product service of its own behind it.
    async fn start() -> Self {
        let participant = Participant::prepare(
            topics::ORDER_EVENTS,
            &[topics::STOCK_EVENTS, topics::PAYMENT_EVENTS],
        )
        .await
        .counting(|event| !matches!(event, AnyEvent::OrderCreated(_)));
        let saga = SagaConfig {
            participation: Participation::new(unique("e2e-order-saga")),
            stock_events_topic: participant.input(topics::STOCK_EVENTS),
            payment_events_topic: participant.input(topics::PAYMENT_EVENTS),
        };
        let product = spawn_product_service(&fresh_database().await, false).await;
        let order = spawn_order_service_with(
            &participant.database_url,
            &product.grpc_url(),
            saga.clone(),
            &participant.registry.admin_url(),
        )
        .await;
        Self {
            orders: OrderServiceClient::new(grpc_channel(order.grpc_url()).await),
            products: ProductServiceClient::new(grpc_channel(product.grpc_url()).await),
            participant,
            order,
            product,
            saga,
        }
    }

    /// Creates a product and an order for two of it through the real services.
    async fn place_order(&self) -> Placed {
        let product = product_pb::Product {
            sku: unique("SKU"),
            name: "Saga product".into(),
            price: Some(Money {
                amount_minor: UNIT_PRICE,
                currency_code: "EUR".into(),
            }),
            stock: Some(product_pb::Stock {
                available: 10,
                reserved: 0,
            }),
            ..Default::default()
        };
        let request = product_pb::CreateProductRequest {
            product: Some(product),
        };
        let mut products = self.products.clone();
        let product_id = products
            .create_product(as_caller(&admin(), request))
            .await
            .expect("product created")
            .into_inner()
            .product_id;
        let who = customer();
        let request = pb::CreateOrderRequest {
            items: vec![pb::OrderItem {
                product_id: product_id.clone(),
                quantity: 2,
            }],
        };
        let mut orders = self.orders.clone();
        let order = orders
            .create_order(as_caller(&who, request))
            .await
            .expect("order created")
            .into_inner();
        Placed {
            id: order.order_id.parse().expect("order id"),
            user_id: who.user_id,
            product_id: product_id.parse().expect("product id"),
            quantity: 2,
        }
    }

    /// The order's status and failure reason.
    async fn status(&self, order_id: Uuid) -> (String, String) {
        sqlx::query_as("SELECT status, failure_reason FROM orders WHERE id = $1")
            .bind(order_id)
            .fetch_one(&self.db)
            .await
            .expect("order")
    }

    /// The order's total and currency, and its lines' unit prices.
    async fn pricing(&self, order_id: Uuid) -> (Option<i64>, Option<String>, Vec<Option<i64>>) {
        let (total, currency): (Option<i64>, Option<String>) =
            sqlx::query_as("SELECT total_minor, currency FROM orders WHERE id = $1")
                .bind(order_id)
                .fetch_one(&self.db)
                .await
                .expect("order");
        let prices = sqlx::query_scalar(
            "SELECT unit_price_minor FROM order_lines WHERE order_id = $1 ORDER BY line_no",
        )
        .bind(order_id)
        .fetch_all(&self.db)
        .await
        .expect("lines");
        (total, currency, prices)
    }

    /// The order's history, oldest first, as `(from, to, event id, event type)`.
    async fn history(&self, order_id: Uuid) -> Vec<(Option<String>, String, String, String)> {
        sqlx::query_as(
            "SELECT from_status, to_status, event_id, event_type FROM order_status_history
             WHERE order_id = $1 ORDER BY id",
        )
        .bind(order_id)
        .fetch_all(&self.db)
        .await
        .expect("history")
    }

    /// The statuses the order went through, oldest first.
    async fn path(&self, order_id: Uuid) -> Vec<String> {
        self.history(order_id)
            .await
            .into_iter()
            .map(|(_, to, _, _)| to)
            .collect()
    }

    async fn finish(self) {
        self.order.stop().await.expect("order service stops");
        self.product.stop().await.expect("product service stops");
        self.participant.finish().await;
    }
}

fn stock_reserved(order: &Placed) -> StockReserved {
    StockReserved {
        metadata: metadata(),
        order_id: order.id.to_string(),
        user_id: order.user_id.to_string(),
        reservation_id: Uuid::now_v7().to_string(),
        lines: vec![ReservedLine {
            product_id: order.product_id.to_string(),
            quantity: order.quantity,
            unit_price_minor: UNIT_PRICE,
        }],
        total_minor: UNIT_PRICE * order.quantity,
        currency: "EUR".into(),
        expires_at: 4_102_444_800_000,
    }
}

fn payment_completed(order: &Placed) -> PaymentCompleted {
    PaymentCompleted {
        metadata: metadata(),
        order_id: order.id.to_string(),
        user_id: order.user_id.to_string(),
        payment_id: Uuid::now_v7().to_string(),
        amount_minor: UNIT_PRICE * order.quantity,
        currency: "EUR".into(),
    }
}

fn payment_failed(order: &Placed) -> PaymentFailed {
    PaymentFailed {
        metadata: metadata(),
        order_id: order.id.to_string(),
        user_id: order.user_id.to_string(),
        amount_minor: UNIT_PRICE * order.quantity,
        currency: "EUR".into(),
        reason: PaymentFailureReason::InsufficientFunds,
    }
}

fn reservation_failed(order: &Placed) -> StockReservationFailed {
    StockReservationFailed {
        metadata: metadata(),
        order_id: order.id.to_string(),
        user_id: order.user_id.to_string(),
        shortfalls: vec![StockShortfall {
            product_id: order.product_id.to_string(),
            requested: order.quantity,
            available: 1,
            reason: StockShortfallReason::InsufficientStock,
        }],
    }
}

fn stock_released(order: &Placed, reason: StockReleaseReason) -> StockReleased {
    StockReleased {
        metadata: metadata(),
        order_id: order.id.to_string(),
        user_id: order.user_id.to_string(),
        reservation_id: Uuid::now_v7().to_string(),
        reason,
        lines: Vec::new(),
    }
}

fn stock_committed(order: &Placed) -> StockCommitted {
    StockCommitted {
        metadata: metadata(),
        order_id: order.id.to_string(),
        reservation_id: Uuid::now_v7().to_string(),
        lines: vec![CommittedLine {
            product_id: order.product_id.to_string(),
            quantity: order.quantity,
        }],
    }
}

fn payment_refunded(order: &Placed) -> PaymentRefunded {
    PaymentRefunded {
        metadata: metadata(),
        order_id: order.id.to_string(),
        user_id: order.user_id.to_string(),
        payment_id: Uuid::now_v7().to_string(),
        amount_minor: UNIT_PRICE * order.quantity,
        currency: "EUR".into(),
        reason: RefundReason::ReservationExpired,
    }
}

fn full_name(record: &str) -> String {
    format!("sagaway.events.{record}")
}

#[tokio::test]
async fn a_reserved_then_paid_order_completes_and_publishes_order_completed() {
    let saga = Saga::start().await;
    let order = saga.place_order().await;
    let reserved = saga.send(stock_reserved(&order)).await;
    saga.wait_until_applied(std::slice::from_ref(&reserved))
        .await;
    assert_eq!(saga.status(order.id).await.0, "STOCK_RESERVED");
    assert_eq!(
        saga.pricing(order.id).await,
        (
            Some(2 * UNIT_PRICE),
            Some("EUR".into()),
            vec![Some(UNIT_PRICE)]
        )
    );
    let paid = saga.send(payment_completed(&order)).await;
    let published = saga.wait_for_answers(order.id, 1).await;
    let [AnyEvent::OrderCompleted(completed)] = published.as_slice() else {
        panic!("expected one OrderCompleted, got {published:?}");
    };
    assert_eq!(completed.total_minor, 2 * UNIT_PRICE);
    assert_eq!(completed.currency, "EUR");
    assert_eq!(completed.user_id, order.user_id.to_string());
    assert_eq!(
        completed.metadata.causation_id.as_deref(),
        Some(paid.as_str())
    );
    assert_eq!(
        saga.status(order.id).await,
        ("COMPLETED".into(), String::new())
    );
    let history = saga.history(order.id).await;
    let steps: Vec<_> = history
        .iter()
        .skip(1)
        .map(|(from, to, id, kind)| (from.clone(), to.clone(), id.clone(), kind.clone()))
        .collect();
    assert_eq!(history[0].1, "PENDING");
    assert_eq!(
        steps,
        vec![
            (
                Some("PENDING".into()),
                "STOCK_RESERVED".into(),
                reserved,
                full_name("StockReserved")
            ),
            (
                Some("STOCK_RESERVED".into()),
                "COMPLETED".into(),
                paid,
                full_name("PaymentCompleted")
            ),
        ]
    );
    saga.finish().await;
}

#[tokio::test]
async fn a_payment_seen_before_its_reservation_completes_the_order_exactly_once() {
    let saga = Saga::start().await;
    let order = saga.place_order().await;
    let paid = saga.send(payment_completed(&order)).await;
    saga.wait_until_applied(std::slice::from_ref(&paid)).await;
    assert_eq!(saga.status(order.id).await.0, "PENDING");
    assert_eq!(saga.path(order.id).await, ["PENDING"]);
    let reserved = saga.send(stock_reserved(&order)).await;
    saga.wait_until_applied(&[paid, reserved.clone()]).await;
    let published = saga.wait_for_answers(order.id, 1).await;
    let [AnyEvent::OrderCompleted(completed)] = published.as_slice() else {
        panic!("expected one OrderCompleted, got {published:?}");
    };
    assert_eq!(completed.total_minor, 2 * UNIT_PRICE);
    assert_eq!(
        completed.metadata.causation_id.as_deref(),
        Some(reserved.as_str())
    );
    assert_eq!(
        saga.path(order.id).await,
        ["PENDING", "STOCK_RESERVED", "COMPLETED"]
    );
    // The payment again under a new id, and the reservation again: nothing more.
    let again = [
        saga.send(payment_completed(&order)).await,
        saga.send(stock_reserved(&order)).await,
    ];
    saga.wait_until_applied(&again).await;
    assert_eq!(saga.events_written(order.id).await, 2);
    assert_eq!(saga.path(order.id).await.len(), 3);
    saga.finish().await;
}

#[tokio::test]
async fn an_order_whose_stock_is_short_is_rejected_with_the_shortfall_as_its_reason() {
    let saga = Saga::start().await;
    let order = saga.place_order().await;
    let failed = saga.send(reservation_failed(&order)).await;
    saga.wait_until_applied(std::slice::from_ref(&failed)).await;
    let (status, reason) = saga.status(order.id).await;
    assert_eq!(status, "REJECTED");
    assert!(reason.contains("INSUFFICIENT_STOCK"), "{reason}");
    assert!(reason.contains(&order.product_id.to_string()), "{reason}");
    let history = saga.history(order.id).await;
    let last = history.last().expect("history");
    assert_eq!(
        (last.1.as_str(), last.2.as_str(), last.3.clone()),
        (
            "REJECTED",
            failed.as_str(),
            full_name("StockReservationFailed")
        )
    );
    assert_eq!(saga.events_written(order.id).await, 1);
    saga.finish().await;
}

#[tokio::test]
async fn an_order_whose_customer_cannot_pay_ends_payment_failed() {
    let saga = Saga::start().await;
    let order = saga.place_order().await;
    // The two events travel on different topics, so only waiting orders them as the saga does.
    let reserved = saga.send(stock_reserved(&order)).await;
    saga.wait_until_applied(std::slice::from_ref(&reserved))
        .await;
    let failed = saga.send(payment_failed(&order)).await;
    saga.wait_until_applied(&[failed]).await;
    let (status, reason) = saga.status(order.id).await;
    assert_eq!(status, "PAYMENT_FAILED");
    assert!(reason.contains("INSUFFICIENT_FUNDS"), "{reason}");
    assert_eq!(
        saga.path(order.id).await,
        ["PENDING", "STOCK_RESERVED", "PAYMENT_FAILED"]
    );
    assert_eq!(saga.events_written(order.id).await, 1);
    saga.finish().await;
}

#[tokio::test]
async fn an_expired_reservation_cancels_the_order_and_publishes_order_cancelled() {
    let saga = Saga::start().await;
    let order = saga.place_order().await;
    let reserved = saga.send(stock_reserved(&order)).await;
    let expired = saga
        .send(stock_released(&order, StockReleaseReason::Expired))
        .await;
    saga.wait_until_applied(&[reserved, expired.clone()]).await;
    let published = saga.wait_for_answers(order.id, 1).await;
    let [AnyEvent::OrderCancelled(cancelled)] = published.as_slice() else {
        panic!("expected one OrderCancelled, got {published:?}");
    };
    assert_eq!(cancelled.reason, OrderCancelReason::ReservationExpired);
    assert_eq!(
        cancelled.metadata.causation_id.as_deref(),
        Some(expired.as_str())
    );
    assert_eq!(saga.status(order.id).await.0, "CANCELLED");
    assert_eq!(
        saga.path(order.id).await,
        ["PENDING", "STOCK_RESERVED", "CANCELLED"]
    );
    saga.finish().await;
}

#[tokio::test]
async fn the_same_event_delivered_many_times_moves_the_order_once() {
    let saga = Saga::start().await;
    let order = saga.place_order().await;
    let reserved = AnyEvent::from(stock_reserved(&order));
    let paid = AnyEvent::from(payment_completed(&order));
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(saga.send(reserved.clone()).await);
    }
    for _ in 0..5 {
        ids.push(saga.send(paid.clone()).await);
    }
    saga.wait_until_applied(&ids).await;
    saga.wait_for_answers(order.id, 1).await;
    assert_eq!(
        saga.path(order.id).await,
        ["PENDING", "STOCK_RESERVED", "COMPLETED"]
    );
    assert_eq!(saga.events_written(order.id).await, 2);
    saga.finish().await;
}

#[tokio::test]
async fn events_after_a_terminal_state_change_nothing() {
    let saga = Saga::start().await;
    let order = saga.place_order().await;
    let failed = saga.send(reservation_failed(&order)).await;
    saga.wait_until_applied(std::slice::from_ref(&failed)).await;
    let before = (saga.status(order.id).await, saga.history(order.id).await);
    let later = [
        saga.send(stock_reserved(&order)).await,
        saga.send(payment_completed(&order)).await,
        saga.send(payment_failed(&order)).await,
        saga.send(stock_released(&order, StockReleaseReason::Expired))
            .await,
        saga.send(stock_committed(&order)).await,
        saga.send(payment_refunded(&order)).await,
        saga.send(reservation_failed(&order)).await,
    ];
    saga.wait_until_applied(&later).await;
    assert_eq!(
        (
            saga.status(order.id).await,
            saga.history(order.id).await.len()
        ),
        (before.0, before.1.len())
    );
    assert_eq!(saga.status(order.id).await.0, "REJECTED");
    assert_eq!(saga.events_written(order.id).await, 1);
    assert_eq!(saga.pricing(order.id).await.0, None);
    saga.finish().await;
}

#[tokio::test]
async fn an_event_about_an_unknown_order_is_retried_then_dead_lettered() {
    let saga = Saga::start().await;
    let dlq = format!("{}{}", saga.saga.stock_events_topic, topics::DLQ_SUFFIX);
    let stranger = Placed {
        id: Uuid::new_v4(),
        user_id: Uuid::new_v4(),
        product_id: Uuid::new_v4(),
        quantity: 1,
    };
    let early = saga.send(stock_reserved(&stranger)).await;
    // The partition is not blocked for good: a real order's event behind it still applies.
    let order = saga.place_order().await;
    let reserved = saga.send(stock_reserved(&order)).await;
    saga.wait_until_applied(std::slice::from_ref(&reserved))
        .await;
    assert_eq!(saga.status(order.id).await.0, "STOCK_RESERVED");

    let deadline = std::time::Instant::now() + WITHIN;
    let dead = loop {
        let dead = read_topic_since(&saga.kafka, &dlq, &TopicMarks::default()).await;
        if !dead.is_empty() || std::time::Instant::now() > deadline {
            break dead;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let [message] = dead.as_slice() else {
        panic!("expected one dead letter, got {dead:?}");
    };
    assert_eq!(
        message.key.as_deref(),
        Some(stranger.id.to_string().as_str())
    );
    // Retried with backoff up to the consumer's bound (5 attempts by default) before giving up.
    assert_eq!(message.header(dlq_headers::ATTEMPTS), Some("5"));
    assert_eq!(
        message.header(dlq_headers::CONSUMER_GROUP),
        Some(saga.saga.participation.consumer_group.as_str())
    );
    assert_eq!(
        message.header(dlq_headers::ORIGIN_TOPIC),
        Some(saga.saga.stock_events_topic.as_str())
    );
    let error = message.header(dlq_headers::ERROR).unwrap_or_default();
    assert!(
        error.contains(&stranger.id.to_string()),
        "dlq-error: {error}"
    );
    let event = saga.codec.decode(&message.payload).await.expect("decodes");
    assert_eq!(event.metadata().event_id, early);
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM inbox WHERE event_id = $1")
        .bind(&early)
        .fetch_one(&saga.db)
        .await
        .expect("inbox");
    assert_eq!(
        applied, 0,
        "a dead-lettered event is not recorded as applied"
    );
    let orders: i64 = sqlx::query_scalar("SELECT count(*) FROM orders WHERE id = $1")
        .bind(stranger.id)
        .fetch_one(&saga.db)
        .await
        .expect("orders");
    assert_eq!(orders, 0);
    saga.finish().await;
}
