//! The idempotent consumer on the real PostgreSQL, registry and broker: a redelivered event
//! has one effect; poison goes to the dead-letter topic without blocking its partition;
//! transient failures are retried, then dead-lettered; caused events carry the correlation id
//! and trace context of the event that caused them.

mod harness;

use std::collections::HashMap;
use std::time::Duration;

use sagaway_contracts::codec;
use sagaway_contracts::topics::{self, headers};
use sagaway_contracts::wire;
use sagaway_platform::inbox::dlq_headers;
use sagaway_platform::outbox::{Publisher, PublisherConfig};

use self::harness::{
    MAX_ATTEMPTS, PARTITIONS, TRACEPARENT, TestHandler, effects, inbox_rows, produce,
    produce_event, setup, wait_until_applied,
};
use crate::helpers::{Background, create_topics, numbered_event, read_topic, unique, wait_until};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_message_delivered_twice_has_one_effect() {
    let setup = setup(TestHandler::default()).await;
    let event = numbered_event("order-twice", 1, "corr-twice");
    let payload = produce_event(&setup, &event, &[]).await;
    produce(&setup.kafka, &setup.topic, event.order_id(), &payload, &[]).await;
    let sentinel = numbered_event("order-twice", 2, "corr-twice");
    produce_event(&setup, &sentinel, &[]).await;

    wait_until_applied(&setup.pool, &sentinel).await;
    let event_id = &event.metadata().event_id;
    assert_eq!(
        effects(&setup.pool, event_id).await,
        [1],
        "one effect, on the first attempt"
    );
    assert_eq!(
        setup.handler.calls(event_id),
        1,
        "the redelivery never reached the handler"
    );
    assert_eq!(inbox_rows(&setup.pool, event_id).await, 1);
    setup.consumer.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_messages_go_to_the_dlq_with_their_error_while_later_messages_on_the_partition_flow()
{
    let setup = setup(TestHandler::default()).await;
    let key = "order-poison";
    let garbage = b"definitely not avro".to_vec();
    let valid = numbered_event(key, 0, "corr-poison");
    let avro =
        codec::to_binary(valid.event_type(), valid.to_value().expect("value")).expect("avro");
    let unknown_schema = wire::encode(987_654, &avro);
    let refused = numbered_event("refused-order", 0, "corr-poison");
    let refused_payload = setup.codec.encode_any(&refused).await.expect("encode");

    let mut origins = Vec::new();
    for (name, payload) in [("garbage", &garbage), ("unknown-schema", &unknown_schema)] {
        let origin = produce(
            &setup.kafka,
            &setup.topic,
            key,
            payload,
            &[("x-test", name)],
        )
        .await;
        origins.push((name, payload.clone(), origin));
    }
    // The refused order travels under the same key, so it shares the partition too.
    let origin = produce(
        &setup.kafka,
        &setup.topic,
        key,
        &refused_payload,
        &[("x-test", "refused")],
    )
    .await;
    origins.push(("refused", refused_payload.clone(), origin));
    let good = numbered_event(key, 1, "corr-poison");
    produce_event(&setup, &good, &[]).await;
    wait_until_applied(&setup.pool, &good).await;

    let dead = read_topic(&setup.kafka, &topics::dlq(&setup.topic)).await;
    assert_eq!(dead.len(), 3, "three dead letters: {dead:?}");
    for (name, payload, (partition, offset)) in origins {
        let letter = dead
            .iter()
            .find(|message| message.header("x-test") == Some(name))
            .unwrap_or_else(|| panic!("{name} was not dead-lettered"));
        assert_eq!(letter.payload, payload, "{name}: the original payload");
        assert_eq!(
            letter.header(dlq_headers::ORIGIN_TOPIC),
            Some(setup.topic.as_str())
        );
        assert_eq!(
            letter.header(dlq_headers::ORIGIN_PARTITION),
            Some(partition.to_string().as_str())
        );
        assert_eq!(
            letter.header(dlq_headers::ORIGIN_OFFSET),
            Some(offset.to_string().as_str())
        );
        assert_eq!(
            letter.header(dlq_headers::ATTEMPTS),
            Some("1"),
            "{name}: poison is not retried"
        );
        let error = letter.header(dlq_headers::ERROR).unwrap_or_default();
        let expected = match name {
            "garbage" => "magic byte",
            "unknown-schema" => "404",
            _ => "this order cannot be applied",
        };
        assert!(
            error.contains(expected),
            "{name}: error {error:?} lacks {expected:?}"
        );
    }
    assert_eq!(
        dead.iter()
            .find(|m| m.header("x-test") == Some("garbage"))
            .and_then(|m| m.key.as_deref()),
        Some(key)
    );
    assert!(
        effects(&setup.pool, &refused.metadata().event_id)
            .await
            .is_empty()
    );
    assert_eq!(
        inbox_rows(&setup.pool, &refused.metadata().event_id).await,
        0
    );
    setup.consumer.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transient_failure_is_retried_until_it_succeeds_and_one_that_persists_is_dead_lettered() {
    let setup = setup(TestHandler::default()).await;
    let flaky = numbered_event("flaky-order", 0, "corr-retry");
    let broken = numbered_event("broken-order", 0, "corr-retry");
    produce_event(&setup, &flaky, &[]).await;
    let broken_payload = produce_event(&setup, &broken, &[]).await;
    // Behind the broken event on its partition: applied only once the partition moved on.
    let sentinel = numbered_event("sentinel-order", 1, "corr-retry");
    let sentinel_payload = setup.codec.encode_any(&sentinel).await.expect("encode");
    produce(
        &setup.kafka,
        &setup.topic,
        broken.order_id(),
        &sentinel_payload,
        &[],
    )
    .await;

    wait_until_applied(&setup.pool, &flaky).await;
    wait_until_applied(&setup.pool, &sentinel).await;
    let flaky_id = &flaky.metadata().event_id;
    assert_eq!(
        effects(&setup.pool, flaky_id).await,
        [i32::try_from(MAX_ATTEMPTS).expect("n")]
    );
    assert_eq!(setup.handler.calls(flaky_id), MAX_ATTEMPTS);

    let broken_id = &broken.metadata().event_id;
    assert!(
        effects(&setup.pool, broken_id).await.is_empty(),
        "a failed attempt left an effect"
    );
    assert_eq!(
        inbox_rows(&setup.pool, broken_id).await,
        0,
        "a failed attempt left an inbox row"
    );
    assert_eq!(setup.handler.calls(broken_id), MAX_ATTEMPTS);
    let dead = read_topic(&setup.kafka, &topics::dlq(&setup.topic)).await;
    assert_eq!(
        dead.len(),
        1,
        "only the persistent failure is dead-lettered: {dead:?}"
    );
    assert_eq!(dead[0].payload, broken_payload);
    assert_eq!(
        dead[0].header(dlq_headers::ATTEMPTS),
        Some(MAX_ATTEMPTS.to_string().as_str())
    );
    let error = dead[0].header(dlq_headers::ERROR).unwrap_or_default();
    assert!(error.contains("flaky dependency"), "error header {error:?}");
    setup.consumer.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caused_events_carry_the_correlation_id_and_traceparent_of_the_consumed_message() {
    let out_topic = unique("e2e.caused");
    let setup = setup(TestHandler::forwarding_to(&out_topic)).await;
    create_topics(&setup.kafka, std::slice::from_ref(&out_topic), PARTITIONS).await;
    let publisher = Publisher::new(
        setup.pool.clone(),
        &setup.kafka,
        setup.codec.clone(),
        PublisherConfig {
            poll_interval: Duration::from_millis(100),
            ..PublisherConfig::default()
        },
    )
    .expect("publisher");
    let publisher = Background::spawn(|shutdown| publisher.run(shutdown));

    let traced = numbered_event("order-traced", 0, "corr-in-metadata");
    produce_event(
        &setup,
        &traced,
        &[
            (headers::CORRELATION_ID, "corr-in-header"),
            (headers::TRACEPARENT, TRACEPARENT),
        ],
    )
    .await;
    let bare = numbered_event("order-bare", 0, "corr-only-in-metadata");
    produce_event(&setup, &bare, &[]).await;
    wait_until_applied(&setup.pool, &traced).await;
    wait_until_applied(&setup.pool, &bare).await;
    wait_until(
        "the caused events are published",
        Duration::from_secs(30),
        || async {
            let pending: i64 =
                sqlx::query_scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL")
                    .fetch_one(&setup.pool)
                    .await
                    .expect("count");
            pending == 0
        },
    )
    .await;

    let mut caused = HashMap::new();
    for message in read_topic(&setup.kafka, &out_topic).await {
        let event = setup.codec.decode(&message.payload).await.expect("decode");
        let cause = event
            .metadata()
            .causation_id
            .clone()
            .expect("a causation id");
        caused.insert(cause, (event, message));
    }
    assert_eq!(caused.len(), 2, "one caused event per consumed event");

    let (event, message) = &caused[&traced.metadata().event_id];
    assert_eq!(
        message.header(headers::CORRELATION_ID),
        Some("corr-in-header")
    );
    assert_eq!(message.header(headers::TRACEPARENT), Some(TRACEPARENT));
    assert_eq!(
        event.metadata().correlation_id,
        "corr-in-header",
        "the header wins"
    );

    let (event, message) = &caused[&bare.metadata().event_id];
    assert_eq!(
        message.header(headers::CORRELATION_ID),
        Some("corr-only-in-metadata")
    );
    assert_eq!(message.header(headers::TRACEPARENT), None);
    assert_eq!(event.metadata().correlation_id, "corr-only-in-metadata");

    publisher.stop().await;
    setup.consumer.stop().await;
}
