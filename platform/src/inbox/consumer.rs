//! The consumer loop: receive, apply in one transaction with the inbox row, store the offset;
//! retry or dead-letter what fails (see the [module's delivery notes](super)).

use std::future::Future;
use std::time::Duration;

use futures::FutureExt as _;
use rdkafka::consumer::{CommitMode, Consumer as _, StreamConsumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Headers as _, Message as _};
use sagaway_contracts::codec::{CodecError, EventCodec};
use sagaway_contracts::events::AnyEvent;
use sagaway_contracts::topics::{self, headers};
use sqlx::PgPool;

use super::dead_letter::DeadLetters;
use super::{EventContext, Handler, HandlerError};
use crate::kafka::{self, KafkaConfig};
use tracing::Instrument as _;

use crate::retry::{Backoff, error_chain, sleep_or_stop};

/// The pause after each error report from the consumer queue (see [`Consumer::run`]).
const RECEIVE_ERROR_PAUSE: Duration = Duration::from_millis(50);

/// What a consumer reads and how hard it tries.
#[derive(Debug, Clone)]
pub struct ConsumerConfig {
    /// The consumer group; also the inbox's namespace, so two groups of one database apply
    /// the same event once each.
    pub group_id: String,
    /// The topics to consume.
    pub topics: Vec<String>,
    /// Attempts at a message before it is dead-lettered (`5`).
    pub max_attempts: u32,
    /// Delay after the first failed attempt (`200 ms`); it doubles with each attempt.
    pub backoff_base: Duration,
    /// Longest delay between attempts (`5 s`).
    pub backoff_max: Duration,
    /// Partitions of a topic the consumer has to create because it does not exist yet (`3`,
    /// like the deployment's topics).
    pub topic_partitions: i32,
}

impl ConsumerConfig {
    /// A consumer of `topics` in `group_id`, with the defaults above.
    pub fn new(group_id: impl Into<String>, topics: impl IntoIterator<Item = String>) -> Self {
        Self {
            group_id: group_id.into(),
            topics: topics.into_iter().collect(),
            max_attempts: 5,
            backoff_base: Duration::from_millis(200),
            backoff_max: Duration::from_secs(5),
            topic_partitions: 3,
        }
    }
}

/// The consumer could not start.
#[derive(Debug, thiserror::Error)]
pub enum ConsumerError {
    /// A Kafka client could not be created (invalid settings).
    #[error("creating the Kafka {client}")]
    Client {
        /// `consumer` or `dead-letter producer`.
        client: &'static str,
        #[source]
        source: KafkaError,
    },
    /// The subscription was refused.
    #[error("subscribing to {topics:?}")]
    Subscribe {
        /// The topics asked for.
        topics: Vec<String>,
        #[source]
        source: KafkaError,
    },
}

/// Applies the events of its topics through a [`Handler`], each exactly once per group.
pub struct Consumer<H> {
    pool: PgPool,
    kafka: KafkaConfig,
    codec: EventCodec,
    config: ConsumerConfig,
    handler: H,
}

impl<H> std::fmt::Debug for Consumer<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consumer")
            .field("brokers", &self.kafka.brokers)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Why one attempt at a message failed.
