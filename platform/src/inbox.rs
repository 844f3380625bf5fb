//! The idempotent consumer: saga events from Kafka applied exactly once to the service's
//! database, however often the broker delivers them.
//!
//! # Processing
//!
//! A [`Consumer`] reads its topics in a consumer group, one message at a time. For each it
//! decodes the Avro event through the schema registry (the schema id is in the message),
//! begins a database transaction, records `(consumer group, event id)` in the `inbox` table,
//! runs the service's [`Handler`] in that same transaction, and commits. Only then is the
//! message's offset stored (and committed to the broker in the background, and at shutdown).
//! Events the handler causes are written with [`crate::outbox::enqueue`] in the same
//! transaction, carrying the consumed event's correlation id and traceparent and its id as
//! their causation id ([`EventContext::caused_metadata`], [`EventContext::caused_headers`]).
//!
//! # What happens when
//!
//! - **Redelivery** (a crash before the offset was committed, a rebalance, a producer's
//!   duplicate): the event id is already in the inbox, so the effect is skipped and the
//!   offset stored; `sagaway_inbox_duplicates_total` counts it. A redelivery racing the first
//!   delivery on another instance waits on the inbox row and is then skipped the same way.
//! - **Crash or rebalance mid-message:** the transaction never committed, so neither the
//!   effect nor the inbox row exists and no offset was stored; the partition's next owner
//!   receives the message again and applies it once. A partition revoked while its message
//!   was being applied keeps the committed effect; the new owner sees a duplicate.
//! - **Transient failure** (the handler says [`HandlerError::Transient`], the database or the
//!   registry is unreachable): the transaction rolls back and the message is tried again
//!   after a backoff that doubles from `backoff_base` up to `backoff_max`, up to
//!   `max_attempts` attempts in all (about 3 s with the defaults). The budget is per message,
//!   so during a database or registry outage longer than it, each message the consumer takes
//!   up is dead-lettered after its budget (one every few seconds, since it applies one at a
//!   time) and has to be replayed from the DLQ; raise `max_attempts` or `backoff_max` to ride
//!   out longer outages.
//! - **Poison input** (bytes that are not Confluent-framed Avro, a schema id the registry does
//!   not know, a schema that is not a saga event, [`HandlerError::Permanent`]), and a transient
//!   failure that outlived its attempts: the original message (key, payload, headers) goes to
//!   `<topic>.dlq` with [`dlq_headers`] naming the error, the origin and the attempts, and the
//!   offset is stored once the broker has acknowledged it. The partition moves on; nothing is
//!   recorded in the inbox, so a message replayed from the dead-letter topic is applied.
//!   Should the process stop between the dead-letter acknowledgment and the offset commit,
//!   the message is dead-lettered again (the DLQ is at-least-once too).
//! - **Broker outage:** librdkafka reconnects by itself and reports the trouble through the
//!   consumer queue (one report per broker thread and attempt); each report is logged and
//!   costs a fixed 50 ms pause, never a growing backoff, so the reports queued during an
//!   outage do not hold the consumer after the broker is back. Nothing is consumed, so
//!   nothing is lost or skipped.
//! - **Shutdown:** the message in progress finishes its current attempt; a retry or a
//!   dead-letter send still waiting is abandoned without storing its offset, so it is
//!   delivered again. Stored offsets are committed before the consumer leaves its group.
//!
//! Order: one consumer instance applies its messages one at a time, so the events of one key
//! (one order, one partition) are applied in the order they were produced, apart from
//! dead-lettered ones. Throughput scales with partitions and instances of the group.
//!
//! The consumer creates its topics and their `.dlq` twins if they do not exist yet
//! ([`crate::kafka::ensure_topics`]); deployments normally create them.
//!
//! # Metrics
//!
//! Counters labelled by group and topic: `sagaway_inbox_consumed_total` (effects applied),
//! `sagaway_inbox_duplicates_total`, `sagaway_inbox_retries_total`,
//! `sagaway_inbox_dead_lettered_total`.

mod consumer;
mod dead_letter;

use std::future::Future;

