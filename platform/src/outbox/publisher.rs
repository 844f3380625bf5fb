//! The outbox publisher: the one active instance per database sends unpublished rows in `id`
//! order and marks them once the broker has acknowledged them (see the [module
//! guarantees](super)).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt as _;
use rdkafka::error::KafkaError;
use sagaway_contracts::codec::EventCodec;
use sqlx::Connection as _;
use sqlx::postgres::{PgConnection, PgListener, PgPool};
use tokio::sync::Notify;

use super::CHANNEL;
use super::batch::{PublishError, Sender};
use crate::config::{ConfigError, Env};
use crate::kafka::KafkaConfig;
use crate::retry::{Backoff, error_chain, sleep_or_stop};

/// The session advisory lock the active publisher holds ("SAGAOBX1"); one per database.
const LEADER_LOCK: i64 = 0x5341_4741_4f42_5831;

/// How the publisher batches, polls, cleans up and retries.
#[derive(Debug, Clone)]
pub struct PublisherConfig {
    /// `SAGAWAY_OUTBOX_BATCH_SIZE` (`256`): rows sent per batch (and per transaction).
    pub batch_size: u32,
    /// `SAGAWAY_OUTBOX_POLL_MS` (`1000`): how often to look for rows when no notification
    /// came, and how often a standby instance asks whether it may take over.
    pub poll_interval: Duration,
    /// `SAGAWAY_OUTBOX_RETENTION_SECS` (`3600`): how long published rows are kept (for
    /// inspection) before they are deleted.
    pub retention: Duration,
    /// How often published rows past their retention are deleted (`60 s`).
    pub cleanup_interval: Duration,
    /// First delay after a failure (`100 ms`); it doubles with each consecutive failure.
    pub backoff_base: Duration,
    /// Longest delay between attempts (`10 s`).
    pub backoff_max: Duration,
    /// How long a batch in flight at shutdown may take to finish (`5 s`); after that it is
    /// abandoned and its rows are sent again by the next publisher.
    pub shutdown_grace: Duration,
}

impl Default for PublisherConfig {
    fn default() -> Self {
        Self {
            batch_size: 256,
            poll_interval: Duration::from_secs(1),
            retention: Duration::from_secs(3600),
            cleanup_interval: Duration::from_secs(60),
            backoff_base: Duration::from_millis(100),
            backoff_max: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(5),
        }
    }
}

impl PublisherConfig {
    /// The defaults, with the `SAGAWAY_OUTBOX_*` variables above applied.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let defaults = Self::default();
        Ok(Self {
            batch_size: at_least_one(
                env,
                "SAGAWAY_OUTBOX_BATCH_SIZE",
                env.parse("SAGAWAY_OUTBOX_BATCH_SIZE", defaults.batch_size)?,
            )?,
            poll_interval: Duration::from_millis(env.parse("SAGAWAY_OUTBOX_POLL_MS", 1000)?),
            retention: Duration::from_secs(env.parse("SAGAWAY_OUTBOX_RETENTION_SECS", 3600)?),
            ..defaults
        })
    }
}

/// A batch size of zero would make every batch empty and the drain loop spin.
fn at_least_one(env: &Env, name: &str, value: u32) -> Result<u32, ConfigError> {
    if value > 0 {
        return Ok(value);
    }
    Err(ConfigError {
        name: name.to_owned(),
        value: env.string(name, ""),
        reason: "must be at least 1".to_owned(),
    })
}

/// Sends the outbox to Kafka; run one (or more, for availability) per service.
///
/// While active it holds two PostgreSQL connections: a dedicated one, outside the pool, that
/// owns the advisory lock and runs the batches, and one pooled connection that `LISTEN`s.
pub struct Publisher {
    pool: PgPool,
    sender: Sender,
    config: PublisherConfig,
}

impl std::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publisher")
            .field("brokers", &self.sender.brokers())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// How a batch ended.
enum Batch {
    /// This many rows were published.
    Sent(usize),
    /// Shutdown came; the batch finished or was abandoned.
    Stopped,
}

