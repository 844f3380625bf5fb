//! Reading a topic back as it is now: every partition from a mark (or its start) up to the high
//! watermark found on entry. The system tests read what a service published; the invariant
//! checker reads the dead-letter topics.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::Context;
use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::message::{Headers as _, Message as _};
use rdkafka::{Offset, TopicPartitionList};

/// Where each partition of a topic ended when it was looked at: read it before acting, then
/// [`read_topic`] reads only what came after (shared topics hold every earlier run's messages).
pub type TopicMarks = HashMap<i32, i64>;

/// A message read back from a topic.
#[derive(Debug, Clone)]
pub struct Received {
    /// Its partition.
    pub partition: i32,
    /// Its key, as text.
    pub key: Option<String>,
    /// Its headers, values as text.
    pub headers: HashMap<String, String>,
    /// Its payload.
    pub payload: Vec<u8>,
}

impl Received {
    /// The header's value, if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

/// What `topic` holds after `marks` (from the start for partitions without a mark), up to the
/// high watermark found on entry, in offset order within a partition; a topic that does not
/// exist holds nothing. Reads with a consumer made from `config` (assigned, not subscribed),
/// blocking, for at most `within`: the embedded broker serves fetches from long partitions
/// slowly (seconds per thousand records under load), so callers are patient.
pub fn read_topic(
    config: &ClientConfig,
    topic: &str,
    marks: &TopicMarks,
    within: Duration,
) -> anyhow::Result<Vec<Received>> {
    let timeout = Duration::from_secs(10);
    let consumer: BaseConsumer = config.create().context("creating the reader")?;
    let metadata = consumer
        .fetch_metadata(Some(topic), timeout)
        .with_context(|| format!("reading the metadata of {topic}"))?;
    let partitions: Vec<i32> = metadata
        .topics()
        .iter()
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .collect();
    let mut assignment = TopicPartitionList::new();
    let mut ends = HashMap::new();
    for partition in partitions {
        let (low, high) = consumer
            .fetch_watermarks(topic, partition, timeout)
            .with_context(|| format!("reading the watermarks of {topic}/{partition}"))?;
        let start = marks.get(&partition).copied().unwrap_or(low).max(low);
        if high > start {
            ends.insert(partition, high);
            assignment
                .add_partition_offset(topic, partition, Offset::Offset(start))
                .context("assigning a partition")?;
        }
    }
    let mut received = Vec::new();
    if ends.is_empty() {
        return Ok(received);
    }
    consumer
        .assign(&assignment)
        .context("assigning partitions")?;
    let deadline = Instant::now() + within;
    while !ends.is_empty() {
        anyhow::ensure!(
            Instant::now() < deadline,
            "reading {topic}: partitions {ends:?} not read to their end in {within:?}"
        );
        let Some(message) = consumer.poll(Duration::from_millis(200)) else {
            continue;
        };
        let message = message.with_context(|| format!("reading {topic}"))?;
        let headers = message
            .headers()
            .map(|headers| {
                headers
                    .iter()
                    .map(|h| {
                        let value = h.value.map(String::from_utf8_lossy).unwrap_or_default();
                        (h.key.to_owned(), value.into_owned())
                    })
                    .collect()
            })
            .unwrap_or_default();
        if ends.get(&message.partition()) <= Some(&(message.offset() + 1)) {
            ends.remove(&message.partition());
        }
        received.push(Received {
            partition: message.partition(),
            key: message
                .key()
                .map(|key| String::from_utf8_lossy(key).into_owned()),
            headers,
            payload: message.payload().unwrap_or_default().to_vec(),
        });
    }
    Ok(received)
}
