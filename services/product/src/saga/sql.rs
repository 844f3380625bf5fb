//! The saga's SQL: reservations, their lines, and stock moved between available, reserved
//! and sold. Every function runs inside the caller's transaction.

use std::time::Duration;

use sqlx::types::chrono::{DateTime, Utc};
use sqlx::{FromRow, PgConnection};
use uuid::Uuid;

/// A reservation's status (`reservations.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Stock held for the order until it is paid or released.
    Reserved,
    /// The stock went back to available (`release_reason` says why).
    Released,
    /// The stock was sold.
    Committed,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Reserved => "RESERVED",
            Status::Released => "RELEASED",
            Status::Committed => "COMMITTED",
        }
    }
}

/// A reservation as the compensation, commit and expiry paths need it.
#[derive(Debug, Clone, FromRow)]
pub struct Reservation {
    pub id: Uuid,
    pub order_id: Uuid,
    pub user_id: Uuid,
    pub status: String,
    pub release_reason: Option<String>,
    pub correlation_id: String,
}

impl Reservation {
    /// True while the stock is still held.
    pub fn is_reserved(&self) -> bool {
        self.status == Status::Reserved.as_str()
    }

    /// True when it was released because it expired.
    pub fn expired(&self) -> bool {
        self.status == Status::Released.as_str()
            && self.release_reason.as_deref() == Some("EXPIRED")
    }
}

/// One product's units in a reservation (or an order, lines for one product added up).
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromRow)]
pub struct Line {
    pub product_id: Uuid,
    pub quantity: i64,
}

/// A product's stock and price, locked for the transaction.
#[derive(Debug, Clone, FromRow)]
pub struct LockedProduct {
    pub id: Uuid,
    pub available: i64,
    pub price_minor: i64,
    pub currency: String,
}

/// Where units go: each applies `(available, reserved, sold)` deltas per unit.
#[derive(Debug, Clone, Copy)]
pub enum Move {
    /// available → reserved.
    Reserve,
    /// reserved → available.
    Release,
    /// reserved → sold.
    Commit,
    /// available → sold (a commit after the reservation had expired).
    SellFromAvailable,
}

impl Move {
    fn deltas(self) -> (i64, i64, i64) {
        match self {
            Move::Reserve => (-1, 1, 0),
            Move::Release => (1, -1, 0),
            Move::Commit => (0, -1, 1),
            Move::SellFromAvailable => (-1, 0, 1),
        }
    }
}

/// The reservation of `order_id`, locked, if there is one.
pub async fn lock_reservation_of_order(
    conn: &mut PgConnection,
    order_id: Uuid,
) -> Result<Option<Reservation>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, order_id, user_id, status, release_reason, correlation_id
         FROM reservations WHERE order_id = $1 FOR UPDATE",
    )
    .bind(order_id)
    .fetch_optional(conn)
    .await
}

/// True when `order_id` already has a reservation, whatever its status.
pub async fn reservation_exists(
    conn: &mut PgConnection,
    order_id: Uuid,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM reservations WHERE order_id = $1)")
        .bind(order_id)
        .fetch_one(conn)
        .await
}

/// Up to `limit` live reservations whose expiry plus `grace` has passed, locked; rows another
/// transaction holds are skipped (another sweeper, or a handler settling them).
pub async fn lock_overdue_reservations(
    conn: &mut PgConnection,
    grace: Duration,
    limit: i64,
) -> Result<Vec<Reservation>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, order_id, user_id, status, release_reason, correlation_id
         FROM reservations
         WHERE status = 'RESERVED' AND expires_at + make_interval(secs => $1) < now()
         ORDER BY expires_at
         LIMIT $2
         FOR UPDATE SKIP LOCKED",
    )
    .bind(grace.as_secs_f64())
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// The lines of reservation `id`, by product id.
pub async fn reservation_lines(
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<Vec<Line>, sqlx::Error> {
    sqlx::query_as(
        "SELECT product_id, quantity FROM reservation_lines
         WHERE reservation_id = $1 ORDER BY product_id",
    )
    .bind(id)
    .fetch_all(conn)
    .await
}

/// Locks the products among `ids` that exist, in id order, so that concurrent transactions
/// take their locks in one order and cannot deadlock.
pub async fn lock_products(
    conn: &mut PgConnection,
    ids: &[Uuid],
) -> Result<Vec<LockedProduct>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, available, price_minor, currency FROM products
         WHERE id = ANY($1) ORDER BY id FOR UPDATE",
    )
    .bind(ids)
    .fetch_all(conn)
    .await
}

