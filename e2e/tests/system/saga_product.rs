//! The product service's side of the order saga, driven through Kafka: the tests produce order
//! and payment events (encoded through a registry of their own, keyed by order id) and read the
//! service's answers back from `sagaway.stock.events`, filtered by order id.
//!
//! - [`reservations`]: OrderCreated reserves stock, or fails with the shortfall; races and
//!   redelivery;
//! - [`settlements`]: releases on PaymentFailed and OrderCancelled, commits on OrderCompleted,
//!   and the expiry sweeper.
//!
//! Each test runs its own product service on a fresh database and feeds it through order and
//! payment topics of its own (the service's `SagaConfig` names them): on the shared topics,
//! every concurrently running test's service would answer every other test's orders (with
//! PRODUCT_NOT_FOUND, from its own database), and so would disturb the other services' tests.
//! Every test ends by checking that every product's stock is conserved (`received = available
//! + reserved + sold`, none negative, `reserved` = what the live reservations hold).

mod reservations;
mod settlements;

use std::collections::HashMap;
use std::time::Duration;

use rdkafka::producer::{FutureProducer, FutureRecord};
use sagaway_contracts::codec::EventCodec;
use sagaway_contracts::events::{
    AnyEvent, EventMetadata, OrderCancelReason, OrderCancelled, OrderCompleted, OrderCreated,
    OrderCreatedLine, PaymentFailed, PaymentFailureReason,
};
use sagaway_contracts::pb::common::Money;
use sagaway_contracts::pb::product::{self as pb, product_service_client::ProductServiceClient};
use sagaway_contracts::registry::RegistryClient;
use sagaway_contracts::topics;
use sagaway_platform::inbox::Participation;
use sagaway_platform::kafka::KafkaConfig;
use sagaway_product::saga::SagaConfig;
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{
    Running, TopicMarks, admin, as_caller, create_topics, fresh_database, grpc_channel, kafka,
    read_topic_since, spawn_product_service_with, spawn_registry, topic_marks, unique, wait_until,
};

/// How long an answer may take: a consumer-group join, the registry, the outbox publisher.
const ANSWER_WITHIN: Duration = Duration::from_secs(60);

/// A product service taking part in the saga, and what the tests drive it with.
struct Saga {
    services: Vec<Running>,
    registry: Running,
    db: PgPool,
    kafka: KafkaConfig,
    codec: EventCodec,
    producer: FutureProducer,
    /// Where the stock topic ended before the test acted.
    marks: TopicMarks,
    /// The service's settings: its order and payment topics.
    saga: SagaConfig,
    client: ProductServiceClient<tonic::transport::Channel>,
}

impl Saga {
    /// One instance with the default reservation TTL.
    async fn start() -> Self {
        Self::start_with(1, SagaConfig::default()).await
    }

    /// `instances` instances on one database and consumer group, with `saga`'s TTL, grace and
    /// sweep interval.
    async fn start_with(instances: usize, saga: SagaConfig) -> Self {
        let kafka = kafka();
        let order_events = unique("e2e.saga.orders");
        let payment_events = unique("e2e.saga.payments");
        let own_topics = [order_events.clone(), payment_events.clone()];
        create_topics(&kafka, &own_topics, 3).await;
        create_topics(&kafka, &[topics::STOCK_EVENTS.to_owned()], 3).await;
        let marks = topic_marks(&kafka, topics::STOCK_EVENTS).await;
        let registry = spawn_registry().await;
        let database_url = fresh_database().await;
        let saga = SagaConfig {
            participation: Participation::new(unique("e2e-product-saga")),
            order_events_topic: order_events,
            payment_events_topic: payment_events,
            ..saga
        };
        let mut services = Vec::new();
        for _ in 0..instances {
            let saga = saga.clone();
            let registry_url = registry.admin_url();
            services
                .push(spawn_product_service_with(&database_url, false, saga, &registry_url).await);
        }
        let client = ProductServiceClient::new(grpc_channel(services[0].grpc_url()).await);
        Self {
            services,
            db: PgPool::connect(&database_url).await.expect("connect"),
            codec: EventCodec::new(RegistryClient::new(registry.admin_url())),
            producer: kafka.producer().create().expect("producer"),
            registry,
            kafka,
            marks,
            saga,
            client,
        }
    }

    /// Creates a product with a unique sku, `stock` units and `price_minor` EUR cents.
    async fn product(&self, stock: i64, price_minor: i64) -> Uuid {
        let product = pb::Product {
            sku: unique("SAGA").replace('_', "-"),
            name: "Saga test product".into(),
            price: Some(Money {
                amount_minor: price_minor,
                currency_code: "EUR".into(),
            }),
            stock: Some(pb::Stock {
                available: stock,
                reserved: 0,
            }),
            ..Default::default()
        };
        let request = as_caller(
            &admin(),
            pb::CreateProductRequest {
                product: Some(product),
            },
        );
        let created = self.client.clone().create_product(request).await;
        let id = created.expect("product created").into_inner().product_id;
        id.parse().expect("product id")
    }

