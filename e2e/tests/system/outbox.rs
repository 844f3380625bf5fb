//! The transactional outbox on the real PostgreSQL, registry and broker: what commits is
//! published in per-key order, what rolls back never is; a killed publisher's successor
//! publishes everything; two live publishers never send a row twice; a broker outage loses
//! nothing.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use sagaway_contracts::codec::EventCodec;
use sagaway_contracts::events::AnyEvent;
use sagaway_contracts::registry::RegistryClient;
use sagaway_contracts::topics::headers;
use sagaway_platform::kafka::KafkaConfig;
use sagaway_platform::outbox::{self, EventHeaders, Publisher, PublisherConfig};
use sqlx::PgPool;

use crate::helpers::{
    Background, PrivateBroker, Received, create_topics, kafka, migrated_pool, numbered_event,
    read_topic, spawn_registry, unique, wait_until,
};

const PARTITIONS: i32 = 3;
const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/// What a test enqueued: the event id, its key and its sequence number within the key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Sent {
    event_id: String,
    key: String,
    seq: i64,
}

fn config(batch_size: u32) -> PublisherConfig {
    PublisherConfig {
        batch_size,
        poll_interval: Duration::from_millis(100),
        backoff_base: Duration::from_millis(50),
        backoff_max: Duration::from_secs(1),
        ..PublisherConfig::default()
    }
}

fn spawn_publisher(
    pool: &PgPool,
    kafka: &KafkaConfig,
    codec: &EventCodec,
    config: PublisherConfig,
) -> Background {
    let publisher = Publisher::new(pool.clone(), kafka, codec.clone(), config).expect("publisher");
    Background::spawn(|shutdown| publisher.run(shutdown))
}

/// Enqueues `per_key` numbered events for each of `keys` keys, `per_tx` events per
/// transaction, interleaving the keys; returns what it enqueued, in order.
async fn enqueue_numbered(
    pool: &PgPool,
    topic: &str,
    keys: usize,
    per_key: i64,
    per_tx: usize,
    tag: &str,
) -> Vec<Sent> {
    let events: Vec<AnyEvent> = (0..per_key)
        .flat_map(|seq| (0..keys).map(move |key| (key, seq)))
        .map(|(key, seq)| {
            numbered_event(
                &format!("{tag}-order-{key}"),
                seq,
                &format!("corr-{tag}-{key}"),
            )
        })
        .collect();
    let mut sent = Vec::new();
    for chunk in events.chunks(per_tx) {
        let mut tx = pool.begin().await.expect("begin");
        for event in chunk {
            let headers = EventHeaders {
                correlation_id: event.metadata().correlation_id.clone(),
                traceparent: Some(TRACEPARENT.into()),
            };
            outbox::enqueue_to_topic(&mut tx, topic, event, &headers)
                .await
                .expect("enqueue");
            sent.push(sent_from(event));
        }
        tx.commit().await.expect("commit");
    }
    sent
}

fn sent_from(event: &AnyEvent) -> Sent {
    let AnyEvent::OrderCompleted(completed) = event else {
        panic!("numbered events are OrderCompleted")
    };
    Sent {
        event_id: completed.metadata.event_id.clone(),
        key: completed.order_id.clone(),
        seq: completed.total_minor,
    }
}

async fn unpublished(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL")
        .fetch_one(pool)
        .await
        .expect("count unpublished rows")
}

async fn wait_until_all_published(pool: &PgPool, within: Duration) {
    wait_until("every outbox row is published", within, || async {
        unpublished(pool).await == 0
    })
    .await;
}

/// Decodes what the topic holds, checking each message's key, partition and headers on the
/// way.
async fn decode_all(codec: &EventCodec, received: &[Received]) -> Vec<Sent> {
    let mut decoded = Vec::new();
    let mut partitions: HashMap<String, i32> = HashMap::new();
    for message in received {
        let event = codec
            .decode(&message.payload)
            .await
            .expect("decodes through the registry");
        let sent = sent_from(&event);
        assert_eq!(
            message.key.as_deref(),
            Some(sent.key.as_str()),
            "key is the order id"
        );
        assert_eq!(
            message.header(headers::EVENT_TYPE),
            Some("sagaway.events.OrderCompleted")
        );
        assert_eq!(
            message.header(headers::CORRELATION_ID),
            Some(event.metadata().correlation_id.as_str())
        );
        assert_eq!(message.header(headers::TRACEPARENT), Some(TRACEPARENT));
        let partition = *partitions
            .entry(sent.key.clone())
            .or_insert(message.partition);
        assert_eq!(
            partition, message.partition,
            "{} spread over partitions",
            sent.key
        );
        decoded.push(sent);
    }
    decoded
}