#[derive(Debug, thiserror::Error)]
enum ProcessError {
    #[error("the message has no payload")]
    NoPayload,
    #[error("undecodable message")]
    Decode(#[source] CodecError),
    #[error("inbox database")]
    Database(#[source] sqlx::Error),
    #[error("handler")]
    Handler(#[source] HandlerError),
}

impl ProcessError {
    /// True when no retry can help: the message goes to the dead-letter topic at once.
    fn is_poison(&self) -> bool {
        match self {
            ProcessError::NoPayload => true,
            ProcessError::Decode(err) => !err.is_transient(),
            ProcessError::Database(_) => false,
            ProcessError::Handler(err) => matches!(err, HandlerError::Permanent(_)),
        }
    }
}

/// How a successful attempt went.
enum Applied {
    Effect,
    Duplicate,
}

/// Whether a message is finished with (its offset may be stored).
enum Done {
    Finished,
    Interrupted,
}

impl<H: Handler> Consumer<H> {
    /// A consumer applying events to `pool`'s database through `handler`.
    pub fn new(
        pool: PgPool,
        kafka: &KafkaConfig,
        codec: EventCodec,
        config: ConsumerConfig,
        handler: H,
    ) -> Self {
        Self {
            pool,
            kafka: kafka.clone(),
            codec,
            config,
            handler,
        }
    }

    /// Consumes until `shutdown` completes, then commits the stored offsets and leaves the
    /// group. Fails only when the Kafka clients cannot be created or subscribed; everything
    /// after that is retried, dead-lettered or logged.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) -> Result<(), ConsumerError> {
        let shutdown = shutdown.shared();
        self.ensure_topics().await;
        let consumer: StreamConsumer = self
            .kafka
            .consumer(&self.config.group_id)
            .create()
            .map_err(|source| ConsumerError::Client {
                client: "consumer",
                source,
            })?;
        let dead_letters = DeadLetters::new(&self.kafka, self.backoff()).map_err(|source| {
            ConsumerError::Client {
                client: "dead-letter producer",
                source,
            }
        })?;
        let topic_names: Vec<&str> = self.config.topics.iter().map(String::as_str).collect();
        consumer
            .subscribe(&topic_names)
            .map_err(|source| ConsumerError::Subscribe {
                topics: self.config.topics.clone(),
                source,
            })?;
        tracing::info!(group = %self.config.group_id, topics = ?self.config.topics, "consuming");
        loop {
            let received = tokio::select! {
                () = shutdown.clone() => break,
                received = consumer.recv() => received,
            };
            let message = match received {
                Ok(message) => message,
                Err(err) => {
                    // librdkafka reports connection trouble through the consumer queue and
                    // reconnects by itself; every broker thread queues its own reports while
                    // the broker is away. Backing off per report would drain that queue one
                    // growing delay at a time and hold the consumer long after the broker is
                    // back, so each report only costs a short pause.
                    tracing::warn!(error = %error_chain(&err), "receiving from Kafka failed");
                    if sleep_or_stop(RECEIVE_ERROR_PAUSE, shutdown.clone()).await {
                        break;
                    }
                    continue;
                }
            };
            match self
                .process(&message, &dead_letters, shutdown.clone())
                .await
            {
                Done::Finished => store_offset(&consumer, &message),
                Done::Interrupted => break,
            }
        }
        commit(&consumer);
        tracing::info!(group = %self.config.group_id, "consumer stopped");
        Ok(())
    }

    fn backoff(&self) -> Backoff {
        Backoff::new(self.config.backoff_base, self.config.backoff_max)
    }

    /// Creates missing topics and their `.dlq` twins; a failure is only logged, since the
    /// deployment is expected to have created them.
    async fn ensure_topics(&self) {
        let mut names = self.config.topics.clone();
        names.extend(self.config.topics.iter().map(|topic| topics::dlq(topic)));
        if let Err(err) =
            kafka::ensure_topics(&self.kafka, &names, self.config.topic_partitions).await
        {
            tracing::warn!(
                error = %error_chain(&err), topics = ?names,
                "could not make sure the topics exist"
            );
        }
    }

    /// Attempts the message until it is applied, recognised as a duplicate or dead-lettered.
    async fn process(
        &self,
        message: &BorrowedMessage<'_>,
        dead_letters: &DeadLetters,
        shutdown: impl Future<Output = ()> + Clone,
    ) -> Done {
        let labels = [
            ("group", self.config.group_id.clone()),
            ("topic", message.topic().to_owned()),
        ];
        let mut attempt = 1;
        loop {
            let error = match self.attempt(message, attempt).await {
                Ok(Applied::Effect) => {
                    metrics::counter!("sagaway_inbox_consumed_total", &labels).increment(1);
                    return Done::Finished;
                }
                Ok(Applied::Duplicate) => {
                    metrics::counter!("sagaway_inbox_duplicates_total", &labels).increment(1);
                    return Done::Finished;
                }
                Err(error) => error,
            };
            let chain = error_chain(&error);
            if error.is_poison() || attempt >= self.config.max_attempts {
                tracing::error!(
                    error = %chain, attempt, topic = message.topic(),
                    partition = message.partition(), offset = message.offset(),
                    "message dead-lettered"
                );
                let sent = dead_letters
                    .send(message, &chain, attempt, &self.config.group_id, shutdown)
                    .await;
                if !sent {
                    return Done::Interrupted;
                }
                metrics::counter!("sagaway_inbox_dead_lettered_total", &labels).increment(1);
                return Done::Finished;
            }
            let delay = self.backoff().delay(attempt);
            metrics::counter!("sagaway_inbox_retries_total", &labels).increment(1);
            tracing::warn!(
                error = %chain, attempt, retry_in = ?delay, topic = message.topic(),
                partition = message.partition(), offset = message.offset(),
                "message failed; retrying"
            );
            if sleep_or_stop(delay, shutdown.clone()).await {
                return Done::Interrupted;
            }
            attempt += 1;
        }
    }

    /// One attempt: decode, then record and apply in one transaction.
    async fn attempt(
        &self,
        message: &BorrowedMessage<'_>,
        attempt: u32,
    ) -> Result<Applied, ProcessError> {
        let payload = message.payload().ok_or(ProcessError::NoPayload)?;
        let event = self
            .codec
            .decode(payload)
            .await
            .map_err(ProcessError::Decode)?;
        let ctx = context(message, &event, &self.config.group_id, attempt);
        // Every log line about this event carries its correlation id (and trace context).
        let span = tracing::info_span!(
            "event",
            correlation_id = %ctx.correlation_id,
            event_type = event.event_type().record_name(),
            event_id = %ctx.event_id,
            topic = %ctx.topic,
        );
        self.apply(&event, &ctx).instrument(span).await
    }

    /// Records the event in the inbox and applies it, in one transaction.
    async fn apply(&self, event: &AnyEvent, ctx: &EventContext) -> Result<Applied, ProcessError> {
        let mut tx = self.pool.begin().await.map_err(ProcessError::Database)?;
        let recorded = sqlx::query(
            "INSERT INTO inbox (consumer_group, event_id, topic, kafka_partition, kafka_offset) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        )
        .bind(&ctx.consumer_group)
        .bind(&ctx.event_id)
        .bind(&ctx.topic)
        .bind(ctx.partition)
        .bind(ctx.offset)
        .execute(&mut *tx)
        .await
        .map_err(ProcessError::Database)?;
        if recorded.rows_affected() == 0 {
            tracing::debug!(event_id = %ctx.event_id, "event already applied; skipping");
            return Ok(Applied::Duplicate);
        }
        if let Err(err) = self.handler.handle(&mut tx, event, ctx).await {
            if let Err(rollback) = tx.rollback().await {
                tracing::debug!(error = %rollback, "rolling back a failed handler");
            }
            return Err(ProcessError::Handler(err));
        }
        tx.commit().await.map_err(ProcessError::Database)?;
        Ok(Applied::Effect)
    }
}

/// The context of `event` as it arrived in `message`.
fn context(
    message: &BorrowedMessage<'_>,
    event: &AnyEvent,
    group: &str,
    attempt: u32,
) -> EventContext {
    let header = |name: &str| {
        message
            .headers()?
            .iter()
            .find(|header| header.key == name)?
            .value
            .and_then(|value| std::str::from_utf8(value).ok())
            .filter(|value| !value.is_empty())
            .map(str::to_owned)
    };
    let metadata = event.metadata();
    EventContext {
        topic: message.topic().to_owned(),
        partition: message.partition(),
        offset: message.offset(),
        consumer_group: group.to_owned(),
        event_id: metadata.event_id.clone(),
        correlation_id: header(headers::CORRELATION_ID)
            .unwrap_or_else(|| metadata.correlation_id.clone()),
        traceparent: header(headers::TRACEPARENT),
        attempt,
    }
}

/// Waits for a consumer running on its own task (`tokio::spawn(consumer.run(shutdown))`) to
/// end, logging how it failed if it did; the services call it on their way out.
pub async fn join_consumer(task: tokio::task::JoinHandle<Result<(), ConsumerError>>) {
    match task.await {
        Ok(Ok(())) => {}
        Ok(Err(err)) => tracing::error!(error = error_chain(&err), "saga consumer failed"),
        Err(err) => tracing::error!(error = %err, "saga consumer task failed"),
    }
}

/// Marks the message done. After a rebalance took its partition away this fails; the new
/// owner then receives the message again and the inbox recognises it.
fn store_offset(consumer: &StreamConsumer, message: &BorrowedMessage<'_>) {
    if let Err(err) = consumer.store_offset_from_message(message) {
        tracing::warn!(
            error = %error_chain(&err), topic = message.topic(),
            partition = message.partition(), offset = message.offset(),
            "could not store the offset; the message may be delivered again"
        );
    }
}

/// Commits the stored offsets before leaving the group.
fn commit(consumer: &StreamConsumer) {
    match consumer.commit_consumer_state(CommitMode::Sync) {
        // Nothing stored since the last background commit.
        Ok(()) | Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => {}
        Err(err) => tracing::warn!(error = %error_chain(&err), "committing offsets at shutdown"),
    }
}

#[cfg(test)]
mod tests {
    use sagaway_contracts::wire::WireError;

    use super::*;

    #[test]
    fn only_input_no_retry_can_fix_counts_as_poison() {
        let undecodable = ProcessError::Decode(CodecError::Wire(WireError::BadMagic(7)));
        let refused = ProcessError::Handler(HandlerError::permanent("unknown order"));
        let flaky = ProcessError::Handler(HandlerError::transient("timeout"));
        let database = ProcessError::Database(sqlx::Error::PoolTimedOut);
        assert!(ProcessError::NoPayload.is_poison());
        assert!(undecodable.is_poison());
        assert!(refused.is_poison());
        assert!(!flaky.is_poison());
        assert!(!database.is_poison());
    }

    #[test]
    fn dead_letter_errors_name_their_cause() {
        let error = ProcessError::Decode(CodecError::Wire(WireError::BadMagic(7)));
        let chain = error_chain(&error);
        assert!(chain.starts_with("undecodable message: "), "{chain}");
        assert!(chain.contains("magic byte 0x07"), "{chain}");
    }
}
