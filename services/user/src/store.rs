//! The SQL of the user database (`migrations/`), one small function per statement. Functions
//! that must share a transaction take `&mut PgConnection` (pass `&mut *tx`); the rest take the
//! pool.

use sagaway_platform::identity::Role;
use sagaway_platform::money::{Currency, Money};
use sagaway_platform::paging::PageRequest;
use sqlx::postgres::PgRow;
use sqlx::{FromRow, PgConnection, PgPool, Row as _};
use uuid::Uuid;

use crate::credentials::StoredHash;
use crate::domain::{EntryKind, User};

const USER_COLUMNS: &str = "id, email, display_name, roles, balance_minor, currency, created_at";

/// An account to insert, its password already hashed.
#[derive(Debug)]
pub struct NewAccount<'a> {
    /// The normalized email.
    pub email: &'a str,
    /// The display name.
    pub display_name: &'a str,
    /// The password's hash.
    pub password_hash: &'a StoredHash,
    /// The roles to grant.
    pub roles: &'a [Role],
    /// The currency the (zero) balance is kept in.
    pub currency: Currency,
}

/// Inserts the account unless its email is taken; `None` when it is.
pub async fn insert_user(
    pool: &PgPool,
    account: &NewAccount<'_>,
) -> Result<Option<User>, sqlx::Error> {
    let roles: Vec<&str> = account.roles.iter().map(|role| role.as_str()).collect();
    sqlx::query_as(&format!(
        "INSERT INTO users (id, email, display_name, password_hash, roles, currency)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (email) DO NOTHING
         RETURNING {USER_COLUMNS}"
    ))
    .bind(Uuid::now_v7())
    .bind(account.email)
    .bind(account.display_name)
    .bind(&account.password_hash.0)
    .bind(roles)
    .bind(account.currency.as_str())
    .fetch_optional(pool)
    .await
}

/// True when some account has the normalized `email`.
pub async fn email_taken(pool: &PgPool, email: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM users WHERE email = $1)")
        .bind(email)
        .fetch_one(pool)
        .await
}

/// The account with `id`.
pub async fn find_user(pool: &PgPool, id: Uuid) -> Result<Option<User>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// The account with the normalized `email` and its password hash, for signing in.
pub async fn find_credentials(
    pool: &PgPool,
    email: &str,
) -> Result<Option<(User, StoredHash)>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT {USER_COLUMNS}, password_hash FROM users WHERE email = $1"
    ))
    .bind(email)
    .fetch_optional(pool)
    .await?;
    row.map(|row| {
        Ok((
            User::from_row(&row)?,
            StoredHash(row.try_get("password_hash")?),
        ))
    })
    .transpose()
}

/// The account with `id`, locked until the transaction ends.
pub async fn lock_user(conn: &mut PgConnection, id: Uuid) -> Result<Option<User>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {USER_COLUMNS} FROM users WHERE id = $1 FOR UPDATE"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// Sets the balance of account `id` and returns the account.
pub async fn set_balance(
    conn: &mut PgConnection,
    id: Uuid,
    balance: Money,
) -> Result<User, sqlx::Error> {
    sqlx::query_as(&format!(
        "UPDATE users SET balance_minor = $2 WHERE id = $1 RETURNING {USER_COLUMNS}"
    ))
    .bind(id)
    .bind(balance.amount_minor())
    .fetch_one(conn)
    .await
}

/// Records one balance change in the ledger.
pub async fn record_entry(
    conn: &mut PgConnection,
    user_id: Uuid,
    kind: EntryKind,
    amount: Money,
    order_id: Option<Uuid>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO balance_entries (id, user_id, kind, amount_minor, order_id)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(Uuid::now_v7())
    .bind(user_id)
    .bind(kind.as_str())
    .bind(amount.amount_minor())
    .bind(order_id)
    .execute(conn)
    .await
    .map(drop)
}

/// One page of accounts, oldest first, with one extra row when more follow.
pub async fn list_users(pool: &PgPool, page: &PageRequest) -> Result<Vec<User>, sqlx::Error> {
    let (after_time, after_id) = page.after.map(|c| (c.created_at, c.id)).unzip();
    sqlx::query_as(&format!(
        "SELECT {USER_COLUMNS} FROM users
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

impl FromRow<'_, PgRow> for User {
    fn from_row(row: &PgRow) -> Result<Self, sqlx::Error> {
        let roles: Vec<String> = row.try_get("roles")?;
        let currency: String = row.try_get("currency")?;
        let currency = Currency::parse(&currency).map_err(|err| sqlx::Error::ColumnDecode {
            index: "currency".into(),
            source: Box::new(err),
        })?;
        Ok(Self {
            id: row.try_get("id")?,
            email: row.try_get("email")?,
            display_name: row.try_get("display_name")?,
            // The column's CHECK admits only known roles.
            roles: roles.iter().filter_map(|role| role.parse().ok()).collect(),
            balance: Money::new(row.try_get("balance_minor")?, currency),
            created_at: row.try_get("created_at")?,
        })
    }
}