/// Every enqueued event arrived (nothing else did), and for each key the first deliveries
/// come in sequence order; returns how many deliveries were duplicates.
fn assert_complete_and_in_key_order(expected: &[Sent], delivered: &[Sent]) -> usize {
    let expected_ids: HashSet<&str> = expected.iter().map(|s| s.event_id.as_str()).collect();
    let delivered_ids: HashSet<&str> = delivered.iter().map(|s| s.event_id.as_str()).collect();
    let missing: Vec<_> = expected_ids.difference(&delivered_ids).collect();
    let unexpected: Vec<_> = delivered_ids.difference(&expected_ids).collect();
    assert!(
        missing.is_empty(),
        "{} events never arrived: {missing:?}",
        missing.len()
    );
    assert!(
        unexpected.is_empty(),
        "events that were never committed arrived: {unexpected:?}"
    );
    let mut seen = HashSet::new();
    let mut last_seq: HashMap<&str, i64> = HashMap::new();
    for sent in delivered {
        if !seen.insert(sent.event_id.as_str()) {
            continue;
        }
        let last = last_seq.insert(sent.key.as_str(), sent.seq);
        assert!(
            last.is_none_or(|last| last < sent.seq),
            "{}: event {} arrived after {last:?}",
            sent.key,
            sent.seq
        );
    }
    delivered.len() - expected.len()
}

struct Setup {
    _registry: crate::helpers::Running,
    codec: EventCodec,
    pool: PgPool,
    topic: String,
}

