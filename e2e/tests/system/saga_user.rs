//! The user service's side of the order saga, driven through Kafka: the tests produce stock
//! and order events (encoded through a registry of their own, keyed by order id) and read the
//! service's answers back from `sagaway.payment.events`, filtered by order id.
//!
//! - [`payments`]: StockReserved captures the payment, or fails it with the reason; redelivery;
//! - [`refunds`]: refunds on an expired reservation and on a cancelled order, and a
//!   cancellation that comes before the reservation.
//!
//! Each test runs its own user service on a fresh database and feeds it through stock and
//! order topics of its own (the service's `SagaConfig` names them), so that concurrently
//! running tests' services do not answer each other's events. Every test ends by checking that
//! money is conserved: each account's balance is its top-ups less its debits plus its refunds.

mod payments;
mod refunds;

use std::time::Duration;

use rdkafka::producer::{FutureProducer, FutureRecord};
use sagaway_contracts::codec::EventCodec;
use sagaway_contracts::events::{
    AnyEvent, EventMetadata, OrderCancelReason, OrderCancelled, StockReleaseReason, StockReleased,
    StockReserved,
};
use sagaway_contracts::pb::common::Money;
use sagaway_contracts::pb::user::{self as pb, user_service_client::UserServiceClient};
use sagaway_contracts::registry::RegistryClient;
use sagaway_contracts::topics;
use sagaway_platform::identity::Role;
use sagaway_platform::inbox::Participation;
use sagaway_platform::kafka::KafkaConfig;
use sagaway_user::saga::SagaConfig;
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{
    Running, TopicMarks, as_caller, create_topics, fresh_database, grpc_channel, identity_with,
    kafka, read_topic_since, spawn_registry, spawn_user_service_with, topic_marks, unique,
    wait_until,
};

/// How long an answer may take: a consumer-group join, the registry, the outbox publisher.
const ANSWER_WITHIN: Duration = Duration::from_secs(60);

/// A user service taking part in the saga, and what the tests drive it with.
struct Saga {
    service: Running,
    registry: Running,
    db: PgPool,
    kafka: KafkaConfig,
    codec: EventCodec,
    producer: FutureProducer,
    /// Where the payment topic ended before the test acted.
    marks: TopicMarks,
    /// The service's settings: its stock and order topics.
    saga: SagaConfig,
    client: UserServiceClient<tonic::transport::Channel>,
}

