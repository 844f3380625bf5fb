//! The product service's part of the order saga: stock reserved, released and committed in
//! answer to order and payment events, and reservations released when they expire.
//!
//! [`StockSaga`] is the inbox [`Handler`] of the consumer group `product-service` on
//! `sagaway.order.events` and `sagaway.payment.events`:
//!
//! | event | effect | emits |
//! |---|---|---|
//! | OrderCreated | every line reserved (available → reserved) with an expiry, or nothing | StockReserved (priced lines, total, expiry) or StockReservationFailed (one shortfall per failing line) |
//! | PaymentFailed, OrderCancelled | a held reservation released (reserved → available) | StockReleased (PAYMENT_FAILED, ORDER_CANCELLED) |
//! | OrderCompleted | a held reservation sold (reserved → sold); an expired one sold from available if it still can be | StockCommitted |
//! | anything else | nothing | nothing |
//!
//! and [`expiry::run`] releases reservations whose `expires_at` plus a grace period has passed
//! (StockReleased, EXPIRED). Stock rows are always locked in product-id order, so concurrent
//! orders cannot deadlock or oversell; the table checks `received = available + reserved +
//! sold` and that none is negative (invariant 2).
//!
//! # Delivery
//!
//! - **Redelivery:** the inbox skips an event id it has applied. An OrderCreated re-sent with a
//!   new event id finds the order's reservation and does nothing; a release or commit finds the
//!   reservation no longer RESERVED and does nothing. So nothing is applied twice.
//! - **Crash:** the effect, the inbox row and the answering event's outbox row commit in one
//!   transaction: after a crash either all are there or the event is delivered again.
//! - **Poison input:** an event that can never apply (a malformed order, user or product id, a
//!   quantity below one, an order whose total overflows) is [`HandlerError::Permanent`] and
//!   goes to the dead-letter topic at once. Database errors are transient: the inbox retries
//!   them with backoff, then dead-letters.
//! - **Unknown or early events:** none can be early here. OrderCreated precedes every other
//!   event of its order on the same partition of `sagaway.order.events`, and PaymentFailed is
//!   caused by StockReserved, which is written in the transaction that created the reservation.
//!   So an event about an order without a reservation is about one whose reservation failed
//!   (or one this service never reserved): it is acknowledged and changes nothing, rather than
//!   retried.
//! - **OrderCompleted after expiry:** a payment made just before `expires_at` can lose the race
//!   with the sweeper. The grace period (`SAGAWAY_RESERVATION_GRACE_SECS`) gives the order
//!   service time to complete the order first; if it still loses, the stock is taken again from
//!   available units, and if those are gone the failure is logged at error level and counted in
//!   `sagaway_stock_commit_after_expiry_failed_total` (the known, improbable race).

pub mod commit;
pub mod expiry;
pub mod release;
pub mod reserve;
pub mod sql;

use std::time::Duration;

use sagaway_contracts::events::{AnyEvent, StockReleaseReason};
use sagaway_contracts::topics;
use sagaway_platform::config::{ConfigError, Env};
use sagaway_platform::inbox::{ConsumerConfig, EventContext, Handler, HandlerError, Participation};
use sagaway_platform::money::Currency;
use sqlx::{Postgres, Transaction};

/// The saga's settings.
#[derive(Debug, Clone)]
pub struct SagaConfig {
    /// `SAGAWAY_PRODUCT_SAGA` (`true`) and `SAGAWAY_PRODUCT_CONSUMER_GROUP` (`product-service`): whether
    /// the service consumes the saga's events, and in which group.
    pub participation: Participation,
    /// `SAGAWAY_RESERVATION_TTL_SECS` (`1800`): how long a reservation waits for payment.
    pub reservation_ttl: Duration,
    /// `SAGAWAY_RESERVATION_GRACE_SECS` (`10`): how long past its expiry a reservation is kept
    /// before the sweeper releases it, so a payment made just in time can complete the order.
    pub reservation_grace: Duration,
    /// `SAGAWAY_RESERVATION_SWEEP_MS` (`1000`): how often the sweeper looks for overdue
    /// reservations.
    pub sweep_interval: Duration,
    /// Reservations released per sweeper transaction (`100`).
    pub sweep_batch: u32,
    /// The topic of the order events consumed (`sagaway.order.events`). Not read from the
    /// environment; tests point instances at topics of their own so that concurrent tests do
    /// not answer each other's events.
    pub order_events_topic: String,
    /// The topic of the payment events consumed (`sagaway.payment.events`); as above.
    pub payment_events_topic: String,
}

