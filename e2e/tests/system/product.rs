//! The product service over gRPC, as the gateway and the order service call it, each test on
//! a fresh database:
//!
//! - [`changes`]: creating and restocking products, admins only;
//! - [`reads`]: who may read, getting, listing with paging, and batch lookups;
//! - [`demo`]: the demo catalogue seeded from configuration.
//!
//! This file holds the harness they share.

mod changes;
mod demo;
mod reads;

use sagaway_contracts::pb::common::Money;
use sagaway_contracts::pb::product::{self as pb, product_service_client::ProductServiceClient};
use sagaway_platform::identity::Identity;
use tonic::transport::Channel;

use crate::helpers::{
    Running, as_caller, customer, fresh_database, grpc_channel, spawn_product_service,
};

/// A product service on a fresh database, a client, and the database for arranging and
/// checking.
struct TestApp {
    service: Running,
    client: ProductServiceClient<Channel>,
    db: sqlx::PgPool,
}

impl TestApp {
    async fn spawn() -> Self {
        Self::spawn_on(&fresh_database().await, false).await
    }

    async fn spawn_on(database_url: &str, seed_demo_catalog: bool) -> Self {
        let service = spawn_product_service(database_url, seed_demo_catalog).await;
        let client = ProductServiceClient::new(grpc_channel(service.grpc_url()).await);
        let db = sqlx::PgPool::connect(database_url)
            .await
            .expect("connect to the test database");
        Self {
            service,
            client,
            db,
        }
    }

    fn client(&self) -> ProductServiceClient<Channel> {
        self.client.clone()
    }

    async fn create(
        &self,
        caller: &Identity,
        product: pb::Product,
    ) -> Result<pb::Product, tonic::Status> {
        let request = as_caller(
            caller,
            pb::CreateProductRequest {
                product: Some(product),
            },
        );
        Ok(self.client().create_product(request).await?.into_inner())
    }

    async fn get(&self, caller: &Identity, product_id: &str) -> Result<pb::Product, tonic::Status> {
        let request = as_caller(
            caller,
            pb::GetProductRequest {
                product_id: product_id.into(),
            },
        );
        Ok(self.client().get_product(request).await?.into_inner())
    }

    async fn restock(
        &self,
        caller: &Identity,
        product_id: &str,
        quantity: i64,
    ) -> Result<pb::Product, tonic::Status> {
        let request = as_caller(
            caller,
            pb::RestockProductRequest {
                product_id: product_id.into(),
                quantity,
            },
        );
        Ok(self.client().restock_product(request).await?.into_inner())
    }

    async fn list(
        &self,
        page_size: i32,
        page_token: &str,
    ) -> Result<pb::ListProductsResponse, tonic::Status> {
        let request = as_caller(
            &customer(),
            pb::ListProductsRequest {
                page_size,
                page_token: page_token.into(),
            },
        );
        Ok(self.client().list_products(request).await?.into_inner())
    }

    async fn batch_get(
        &self,
        ids: Vec<String>,
    ) -> Result<pb::BatchGetProductsResponse, tonic::Status> {
        let request = as_caller(
            &customer(),
            pb::BatchGetProductsRequest { product_ids: ids },
        );
        Ok(self
            .client()
            .batch_get_products(request)
            .await?
            .into_inner())
    }

    /// Inserts `count` products straight into the database, several sharing a creation time so
    /// that paging must break ties by id.
    async fn insert_products(&self, count: i32) {
        sqlx::query(
            "INSERT INTO products (id, sku, name, price_minor, currency, available, created_at)
             SELECT gen_random_uuid(), 'BULK-' || i, 'Bulk ' || i, 100, 'EUR', 1,
                    now() + (i / 3) * interval '1 millisecond'
             FROM generate_series(1, $1) AS i",
        )
        .bind(count)
        .execute(&self.db)
        .await
        .expect("insert products");
    }

    async fn skus_oldest_first(&self) -> Vec<String> {
        sqlx::query_scalar("SELECT sku FROM products ORDER BY created_at, id")
            .fetch_all(&self.db)
            .await
            .expect("skus")
    }

    async fn stop(self) {
        self.service.stop().await.expect("stops cleanly");
    }
}

fn mug() -> pb::Product {
    pb::Product {
        sku: "SAGA-MUG".into(),
        name: "Sagaway mug".into(),
        description: "Stoneware, 350 ml.".into(),
        price: Some(Money {
            amount_minor: 1290,
            currency_code: "EUR".into(),
        }),
        stock: Some(pb::Stock {
            available: 12,
            reserved: 0,
        }),
        ..Default::default()
    }
}
