//! Orders in PostgreSQL: small functions over a transaction or the pool.

use sagaway_platform::paging::{Cursor, PageRequest};
use sqlx::types::chrono::{DateTime, Utc};
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

use crate::domain::{NewOrder, OrderStatus};

/// An order as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OrderRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub status: String,
    pub total_minor: Option<i64>,
    pub currency: Option<String>,
    pub failure_reason: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl OrderRow {
    /// The stored status (an unknown name reads as PENDING, which is never terminal).
    pub fn status(&self) -> OrderStatus {
        OrderStatus::from_db(&self.status).unwrap_or(OrderStatus::Pending)
    }

    /// The paging cursor of this row.
    pub fn cursor(&self) -> Cursor {
        Cursor {
            created_at: self.created_at,
            id: self.id,
        }
    }
}

/// One stored line.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LineRow {
    pub product_id: Uuid,
    pub quantity: i64,
    pub unit_price_minor: Option<i64>,
}

/// One stored status change.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct HistoryRow {
    pub from_status: Option<String>,
    pub to_status: String,
    pub event_id: String,
    pub event_type: String,
    pub reason: String,
    pub changed_at: DateTime<Utc>,
}

/// A status change to record.
#[derive(Debug, Clone)]
pub struct Transition<'a> {
    pub order_id: Uuid,
    pub from: Option<OrderStatus>,
    pub to: OrderStatus,
    pub event_id: &'a str,
    pub event_type: &'a str,
    pub reason: &'a str,
}

const ORDER_COLUMNS: &str =
    "id, user_id, status, total_minor, currency, failure_reason, created_at, updated_at";

/// Inserts a PENDING order and its lines.
pub async fn insert_order(
    tx: &mut Transaction<'_, Postgres>,
    id: Uuid,
    user_id: Uuid,
    order: &NewOrder,
) -> Result<OrderRow, sqlx::Error> {
    let row: OrderRow = sqlx::query_as(&format!(
        "INSERT INTO orders (id, user_id, status) VALUES ($1, $2, $3) RETURNING {ORDER_COLUMNS}"
    ))
    .bind(id)
    .bind(user_id)
    .bind(OrderStatus::Pending.as_db())
    .fetch_one(&mut **tx)
    .await?;
    let products: Vec<Uuid> = order.lines.iter().map(|l| l.product_id).collect();
    let quantities: Vec<i64> = order.lines.iter().map(|l| l.quantity).collect();
    sqlx::query(
        "INSERT INTO order_lines (order_id, line_no, product_id, quantity)
         SELECT $1, ordinality::int, product_id, quantity
         FROM unnest($2::uuid[], $3::bigint[]) WITH ORDINALITY AS l(product_id, quantity, ordinality)",
    )
    .bind(id)
    .bind(&products)
    .bind(&quantities)
    .execute(&mut **tx)
    .await?;
    Ok(row)
}

/// Records a status change.
pub async fn record_transition(
    tx: &mut Transaction<'_, Postgres>,
    change: &Transition<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO order_status_history (order_id, from_status, to_status, event_id, event_type, reason)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(change.order_id)
    .bind(change.from.map(OrderStatus::as_db))
    .bind(change.to.as_db())
    .bind(change.event_id)
    .bind(change.event_type)
    .bind(change.reason)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Sets an order's status (and failure reason) and returns the updated row.
pub async fn set_status(
    tx: &mut Transaction<'_, Postgres>,
    id: Uuid,
    status: OrderStatus,
    failure_reason: &str,
) -> Result<OrderRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "UPDATE orders SET status = $2, failure_reason = $3, updated_at = clock_timestamp()
         WHERE id = $1 RETURNING {ORDER_COLUMNS}"
    ))
    .bind(id)
    .bind(status.as_db())
    .bind(failure_reason)
    .fetch_one(&mut **tx)
    .await
}

/// An order, locked for the rest of `tx`.
pub async fn lock_order(
    tx: &mut Transaction<'_, Postgres>,
    id: Uuid,
) -> Result<Option<OrderRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {ORDER_COLUMNS} FROM orders WHERE id = $1 FOR UPDATE"
    ))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await
}

