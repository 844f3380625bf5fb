//! The Kafka path end to end: an Avro event, registered in the real registry, produced by an
//! idempotent producer to the real broker, consumed in a group that stores each offset only
//! after processing; a restarted consumer sees nothing it already committed.

use std::collections::HashSet;
use std::time::Duration;

use futures::StreamExt as _;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, Message as _, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use sagaway_contracts::codec::EventCodec;
use sagaway_contracts::events::{AnyEvent, Event, EventMetadata, OrderCreated, OrderCreatedLine};
use sagaway_contracts::registry::RegistryClient;
use sagaway_contracts::topics::headers;

use crate::helpers::{kafka, spawn_registry, unique};

const PARTITIONS: i32 = 3;

/// Kafka's murmur2 (the Java client's default partitioner hash), written from the published
/// algorithm: seed 0x9747b28c, m = 0x5bd1e995, r = 24.
fn murmur2(data: &[u8]) -> u32 {
    const M: u32 = 0x5bd1_e995;
    let mut h: u32 = 0x9747_b28c ^ (data.len() as u32);
    let mut chunks = data.chunks_exact(4);
    for chunk in &mut chunks {
        let mut k = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> 24;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M) ^ k;
    }
    let tail = chunks.remainder();
    if tail.len() >= 3 {
        h ^= u32::from(tail[2]) << 16;
    }
    if tail.len() >= 2 {
        h ^= u32::from(tail[1]) << 8;
    }
    if !tail.is_empty() {
        h ^= u32::from(tail[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h
}

/// The partition the Java client picks for `key`.
fn java_partition(key: &str, partitions: i32) -> i32 {
    ((murmur2(key.as_bytes()) & 0x7fff_ffff) % partitions as u32) as i32
}

#[test]
fn murmur2_matches_kafkas_published_vectors() {
    // Published values of Kafka's murmur2, also what kafka-python's independent port gives.
    assert_eq!(murmur2(b"21") as i32, -973_932_308);
    assert_eq!(murmur2(b"foobar") as i32, -790_332_482);
    assert_eq!(murmur2(b"a-little-bit-long-string") as i32, -985_981_536);
    assert_eq!(murmur2(b"") as i32, 275_646_681);
}

async fn create_topic(name: &str) {
    let admin: AdminClient<DefaultClientContext> =
        kafka().producer().create().expect("admin client");
    let results = admin
        .create_topics(
            &[NewTopic::new(name, PARTITIONS, TopicReplication::Fixed(1))],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
        )
        .await
        .expect("create topics");
    for result in results {
        result.unwrap_or_else(|(topic, err)| panic!("creating {topic}: {err}"));
    }
}

fn order_created(order_id: &str) -> OrderCreated {
    OrderCreated {
        metadata: EventMetadata::new(format!("corr-{order_id}"), None, "e2e-test"),
        order_id: order_id.to_owned(),
        user_id: "user-1".into(),
        lines: vec![OrderCreatedLine {
            product_id: "p-1".into(),
            quantity: 1,
        }],
    }
}

/// Produces one event per id; returns (order id, partition it landed on).
async fn produce(codec: &EventCodec, topic: &str, ids: &[String]) -> Vec<(String, i32)> {
    let producer: FutureProducer = kafka().producer().create().expect("producer");
    let mut placed = Vec::new();
    for id in ids {
        let event = order_created(id);
        let payload = codec
            .encode(&event)
            .await
            .expect("encode through the registry");
        let event_type = <OrderCreated as Event>::TYPE.full_name();
        let record = FutureRecord::to(topic)
            .key(id.as_str())
            .payload(&payload)
            .headers(
                OwnedHeaders::new()
                    .insert(Header {
                        key: headers::EVENT_TYPE,
                        value: Some(event_type.as_str()),
                    })
                    .insert(Header {
                        key: headers::CORRELATION_ID,
                        value: Some(event.metadata.correlation_id.as_str()),
                    }),
            );
        let delivery = producer
            .send(record, Duration::from_secs(10))
            .await
            .expect("broker acks");
        placed.push((id.clone(), delivery.partition));
    }
    placed
}

/// Consumes until `expected` distinct orders were processed, storing each offset only after
/// processing; then keeps polling for `linger` to catch redeliveries. Returns every order id
/// seen, duplicates included.
async fn consume(
    codec: &EventCodec,
    topic: &str,
    group: &str,
    expected: usize,
    linger: Duration,
) -> Vec<String> {
    let consumer: StreamConsumer = kafka().consumer(group).create().expect("consumer");
    consumer.subscribe(&[topic]).expect("subscribe");
    let mut seen = Vec::new();
    let mut stream = consumer.stream();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut linger_until = None;
    loop {
        let until = linger_until.unwrap_or(deadline);
        let next = tokio::time::timeout_at(until, stream.next()).await;
        let Ok(Some(message)) = next else { break };
        let message = message.expect("kafka message");
        let event = codec
            .decode(message.payload().expect("payload"))
            .await
            .expect("decode");
        let AnyEvent::OrderCreated(created) = event else {
            panic!("unexpected event {event:?}")
        };
        // "Processing" is recording the event; only then is the offset stored.
        seen.push(created.order_id);
        consumer
            .store_offset_from_message(&message)
            .expect("store offset");
        let distinct: HashSet<_> = seen.iter().collect();
        if distinct.len() >= expected && linger_until.is_none() {
            linger_until = Some(tokio::time::Instant::now() + linger);
        }
    }
    drop(stream);
    match consumer.commit_consumer_state(CommitMode::Sync) {
        // Nothing stored since the last background commit: nothing to flush.
        Ok(()) | Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => {}
        Err(err) => panic!("commit stored offsets: {err}"),
    }
    seen
}

#[tokio::test]
async fn avro_events_flow_through_the_broker_and_a_restarted_consumer_sees_no_redelivery() {
    let registry = spawn_registry().await;
    let codec = EventCodec::new(RegistryClient::new(registry.admin_url()));
    let topic = unique("e2e.orders");
    let group = unique("e2e-group");
    create_topic(&topic).await;

    let first: Vec<String> = (0..12).map(|i| format!("order-a-{i}")).collect();
    let placed = produce(&codec, &topic, &first).await;
    for (key, partition) in &placed {
        assert_eq!(
            *partition,
            java_partition(key, PARTITIONS),
            "{key} not where the Java client puts it"
        );
    }
    let seen = consume(&codec, &topic, &group, first.len(), Duration::from_secs(1)).await;
    let distinct: HashSet<_> = seen.iter().cloned().collect();
    assert_eq!(
        distinct,
        first.iter().cloned().collect(),
        "first consumer saw every event"
    );

    let second: Vec<String> = (0..5).map(|i| format!("order-b-{i}")).collect();
    produce(&codec, &topic, &second).await;
    let after_restart = consume(&codec, &topic, &group, second.len(), Duration::from_secs(3)).await;
    let redelivered: Vec<_> = after_restart
        .iter()
        .filter(|id| first.contains(id))
        .collect();
    assert!(
        redelivered.is_empty(),
        "committed messages came back: {redelivered:?}"
    );
    assert_eq!(
        after_restart.iter().cloned().collect::<HashSet<_>>(),
        second.iter().cloned().collect(),
        "the restarted consumer sees exactly the new events"
    );
    registry.stop().await.expect("registry stops");
}