/// Moves each line's units as `movement` says. The products must be locked already
/// ([`lock_products`]); the table's checks refuse a negative count.
pub async fn move_stock(
    conn: &mut PgConnection,
    lines: &[Line],
    movement: Move,
) -> Result<(), sqlx::Error> {
    let (available, reserved, sold) = movement.deltas();
    let (ids, quantities): (Vec<Uuid>, Vec<i64>) =
        lines.iter().map(|l| (l.product_id, l.quantity)).unzip();
    sqlx::query(
        "UPDATE products p
         SET available = available + l.quantity * $3,
             reserved = reserved + l.quantity * $4,
             sold = sold + l.quantity * $5,
             updated_at = now()
         FROM unnest($1::uuid[], $2::bigint[]) AS l (id, quantity)
         WHERE p.id = l.id",
    )
    .bind(&ids)
    .bind(&quantities)
    .bind(available)
    .bind(reserved)
    .bind(sold)
    .execute(conn)
    .await
    .map(drop)
}

/// A reservation about to be written.
#[derive(Debug)]
pub struct NewReservation<'a> {
    pub order_id: Uuid,
    pub user_id: Uuid,
    pub correlation_id: &'a str,
    pub ttl: Duration,
    pub total_minor: i64,
    pub currency: &'a str,
    /// Each line with its unit price.
    pub lines: &'a [(Line, i64)],
}

/// Inserts a RESERVED reservation and its lines, expiring `ttl` from now; returns its id and
/// expiry.
pub async fn insert_reservation(
    conn: &mut PgConnection,
    new: &NewReservation<'_>,
) -> Result<(Uuid, DateTime<Utc>), sqlx::Error> {
    let id = Uuid::now_v7();
    let expires_at: DateTime<Utc> = sqlx::query_scalar(
        "INSERT INTO reservations (id, order_id, user_id, status, correlation_id, expires_at,
                                   total_minor, currency)
         VALUES ($1, $2, $3, 'RESERVED', $4, now() + make_interval(secs => $5), $6, $7)
         RETURNING expires_at",
    )
    .bind(id)
    .bind(new.order_id)
    .bind(new.user_id)
    .bind(new.correlation_id)
    .bind(new.ttl.as_secs_f64())
    .bind(new.total_minor)
    .bind(new.currency)
    .fetch_one(&mut *conn)
    .await?;
    let (products, rest): (Vec<Uuid>, Vec<(i64, i64)>) = new
        .lines
        .iter()
        .map(|(line, price)| (line.product_id, (line.quantity, *price)))
        .unzip();
    let (quantities, prices): (Vec<i64>, Vec<i64>) = rest.into_iter().unzip();
    sqlx::query(
        "INSERT INTO reservation_lines (reservation_id, product_id, quantity, unit_price_minor)
         SELECT $1, * FROM unnest($2::uuid[], $3::bigint[], $4::bigint[])",
    )
    .bind(id)
    .bind(&products)
    .bind(&quantities)
    .bind(&prices)
    .execute(conn)
    .await?;
    Ok((id, expires_at))
}

/// Sets reservation `id`'s status (and, for a release, its reason).
pub async fn set_status(
    conn: &mut PgConnection,
    id: Uuid,
    status: Status,
    release_reason: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE reservations SET status = $2, release_reason = $3, updated_at = now()
         WHERE id = $1",
    )
    .bind(id)
    .bind(status.as_str())
    .bind(release_reason)
    .execute(conn)
    .await
    .map(drop)
}
