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

use std::ops::Deref;
use std::time::Duration;

use sagaway_contracts::events::{
    OrderCancelReason, OrderCancelled, StockReleaseReason, StockReleased, StockReserved,
};
use sagaway_contracts::pb::common::Money;
use sagaway_contracts::pb::user::{self as pb, user_service_client::UserServiceClient};
use sagaway_contracts::topics;
use sagaway_platform::identity::Role;
use sagaway_platform::inbox::Participation;
use sagaway_user::saga::SagaConfig;
use uuid::Uuid;

use crate::helpers::{
    Running, as_caller, grpc_channel, identity_with, spawn_user_service_with, unique,
};
use crate::participant::{Participant, metadata};

/// A user service taking part in the saga, and what the tests drive it with (it dereferences
/// to its [`Participant`]: `send`, `wait_for_answers`, `wait_until_applied`, ...).
struct Saga {
    participant: Participant,
    service: Running,
    client: UserServiceClient<tonic::transport::Channel>,
}

impl Deref for Saga {
    type Target = Participant;

    fn deref(&self) -> &Participant {
        &self.participant
    }
}

impl Saga {
    /// One instance on a fresh database, consuming stock and order topics of its own and
    /// answering on the payment topic.
    async fn start() -> Self {
        let participant = Participant::prepare(
            topics::PAYMENT_EVENTS,
            &[topics::STOCK_EVENTS, topics::ORDER_EVENTS],
        )
        .await;
        let saga = SagaConfig {
            participation: Participation::new(unique("e2e-user-saga")),
            stock_events_topic: participant.input(topics::STOCK_EVENTS),
            order_events_topic: participant.input(topics::ORDER_EVENTS),
        };
        let service = spawn_user_service_with(
            &participant.database_url,
            None,
            saga,
            &participant.registry.admin_url(),
        )
        .await;
        let client = UserServiceClient::new(grpc_channel(service.grpc_url()).await);
        Self {
            participant,
            service,
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
        self.participant.finish().await;
    }
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
