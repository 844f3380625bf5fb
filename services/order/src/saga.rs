//! The order service's part of the order saga: the state machine that moves an order to its
//! outcome as the stock and payment facts arrive.
//!
//! [`OrderSaga`] is the inbox [`Handler`] of the consumer group `order-service` on
//! `sagaway.stock.events` and `sagaway.payment.events`. Each handler locks the order row first
//! ([`store::lock_order`]), so two instances applying two events of one order see each
//! other's effect.
//!
//! | state | event | new state | emits |
//! |---|---|---|---|
//! | PENDING | StockReserved | STOCK_RESERVED, lines priced, total set | – |
//! | PENDING, payment remembered | StockReserved | STOCK_RESERVED, then COMPLETED | OrderCompleted |
//! | PENDING | PaymentCompleted | PENDING, the payment remembered (`order_payments`) | – |
//! | STOCK_RESERVED | PaymentCompleted | COMPLETED (the payment kept) | OrderCompleted |
//! | PENDING, STOCK_RESERVED | StockReservationFailed | REJECTED (the shortfalls as reason) | – |
//! | PENDING, STOCK_RESERVED | PaymentFailed | PAYMENT_FAILED (its reason) | – |
//! | PENDING, STOCK_RESERVED | StockReleased (EXPIRED) | CANCELLED | OrderCancelled (RESERVATION_EXPIRED) |
//! | terminal | anything | unchanged | – |
//!
//! StockCommitted, PaymentRefunded and StockReleased for other reasons are always no-ops: they
//! follow from an outcome this service has already reached. Every transition is recorded in
//! the status history with the id of the event that caused it and the event's full record
//! name; an emitted event carries the consumed event's correlation id, its id as causation id
//! and its traceparent.
//!
//! # Any order
//!
//! Stock events and payment events travel on different topics, so a PaymentCompleted can
//! arrive before the StockReserved that caused it. Facts are remembered even when they cannot
//! be acted on yet: the early payment is stored in `order_payments` (the order stays PENDING,
//! its history unchanged), and the StockReserved that follows prices the order and completes
//! it at once, recording both steps (PENDING → STOCK_RESERVED → COMPLETED) under its own id.
//!
//! # Delivery
//!
//! - **Redelivery:** the inbox skips an event id it has applied. The same fact under a new
//!   event id finds the order past the state it acts on (a second StockReserved finds
//!   STOCK_RESERVED or a terminal state; a second PaymentCompleted finds COMPLETED, or a
//!   payment already remembered, which is kept), so no transition and no event repeats.
//! - **Crash:** the order's new state, its history row, the remembered payment, the inbox row
//!   and the emitted event's outbox row commit in one transaction: after a crash either all
//!   are there or the event is delivered again.
//! - **Unknown order:** an event for an order not (yet) visible is
//!   [`HandlerError::Transient`]: the inbox retries it with backoff, then dead-letters it,
//!   from where it can be replayed.
//! - **Poison input:** an order id that is not a UUID, or a malformed product id in a
//!   StockReserved, can never apply: [`HandlerError::Permanent`], dead-lettered at once.
//!   Database errors are transient.

use sagaway_contracts::events::{
    AnyEvent, OrderCancelReason, OrderCancelled, OrderCompleted, PaymentCompleted, PaymentFailed,
    PaymentFailureReason, StockReleaseReason, StockReservationFailed, StockReserved,
    StockShortfallReason,
};
use sagaway_contracts::topics;
use sagaway_platform::config::{ConfigError, Env};
use sagaway_platform::inbox::{
    ConsumerConfig, EventContext, Handler, HandlerError, Participation, parse_id,
};
use sagaway_platform::outbox;
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use crate::SERVICE_NAME;
use crate::domain::OrderStatus;
use crate::store::{self, OrderRow, PaymentRow, Transition};

/// The saga's settings.
#[derive(Debug, Clone)]
pub struct SagaConfig {
    /// `SAGAWAY_ORDER_SAGA` (`true`) and `SAGAWAY_ORDER_CONSUMER_GROUP` (`order-service`): whether
    /// the service consumes the saga's events, and in which group.
    pub participation: Participation,
    /// The topic of the stock events consumed (`sagaway.stock.events`). Not read from the
    /// environment; tests point instances at topics of their own so that concurrent tests do
    /// not answer each other's events.
    pub stock_events_topic: String,
    /// The topic of the payment events consumed (`sagaway.payment.events`); as above.
    pub payment_events_topic: String,
}