impl Publisher {
    /// A publisher for the outbox in `pool`'s database, producing to `kafka` and encoding
    /// through `codec`'s registry. Fails only when the producer settings are invalid.
    pub fn new(
        pool: PgPool,
        kafka: &KafkaConfig,
        codec: EventCodec,
        config: PublisherConfig,
    ) -> Result<Self, KafkaError> {
        // Zero would make every batch empty (see `at_least_one`).
        let config = PublisherConfig {
            batch_size: config.batch_size.max(1),
            ..config
        };
        Ok(Self {
            pool,
            sender: Sender::new(kafka, codec, config.batch_size)?,
            config,
        })
    }

    /// Publishes until `shutdown` completes: stands by while another instance is active,
    /// otherwise sends whatever the outbox holds and waits for more. Failures (database,
    /// broker, registry) are logged and retried with backoff; it never gives up.
    pub async fn run(mut self, shutdown: impl Future<Output = ()> + Send) {
        let shutdown = shutdown.shared();
        let mut backoff = Backoff::new(self.config.backoff_base, self.config.backoff_max);
        loop {
            let outcome = self.serve(shutdown.clone(), &mut backoff).await;
            metrics::gauge!("sagaway_outbox_publisher_active").set(0.0);
            let Err(err) = outcome else { break };
            metrics::counter!("sagaway_outbox_batch_failures_total").increment(1);
            let delay = backoff.fail();
            let error = error_chain(&err);
            if err.needs_attention() {
                tracing::error!(%error, retry_in = ?delay, "outbox publishing is blocked");
            } else {
                tracing::warn!(%error, retry_in = ?delay, "outbox publishing failed; retrying");
            }
            self.sender.replace_failed_producer();
            if sleep_or_stop(delay, shutdown.clone()).await {
                break;
            }
        }
        tracing::info!("outbox publisher stopped");
    }

    /// One connection's life: stand by for the lock, then publish until shutdown or failure.
    async fn serve(
        &self,
        shutdown: impl Future<Output = ()> + Clone + Send,
        backoff: &mut Backoff,
    ) -> Result<(), PublishError> {
        let mut conn = PgConnection::connect_with(&self.pool.connect_options()).await?;
        // A mark lost in a database crash only means the row is sent again, which the
        // at-least-once contract allows; not waiting for the WAL flush saves a disk sync per
        // batch. This connection's own transactions are the only ones affected.
        sqlx::query("SET synchronous_commit = off")
            .execute(&mut conn)
            .await?;
        if !self.stand_by(&mut conn, shutdown.clone()).await? {
            return Ok(());
        }
        metrics::gauge!("sagaway_outbox_publisher_active").set(1.0);
        tracing::info!("outbox publisher active");
        let wake = Arc::new(Notify::new());
        let listener = tokio::spawn(listen(
            self.pool.clone(),
            Arc::clone(&wake),
            self.config.poll_interval,
        ));
        let _stop_listener = AbortOnDrop(listener);
        self.publish_until_stopped(&mut conn, &wake, shutdown, backoff)
            .await?;
        close(conn).await;
        Ok(())
    }

    /// The active loop: drain the outbox, clean up now and then, wait for a wake-up.
    async fn publish_until_stopped(
        &self,
        conn: &mut PgConnection,
        wake: &Notify,
        shutdown: impl Future<Output = ()> + Clone,
        backoff: &mut Backoff,
    ) -> Result<(), PublishError> {
        let mut next_cleanup = tokio::time::Instant::now();
        loop {
            loop {
                match self.batch_or_stop(conn, shutdown.clone()).await? {
                    Batch::Stopped => return Ok(()),
                    Batch::Sent(count) => {
                        backoff.succeed();
                        if count < self.config.batch_size as usize {
                            break;
                        }
                    }
                }
            }
            if tokio::time::Instant::now() >= next_cleanup {
                self.clean_up().await;
                next_cleanup = tokio::time::Instant::now() + self.config.cleanup_interval;
            }
            tokio::select! {
                () = shutdown.clone() => return Ok(()),
                () = wake.notified() => {}
                () = tokio::time::sleep(self.config.poll_interval) => {}
            }
        }
    }