/// An order, if it exists.
pub async fn find_order(pool: &PgPool, id: Uuid) -> Result<Option<OrderRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {ORDER_COLUMNS} FROM orders WHERE id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// The lines of several orders, by order.
pub async fn lines_of(pool: &PgPool, ids: &[Uuid]) -> Result<Vec<(Uuid, LineRow)>, sqlx::Error> {
    let rows: Vec<(Uuid, Uuid, i64, Option<i64>)> = sqlx::query_as(
        "SELECT order_id, product_id, quantity, unit_price_minor FROM order_lines
         WHERE order_id = ANY($1) ORDER BY order_id, line_no",
    )
    .bind(ids)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(order_id, product_id, quantity, unit_price_minor)| {
            (
                order_id,
                LineRow {
                    product_id,
                    quantity,
                    unit_price_minor,
                },
            )
        })
        .collect())
}

/// One page of orders, newest first: the user's own, or everyone's when `owner` is `None`.
pub async fn list_orders(
    pool: &PgPool,
    owner: Option<Uuid>,
    status: Option<OrderStatus>,
    page: &PageRequest,
) -> Result<Vec<OrderRow>, sqlx::Error> {
    let (after_time, after_id) = match page.after {
        Some(cursor) => (Some(cursor.created_at), Some(cursor.id)),
        None => (None, None),
    };
    sqlx::query_as(&format!(
        "SELECT {ORDER_COLUMNS} FROM orders
         WHERE ($1::uuid IS NULL OR user_id = $1)
           AND ($2::text IS NULL OR status = $2)
           AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4))
         ORDER BY created_at DESC, id DESC
         LIMIT $5"
    ))
    .bind(owner)
    .bind(status.map(OrderStatus::as_db))
    .bind(after_time)
    .bind(after_id)
    .bind(page.size.fetch_limit())
    .fetch_all(pool)
    .await
}

/// Every status change of an order, oldest first.
pub async fn history(pool: &PgPool, id: Uuid) -> Result<Vec<HistoryRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT from_status, to_status, event_id, event_type, reason, changed_at
         FROM order_status_history WHERE order_id = $1 ORDER BY id",
    )
    .bind(id)
    .fetch_all(pool)
    .await
}

/// A payment the saga has seen for an order.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PaymentRow {
    pub payment_id: String,
    pub amount_minor: i64,
    pub currency: String,
}

/// Sets the unit price of each line of `order_id` whose product is in `products`, and the
/// order's total and currency.
pub async fn price_order(
    tx: &mut Transaction<'_, Postgres>,
    order_id: Uuid,
    products: &[Uuid],
    unit_prices: &[i64],
    total_minor: i64,
    currency: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE order_lines l SET unit_price_minor = p.unit_price_minor
         FROM unnest($2::uuid[], $3::bigint[]) AS p(product_id, unit_price_minor)
         WHERE l.order_id = $1 AND l.product_id = p.product_id",
    )
    .bind(order_id)
    .bind(products)
    .bind(unit_prices)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "UPDATE orders SET total_minor = $2, currency = $3, updated_at = clock_timestamp()
         WHERE id = $1",
    )
    .bind(order_id)
    .bind(total_minor)
    .bind(currency)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Remembers the order's payment; the first one seen stays.
pub async fn remember_payment(
    tx: &mut Transaction<'_, Postgres>,
    order_id: Uuid,
    payment: &PaymentRow,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO order_payments (order_id, payment_id, amount_minor, currency)
         VALUES ($1, $2, $3, $4) ON CONFLICT (order_id) DO NOTHING",
    )
    .bind(order_id)
    .bind(&payment.payment_id)
    .bind(payment.amount_minor)
    .bind(&payment.currency)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The payment remembered for an order, if any.
pub async fn payment_of(
    tx: &mut Transaction<'_, Postgres>,
    order_id: Uuid,
) -> Result<Option<PaymentRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT payment_id, amount_minor, currency FROM order_payments WHERE order_id = $1",
    )
    .bind(order_id)
    .fetch_optional(&mut **tx)
    .await
}