impl Default for SagaConfig {
    fn default() -> Self {
        Self {
            participation: Participation::new(crate::SERVICE_NAME),
            reservation_ttl: Duration::from_secs(1800),
            reservation_grace: Duration::from_secs(10),
            sweep_interval: Duration::from_millis(1000),
            sweep_batch: 100,
            order_events_topic: topics::ORDER_EVENTS.to_owned(),
            payment_events_topic: topics::PAYMENT_EVENTS.to_owned(),
        }
    }
}

impl SagaConfig {
    /// The defaults, with the `SAGAWAY_*` variables above applied.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let defaults = Self::default();
        Ok(Self {
            participation: defaults.participation.from_env(env, "SAGAWAY_PRODUCT")?,
            reservation_ttl: Duration::from_secs(env.parse("SAGAWAY_RESERVATION_TTL_SECS", 1800)?),
            reservation_grace: Duration::from_secs(
                env.parse("SAGAWAY_RESERVATION_GRACE_SECS", 10)?,
            ),
            sweep_interval: Duration::from_millis(env.parse("SAGAWAY_RESERVATION_SWEEP_MS", 1000)?),
            ..defaults
        })
    }

    /// The defaults with the saga turned off: a catalogue-only instance.
    pub fn disabled() -> Self {
        let mut config = Self::default();
        config.participation.enabled = false;
        config
    }

    /// The consumer of the events the saga answers.
    pub fn consumer(&self) -> ConsumerConfig {
        self.participation.consumer([
            self.order_events_topic.clone(),
            self.payment_events_topic.clone(),
        ])
    }
}

/// The inbox handler: applies each order or payment event to stock (see the module docs).
#[derive(Debug, Clone)]
pub struct StockSaga {
    config: SagaConfig,
    currency: Currency,
}

impl StockSaga {
    /// A handler pricing orders in `currency`.
    pub fn new(config: SagaConfig, currency: Currency) -> Self {
        Self { config, currency }
    }
}

impl Handler for StockSaga {
    async fn handle(
        &self,
        tx: &mut Transaction<'_, Postgres>,
        event: &AnyEvent,
        ctx: &EventContext,
    ) -> Result<(), HandlerError> {
        match event {
            AnyEvent::OrderCreated(event) => reserve::on_order_created(self, tx, event, ctx).await,
            AnyEvent::PaymentFailed(event) => {
                let reason = StockReleaseReason::PaymentFailed;
                release::on_compensation(tx, &event.order_id, reason, ctx).await
            }
            AnyEvent::OrderCancelled(event) => {
                let reason = StockReleaseReason::OrderCancelled;
                release::on_compensation(tx, &event.order_id, reason, ctx).await
            }
            AnyEvent::OrderCompleted(event) => commit::on_order_completed(tx, event, ctx).await,
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_last_half_an_hour_by_default_and_a_bad_ttl_names_its_variable() {
        let config = SagaConfig::from_env(&Env::default()).expect("defaults");
        assert_eq!(config.reservation_ttl, Duration::from_secs(1800));
        assert_eq!(config.reservation_grace, Duration::from_secs(10));
        assert_eq!(config.participation.consumer_group, "product-service");
        assert!(config.participation.enabled);
        let bad = Env::from_pairs([("SAGAWAY_RESERVATION_TTL_SECS", "soon")]);
        let err = SagaConfig::from_env(&bad).expect_err("refused");
        assert_eq!(err.name, "SAGAWAY_RESERVATION_TTL_SECS");
    }
}
