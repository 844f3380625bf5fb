//! Start-up work on the user database: the platform's and this service's migrations, then the
//! admin account from configuration.

use anyhow::Context as _;
use sqlx::PgPool;
use sqlx::migrate::Migrator;

use crate::accounts::Accounts;
use crate::config::AdminAccount;

/// This service's migrations (`migrations/`, versions 100 and up).
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Applies the migrations and creates the configured admin if it does not exist yet.
pub async fn prepare(
    pool: &PgPool,
    accounts: &Accounts,
    admin: Option<&AdminAccount>,
) -> anyhow::Result<()> {
    sagaway_platform::db::migrate(pool, &MIGRATOR)
        .await
        .context("applying migrations")?;
    if let Some(admin) = admin {
        accounts
            .bootstrap_admin(admin)
            .await
            .context("creating the admin from SAGAWAY_ADMIN_EMAIL and SAGAWAY_ADMIN_PASSWORD")?;
    }
    Ok(())
}
