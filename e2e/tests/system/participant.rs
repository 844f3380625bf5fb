//! What the saga tests drive one participant with, whichever service it is: input topics of
//! the test's own (so that concurrently running tests' services do not answer each other's
//! events), a registry and a fresh database for the service, a producer that sends events to
//! the input topic of their kind, and readers of what the service answered on its standard
//! output topic since the test began, of its inbox and of its outbox.
//!
//! Each service's harness (`saga_order`, `saga_product`, `saga_user`) is a [`Participant`] plus
//! the service it starts and the queries about its own tables; it dereferences to the
//! participant, so tests call `saga.send(..)` and `saga.wait_for_answers(..)` on it.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use rdkafka::producer::{FutureProducer, FutureRecord};
use sagaway_contracts::codec::EventCodec;
use sagaway_contracts::events::{AnyEvent, EventMetadata};
use sagaway_contracts::registry::RegistryClient;
use sagaway_platform::kafka::KafkaConfig;
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{
    Running, TopicMarks, create_topics, fresh_database, kafka, read_topic_since, spawn_registry,
    topic_marks, unique, wait_until,
};

/// How long an effect may take: a consumer-group join, the registry, the outbox publisher.
pub(crate) const WITHIN: Duration = Duration::from_secs(60);

/// One saga participant's surroundings in a test.
pub(crate) struct Participant {
    /// The registry the service and the tests encode through.
    pub(crate) registry: Running,
    /// The service's fresh database.
    pub(crate) database_url: String,
    /// A pool on it, for the tests' own queries.
    pub(crate) db: PgPool,
    pub(crate) kafka: KafkaConfig,
    pub(crate) codec: EventCodec,
    producer: FutureProducer,
    /// The standard topic the service publishes its answers on.
    output: &'static str,
    /// Where `output` ended before the test acted.
    marks: TopicMarks,
    /// Each standard topic the service consumes, and the test's own topic standing for it.
    inputs: Vec<(&'static str, String)>,
    /// Whether a published event counts as an answer (the order service's own OrderCreated,
    /// published when the test places an order, does not).
    counts: fn(&AnyEvent) -> bool,
}

impl Participant {
    /// A topic of the test's own (3 partitions) for each of `inputs`, `output` marked where it
    /// ends now, a registry, and a fresh database for the service.
    pub(crate) async fn prepare(output: &'static str, inputs: &[&'static str]) -> Self {
        let kafka = kafka();
        let inputs: Vec<(&'static str, String)> = inputs
            .iter()
            .map(|standard| (*standard, unique(&format!("e2e.{standard}"))))
            .collect();
        let own: Vec<String> = inputs.iter().map(|(_, own)| own.clone()).collect();
        create_topics(&kafka, &own, 3).await;
        create_topics(&kafka, &[output.to_owned()], 3).await;
        let marks = topic_marks(&kafka, output).await;
        let registry = spawn_registry().await;
        let database_url = fresh_database().await;
        Self {
            db: PgPool::connect(&database_url).await.expect("connect"),
            codec: EventCodec::new(RegistryClient::new(registry.admin_url())),
            producer: kafka.producer().create().expect("producer"),
            registry,
            database_url,
            kafka,
            output,
            marks,
            inputs,
            counts: |_| true,
        }
    }

    /// Published events for which `counts` is false are not answers.
    pub(crate) fn counting(self, counts: fn(&AnyEvent) -> bool) -> Self {
        Self { counts, ..self }
    }

    /// The test's own topic standing for the standard topic `standard`.
    pub(crate) fn input(&self, standard: &str) -> String {
        self.inputs
            .iter()
            .find(|(topic, _)| *topic == standard)
            .map(|(_, own)| own.clone())
            .unwrap_or_else(|| panic!("the service does not consume {standard}"))
    }

    /// Produces `event` to the service's topic for its kind, keyed by its order id; returns
    /// its event id.
    pub(crate) async fn send(&self, event: impl Into<AnyEvent>) -> String {
        let event = event.into();
        let payload = self.codec.encode_any(&event).await.expect("encode");
        let topic = self.input(event.event_type().topic());
        let record = FutureRecord::to(&topic)
            .key(event.order_id())
            .payload(&payload);
        self.producer
            .send(record, Duration::from_secs(10))
            .await
            .unwrap_or_else(|(err, _)| panic!("producing to {topic}: {err}"));
        event.metadata().event_id.clone()
    }

    /// The answers about `order_id` published so far, in order.
    pub(crate) async fn answers(&self, order_id: Uuid) -> Vec<AnyEvent> {
        let mut answers = self.answers_to(&[order_id]).await;
        answers.remove(&order_id).unwrap_or_default()
    }

    /// The answers about each of `orders` published so far, in order, in one read.
    pub(crate) async fn answers_to(&self, orders: &[Uuid]) -> HashMap<Uuid, Vec<AnyEvent>> {
        let mut answers = HashMap::<Uuid, Vec<AnyEvent>>::new();
        for message in read_topic_since(&self.kafka, self.output, &self.marks).await {
            let Some(order_id) = message.key.as_deref().and_then(|key| key.parse().ok()) else {
                continue;
            };
            if orders.contains(&order_id) {
                let event = self.codec.decode(&message.payload).await.expect("decode");
                if (self.counts)(&event) {
                    answers.entry(order_id).or_default().push(event);
                }
            }
        }
        answers
    }

    /// Waits until `count` answers about `order_id` are published; returns them.
    pub(crate) async fn wait_for_answers(&self, order_id: Uuid, count: usize) -> Vec<AnyEvent> {
        wait_until(
            &format!("{count} answer(s) about {order_id} on {}", self.output),
            WITHIN,
            || async { self.answers(order_id).await.len() >= count },
        )
        .await;
        self.answers(order_id).await
    }

    /// Waits until the service has applied every event in `event_ids` (repeats count once).
    pub(crate) async fn wait_until_applied(&self, event_ids: &[String]) {
        let distinct = HashSet::<&String>::from_iter(event_ids).len();
        wait_until("the events are applied", WITHIN, || async {
            let applied: i64 =
                sqlx::query_scalar("SELECT count(*) FROM inbox WHERE event_id = ANY($1)")
                    .bind(event_ids)
                    .fetch_one(&self.db)
                    .await
                    .expect("inbox");
            applied == i64::try_from(distinct).expect("count")
        })
        .await;
    }

    /// How many events about `order_id` the service has written to its outbox.
    pub(crate) async fn events_written(&self, order_id: Uuid) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM outbox WHERE message_key = $1")
            .bind(order_id.to_string())
            .fetch_one(&self.db)
            .await
            .expect("outbox")
    }

    /// Stops the registry (the services stop first, in each harness's `finish`).
    pub(crate) async fn finish(self) {
        self.registry.stop().await.expect("registry stops");
    }
}

/// The metadata of an event a test sends: a correlation id of its own, no cause.
pub(crate) fn metadata() -> EventMetadata {
    EventMetadata::new(unique("corr"), None, "e2e-test")
}
