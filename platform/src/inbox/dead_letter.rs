//! Dead-lettering: a copy of a message that cannot be processed goes to its topic's `.dlq`
//! twin, with the error and the origin in headers, so its partition can move on.

use std::future::Future;
use std::time::Duration;

use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Header, Headers as _, Message as _, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use sagaway_contracts::topics;

use super::dlq_headers;
use crate::kafka::KafkaConfig;
use crate::retry::{Backoff, error_chain, sleep_or_stop};

/// How long a send may wait for room in the producer's queue.
const QUEUE_TIMEOUT: Duration = Duration::from_secs(5);

/// The producer that writes dead letters, and how it retries.
pub(super) struct DeadLetters {
    producer: FutureProducer,
    backoff: Backoff,
}

impl DeadLetters {
    /// An idempotent producer for the dead-letter topics.
    pub(super) fn new(kafka: &KafkaConfig, backoff: Backoff) -> Result<Self, KafkaError> {
        Ok(Self {
            producer: kafka.producer().create()?,
            backoff,
        })
    }

    /// Sends a copy of `message` (same key, payload and headers, plus [`dlq_headers`]) to
    /// `<topic>.dlq` and waits for the broker's acknowledgment, retrying as long as it takes.
    /// Returns false when `shutdown` came first (the message was then not dead-lettered).
    pub(super) async fn send(
        &self,
        message: &BorrowedMessage<'_>,
        error: &str,
        attempts: u32,
        group: &str,
        shutdown: impl Future<Output = ()> + Clone,
    ) -> bool {
        let topic = topics::dlq(message.topic());
        let mut backoff = self.backoff.clone();
        loop {
            let mut record = FutureRecord::<[u8], [u8]>::to(&topic)
                .headers(headers(message, error, attempts, group));
            if let Some(key) = message.key() {
                record = record.key(key);
            }
            if let Some(payload) = message.payload() {
                record = record.payload(payload);
            }
            let sent = tokio::select! {
                () = shutdown.clone() => return false,
                sent = self.producer.send(record, QUEUE_TIMEOUT) => sent,
            };
            match sent {
                Ok(_) => return true,
                Err((err, _)) => {
                    let delay = backoff.fail();
                    tracing::warn!(
                        error = %error_chain(&err), dlq = %topic, retry_in = ?delay,
                        "dead-lettering failed; retrying"
                    );
                    if sleep_or_stop(delay, shutdown.clone()).await {
                        return false;
                    }
                }
            }
        }
    }
}

/// The original headers followed by the dead-letter ones.
fn headers(message: &BorrowedMessage<'_>, error: &str, attempts: u32, group: &str) -> OwnedHeaders {
    let mut out = OwnedHeaders::new();
    if let Some(original) = message.headers() {
        for header in original.iter() {
            out = out.insert(header);
        }
    }
    let partition = message.partition().to_string();
    let offset = message.offset().to_string();
    let attempts = attempts.to_string();
    let added = [
        (dlq_headers::ERROR, error),
        (dlq_headers::ORIGIN_TOPIC, message.topic()),
        (dlq_headers::ORIGIN_PARTITION, partition.as_str()),
        (dlq_headers::ORIGIN_OFFSET, offset.as_str()),
        (dlq_headers::ATTEMPTS, attempts.as_str()),
        (dlq_headers::CONSUMER_GROUP, group),
    ];
    for (key, value) in added {
        out = out.insert(Header {
            key,
            value: Some(value),
        });
    }
    out
}