    /// Produces `event` to the service's topic for its kind, keyed by its order id.
    async fn send(&self, event: impl Into<AnyEvent>) {
        let event = event.into();
        let payload = self.codec.encode_any(&event).await.expect("encode");
        let topic = match event.event_type().topic() {
            topics::ORDER_EVENTS => &self.saga.order_events_topic,
            topics::PAYMENT_EVENTS => &self.saga.payment_events_topic,
            other => panic!("the product service does not consume {other}"),
        };
        let record = FutureRecord::to(topic)
            .key(event.order_id())
            .payload(&payload);
        self.producer
            .send(record, Duration::from_secs(10))
            .await
            .unwrap_or_else(|(err, _)| panic!("producing to {topic}: {err}"));
    }

    /// The stock events about `order_id` published so far, in order.
    async fn answers(&self, order_id: Uuid) -> Vec<AnyEvent> {
        let mut answers = self.answers_to(&[order_id]).await;
        answers.remove(&order_id).unwrap_or_default()
    }

    /// The stock events about each of `orders` published so far, in order, in one read.
    async fn answers_to(&self, orders: &[Uuid]) -> HashMap<Uuid, Vec<AnyEvent>> {
        let mut answers = HashMap::<Uuid, Vec<AnyEvent>>::new();
        for message in read_topic_since(&self.kafka, topics::STOCK_EVENTS, &self.marks).await {
            let Some(order_id) = message.key.as_deref().and_then(|key| key.parse().ok()) else {
                continue;
            };
            if orders.contains(&order_id) {
                let event = self.codec.decode(&message.payload).await.expect("decode");
                answers.entry(order_id).or_default().push(event);
            }
        }
        answers
    }

    /// Waits until `count` stock events about `order_id` are published; returns them.
    async fn wait_for_answers(&self, order_id: Uuid, count: usize) -> Vec<AnyEvent> {
        wait_until(
            &format!("{count} stock event(s) about {order_id} are published"),
            ANSWER_WITHIN,
            || async { self.answers(order_id).await.len() >= count },
        )
        .await;
        self.answers(order_id).await
    }

    /// `(available, reserved, sold)` of `product_id`.
    async fn stock(&self, product_id: Uuid) -> (i64, i64, i64) {
        sqlx::query_as("SELECT available, reserved, sold FROM products WHERE id = $1")
            .bind(product_id)
            .fetch_one(&self.db)
            .await
            .expect("stock")
    }

    /// The status of `order_id`'s reservation, if it has one.
    async fn reservation_status(&self, order_id: Uuid) -> Option<(String, Option<String>)> {
        sqlx::query_as("SELECT status, release_reason FROM reservations WHERE order_id = $1")
            .bind(order_id)
            .fetch_optional(&self.db)
            .await
            .expect("reservation")
    }

    /// Invariant 2 for every product: nothing created or lost, nothing negative, and what is
    /// reserved is what the live reservations hold.
    async fn assert_stock_conserved(&self) {
        let broken: Vec<(Uuid, i64, i64, i64, i64)> = sqlx::query_as(
            "SELECT id, received, available, reserved, sold FROM products
             WHERE received <> available + reserved + sold
                OR available < 0 OR reserved < 0 OR sold < 0
                OR reserved <> (SELECT coalesce(sum(l.quantity), 0)::bigint
                                FROM reservation_lines l JOIN reservations r ON r.id = l.reservation_id
                                WHERE l.product_id = products.id AND r.status = 'RESERVED')",
        )
        .fetch_all(&self.db)
        .await
        .expect("conservation check");
        assert!(broken.is_empty(), "stock not conserved: {broken:?}");
    }

    /// Checks conservation, then stops everything.
    async fn finish(self) {
        self.assert_stock_conserved().await;
        for service in self.services {
            service.stop().await.expect("product service stops");
        }
        self.registry.stop().await.expect("registry stops");
    }
}

/// A fresh order id and the id of the customer placing it.
fn new_order() -> (Uuid, Uuid) {
    (Uuid::now_v7(), Uuid::now_v7())
}

fn metadata() -> EventMetadata {
    EventMetadata::new(unique("corr"), None, "e2e-test")
}

fn order_created(order_id: Uuid, user_id: Uuid, lines: &[(Uuid, i64)]) -> OrderCreated {
    OrderCreated {
        metadata: metadata(),
        order_id: order_id.to_string(),
        user_id: user_id.to_string(),
        lines: lines
            .iter()
            .map(|(product_id, quantity)| OrderCreatedLine {
                product_id: product_id.to_string(),
                quantity: *quantity,
            })
            .collect(),
    }
}

fn payment_failed(order_id: Uuid, user_id: Uuid) -> PaymentFailed {
    PaymentFailed {
        metadata: metadata(),
        order_id: order_id.to_string(),
        user_id: user_id.to_string(),
        amount_minor: 1,
        currency: "EUR".into(),
        reason: PaymentFailureReason::InsufficientFunds,
    }
}

fn order_cancelled(order_id: Uuid, user_id: Uuid) -> OrderCancelled {
    OrderCancelled {
        metadata: metadata(),
        order_id: order_id.to_string(),
        user_id: user_id.to_string(),
        reason: OrderCancelReason::CustomerRequested,
        detail: None,
    }
}

fn order_completed(order_id: Uuid, user_id: Uuid) -> OrderCompleted {
    OrderCompleted {
        metadata: metadata(),
        order_id: order_id.to_string(),
        user_id: user_id.to_string(),
        total_minor: 1,
        currency: "EUR".into(),
    }
}