async fn setup(kafka: &KafkaConfig) -> Setup {
    let registry = spawn_registry().await;
    let codec = EventCodec::new(RegistryClient::new(registry.admin_url()));
    let pool = migrated_pool().await;
    let topic = unique("e2e.outbox");
    create_topics(kafka, std::slice::from_ref(&topic), PARTITIONS).await;
    Setup {
        _registry: registry,
        codec,
        pool,
        topic,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_events_are_published_in_key_order_and_rolled_back_ones_never() {
    let kafka = kafka();
    let Setup {
        codec, pool, topic, ..
    } = &setup(&kafka).await;
    let publisher = spawn_publisher(pool, &kafka, codec, config(16));

    let mut expected = enqueue_numbered(pool, topic, 5, 12, 1, "single").await;
    expected.extend(enqueue_numbered(pool, topic, 3, 10, 7, "multi").await);
    let mut rolled_back = pool.begin().await.expect("begin");
    let doomed = numbered_event("single-order-0", 999, "corr-doomed");
    outbox::enqueue_to_topic(
        &mut rolled_back,
        topic,
        &doomed,
        &EventHeaders::for_event(&doomed),
    )
    .await
    .expect("enqueue");
    rolled_back.rollback().await.expect("rollback");

    wait_until_all_published(pool, Duration::from_secs(30)).await;
    let delivered = decode_all(codec, &read_topic(&kafka, topic).await).await;
    let duplicates = assert_complete_and_in_key_order(&expected, &delivered);
    assert_eq!(duplicates, 0, "a healthy publisher sends each row once");
    assert!(
        !delivered.iter().any(|sent| sent.seq == 999),
        "the rolled-back event was published"
    );
    publisher.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publisher_killed_mid_batch_is_succeeded_by_one_that_publishes_every_row_in_key_order() {
    let kafka = kafka();
    let Setup {
        codec, pool, topic, ..
    } = &setup(&kafka).await;
    // Enough rows for many small batches, few enough that reading them back from the embedded
    // broker (slow on long partitions) stays quick.
    let expected = enqueue_numbered(pool, topic, 8, 50, 50, "kill").await;
    let total = i64::try_from(expected.len()).expect("count");

    let first = spawn_publisher(pool, &kafka, codec, config(5));
    wait_until(
        "the first publisher has published a few batches",
        Duration::from_secs(30),
        || async { unpublished(pool).await <= total - 25 },
    )
    .await;
    first.kill().await;
    let left = unpublished(pool).await;
    assert!(
        left > 0,
        "the publisher finished before it could be killed; enqueue more"
    );

    let second = spawn_publisher(pool, &kafka, codec, config(5));
    wait_until_all_published(pool, Duration::from_secs(60)).await;
    let delivered = decode_all(codec, &read_topic(&kafka, topic).await).await;
    let duplicates = assert_complete_and_in_key_order(&expected, &delivered);
    eprintln!(
        "killed with {left} of {total} rows unpublished; {duplicates} duplicates after the restart"
    );
    second.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_live_publishers_on_one_database_never_send_a_row_twice_and_a_standby_takes_over() {
    let kafka = kafka();
    let Setup {
        codec, pool, topic, ..
    } = &setup(&kafka).await;
    let one = spawn_publisher(pool, &kafka, codec, config(8));
    let two = spawn_publisher(pool, &kafka, codec, config(8));

    let mut expected = enqueue_numbered(pool, topic, 6, 40, 3, "both").await;
    wait_until_all_published(pool, Duration::from_secs(30)).await;
    // Whichever was active, the other must carry on alone.
    one.stop().await;
    expected.extend(enqueue_numbered(pool, topic, 6, 10, 3, "alone").await);
    wait_until_all_published(pool, Duration::from_secs(30)).await;

    let delivered = decode_all(codec, &read_topic(&kafka, topic).await).await;
    let mut sends: HashMap<&str, usize> = HashMap::new();
    for sent in &delivered {
        *sends.entry(sent.event_id.as_str()).or_default() += 1;
    }
    let twice: Vec<_> = sends.iter().filter(|(_, count)| **count > 1).collect();
    assert!(
        twice.is_empty(),
        "{} rows sent more than once, e.g. {:?}",
        twice.len(),
        twice.iter().take(3).collect::<Vec<_>>()
    );
    assert_complete_and_in_key_order(&expected, &delivered);
    two.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_enqueued_while_the_broker_is_down_all_arrive_once_it_returns() {
    let mut broker = PrivateBroker::start().await;
    let kafka = broker.kafka();
    let Setup {
        codec, pool, topic, ..
    } = &setup(&kafka).await;
    let publisher = spawn_publisher(pool, &kafka, codec, config(32));
    let mut expected = enqueue_numbered(pool, topic, 4, 5, 1, "before").await;
    wait_until_all_published(pool, Duration::from_secs(30)).await;

    broker.kill();
    let outage = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut round = 0;
    while tokio::time::Instant::now() < outage {
        expected.extend(enqueue_numbered(pool, topic, 4, 1, 4, &format!("during-{round}")).await);
        round += 1;
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(
        unpublished(pool).await > 0,
        "rows were marked published while the broker was down"
    );
    broker.restart().await;
    expected.extend(enqueue_numbered(pool, topic, 4, 5, 1, "after").await);

    wait_until_all_published(pool, Duration::from_secs(120)).await;
    let delivered = decode_all(codec, &read_topic(&kafka, topic).await).await;
    let duplicates = assert_complete_and_in_key_order(&expected, &delivered);
    eprintln!(
        "{} events across a 10 s outage; {duplicates} duplicates",
        expected.len()
    );
    publisher.stop().await;
}

#[tokio::test]
async fn platform_and_service_migrations_share_one_history_and_rerun_cleanly() {
    let pool = migrated_pool().await;
    // A second instance starting later finds everything applied.
    sagaway_platform::db::migrate(&pool, &sqlx::migrate!("tests/system/migrations"))
        .await
        .expect("re-running the migrations is a no-op");
    let versions: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations ORDER BY version")
            .fetch_all(&pool)
            .await
            .expect("migration history");
    assert_eq!(versions, [1, 100]);
}
