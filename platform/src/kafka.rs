//! The Kafka client settings every producer and consumer uses, so that all of Sagaway talks to
//! the broker the same way.
//!
//! Producers are idempotent (`enable.idempotence=true`, `acks=all`) and use the
//! `murmur2_random` partitioner, which places a key on the same partition as the Java client
//! does. Consumers store an offset only when the application says the message is done
//! (`enable.auto.offset.store=false`), and the stored offsets are committed in the background:
//! at-least-once, with idempotent handlers making redelivery harmless. [`ensure_topics`]
//! creates topics that a development broker does not have yet.

use std::sync::Arc;
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};

use crate::config::{ConfigError, Env};

/// Broker connection settings.
#[derive(Debug, Clone)]
pub struct KafkaConfig {
    /// `SAGAWAY_KAFKA_BROKERS` (`127.0.0.1:9092`): bootstrap servers, comma-separated.
    pub brokers: String,
    /// `SAGAWAY_KAFKA_SESSION_TIMEOUT_MS` (`6000`): consumer-group session timeout. The
    /// embedded broker makes a join wait about half of it, so local runs use 2000.
    pub session_timeout_ms: u32,
    /// `SAGAWAY_KAFKA_HEARTBEAT_MS` (`1000`): consumer heartbeat interval (local runs: 200).
    pub heartbeat_interval_ms: u32,
    /// `SAGAWAY_KAFKA_FETCH_WAIT_MS` (`500`, librdkafka's default): how long the broker may
    /// hold a fetch that found nothing new. A broker that answers a held fetch as soon as data
    /// arrives (Kafka) makes this invisible; one that holds it for the whole wait (the embedded
    /// broker of local runs) adds up to this much to every hop of the saga, so local runs use
    /// 10.
    pub fetch_wait_ms: u32,
}

impl KafkaConfig {
    /// Reads the settings above from `env`.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            brokers: env.string("SAGAWAY_KAFKA_BROKERS", "127.0.0.1:9092"),
            session_timeout_ms: env.parse("SAGAWAY_KAFKA_SESSION_TIMEOUT_MS", 6000)?,
            heartbeat_interval_ms: env.parse("SAGAWAY_KAFKA_HEARTBEAT_MS", 1000)?,
            fetch_wait_ms: env.parse("SAGAWAY_KAFKA_FETCH_WAIT_MS", 500)?,
        })
    }

    /// Settings for an idempotent producer.
    pub fn producer(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &self.brokers)
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("partitioner", "murmur2_random")
            .set("linger.ms", "2")
            .set("message.timeout.ms", "30000");
        config
    }

    /// Settings for a consumer in `group_id` that stores offsets only after processing.
    pub fn consumer(&self, group_id: &str) -> ClientConfig {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &self.brokers)
            .set("group.id", group_id)
            .set("enable.auto.commit", "true")
            .set("auto.commit.interval.ms", "500")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("session.timeout.ms", self.session_timeout_ms.to_string())
            .set(
                "heartbeat.interval.ms",
                self.heartbeat_interval_ms.to_string(),
            )
            .set("fetch.wait.max.ms", self.fetch_wait_ms.to_string())
            .set("enable.partition.eof", "false");
        config
    }
}

/// A topic could not be created.
#[derive(Debug, thiserror::Error)]
pub enum TopicError {
    /// The admin client could not be built or the request did not complete.
    #[error("create-topics request to {brokers} failed")]
    Request {
        brokers: String,
        #[source]
        source: KafkaError,
    },
    /// The broker refused to create one of the topics.
    #[error("the broker refused to create topic {topic}: {code}")]
    Refused {
        topic: String,
        code: RDKafkaErrorCode,
    },
}

/// A replication factor of -1 asks the broker for its configured default.
const BROKER_DEFAULT: i32 = -1;

/// Creates each of `topics` that does not exist yet, with `partitions` partitions and the
/// broker's default replication factor (KIP-464, Kafka 2.4+); a topic that already exists is
/// left as it is.
///
/// Deployments create the saga topics; this lets a process tolerate a topic, such as a `.dlq`
/// twin, that nobody has created yet on a development broker.
pub async fn ensure_topics(
    config: &KafkaConfig,
    topics: &[String],
    partitions: i32,
) -> Result<(), TopicError> {
    let request_failed = |source| TopicError::Request {
        brokers: config.brokers.clone(),
        source,
    };
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", &config.brokers)
        .create()
        .map_err(request_failed)?;
    let new_topics: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|topic| NewTopic::new(topic, partitions, TopicReplication::Fixed(BROKER_DEFAULT)))
        .collect();
    let options = AdminOptions::new()
        .request_timeout(Some(Duration::from_secs(10)))
        .operation_timeout(Some(Duration::from_secs(10)));
    let results = admin
        .create_topics(&new_topics, &options)
        .await
        .map_err(request_failed)?;
    for result in results {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => return Err(TopicError::Refused { topic, code }),
        }
    }
    Ok(())
}

/// A long-lived client used only to ask the broker for metadata (readiness).
#[derive(Clone)]
pub struct BrokerProbe {
    client: Arc<BaseConsumer>,
}

impl std::fmt::Debug for BrokerProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BrokerProbe")
    }
}

impl BrokerProbe {
    /// A probe for the configured brokers (connects lazily).
    pub fn new(config: &KafkaConfig) -> Result<Self, rdkafka::error::KafkaError> {
        let client: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &config.brokers)
            .create()?;
        Ok(Self {
            client: Arc::new(client),
        })
    }

    /// Readiness: the broker answers a metadata request within two seconds.
    pub async fn check(&self) -> Result<(), String> {
        let client = Arc::clone(&self.client);
        tokio::task::spawn_blocking(move || {
            client
                .fetch_metadata(None, Duration::from_secs(2))
                .map(drop)
        })
        .await
        .map_err(|err| format!("broker probe task: {err}"))?
        .map_err(|err| format!("broker: {err}"))
    }
}