impl Default for SagaConfig {
    fn default() -> Self {
        Self {
            participation: Participation::new(SERVICE_NAME),
            stock_events_topic: topics::STOCK_EVENTS.to_owned(),
            payment_events_topic: topics::PAYMENT_EVENTS.to_owned(),
        }
    }
}

impl SagaConfig {
    /// The defaults, with the `SAGAWAY_*` variables above applied.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let defaults = Self::default();
        Ok(Self {
            participation: defaults.participation.from_env(env, "SAGAWAY_ORDER")?,
            ..defaults
        })
    }

    /// The defaults with the saga turned off: an API-only instance.
    pub fn disabled() -> Self {
        let mut config = Self::default();
        config.participation.enabled = false;
        config
    }

    /// The consumer of the events the saga reacts to.
    pub fn consumer(&self) -> ConsumerConfig {
        self.participation.consumer([
            self.stock_events_topic.clone(),
            self.payment_events_topic.clone(),
        ])
    }
}

/// The inbox handler: moves orders through their states (see the module docs).
#[derive(Debug, Clone, Default)]
pub struct OrderSaga;

impl Handler for OrderSaga {
    async fn handle(
        &self,
        tx: &mut Transaction<'_, Postgres>,
        event: &AnyEvent,
        ctx: &EventContext,
    ) -> Result<(), HandlerError> {
        let cause = Cause {
            event_id: &ctx.event_id,
            event_type: event.event_type().full_name(),
        };
        match event {
            AnyEvent::StockReserved(event) => on_stock_reserved(tx, event, &cause, ctx).await,
            AnyEvent::PaymentCompleted(event) => on_payment_completed(tx, event, &cause, ctx).await,
            AnyEvent::StockReservationFailed(event) => {
                let reason = shortfalls_reason(event);
                fail(tx, &event.order_id, OrderStatus::Rejected, &reason, &cause).await
            }
            AnyEvent::PaymentFailed(event) => {
                let reason = payment_failure_reason(event);
                let to = OrderStatus::PaymentFailed;
                fail(tx, &event.order_id, to, &reason, &cause).await
            }
            AnyEvent::StockReleased(event) if event.reason == StockReleaseReason::Expired => {
                on_expired(tx, &event.order_id, &cause, ctx).await
            }
            _ => Ok(()),
        }
    }
}

/// The consumed event, as the status history names it.
#[derive(Debug)]
struct Cause<'a> {
    event_id: &'a str,
    event_type: String,
}

impl Cause<'_> {
    fn transition<'a>(
        &'a self,
        order_id: Uuid,
        from: OrderStatus,
        to: OrderStatus,
        reason: &'a str,
    ) -> Transition<'a> {
        Transition {
            order_id,
            from: Some(from),
            to,
            event_id: self.event_id,
            event_type: &self.event_type,
            reason,
        }
    }
}

/// The order `order_id` names, locked; an order not (yet) there is a transient failure.
async fn lock(
    tx: &mut Transaction<'_, Postgres>,
    order_id: &str,
) -> Result<OrderRow, HandlerError> {
    let id = parse_id("order_id", order_id)?;
    store::lock_order(tx, id)
        .await?
        .ok_or_else(|| HandlerError::transient(format!("order {id} not found (yet)")))
}

