//! The user service's part of the order saga: payments taken from the prepaid balance when
//! stock is reserved, and given back when the reservation expires or the order is cancelled.
//!
//! [`PaymentSaga`] is the inbox [`Handler`] of the consumer group `user-service` on
//! `sagaway.stock.events` and `sagaway.order.events`:
//!
//! | event | effect | emits |
//! |---|---|---|
//! | StockReserved, order cancelled already | nothing | nothing |
//! | StockReserved, the order has a payment | nothing (a re-sent reservation) | nothing |
//! | StockReserved, `expires_at` passed | nothing | PaymentFailed (UNKNOWN) |
//! | StockReserved, no such account / other currency / balance short | nothing | PaymentFailed (ACCOUNT_NOT_FOUND / CURRENCY_MISMATCH / INSUFFICIENT_FUNDS) |
//! | StockReserved, otherwise | balance -= total, payment CAPTURED, ledger DEBIT | PaymentCompleted |
//! | StockReleased (EXPIRED) or OrderCancelled, payment CAPTURED | balance += amount, payment REFUNDED, ledger REFUND | PaymentRefunded (RESERVATION_EXPIRED / ORDER_CANCELLED) |
//! | OrderCancelled, no payment | the cancellation remembered (`cancelled_orders`) | nothing |
//! | StockReleased (PAYMENT_FAILED, ORDER_CANCELLED), anything else | nothing | nothing |
//!
//! A release for a payment failure follows from this service's own PaymentFailed (no money was
//! taken); one for a cancellation comes with an OrderCancelled, which does the refunding.
//! An expired StockReserved is answered with the reason UNKNOWN: the contract has no
//! "reservation expired" payment failure, and the order service treats every PaymentFailed
//! alike.
//!
//! # Ordering
//!
//! StockReserved and StockReleased of one order share a partition of `sagaway.stock.events`,
//! so a release is always seen after its reservation: a payment taken just before the expiry
//! is refunded when the release arrives. OrderCancelled travels on `sagaway.order.events` and
//! may come before or after StockReserved: seen first, it is remembered and stops the payment;
//! seen after, it refunds it. Both handlers first take a transaction-scoped advisory lock on
//! the order id, so two instances applying the two events at once still see each other's
//! effect (and then lock the account row, always in that order, so they cannot deadlock).
//!
//! # Delivery
//!
//! - **Redelivery:** the inbox skips an event id it has applied. A StockReserved re-sent with a
//!   new event id finds the order's payment and does nothing (the unique order id on
//!   `payments` is the last line of defence); a second refund finds the payment REFUNDED. So
//!   no money moves twice. A refused payment leaves no row, so a re-sent refused StockReserved
//!   is judged again (and answered again, with a PaymentFailed the other services ignore).
//! - **Crash:** the balance, the ledger entry, the payment, the inbox row and the answering
//!   event's outbox row commit in one transaction: after a crash either all are there or the
//!   event is delivered again.
//! - **Poison input:** an event that can never apply (a malformed order or user id, a total
//!   below one minor unit) is [`HandlerError::Permanent`] and goes to the dead-letter topic at
//!   once. Database errors are transient: the inbox retries them with backoff, then
//!   dead-letters.

pub mod capture;
pub mod refund;
pub mod sql;

use sagaway_contracts::events::{AnyEvent, RefundReason, StockReleaseReason};
use sagaway_contracts::topics;
use sagaway_platform::config::{ConfigError, Env};
use sagaway_platform::inbox::{ConsumerConfig, EventContext, Handler, HandlerError, Participation};
use sqlx::{Postgres, Transaction};

/// The saga's settings.
#[derive(Debug, Clone)]
pub struct SagaConfig {
    /// `SAGAWAY_USER_SAGA` (`true`) and `SAGAWAY_USER_CONSUMER_GROUP` (`user-service`): whether
    /// the service consumes the saga's events, and in which group.
    pub participation: Participation,
    /// The topic of the stock events consumed (`sagaway.stock.events`). Not read from the
    /// environment; tests point instances at topics of their own so that concurrent tests do
    /// not answer each other's events.
    pub stock_events_topic: String,
    /// The topic of the order events consumed (`sagaway.order.events`); as above.
    pub order_events_topic: String,
}

impl Default for SagaConfig {
    fn default() -> Self {
        Self {
            participation: Participation::new(crate::SERVICE_NAME),
            stock_events_topic: topics::STOCK_EVENTS.to_owned(),
            order_events_topic: topics::ORDER_EVENTS.to_owned(),
        }
    }
}

impl SagaConfig {
    /// The defaults, with the `SAGAWAY_*` variables above applied.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let defaults = Self::default();
        Ok(Self {
            participation: defaults.participation.from_env(env, "SAGAWAY_USER")?,
            ..defaults
        })
    }

    /// The defaults with the saga turned off: an accounts-only instance.
    pub fn disabled() -> Self {
        let mut config = Self::default();
        config.participation.enabled = false;
        config
    }

    /// The consumer of the events the saga answers.
    pub fn consumer(&self) -> ConsumerConfig {
        self.participation.consumer([
            self.stock_events_topic.clone(),
            self.order_events_topic.clone(),
        ])
    }
}

/// The inbox handler: applies each stock or order event to payments (see the module docs).
#[derive(Debug, Clone, Default)]
pub struct PaymentSaga;

impl Handler for PaymentSaga {
    async fn handle(
        &self,
        tx: &mut Transaction<'_, Postgres>,
        event: &AnyEvent,
        ctx: &EventContext,
    ) -> Result<(), HandlerError> {
        match event {
            AnyEvent::StockReserved(event) => capture::on_stock_reserved(tx, event, ctx).await,
            AnyEvent::StockReleased(event) if event.reason == StockReleaseReason::Expired => {
                let reason = RefundReason::ReservationExpired;
                refund::on_compensation(tx, &event.order_id, reason, ctx).await
            }
            AnyEvent::OrderCancelled(event) => {
                let reason = RefundReason::OrderCancelled;
                refund::on_compensation(tx, &event.order_id, reason, ctx).await
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_saga_is_on_in_group_user_service_by_default_and_a_bad_flag_names_its_variable() {
        let config = SagaConfig::from_env(&Env::default()).expect("defaults");
        assert!(config.participation.enabled);
        assert_eq!(config.participation.consumer_group, "user-service");
        assert_eq!(
            config.consumer().topics,
            ["sagaway.stock.events", "sagaway.order.events"]
        );
        assert!(!SagaConfig::disabled().participation.enabled);
        let bad = Env::from_pairs([("SAGAWAY_USER_SAGA", "perhaps")]);
        let err = SagaConfig::from_env(&bad).expect_err("refused");
        assert_eq!(err.name, "SAGAWAY_USER_SAGA");
    }
}
