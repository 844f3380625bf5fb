//! Getting a service's own database ready at start-up: its migrations and first-run data (an
//! admin account, a demo catalogue), done before the service answers requests.
//!
//! `Application::build` calls [`prepare`] once. When the database answers, the work is finished
//! before `build` returns, so the first request finds its tables. When the database cannot be
//! reached, the process still starts, as the lazy pool intends, reports the database as not
//! ready, and retries the work in the background until it succeeds. Any other failure (a
//! migration that does not apply, first-run data the database refuses) fails start-up at once.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sqlx::PgPool;

/// How long the background retry waits between attempts.
const RETRY_EVERY: Duration = Duration::from_secs(2);

/// Whether the database has been prepared; cheap to clone and share with the readiness check.
#[derive(Debug, Clone, Default)]
pub struct Prepared(Arc<AtomicBool>);

impl Prepared {
    /// True once the migrations and first-run data are in place.
    pub fn is_done(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }

    fn mark_done(&self) {
        self.0.store(true, Ordering::Release);
    }

    /// Readiness of the service's database: prepared, and answering a trivial query.
    pub async fn check(&self, pool: &PgPool) -> Result<(), String> {
        if !self.is_done() {
            return Err("database: migrations not applied yet (retrying)".into());
        }
        crate::db::ping(pool).await
    }
}

/// Runs `step` (migrations, then first-run data) now; when the database is unreachable, keeps
/// running it in the background until it succeeds and returns at once. `service` names the
/// service in logs.
pub async fn prepare<F, Fut>(service: &'static str, step: F) -> anyhow::Result<Prepared>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let prepared = Prepared::default();
    match step().await {
        Ok(()) => prepared.mark_done(),
        Err(err) if database_unreachable(&err) => {
            tracing::warn!(
                service,
                error = format!("{err:#}"),
                "database unreachable; preparing it in the background"
            );
            tokio::spawn(retry(service, step, prepared.clone()));
        }
        Err(err) => return Err(err.context("preparing the database")),
    }
    Ok(prepared)
}

async fn retry<F, Fut>(service: &'static str, step: F, prepared: Prepared)
where
    F: Fn() -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    loop {
        tokio::time::sleep(RETRY_EVERY).await;
        match step().await {
            Ok(()) => {
                tracing::info!(service, "database prepared");
                prepared.mark_done();
                return;
            }
            Err(err) => tracing::warn!(
                service,
                error = format!("{err:#}"),
                "preparing the database failed; retrying"
            ),
        }
    }
}

/// True when the failure is about reaching the database, not about what it was asked to do.
fn database_unreachable(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        matches!(
            cause.downcast_ref::<sqlx::Error>(),
            Some(sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::Tls(_))
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_connection_failures_count_as_unreachable() {
        let timed_out = anyhow::Error::new(sqlx::Error::PoolTimedOut).context("migrating");
        assert!(database_unreachable(&timed_out));
        let refused = sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert!(database_unreachable(&anyhow::Error::new(refused)));
        let broken = anyhow::Error::new(sqlx::Error::Protocol("bad migration".into()));
        assert!(!database_unreachable(&broken));
    }

    #[tokio::test]
    async fn a_step_that_succeeds_leaves_the_database_prepared() {
        let prepared = prepare("test", || async { Ok(()) })
            .await
            .expect("prepared");
        assert!(prepared.is_done());
    }

    #[tokio::test]
    async fn a_step_that_fails_for_another_reason_fails_start_up() {
        let failed = prepare("test", || async {
            Err(anyhow::anyhow!("checksum mismatch"))
        })
        .await;
        assert!(failed.is_err());
    }
}
