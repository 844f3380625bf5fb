//! The PostgreSQL pool every service owns, its readiness check, and the migrations: the
//! platform's own tables (outbox and inbox) and then the service's.

use std::time::Duration;

use futures::future::BoxFuture;
use sqlx::error::BoxDynError;
use sqlx::migrate::{MigrateError, Migration, MigrationSource, Migrator};
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

/// The platform's migrations (`platform/migrations`): the `outbox` and `inbox` tables.
static PLATFORM_MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

/// Brings the database up to date: first the platform's migrations, then `service`'s.
///
/// Both sets share sqlx's `_sqlx_migrations` history, so each runs with missing versions
/// ignored (the other set's). Version numbers must therefore never collide: the platform uses
/// 1-99 and a service numbers its migrations from 100 (`migrations/0100_orders.sql`, ...). A
/// collision fails loudly as a checksum mismatch rather than silently skipping a migration.
/// Each set runs under sqlx's migration lock, so instances starting together are safe.
pub async fn migrate(pool: &PgPool, service: &Migrator) -> Result<(), MigrateError> {
    for migrator in [&PLATFORM_MIGRATIONS, service] {
        let mut shared = Migrator::new(Listed(migrator.iter().cloned().collect())).await?;
        shared.set_ignore_missing(true);
        shared.run(pool).await?;
    }
    Ok(())
}

/// An already-resolved list of migrations, so a borrowed [`Migrator`] can be re-run with
/// different settings.
#[derive(Debug)]
struct Listed(Vec<Migration>);

impl MigrationSource<'static> for Listed {
    fn resolve(self) -> BoxFuture<'static, Result<Vec<Migration>, BoxDynError>> {
        Box::pin(async move { Ok(self.0) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_migrations_stay_below_the_service_range() {
        assert!(
            PLATFORM_MIGRATIONS.iter().next().is_some(),
            "no platform migrations embedded"
        );
        for migration in PLATFORM_MIGRATIONS.iter() {
            assert!(
                (1..100).contains(&migration.version),
                "platform migration {} is outside 1-99",
                migration.version
            );
        }
    }
}
