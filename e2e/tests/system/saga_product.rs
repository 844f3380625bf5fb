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

use std::ops::Deref;

use sagaway_contracts::events::{
    OrderCancelReason, OrderCancelled, OrderCompleted, OrderCreated, OrderCreatedLine,
    PaymentFailed, PaymentFailureReason,
};
use sagaway_contracts::pb::common::Money;
use sagaway_contracts::pb::product::{self as pb, product_service_client::ProductServiceClient};
use sagaway_contracts::topics;
use sagaway_platform::inbox::Participation;
use sagaway_product::saga::SagaConfig;
use uuid::Uuid;

use crate::helpers::{Running, admin, as_caller, grpc_channel, spawn_product_service_with, unique};
use crate::participant::{Participant, metadata};

/// A product service taking part in the saga, and what the tests drive it with (it
/// dereferences to its [`Participant`]: `send`, `wait_for_answers`, ...).
struct Saga {
    participant: Participant,
    services: Vec<Running>,
    client: ProductServiceClient<tonic::transport::Channel>,
}

impl Deref for Saga {
    type Target = Participant;

    fn deref(&self) -> &Participant {
        &self.participant
    }
}

impl Saga {
    /// One instance with the default reservation TTL.
    async fn start() -> Self {
        Self::start_with(1, SagaConfig::default()).await
    }

    /// `instances` instances on one database and consumer group, with `saga`'s TTL, grace and
    /// sweep interval, consuming order and payment topics of their own and answering on the
    /// stock topic.
    async fn start_with(instances: usize, saga: SagaConfig) -> Self {
        let participant = Participant::prepare(
            topics::STOCK_EVENTS,
            &[topics::ORDER_EVENTS, topics::PAYMENT_EVENTS],
        )
        .await;
        let saga = SagaConfig {
            participation: Participation::new(unique("e2e-product-saga")),
            order_events_topic: participant.input(topics::ORDER_EVENTS),
            payment_events_topic: participant.input(topics::PAYMENT_EVENTS),
            ..saga
        };
        let mut services = Vec::new();
        for _ in 0..instances {
            let saga = saga.clone();
            let (database_url, registry_url) =
                (&participant.database_url, participant.registry.admin_url());
            services
                .push(spawn_product_service_with(database_url, false, saga, &registry_url).await);
        }
        let client = ProductServiceClient::new(grpc_channel(services[0].grpc_url()).await);
        Self {
            participant,
            services,
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
        self.participant.finish().await;
    }
}

/// A fresh order id and the id of the customer placing it.
fn new_order() -> (Uuid, Uuid) {
    (Uuid::now_v7(), Uuid::now_v7())
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
