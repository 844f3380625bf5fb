//! The saga's SQL: payments, remembered cancellations, and the per-order lock. Every function
//! runs inside the caller's transaction; balances and ledger entries go through
//! [`crate::store`].

use sqlx::{FromRow, PgConnection};
use uuid::Uuid;

/// A payment's status (`payments.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// The amount was taken from the balance.
    Captured,
    /// The amount was given back.
    Refunded,
}

impl Status {
    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Status::Captured => "CAPTURED",
            Status::Refunded => "REFUNDED",
        }
    }
}

/// A payment as the refund path needs it.
#[derive(Debug, Clone, FromRow)]
pub struct Payment {
    /// The payment's id.
    pub id: Uuid,
    /// The order it paid for.
    pub order_id: Uuid,
    /// The account it was taken from.
    pub user_id: Uuid,
    /// The amount taken, in minor units.
    pub amount_minor: i64,
    /// The amount's currency.
    pub currency: String,
    /// `CAPTURED` or `REFUNDED`.
    pub status: String,
}

impl Payment {
    /// True while the money is taken.
    pub fn is_captured(&self) -> bool {
        self.status == Status::Captured.as_str()
    }
}

/// Holds a lock on `order_id` until the transaction ends, so that the events of one order are
/// applied one after the other even when they arrive on different topics and instances.
pub async fn lock_order(conn: &mut PgConnection, order_id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1::text, 0))")
        .bind(order_id)
        .execute(conn)
        .await
        .map(drop)
}

/// True when `expires_at_millis` (milliseconds since the epoch) is not in the future by the
/// database's clock, the clock the product service sets expiries with.
pub async fn has_passed(
    conn: &mut PgConnection,
    expires_at_millis: i64,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT to_timestamp($1::float8 / 1000) <= now()")
        .bind(expires_at_millis)
        .fetch_one(conn)
        .await
}

/// True when `order_id`'s cancellation was seen before any payment.
pub async fn is_cancelled(conn: &mut PgConnection, order_id: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM cancelled_orders WHERE order_id = $1)")
        .bind(order_id)
        .fetch_one(conn)
        .await
}

/// Remembers that `order_id` was cancelled (once; a second call changes nothing).
pub async fn remember_cancellation(
    conn: &mut PgConnection,
    order_id: Uuid,
    reason: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO cancelled_orders (order_id, reason) VALUES ($1, $2)
         ON CONFLICT (order_id) DO NOTHING",
    )
    .bind(order_id)
    .bind(reason)
    .execute(conn)
    .await
    .map(drop)
}

/// The payment of `order_id`, locked, if there is one.
pub async fn lock_payment_of_order(
    conn: &mut PgConnection,
    order_id: Uuid,
) -> Result<Option<Payment>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, order_id, user_id, amount_minor, currency, status
         FROM payments WHERE order_id = $1 FOR UPDATE",
    )
    .bind(order_id)
    .fetch_optional(conn)
    .await
}

/// Inserts a CAPTURED payment of `amount_minor` for `order_id`; returns its id.
pub async fn insert_payment(
    conn: &mut PgConnection,
    order_id: Uuid,
    user_id: Uuid,
    amount_minor: i64,
    currency: &str,
) -> Result<Uuid, sqlx::Error> {
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO payments (id, order_id, user_id, amount_minor, currency, status)
         VALUES ($1, $2, $3, $4, $5, 'CAPTURED')",
    )
    .bind(id)
    .bind(order_id)
    .bind(user_id)
    .bind(amount_minor)
    .bind(currency)
    .execute(conn)
    .await?;
    Ok(id)
}

/// Sets payment `id`'s status.
pub async fn set_status(
    conn: &mut PgConnection,
    id: Uuid,
    status: Status,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE payments SET status = $2, updated_at = now() WHERE id = $1")
        .bind(id)
        .bind(status.as_str())
        .execute(conn)
        .await
        .map(drop)
}
