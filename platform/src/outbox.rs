//! The transactional outbox: an event is written in the business transaction that produced
//! it, and a [`Publisher`] sends it to Kafka afterwards.
//!
//! # Writing
//!
//! [`enqueue`] inserts the event into the service's `outbox` table (created by
//! [`crate::db::migrate`]) inside the caller's transaction, as JSON with its topic, key (the
//! order id), record name, correlation id and traceparent, and `NOTIFY`s the publisher. Either
//! the business change and the event are both committed or neither is: a rolled-back
//! transaction publishes nothing. The event is checked against its Avro schema before it is
//! written, so a row that was accepted can always be encoded later.
//!
//! # Publishing
//!
//! The [`Publisher`] wakes on the notification, or every `poll_interval` in case one was lost
//! (notifications are not delivered while its listening connection is reconnecting). It takes
//! unpublished rows in `id` order (`FOR UPDATE SKIP LOCKED`), encodes each in Confluent's wire
//! format through the schema registry, and sends the whole batch with the idempotent producer
//! of [`crate::kafka::KafkaConfig::producer`] (without its linger: the publisher batches
//! itself), keyed by order id, with the headers `event-type`, `correlation-id` and
//! `traceparent`. It marks the rows published only after the broker has acknowledged every
//! message of the batch; the mark is committed without waiting for the WAL flush, since
//! losing it in a database crash only means a re-send. Published rows are deleted once older
//! than the configured retention.
//!
//! Only one publisher per database sends at a time: the active one holds a PostgreSQL session
//! advisory lock on the connection its batches run on; other instances stand by and take over
//! within `poll_interval` when that connection ends (crash, shutdown, network loss).
//!
//! # Guarantees
//!
//! - **At least once.** A committed row is published eventually: a broker or registry outage,
//!   a crash or a restart only delays it (failed batches are retried with backoff and nothing
//!   is skipped). A row is never marked published before its acknowledgment.
//! - **Duplicates are possible** when a publisher stops between the broker's acknowledgment and
//!   its own commit (killed, or shut down mid-batch after its grace period), or when a batch
//!   fails part-way and is sent again whole. Consumers deduplicate on the event id
//!   ([`crate::inbox`]). Two publishers that are both alive never send the same row: only the
//!   lock holder sends, and each row is locked by the batch that sends it.
//! - **Per-key order.** Events of one key reach their partition in `id` order (the order of
//!   the inserts); a re-send after a crash or a failed batch repeats a stretch that was
//!   already sent, starting no later than the first event that was not acknowledged.
//!   Writers that emit several events for one order must serialize on it (they lock the
//!   order's row), so that insert order is commit order: the outbox cannot order two
//!   concurrent transactions. Failures that hit a partition (broker down, leader moved, topic
//!   missing) fail or retry everything behind the failed message, so they keep the order; a
//!   single message refused on its own while later ones of its partition are accepted (one
//!   larger than the broker takes) is the exception, and is logged at error level.
//! - **Poison rows block.** A row that cannot be encoded (it can only arise from a schema
//!   change that the stored JSON no longer satisfies) or that the broker refuses outright
//!   stops publishing and is logged at error level with its id, rather than being skipped:
//!   skipping would break per-key order and lose the event. Its batch is retried with
//!   backoff until someone fixes the row or the broker's limits.
//!
//! # Metrics
//!
//! `sagaway_outbox_published_total{topic}`, `sagaway_outbox_batch_failures_total`,
//! `sagaway_outbox_latency_seconds{topic}` (from the row's creation to the broker's
//! acknowledgment) and `sagaway_outbox_publisher_active` (1 on the instance holding the lock).

mod batch;
mod publisher;

use sagaway_contracts::codec;
use sagaway_contracts::events::AnyEvent;
use sqlx::{Postgres, Transaction};

pub use publisher::{Publisher, PublisherConfig};

/// The `NOTIFY` channel that wakes the publisher.
pub const CHANNEL: &str = "sagaway_outbox";

/// The Kafka headers an event travels with, besides its `event-type`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventHeaders {
    /// The saga's correlation id (`correlation-id`).
    pub correlation_id: String,
    /// The W3C trace context of the work that caused the event (`traceparent`), if any.
    pub traceparent: Option<String>,
}

impl EventHeaders {
    /// Headers carrying the event's own correlation id and no trace context: for an event
    /// caused by a request rather than by another event.
    pub fn for_event(event: &AnyEvent) -> Self {
        Self {
            correlation_id: event.metadata().correlation_id.clone(),
            traceparent: None,
        }
    }
}

/// Writes `event` to the outbox in `tx`, bound for its own topic (`event_type().topic()`);
/// it is published after `tx` commits, and never if it rolls back.
///
/// Fails with [`sqlx::Error::Encode`] when the event does not fit its Avro schema, and with
/// the database's error otherwise (a duplicate event id included).
pub async fn enqueue(
    tx: &mut Transaction<'_, Postgres>,
    event: &AnyEvent,
    headers: &EventHeaders,
) -> Result<(), sqlx::Error> {
    enqueue_to_topic(tx, event.event_type().topic(), event, headers).await
}

/// Same as [`enqueue`], bound for `topic` instead of the event's own topic (tests use unique
/// topics; a deployment may route a copy elsewhere).
pub async fn enqueue_to_topic(
    tx: &mut Transaction<'_, Postgres>,
    topic: &str,
    event: &AnyEvent,
    headers: &EventHeaders,
) -> Result<(), sqlx::Error> {
    check_schema(event)?;
    let metadata = event.metadata();
    // One round trip: the insert, and the notification delivered when `tx` commits.
    sqlx::query(
        "WITH inserted AS ( \
             INSERT INTO outbox (event_id, topic, message_key, event_type, payload, \
                                 correlation_id, traceparent) \
             VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7) RETURNING id) \
         SELECT pg_notify($8, '') FROM inserted",
    )
    .bind(&metadata.event_id)
    .bind(topic)
    .bind(event.order_id())
    .bind(event.event_type().full_name())
    .bind(event.to_json().to_string())
    .bind(&headers.correlation_id)
    .bind(headers.traceparent.as_deref())
    .bind(CHANNEL)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Refuses an event its schema would not accept, so the publisher never meets one.
fn check_schema(event: &AnyEvent) -> Result<(), sqlx::Error> {
    let value = event
        .to_value()
        .map_err(|err| sqlx::Error::Encode(Box::new(err)))?;
    codec::to_binary(event.event_type(), value)
        .map(drop)
        .map_err(|err| sqlx::Error::Encode(Box::new(err)))
}
