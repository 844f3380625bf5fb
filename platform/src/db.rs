//! The PostgreSQL pool every service owns, and its readiness check.

use std::time::Duration;

use sqlx::postgres::{PgPool, PgPoolOptions};

/// A pool that connects lazily, so a process starts (and reports not-ready) while its database
/// is still coming up.
pub fn lazy_pool(url: &str, max_connections: u32) -> Result<PgPool, sqlx::Error> {
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(3))
        .connect_lazy(url)
}

/// Readiness: the database answers a trivial query.
pub async fn ping(pool: &PgPool) -> Result<(), String> {
    sqlx::query("SELECT 1")
        .execute(pool)
        .await
        .map(drop)
        .map_err(|err| format!("database: {err}"))
}