/// PENDING: price the order and reserve it; complete it if its payment came first.
async fn on_stock_reserved(
    tx: &mut Transaction<'_, Postgres>,
    event: &StockReserved,
    cause: &Cause<'_>,
    ctx: &EventContext,
) -> Result<(), HandlerError> {
    let order = lock(tx, &event.order_id).await?;
    if order.status() != OrderStatus::Pending {
        tracing::info!(order_id = %order.id, status = order.status().as_db(), "StockReserved ignored");
        return Ok(());
    }
    let mut products = Vec::with_capacity(event.lines.len());
    let mut prices = Vec::with_capacity(event.lines.len());
    for line in &event.lines {
        products.push(parse_id("product_id", &line.product_id)?);
        prices.push(line.unit_price_minor);
    }
    store::price_order(
        tx,
        order.id,
        &products,
        &prices,
        event.total_minor,
        &event.currency,
    )
    .await?;
    store::set_status(tx, order.id, OrderStatus::StockReserved, "").await?;
    let reserved = cause.transition(
        order.id,
        OrderStatus::Pending,
        OrderStatus::StockReserved,
        "",
    );
    store::record_transition(tx, &reserved).await?;
    tracing::info!(order_id = %order.id, total_minor = event.total_minor, "stock reserved");
    if let Some(payment) = store::payment_of(tx, order.id).await? {
        let reason = format!(
            "payment {} received before the reservation",
            payment.payment_id
        );
        complete(
            tx,
            &order,
            event.total_minor,
            &event.currency,
            &reason,
            cause,
            ctx,
        )
        .await?;
    }
    Ok(())
}

/// PENDING: remember the payment; STOCK_RESERVED: complete the order.
async fn on_payment_completed(
    tx: &mut Transaction<'_, Postgres>,
    event: &PaymentCompleted,
    cause: &Cause<'_>,
    ctx: &EventContext,
) -> Result<(), HandlerError> {
    let order = lock(tx, &event.order_id).await?;
    let payment = PaymentRow {
        payment_id: event.payment_id.clone(),
        amount_minor: event.amount_minor,
        currency: event.currency.clone(),
    };
    match order.status() {
        OrderStatus::Pending => {
            store::remember_payment(tx, order.id, &payment).await?;
            tracing::info!(order_id = %order.id, payment_id = %event.payment_id, "payment remembered until the reservation");
        }
        OrderStatus::StockReserved => {
            store::remember_payment(tx, order.id, &payment).await?;
            let total = order.total_minor.unwrap_or(event.amount_minor);
            let currency = order
                .currency
                .clone()
                .unwrap_or_else(|| event.currency.clone());
            if total != event.amount_minor || currency != event.currency {
                tracing::warn!(order_id = %order.id, total, %currency, paid = event.amount_minor, paid_currency = %event.currency, "payment differs from the order's total");
            }
            let reason = format!("payment {}", event.payment_id);
            complete(tx, &order, total, &currency, &reason, cause, ctx).await?;
        }
        status => {
            tracing::info!(order_id = %order.id, status = status.as_db(), "PaymentCompleted ignored");
        }
    }
    Ok(())
}

/// STOCK_RESERVED → COMPLETED, with OrderCompleted in the outbox.
async fn complete(
    tx: &mut Transaction<'_, Postgres>,
    order: &OrderRow,
    total_minor: i64,
    currency: &str,
    reason: &str,
    cause: &Cause<'_>,
    ctx: &EventContext,
) -> Result<(), HandlerError> {
    store::set_status(tx, order.id, OrderStatus::Completed, "").await?;
    let completed = cause.transition(
        order.id,
        OrderStatus::StockReserved,
        OrderStatus::Completed,
        reason,
    );
    store::record_transition(tx, &completed).await?;
    let event = AnyEvent::from(OrderCompleted {
        metadata: ctx.caused_metadata(SERVICE_NAME),
        order_id: order.id.to_string(),
        user_id: order.user_id.to_string(),
        total_minor,
        currency: currency.to_owned(),
    });
    outbox::enqueue(tx, &event, &ctx.caused_headers()).await?;
    tracing::info!(order_id = %order.id, total_minor, currency, "order completed");
    Ok(())
}

/// PENDING or STOCK_RESERVED → `to` (REJECTED, PAYMENT_FAILED) with `reason`.
async fn fail(
    tx: &mut Transaction<'_, Postgres>,
    order_id: &str,
    to: OrderStatus,
    reason: &str,
    cause: &Cause<'_>,
) -> Result<(), HandlerError> {
    let order = lock(tx, order_id).await?;
    let from = order.status();
    if from.is_terminal() {
        tracing::info!(order_id = %order.id, status = from.as_db(), event = %cause.event_type, "ignored in a terminal state");
        return Ok(());
    }
    store::set_status(tx, order.id, to, reason).await?;
    store::record_transition(tx, &cause.transition(order.id, from, to, reason)).await?;
    tracing::info!(order_id = %order.id, to = to.as_db(), reason, "order failed");
    Ok(())
}

