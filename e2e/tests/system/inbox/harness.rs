//! The inbox tests' harness: a handler whose behaviour the order id chooses, a consumer
//! running it on a fresh topic and database, and ways to feed and inspect them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use sagaway_contracts::codec::EventCodec;
use sagaway_contracts::events::AnyEvent;
use sagaway_contracts::registry::RegistryClient;
use sagaway_platform::inbox::{Consumer, ConsumerConfig, EventContext, Handler, HandlerError};
use sagaway_platform::kafka::KafkaConfig;
use sagaway_platform::outbox;
use sqlx::{PgPool, Postgres, Transaction};

use crate::helpers::{
    Background, Running, create_topics, kafka, migrated_pool, spawn_registry, unique, wait_until,
};

pub(super) const PARTITIONS: i32 = 3;
pub(super) const MAX_ATTEMPTS: u32 = 4;
pub(super) const TRACEPARENT: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

/// How the test handler treats an order, chosen by the order id's prefix.
fn behaviour(order_id: &str) -> Behaviour {
    if order_id.starts_with("flaky") {
        Behaviour::FailTransiently(MAX_ATTEMPTS - 1)
    } else if order_id.starts_with("broken") {
        Behaviour::FailTransiently(u32::MAX)
    } else if order_id.starts_with("refused") {
        Behaviour::Refuse
    } else {
        Behaviour::Apply
    }
}

enum Behaviour {
    Apply,
    FailTransiently(u32),
    Refuse,
}

/// Records each applied event in `test_effects`, optionally causing a follow-up event on
/// `forward_to`; fails as [`behaviour`] says, counting its calls per event.
#[derive(Default)]
pub(super) struct TestHandler {
    forward_to: Option<String>,
    calls: Mutex<HashMap<String, u32>>,
}

impl TestHandler {
    /// A handler that also causes an `OrderCompleted` on `topic` for each event it applies.
    pub(super) fn forwarding_to(topic: &str) -> Self {
        Self {
            forward_to: Some(topic.to_owned()),
            ..Self::default()
        }
    }

    /// How often the handler was called for `event_id`.
    pub(super) fn calls(&self, event_id: &str) -> u32 {
        self.calls
            .lock()
            .expect("calls")
            .get(event_id)
            .copied()
            .unwrap_or_default()
    }
}

impl Handler for TestHandler {
    async fn handle(
        &self,
        tx: &mut Transaction<'_, Postgres>,
        event: &AnyEvent,
        ctx: &EventContext,
    ) -> Result<(), HandlerError> {
        let calls = {
            let mut calls = self.calls.lock().expect("calls");
            let count = calls.entry(ctx.event_id.clone()).or_default();
            *count += 1;
            *count
        };
        match behaviour(event.order_id()) {
            Behaviour::FailTransiently(times) if calls <= times => {
                return Err(HandlerError::transient(format!(
                    "flaky dependency (call {calls})"
                )));
            }
            Behaviour::Refuse => {
                return Err(HandlerError::permanent("this order cannot be applied"));
            }
            _ => {}
        }
        sqlx::query("INSERT INTO test_effects (event_id, order_id, attempt) VALUES ($1, $2, $3)")
            .bind(&ctx.event_id)
            .bind(event.order_id())
            .bind(i32::try_from(ctx.attempt).expect("attempt"))
            .execute(&mut **tx)
            .await?;
        if let Some(topic) = &self.forward_to {
            let caused: AnyEvent = sagaway_contracts::events::OrderCompleted {
                metadata: ctx.caused_metadata("e2e-test"),
                order_id: event.order_id().to_owned(),
                user_id: "user-1".into(),
                total_minor: 0,
                currency: "EUR".into(),
            }
            .into();
            outbox::enqueue_to_topic(tx, topic, &caused, &ctx.caused_headers()).await?;
        }
        Ok(())
    }
}

/// What each test works with; the registry lives as long as this does.
pub(super) struct Setup {
    _registry: Running,
    pub(super) kafka: KafkaConfig,
    pub(super) codec: EventCodec,
    pub(super) pool: PgPool,
    pub(super) topic: String,
    pub(super) handler: Arc<TestHandler>,
    pub(super) consumer: Background,
}

/// A registry, a fresh database, a topic and a consumer of it running `handler`.
pub(super) async fn setup(handler: TestHandler) -> Setup {
    let kafka = kafka();
    let registry = spawn_registry().await;
    let codec = EventCodec::new(RegistryClient::new(registry.admin_url()));
    let pool = migrated_pool().await;
    let topic = unique("e2e.inbox");
    create_topics(&kafka, std::slice::from_ref(&topic), PARTITIONS).await;
    let handler = Arc::new(handler);
    let config = ConsumerConfig {
        max_attempts: MAX_ATTEMPTS,
        backoff_base: Duration::from_millis(10),
        backoff_max: Duration::from_millis(50),
        ..ConsumerConfig::new(unique("e2e-inbox"), [topic.clone()])
    };
    let consumer = Consumer::new(
        pool.clone(),
        &kafka,
        codec.clone(),
        config,
        Arc::clone(&handler),
    );
    let consumer = Background::spawn(|shutdown| async move {
        consumer.run(shutdown).await.expect("consumer runs");
    });
    Setup {
        _registry: registry,
        kafka,
        codec,
        pool,
        topic,
        handler,
        consumer,
    }
}

/// Produces raw bytes with `key` and `extra` headers; returns (partition, offset).
pub(super) async fn produce(
    kafka: &KafkaConfig,
    topic: &str,
    key: &str,
    payload: &[u8],
    extra: &[(&str, &str)],
) -> (i32, i64) {
    let producer: FutureProducer = kafka.producer().create().expect("producer");
    let mut message_headers = OwnedHeaders::new();
    for (name, value) in extra {
        message_headers = message_headers.insert(Header {
            key: name,
            value: Some(*value),
        });
    }
    let record = FutureRecord::to(topic)
        .key(key)
        .payload(payload)
        .headers(message_headers);
    let delivery = producer
        .send(record, Duration::from_secs(10))
        .await
        .unwrap_or_else(|(err, _)| panic!("producing to {topic}: {err}"));
    (delivery.partition, delivery.offset)
}

/// Produces `event`, encoded through the registry, keyed by its order id; returns the bytes.
pub(super) async fn produce_event(
    setup: &Setup,
    event: &AnyEvent,
    extra: &[(&str, &str)],
) -> Vec<u8> {
    let payload = setup.codec.encode_any(event).await.expect("encode");
    produce(
        &setup.kafka,
        &setup.topic,
        event.order_id(),
        &payload,
        extra,
    )
    .await;
    payload
}

/// The attempt numbers of the effects recorded for `event_id` (one per effect).
pub(super) async fn effects(pool: &PgPool, event_id: &str) -> Vec<i32> {
    sqlx::query_scalar("SELECT attempt FROM test_effects WHERE event_id = $1")
        .bind(event_id)
        .fetch_all(pool)
        .await
        .expect("effects")
}

/// Waits until `event` has been applied (consumer-group joins take a second or two).
pub(super) async fn wait_until_applied(pool: &PgPool, event: &AnyEvent) {
    let event_id = &event.metadata().event_id;
    wait_until(
        &format!("{} is applied", event.order_id()),
        Duration::from_secs(60),
        || async { !effects(pool, event_id).await.is_empty() },
    )
    .await;
}

/// How many inbox rows record `event_id`.
pub(super) async fn inbox_rows(pool: &PgPool, event_id: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM inbox WHERE event_id = $1")
        .bind(event_id)
        .fetch_one(pool)
        .await
        .expect("inbox rows")
}