use sagaway_contracts::events::{AnyEvent, EventMetadata};
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use crate::config::{ConfigError, Env};
use crate::outbox::EventHeaders;

pub use consumer::{Consumer, ConsumerConfig, ConsumerError, join_consumer};

/// Header names the dead-letter copy of a message carries besides the original headers.
pub mod dlq_headers {
    /// Why the message could not be processed (the error and its causes).
    pub const ERROR: &str = "dlq-error";
    /// The topic the message was consumed from.
    pub const ORIGIN_TOPIC: &str = "dlq-origin-topic";
    /// Its partition there (decimal).
    pub const ORIGIN_PARTITION: &str = "dlq-origin-partition";
    /// Its offset there (decimal).
    pub const ORIGIN_OFFSET: &str = "dlq-origin-offset";
    /// How many times processing was attempted (decimal; 1 for poison input).
    pub const ATTEMPTS: &str = "dlq-attempts";
    /// The consumer group that gave up on it.
    pub const CONSUMER_GROUP: &str = "dlq-consumer-group";
}

/// Whether and in which consumer group a service takes part in the saga: the settings every
/// participant shares, read from `<PREFIX>_SAGA` and `<PREFIX>_CONSUMER_GROUP` (for example
/// `SAGAWAY_ORDER_SAGA`, `SAGAWAY_ORDER_CONSUMER_GROUP`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Participation {
    /// `<PREFIX>_SAGA` (`true`): consume the saga's events. `false` runs an instance that only
    /// serves its API, e.g. beside instances that do; the outbox publisher runs either way.
    pub enabled: bool,
    /// `<PREFIX>_CONSUMER_GROUP` (the service's name): the consumer group, and the inbox
    /// namespace, of the events consumed. Instances of one deployment share it.
    pub consumer_group: String,
}

impl Participation {
    /// Taking part, in `consumer_group`.
    pub fn new(consumer_group: impl Into<String>) -> Self {
        Self {
            enabled: true,
            consumer_group: consumer_group.into(),
        }
    }

    /// These settings with `<prefix>_SAGA` and `<prefix>_CONSUMER_GROUP` applied.
    pub fn from_env(&self, env: &Env, prefix: &str) -> Result<Self, ConfigError> {
        Ok(Self {
            enabled: env.parse(&format!("{prefix}_SAGA"), self.enabled)?,
            consumer_group: env.string(&format!("{prefix}_CONSUMER_GROUP"), &self.consumer_group),
        })
    }

    /// The consumer of `topics` in this group.
    pub fn consumer(&self, topics: impl IntoIterator<Item = String>) -> ConsumerConfig {
        ConsumerConfig::new(self.consumer_group.clone(), topics)
    }
}