/// PENDING or STOCK_RESERVED → CANCELLED, with OrderCancelled(RESERVATION_EXPIRED).
async fn on_expired(
    tx: &mut Transaction<'_, Postgres>,
    order_id: &str,
    cause: &Cause<'_>,
    ctx: &EventContext,
) -> Result<(), HandlerError> {
    let order = lock(tx, order_id).await?;
    let from = order.status();
    if from.is_terminal() {
        tracing::info!(order_id = %order.id, status = from.as_db(), "expiry ignored in a terminal state");
        return Ok(());
    }
    let reason = "reservation expired";
    store::set_status(tx, order.id, OrderStatus::Cancelled, reason).await?;
    let cancelled = cause.transition(order.id, from, OrderStatus::Cancelled, reason);
    store::record_transition(tx, &cancelled).await?;
    let event = AnyEvent::from(OrderCancelled {
        metadata: ctx.caused_metadata(SERVICE_NAME),
        order_id: order.id.to_string(),
        user_id: order.user_id.to_string(),
        reason: OrderCancelReason::ReservationExpired,
        detail: Some(reason.to_owned()),
    });
    outbox::enqueue(tx, &event, &ctx.caused_headers()).await?;
    tracing::info!(order_id = %order.id, "order cancelled: reservation expired");
    Ok(())
}

/// The failure reason of a rejected order: each short line.
fn shortfalls_reason(event: &StockReservationFailed) -> String {
    if event.shortfalls.is_empty() {
        return "stock could not be reserved".to_owned();
    }
    let lines: Vec<String> = event
        .shortfalls
        .iter()
        .map(|s| {
            let why = match s.reason {
                StockShortfallReason::Unknown => "UNKNOWN",
                StockShortfallReason::InsufficientStock => "INSUFFICIENT_STOCK",
                StockShortfallReason::ProductNotFound => "PRODUCT_NOT_FOUND",
                StockShortfallReason::CurrencyMismatch => "CURRENCY_MISMATCH",
            };
            format!(
                "{why}: product {} requested {}, available {}",
                s.product_id, s.requested, s.available
            )
        })
        .collect();
    format!("stock short: {}", lines.join("; "))
}

/// The failure reason of an order whose payment failed.
fn payment_failure_reason(event: &PaymentFailed) -> String {
    let why = match event.reason {
        PaymentFailureReason::Unknown => "UNKNOWN",
        PaymentFailureReason::InsufficientFunds => "INSUFFICIENT_FUNDS",
        PaymentFailureReason::AccountNotFound => "ACCOUNT_NOT_FOUND",
        PaymentFailureReason::CurrencyMismatch => "CURRENCY_MISMATCH",
    };
    format!(
        "payment failed: {why} ({} {})",
        event.amount_minor, event.currency
    )
}

#[cfg(test)]
mod tests {
    use sagaway_contracts::events::{EventMetadata, StockShortfall};

    use super::*;

    #[test]
    fn the_saga_is_on_in_group_order_service_by_default_and_a_bad_flag_names_its_variable() {
        let config = SagaConfig::from_env(&Env::default()).expect("defaults");
        assert!(config.participation.enabled);
        assert_eq!(config.participation.consumer_group, "order-service");
        assert_eq!(
            config.consumer().topics,
            ["sagaway.stock.events", "sagaway.payment.events"]
        );
        assert!(!SagaConfig::disabled().participation.enabled);
        let bad = Env::from_pairs([("SAGAWAY_ORDER_SAGA", "perhaps")]);
        let err = SagaConfig::from_env(&bad).expect_err("refused");
        assert_eq!(err.name, "SAGAWAY_ORDER_SAGA");
    }

    #[test]
    fn a_rejection_names_every_short_line() {
        let event = StockReservationFailed {
            metadata: EventMetadata::new("c", None, "test"),
            order_id: Uuid::now_v7().to_string(),
            user_id: Uuid::now_v7().to_string(),
            shortfalls: vec![StockShortfall {
                product_id: "p".into(),
                requested: 3,
                available: 1,
                reason: StockShortfallReason::InsufficientStock,
            }],
        };
        assert_eq!(
            shortfalls_reason(&event),
            "stock short: INSUFFICIENT_STOCK: product p requested 3, available 1"
        );
    }
}
