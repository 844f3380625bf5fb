//! One outbox batch: the oldest unpublished rows, encoded through the registry, sent with the
//! idempotent producer, and marked published once the broker has acknowledged every one.

use futures::FutureExt as _;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer as _};
use sagaway_contracts::codec::{CodecError, EventCodec};
use sagaway_contracts::events::{AnyEvent, EventType};
use sagaway_contracts::topics::headers;
use sqlx::postgres::PgConnection;
use sqlx::types::chrono::{DateTime, Utc};
use sqlx::{Connection as _, FromRow};

use crate::kafka::KafkaConfig;
use crate::retry::error_chain;

/// Why a batch was not published; every one is retried with backoff.
#[derive(Debug, thiserror::Error)]
pub(super) enum PublishError {
    #[error("outbox database")]
    Database(#[from] sqlx::Error),
    #[error("outbox row {id} no longer reads as a `{event_type}` event")]
    Unreadable {
        id: i64,
        event_type: String,
        #[source]
        source: Option<serde_json::Error>,
    },
    #[error("encoding outbox row {id}")]
    Encode {
        id: i64,
        #[source]
        source: CodecError,
    },
    #[error("handing outbox row {id} to the producer")]
    Send {
        id: i64,
        #[source]
        source: KafkaError,
    },
    #[error("the broker did not acknowledge outbox row {id}")]
    Delivery {
        id: i64,
        #[source]
        source: KafkaError,
    },
    #[error("the producer dropped outbox row {id} without an answer")]
    Dropped { id: i64 },
}

impl PublishError {
    /// Rows that cannot be encoded or that the broker refuses outright need a person;
    /// everything else heals on its own.
    pub(super) fn needs_attention(&self) -> bool {
        match self {
            PublishError::Unreadable { .. } => true,
            PublishError::Encode { source, .. } => !source.is_transient(),
            PublishError::Send { source, .. } | PublishError::Delivery { source, .. } => matches!(
                source.rdkafka_error_code(),
                Some(
                    RDKafkaErrorCode::MessageSizeTooLarge
                        | RDKafkaErrorCode::InvalidRecord
                        | RDKafkaErrorCode::TopicAuthorizationFailed
                )
            ),
            PublishError::Database(_) | PublishError::Dropped { .. } => false,
        }
    }
}

/// An outbox row as the publisher reads it (the payload as JSON text).
#[derive(FromRow)]
struct Row {
    id: i64,
    topic: String,
    message_key: String,
    event_type: String,
    payload: String,
    correlation_id: String,
    traceparent: Option<String>,
    created_at: DateTime<Utc>,
}

/// Sends batches: the producer and the codec, and how many rows a batch takes.
pub(super) struct Sender {
    kafka: KafkaConfig,
    producer: FutureProducer,
    codec: EventCodec,
    batch_size: u32,
}

impl Sender {
    /// A sender producing to `kafka` and encoding through `codec`.
    pub(super) fn new(
        kafka: &KafkaConfig,
        codec: EventCodec,
        batch_size: u32,
    ) -> Result<Self, KafkaError> {
        Ok(Self {
            kafka: kafka.clone(),
            producer: producer(kafka).create()?,
            codec,
            batch_size,
        })
    }

    /// The brokers it produces to.
    pub(super) fn brokers(&self) -> &str {
        &self.kafka.brokers
    }

    /// Takes the oldest unpublished rows, sends them all, and marks them published once every
    /// one is acknowledged. Returns how many rows it published.
    pub(super) async fn publish_batch(
        &self,
        conn: &mut PgConnection,
    ) -> Result<usize, PublishError> {
        let mut tx = conn.begin().await?;
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, topic, message_key, event_type, payload::text AS payload, \
                    correlation_id, traceparent, created_at \
             FROM outbox WHERE published_at IS NULL \
             ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
        )
        .bind(i64::from(self.batch_size))
        .fetch_all(&mut *tx)
        .await?;
        if rows.is_empty() {
            tx.commit().await?;
            return Ok(0);
        }
        let mut payloads = Vec::with_capacity(rows.len());
        for row in &rows {
            payloads.push(self.encode(row).await?);
        }
        let acks = self.send(&rows, &payloads)?;
        let acked_at = self.await_acks(&rows, acks).await?;
        let ids: Vec<i64> = rows.iter().map(|row| row.id).collect();
        sqlx::query("UPDATE outbox SET published_at = clock_timestamp() WHERE id = ANY($1)")
            .bind(&ids)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        for (row, acked_at) in rows.iter().zip(acked_at) {
            let topic = row.topic.clone();
            metrics::counter!("sagaway_outbox_published_total", "topic" => topic.clone())
                .increment(1);
            if let Ok(latency) = (acked_at - row.created_at).to_std() {
                metrics::histogram!("sagaway_outbox_latency_seconds", "topic" => topic)
                    .record(latency.as_secs_f64());
            }
        }
        Ok(rows.len())
    }

