//! The user service over gRPC, as the gateway calls it, each test on a fresh database:
//!
//! - [`registration`]: registering, signing in, and the admin bootstrapped from configuration;
//! - [`accounts`]: reading accounts, identity and permissions, top-ups and their ledger;
//! - [`listing`]: listing users with paging.
//!
//! This file holds the harness they share.

mod accounts;
mod listing;
mod registration;

use sagaway_contracts::pb::common::Money;
use sagaway_contracts::pb::user::{self as pb, user_service_client::UserServiceClient};
use sagaway_platform::identity::{Identity, Role};
use tonic::transport::Channel;
use uuid::Uuid;

use crate::helpers::{
    Running, as_caller, fresh_database, grpc_channel, identity_with, spawn_user_service,
};

const PASSWORD: &str = "correct horse battery";

/// A user service on a fresh database, a client, and the database for arranging and checking.
struct TestApp {
    service: Running,
    client: UserServiceClient<Channel>,
    db: sqlx::PgPool,
    database_url: String,
}

impl TestApp {
    async fn spawn() -> Self {
        let database_url = fresh_database().await;
        Self::spawn_on(database_url, None).await
    }

    async fn spawn_on(database_url: String, admin: Option<sagaway_user::AdminAccount>) -> Self {
        let service = spawn_user_service(&database_url, admin).await;
        let client = UserServiceClient::new(grpc_channel(service.grpc_url()).await);
        let db = sqlx::PgPool::connect(&database_url)
            .await
            .expect("connect to the test database");
        Self {
            service,
            client,
            db,
            database_url,
        }
    }

    fn client(&self) -> UserServiceClient<Channel> {
        self.client.clone()
    }

    async fn register(
        &self,
        email: &str,
        password: &str,
        display_name: &str,
    ) -> Result<pb::User, tonic::Status> {
        let request = pb::RegisterUserRequest {
            email: email.into(),
            password: password.into(),
            display_name: display_name.into(),
        };
        let response = self.client().register_user(request).await?;
        Ok(response.into_inner().user.expect("the registered user"))
    }

    /// A registered customer and the identity the gateway would forward for them.
    async fn customer(&self) -> (pb::User, Identity) {
        let email = format!("{}@example.com", Uuid::new_v4().simple());
        let user = self
            .register(&email, PASSWORD, "Customer")
            .await
            .expect("registers");
        let identity = identity_with(user.user_id.parse().expect("uuid"), &[Role::Customer]);
        (user, identity)
    }

    async fn authenticate(&self, email: &str, password: &str) -> Result<pb::User, tonic::Status> {
        let request = pb::AuthenticateUserRequest {
            email: email.into(),
            password: password.into(),
        };
        Ok(self
            .client()
            .authenticate_user(request)
            .await?
            .into_inner()
            .user
            .expect("user"))
    }

    async fn get_user(&self, caller: &Identity, user_id: &str) -> Result<pb::User, tonic::Status> {
        let request = as_caller(
            caller,
            pb::GetUserRequest {
                user_id: user_id.into(),
            },
        );
        Ok(self.client().get_user(request).await?.into_inner())
    }

    async fn top_up(
        &self,
        caller: &Identity,
        user_id: &str,
        amount: Option<Money>,
    ) -> Result<pb::User, tonic::Status> {
        let request = as_caller(
            caller,
            pb::TopUpBalanceRequest {
                user_id: user_id.into(),
                amount,
            },
        );
        Ok(self
            .client()
            .top_up_balance(request)
            .await?
            .into_inner()
            .user
            .expect("user"))
    }

    async fn list(
        &self,
        caller: &Identity,
        page_size: i32,
        page_token: &str,
    ) -> Result<pb::ListUsersResponse, tonic::Status> {
        let request = as_caller(
            caller,
            pb::ListUsersRequest {
                page_size,
                page_token: page_token.into(),
            },
        );
        Ok(self.client().list_users(request).await?.into_inner())
    }

    /// Inserts `count` customers straight into the database, several sharing a creation time
    /// so that paging must break ties by id.
    async fn insert_customers(&self, count: i32) {
        sqlx::query(
            "INSERT INTO users (id, email, display_name, password_hash, roles, currency, created_at)
             SELECT gen_random_uuid(), 'bulk' || i || '@example.com', 'Bulk ' || i, 'unused',
                    ARRAY['customer'], 'EUR', now() + (i / 3) * interval '1 millisecond'
             FROM generate_series(1, $1) AS i",
        )
        .bind(count)
        .execute(&self.db)
        .await
        .expect("insert customers");
    }

    async fn ids_oldest_first(&self) -> Vec<String> {
        sqlx::query_scalar("SELECT id::text FROM users ORDER BY created_at, id")
            .fetch_all(&self.db)
            .await
            .expect("ids")
    }

    async fn stop(self) {
        self.service.stop().await.expect("stops cleanly");
    }
}

fn eur(amount_minor: i64) -> Option<Money> {
    Some(Money {
        amount_minor,
        currency_code: "EUR".into(),
    })
}