/// A boxed error, the cause a [`HandlerError`] carries.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a handler could not apply an event.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// Worth retrying: a timeout, a lock conflict, a dependency briefly down.
    #[error("transient failure")]
    Transient(#[source] BoxError),
    /// Retrying cannot help (the event contradicts the service's state in a way it cannot
    /// accept); the message goes to the dead-letter topic at once.
    #[error("permanent failure")]
    Permanent(#[source] BoxError),
}

impl HandlerError {
    /// A failure worth retrying.
    pub fn transient(cause: impl Into<BoxError>) -> Self {
        Self::Transient(cause.into())
    }

    /// A failure no retry can fix.
    pub fn permanent(cause: impl Into<BoxError>) -> Self {
        Self::Permanent(cause.into())
    }
}

/// The UUID in an event's `field`; one that is not a UUID is a permanent failure (no retry
/// changes the event).
pub fn parse_id(field: &str, value: &str) -> Result<Uuid, HandlerError> {
    Uuid::parse_str(value)
        .map_err(|err| HandlerError::permanent(format!("{field} {value:?} is not a UUID: {err}")))
}

/// Database errors are transient by default (connections drop, serializations conflict);
/// a handler that knows better says [`HandlerError::permanent`].
impl From<sqlx::Error> for HandlerError {
    fn from(err: sqlx::Error) -> Self {
        Self::Transient(Box::new(err))
    }
}

/// Applies one kind of service's effects: called once per event (per consumer group), inside
/// the transaction that records the event in the inbox.
///
/// Implement it with an `async fn`; the future must be `Send`. Ignore event types the
/// service does not care about by returning `Ok(())`.
pub trait Handler: Send + Sync {
    /// Applies `event` using `tx`; the consumer commits `tx` on `Ok` and rolls it back on
    /// `Err`. Do not commit or roll back `tx` here.
    fn handle(
        &self,
        tx: &mut Transaction<'_, Postgres>,
        event: &AnyEvent,
        ctx: &EventContext,
    ) -> impl Future<Output = Result<(), HandlerError>> + Send;
}

/// A shared handler handles as the handler it shares (so tests and services can keep a
/// reference to its state).
impl<H: Handler> Handler for std::sync::Arc<H> {
    fn handle(
        &self,
        tx: &mut Transaction<'_, Postgres>,
        event: &AnyEvent,
        ctx: &EventContext,
    ) -> impl Future<Output = Result<(), HandlerError>> + Send {
        (**self).handle(tx, event, ctx)
    }
}

/// Where a consumed event came from and what it carried, for the handler and for the events
/// it causes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventContext {
    /// The topic it was consumed from.
    pub topic: String,
    /// Its partition.
    pub partition: i32,
    /// Its offset in the partition.
    pub offset: i64,
    /// The consumer group applying it.
    pub consumer_group: String,
    /// The event's id (its metadata's `event_id`).
    pub event_id: String,
    /// The `correlation-id` header, or the event metadata's correlation id when the header
    /// is missing or empty.
    pub correlation_id: String,
    /// The `traceparent` header, if any.
    pub traceparent: Option<String>,
    /// Which attempt this is, from 1.
    pub attempt: u32,
}

impl EventContext {
    /// Metadata for an event this one causes: a fresh event id, this event's correlation id,
    /// and this event's id as the causation id.
    pub fn caused_metadata(&self, producer: &str) -> EventMetadata {
        EventMetadata::new(
            self.correlation_id.clone(),
            Some(self.event_id.clone()),
            producer,
        )
    }

    /// Headers for an event this one causes: the same correlation id and traceparent.
    pub fn caused_headers(&self) -> EventHeaders {
        EventHeaders {
            correlation_id: self.correlation_id.clone(),
            traceparent: self.traceparent.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_ids_are_permanent_failures_that_name_the_field() {
        let id = Uuid::now_v7();
        assert_eq!(parse_id("order_id", &id.to_string()).expect("a UUID"), id);
        let Err(HandlerError::Permanent(cause)) = parse_id("order_id", "x") else {
            panic!("a malformed id is permanent");
        };
        assert!(
            cause
                .to_string()
                .starts_with("order_id \"x\" is not a UUID"),
            "{cause}"
        );
    }

    fn context() -> EventContext {
        EventContext {
            topic: "t".into(),
            partition: 1,
            offset: 7,
            consumer_group: "g".into(),
            event_id: "event-1".into(),
            correlation_id: "corr-1".into(),
            traceparent: Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into()),
            attempt: 1,
        }
    }

    #[test]
    fn caused_events_keep_the_correlation_and_trace_and_name_their_cause() {
        let ctx = context();
        let metadata = ctx.caused_metadata("order-service");
        assert_eq!(metadata.correlation_id, "corr-1");
        assert_eq!(metadata.causation_id.as_deref(), Some("event-1"));
        assert_ne!(metadata.event_id, "event-1");
        assert_eq!(metadata.producer, "order-service");
        assert_eq!(
            ctx.caused_headers(),
            EventHeaders {
                correlation_id: "corr-1".into(),
                traceparent: ctx.traceparent.clone(),
            }
        );
    }

    #[test]
    fn database_errors_are_transient_by_default() {
        let err = HandlerError::from(sqlx::Error::PoolTimedOut);
        assert!(matches!(err, HandlerError::Transient(_)));
        assert!(matches!(
            HandlerError::permanent("order is unknown"),
            HandlerError::Permanent(_)
        ));
    }
}