    /// The row's event in Confluent's wire format, its schema registered if needed.
    async fn encode(&self, row: &Row) -> Result<Vec<u8>, PublishError> {
        let unreadable = |source| PublishError::Unreadable {
            id: row.id,
            event_type: row.event_type.clone(),
            source,
        };
        let event_type = EventType::from_name(&row.event_type)
            .filter(|event_type| event_type.full_name() == row.event_type)
            .ok_or_else(|| unreadable(None))?;
        let json = serde_json::from_str(&row.payload).map_err(|err| unreadable(Some(err)))?;
        let event = AnyEvent::from_json(event_type, json).map_err(|err| unreadable(Some(err)))?;
        self.codec
            .encode_any(&event)
            .await
            .map_err(|source| PublishError::Encode { id: row.id, source })
    }

    /// Hands every row to the producer (which sends them in order per partition).
    fn send(
        &self,
        rows: &[Row],
        payloads: &[Vec<u8>],
    ) -> Result<Vec<DeliveryFuture>, PublishError> {
        rows.iter()
            .zip(payloads)
            .map(|(row, payload)| {
                let mut kafka_headers = OwnedHeaders::new_with_capacity(3)
                    .insert(Header {
                        key: headers::EVENT_TYPE,
                        value: Some(row.event_type.as_str()),
                    })
                    .insert(Header {
                        key: headers::CORRELATION_ID,
                        value: Some(row.correlation_id.as_str()),
                    });
                if let Some(traceparent) = &row.traceparent {
                    kafka_headers = kafka_headers.insert(Header {
                        key: headers::TRACEPARENT,
                        value: Some(traceparent.as_str()),
                    });
                }
                let record = FutureRecord::to(&row.topic)
                    .key(row.message_key.as_str())
                    .payload(payload.as_slice())
                    .headers(kafka_headers);
                self.producer
                    .send_result(record)
                    .map_err(|(source, _)| PublishError::Send { id: row.id, source })
            })
            .collect()
    }

    /// Waits for every acknowledgment; returns when each arrived, or the first failure.
    async fn await_acks(
        &self,
        rows: &[Row],
        acks: Vec<DeliveryFuture>,
    ) -> Result<Vec<DateTime<Utc>>, PublishError> {
        let stamped = acks
            .into_iter()
            .map(|ack| ack.map(|outcome| (outcome, Utc::now())));
        let outcomes = futures::future::join_all(stamped).await;
        rows.iter()
            .zip(outcomes)
            .map(|(row, (outcome, acked_at))| match outcome {
                Ok(Ok(_)) => Ok(acked_at),
                Ok(Err((source, _))) => Err(PublishError::Delivery { id: row.id, source }),
                Err(_) => Err(PublishError::Dropped { id: row.id }),
            })
            .collect()
    }

    /// An idempotent producer that hit a fatal error (e.g. its producer id was fenced after
    /// a broker lost its state) never recovers; start a fresh one.
    pub(super) fn replace_failed_producer(&mut self) {
        let Some((code, reason)) = self.producer.client().fatal_error() else {
            return;
        };
        tracing::warn!(?code, %reason, "the outbox producer failed fatally; creating a new one");
        match producer(&self.kafka).create() {
            Ok(producer) => self.producer = producer,
            Err(err) => tracing::warn!(error = %error_chain(&err), "creating the producer"),
        }
    }
}

/// The shared idempotent producer settings, sending at once: the publisher already batches,
/// so lingering would only add latency.
fn producer(kafka: &KafkaConfig) -> rdkafka::ClientConfig {
    let mut config = kafka.producer();
    config.set("linger.ms", "0");
    config
}
