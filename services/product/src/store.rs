//! The SQL of the product database (`migrations/`), one small function per statement. Functions
//! that may run inside a transaction take `&mut PgConnection` (pass `&mut *tx`, or a pooled
//! connection); reads take the pool.

use sagaway_platform::money::{Currency, Money};
use sagaway_platform::paging::PageRequest;
use sqlx::postgres::PgRow;
use sqlx::{FromRow, PgConnection, PgPool, Row as _};
use uuid::Uuid;

use crate::domain::{NewProduct, Product, Quantity};

const PRODUCT_COLUMNS: &str = "id, sku, name, description, price_minor, currency, available, reserved, created_at, updated_at";

/// Inserts the product unless its sku is taken; `None` when it is.
pub async fn insert_product(
    conn: &mut PgConnection,
    product: &NewProduct,
) -> Result<Option<Product>, sqlx::Error> {
    sqlx::query_as(&format!(
        "INSERT INTO products (id, sku, name, description, price_minor, currency, available,
                               received)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
         ON CONFLICT (sku) DO NOTHING
         RETURNING {PRODUCT_COLUMNS}"
    ))
    .bind(Uuid::now_v7())
    .bind(product.sku.as_str())
    .bind(product.name.as_str())
    .bind(product.description.as_str())
    .bind(product.price.amount_minor())
    .bind(product.price.currency().as_str())
    .bind(product.available)
    .fetch_optional(conn)
    .await
}

/// The product with `id`.
pub async fn find_product(pool: &PgPool, id: Uuid) -> Result<Option<Product>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {PRODUCT_COLUMNS} FROM products WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await
}

/// The products among `ids` that exist, in no particular order.
pub async fn find_products(pool: &PgPool, ids: &[Uuid]) -> Result<Vec<Product>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {PRODUCT_COLUMNS} FROM products WHERE id = ANY($1)"
    ))
    .bind(ids)
    .fetch_all(pool)
    .await
}

/// One page of products, oldest first, with one extra row when more follow.
pub async fn list_products(pool: &PgPool, page: &PageRequest) -> Result<Vec<Product>, sqlx::Error> {
    let (after_time, after_id) = page.after.map(|c| (c.created_at, c.id)).unzip();
    sqlx::query_as(&format!(
        "SELECT {PRODUCT_COLUMNS} FROM products
         WHERE $1::timestamptz IS NULL OR (created_at, id) > ($1, $2)
         ORDER BY created_at, id
         LIMIT $3"
    ))
    .bind(after_time)
    .bind(after_id)
    .bind(page.size.fetch_limit())
    .fetch_all(pool)
    .await
}

/// Adds `quantity` to the available stock of product `id` (and to what it has ever
/// received); `None` when there is no such product. Fails with a numeric-out-of-range
/// database error when the sum overflows.
pub async fn add_stock(
    pool: &PgPool,
    id: Uuid,
    quantity: Quantity,
) -> Result<Option<Product>, sqlx::Error> {
    sqlx::query_as(&format!(
        "UPDATE products
         SET available = available + $2, received = received + $2, updated_at = now()
         WHERE id = $1
         RETURNING {PRODUCT_COLUMNS}"
    ))
    .bind(id)
    .bind(quantity.get())
    .fetch_optional(pool)
    .await
}

/// Holds the demo-catalogue lock until the transaction ends, so that concurrent starts seed
/// one after the other.
pub async fn lock_demo_seeding(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('sagaway.product.demo_catalog'))")
        .execute(conn)
        .await
        .map(drop)
}

/// True when the catalogue holds no product at all.
pub async fn catalog_is_empty(conn: &mut PgConnection) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT NOT EXISTS (SELECT 1 FROM products)")
        .fetch_one(conn)
        .await
}

/// True when the database refused a value as out of range (SQLSTATE 22003), e.g. an overflow.
pub fn is_out_of_range(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .is_some_and(|db| db.code().as_deref() == Some("22003"))
}

impl FromRow<'_, PgRow> for Product {
    fn from_row(row: &PgRow) -> Result<Self, sqlx::Error> {
        let currency: String = row.try_get("currency")?;
        let currency = Currency::parse(&currency).map_err(|err| sqlx::Error::ColumnDecode {
            index: "currency".into(),
            source: Box::new(err),
        })?;
        Ok(Self {
            id: row.try_get("id")?,
            sku: row.try_get("sku")?,
            name: row.try_get("name")?,
            description: row.try_get("description")?,
            price: Money::new(row.try_get("price_minor")?, currency),
            available: row.try_get("available")?,
            reserved: row.try_get("reserved")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        })
    }
}