impl Saga {
    /// One instance on a fresh database, consuming topics of its own.
    async fn start() -> Self {
        let kafka = kafka();
        let saga = SagaConfig {
            participation: Participation::new(unique("e2e-user-saga")),
            stock_events_topic: unique("e2e.saga.stock"),
            order_events_topic: unique("e2e.saga.orders"),
        };
        let own_topics = [
            saga.stock_events_topic.clone(),
            saga.order_events_topic.clone(),
        ];
        create_topics(&kafka, &own_topics, 3).await;
        create_topics(&kafka, &[topics::PAYMENT_EVENTS.to_owned()], 3).await;
        let marks = topic_marks(&kafka, topics::PAYMENT_EVENTS).await;
        let registry = spawn_registry().await;
        let database_url = fresh_database().await;
        let service =
            spawn_user_service_with(&database_url, None, saga.clone(), &registry.admin_url()).await;
        let client = UserServiceClient::new(grpc_channel(service.grpc_url()).await);
        Self {
            service,
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

    /// Registers a customer and tops their balance up with `balance_minor` EUR cents (none
    /// when zero); returns their id.
    async fn customer(&self, balance_minor: i64) -> Uuid {
        let request = pb::RegisterUserRequest {
            email: format!("{}@example.com", Uuid::new_v4().simple()),
            password: "correct horse battery".into(),
            display_name: "Saga customer".into(),
        };
        let registered = self.client.clone().register_user(request).await;
        let user = registered
            .expect("registers")
            .into_inner()
            .user
            .expect("user");
        let user_id: Uuid = user.user_id.parse().expect("user id");
        if balance_minor > 0 {
            let caller = identity_with(user_id, &[Role::Customer]);
            let top_up = pb::TopUpBalanceRequest {
                user_id: user.user_id.clone(),
                amount: Some(Money {
                    amount_minor: balance_minor,
                    currency_code: "EUR".into(),
                }),
            };
            let request = as_caller(&caller, top_up);
            let mut client = self.client.clone();
            client.top_up_balance(request).await.expect("topped up");
        }
        user_id
    }

    /// Produces `event` to the service's topic for its kind, keyed by its order id.
    async fn send(&self, event: impl Into<AnyEvent>) {
        let event = event.into();
        let payload = self.codec.encode_any(&event).await.expect("encode");
        let topic = match event.event_type().topic() {
            topics::STOCK_EVENTS => &self.saga.stock_events_topic,
            topics::ORDER_EVENTS => &self.saga.order_events_topic,
            other => panic!("the user service does not consume {other}"),
        };
        let record = FutureRecord::to(topic)
            .key(event.order_id())
            .payload(&payload);
        self.producer
            .send(record, Duration::from_secs(10))
            .await
            .unwrap_or_else(|(err, _)| panic!("producing to {topic}: {err}"));
    }

    /// The payment events about `order_id` published so far, in order.
    async fn answers(&self, order_id: Uuid) -> Vec<AnyEvent> {
        let mut answers = Vec::new();
        for message in read_topic_since(&self.kafka, topics::PAYMENT_EVENTS, &self.marks).await {
            if message.key.as_deref() == Some(order_id.to_string().as_str()) {
                answers.push(self.codec.decode(&message.payload).await.expect("decode"));
            }
        }
        answers
    }

    /// Waits until `count` payment events about `order_id` are published; returns them.
    async fn wait_for_answers(&self, order_id: Uuid, count: usize) -> Vec<AnyEvent> {
        wait_until(
            &format!("{count} payment event(s) about {order_id} are published"),
            ANSWER_WITHIN,
            || async { self.answers(order_id).await.len() >= count },
        )
        .await;
        self.answers(order_id).await
    }

    /// Waits until the service has applied every event in `event_ids` (repeats count once).
    async fn wait_until_applied(&self, event_ids: &[String]) {
        let distinct = std::collections::HashSet::<&String>::from_iter(event_ids).len();
        wait_until("the events are applied", ANSWER_WITHIN, || async {
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
    async fn events_written(&self, order_id: Uuid) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM outbox WHERE message_key = $1")
            .bind(order_id.to_string())
            .fetch_one(&self.db)
            .await
            .expect("outbox")
    }

    /// The balance of `user_id` in minor units.
    async fn balance(&self, user_id: Uuid) -> i64 {
        sqlx::query_scalar("SELECT balance_minor FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_one(&self.db)
            .await
            .expect("balance")
    }

    /// The ledger entries naming `order_id`, oldest first, as `(kind, amount)`.
    async fn entries_of(&self, order_id: Uuid) -> Vec<(String, i64)> {
        sqlx::query_as(
            "SELECT kind, amount_minor FROM balance_entries WHERE order_id = $1 ORDER BY id",
        )
        .bind(order_id)
        .fetch_all(&self.db)
        .await
        .expect("ledger")
    }

    /// The status of `order_id`'s payment, if it has one.
    async fn payment_status(&self, order_id: Uuid) -> Option<String> {
        sqlx::query_scalar("SELECT status FROM payments WHERE order_id = $1")
            .bind(order_id)
            .fetch_optional(&self.db)
            .await
            .expect("payment")
    }

    /// Invariant 3 per account: the balance is its top-ups less its debits plus its refunds,
    /// and never negative.
    async fn assert_money_conserved(&self) {
        let broken: Vec<(Uuid, i64, i64)> = sqlx::query_as(
            "SELECT u.id, u.balance_minor, coalesce(sum(CASE e.kind WHEN 'DEBIT'
                        THEN -e.amount_minor ELSE e.amount_minor END), 0)::bigint AS ledger
             FROM users u LEFT JOIN balance_entries e ON e.user_id = u.id
             GROUP BY u.id, u.balance_minor
             HAVING u.balance_minor < 0 OR u.balance_minor <> coalesce(sum(CASE e.kind
                        WHEN 'DEBIT' THEN -e.amount_minor ELSE e.amount_minor END), 0)",
        )
        .fetch_all(&self.db)
        .await
        .expect("conservation check");
        assert!(broken.is_empty(), "money not conserved: {broken:?}");
    }

    /// Checks conservation, then stops everything.
    async fn finish(self) {
        self.assert_money_conserved().await;
        self.service.stop().await.expect("user service stops");
        self.registry.stop().await.expect("registry stops");
    }
}

fn metadata() -> EventMetadata {
    EventMetadata::new(unique("corr"), None, "e2e-test")
}

/// A StockReserved for `total_minor` EUR cents, expiring in half an hour.
fn stock_reserved(order_id: Uuid, user_id: Uuid, total_minor: i64) -> StockReserved {
    let in_half_an_hour = std::time::SystemTime::now() + Duration::from_secs(1800);
    let expires_at = in_half_an_hour
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after the epoch")
        .as_millis();
    StockReserved {
        metadata: metadata(),
        order_id: order_id.to_string(),
        user_id: user_id.to_string(),
        reservation_id: Uuid::now_v7().to_string(),
        lines: Vec::new(),
        total_minor,
        currency: "EUR".into(),
        expires_at: i64::try_from(expires_at).expect("millis fit"),
    }
}

fn stock_released(order_id: Uuid, user_id: Uuid, reason: StockReleaseReason) -> StockReleased {
    StockReleased {
        metadata: metadata(),
        order_id: order_id.to_string(),
        user_id: user_id.to_string(),
        reservation_id: Uuid::now_v7().to_string(),
        reason,
        lines: Vec::new(),
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