    /// Waits until this instance holds the lock; false when shutdown came first.
    async fn stand_by(
        &self,
        conn: &mut PgConnection,
        shutdown: impl Future<Output = ()> + Clone,
    ) -> Result<bool, PublishError> {
        let mut announced = false;
        loop {
            let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
                .bind(LEADER_LOCK)
                .fetch_one(&mut *conn)
                .await?;
            if locked {
                return Ok(true);
            }
            if !announced {
                tracing::info!("another outbox publisher is active on this database; standing by");
                announced = true;
            }
            if sleep_or_stop(self.config.poll_interval, shutdown.clone()).await {
                return Ok(false);
            }
        }
    }

    /// Runs one batch; at shutdown, lets it finish within the grace period or abandons it
    /// (its transaction rolls back, so its rows stay unpublished and are sent again).
    async fn batch_or_stop(
        &self,
        conn: &mut PgConnection,
        shutdown: impl Future<Output = ()>,
    ) -> Result<Batch, PublishError> {
        let batch = self.sender.publish_batch(conn);
        tokio::pin!(batch);
        tokio::select! {
            sent = &mut batch => sent.map(Batch::Sent),
            () = shutdown => match tokio::time::timeout(self.config.shutdown_grace, batch).await {
                Ok(sent) => sent.map(|_| Batch::Stopped),
                Err(_) => {
                    tracing::warn!(
                        "outbox batch abandoned at shutdown; its rows will be sent again"
                    );
                    Ok(Batch::Stopped)
                }
            },
        }
    }

    /// Deletes published rows older than the retention; a failure only delays the cleanup.
    async fn clean_up(&self) {
        let deleted = sqlx::query(
            "DELETE FROM outbox \
             WHERE published_at IS NOT NULL \
               AND published_at < clock_timestamp() - make_interval(secs => $1)",
        )
        .bind(self.config.retention.as_secs_f64())
        .execute(&self.pool)
        .await;
        match deleted {
            Ok(done) if done.rows_affected() > 0 => {
                tracing::debug!(rows = done.rows_affected(), "deleted published outbox rows");
            }
            Ok(_) => {}
            Err(err) => tracing::warn!(error = %error_chain(&err), "outbox cleanup failed"),
        }
    }
}

/// Closes the lock connection politely, which also releases the lock at once.
async fn close(conn: PgConnection) {
    if let Err(err) = conn.close().await {
        tracing::debug!(error = %err, "closing the outbox lock connection");
    }
}

/// Wakes the publisher on every notification, and after each (re)connection, since
/// notifications sent while disconnected are lost.
async fn listen(pool: PgPool, wake: Arc<Notify>, retry: Duration) {
    loop {
        match PgListener::connect_with(&pool).await {
            Ok(mut listener) => match listener.listen(CHANNEL).await {
                Ok(()) => loop {
                    wake.notify_one();
                    match listener.try_recv().await {
                        // A notification, or `None`: the connection was re-established and
                        // whatever was sent meanwhile is unknown. Either way: look.
                        Ok(_) => {}
                        Err(err) => {
                            tracing::warn!(error = %error_chain(&err), "outbox listener lost");
                            break;
                        }
                    }
                },
                Err(err) => tracing::warn!(error = %error_chain(&err), "outbox LISTEN failed"),
            },
            Err(err) => {
                tracing::warn!(error = %error_chain(&err), "outbox listener cannot connect")
            }
        }
        tokio::time::sleep(retry).await;
    }
}

/// Aborts the task when dropped, so the listener never outlives the active publisher.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_come_from_the_environment_and_a_zero_batch_is_refused() {
        let env = Env::from_pairs([
            ("SAGAWAY_OUTBOX_BATCH_SIZE", "32"),
            ("SAGAWAY_OUTBOX_POLL_MS", "250"),
        ]);
        let config = PublisherConfig::from_env(&env).expect("config");
        assert_eq!(config.batch_size, 32);
        assert_eq!(config.poll_interval, Duration::from_millis(250));
        assert_eq!(config.retention, PublisherConfig::default().retention);

        let zero = Env::from_pairs([("SAGAWAY_OUTBOX_BATCH_SIZE", "0")]);
        let err = PublisherConfig::from_env(&zero).expect_err("zero refused");
        assert!(
            err.to_string().contains("SAGAWAY_OUTBOX_BATCH_SIZE"),
            "{err}"
        );
    }
}
