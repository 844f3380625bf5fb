//! The expiry sweeper: releases reservations whose payment did not come in time
//! (StockReleased with reason EXPIRED).
//!
//! Every `sweep_interval` it takes overdue reservations (expiry plus grace passed) in batches of
//! `sweep_batch`, each batch in one transaction with `FOR UPDATE SKIP LOCKED`, so several
//! instances sweep side by side without waiting on each other or releasing anything twice, and
//! a reservation a handler is settling at that moment is left to the handler. The stock, the
//! status and the StockReleased outbox row commit together; a crash before the commit releases
//! nothing, and the next sweep does it. Database errors are logged and the sweep is tried again
//! at the next tick.

use std::future::Future;

use sagaway_contracts::events::{EventMetadata, StockReleaseReason};
use sagaway_platform::outbox::EventHeaders;
use sqlx::PgPool;

use super::SagaConfig;
use super::release::release;
use super::sql;

/// Releases overdue reservations of `pool`'s database until `shutdown` completes.
pub async fn run(pool: PgPool, config: SagaConfig, shutdown: impl Future<Output = ()> + Send) {
    let mut shutdown = std::pin::pin!(shutdown);
    // A zero interval would make `interval` panic; sweeping back to back is what it asks for.
    let every = config
        .sweep_interval
        .max(std::time::Duration::from_millis(1));
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            _ = tick.tick() => {}
        }
        if let Err(err) = sweep(&pool, &config).await {
            tracing::warn!(
                error = format!("{:#}", anyhow::Error::new(err)),
                "reservation expiry sweep failed; retrying at the next tick"
            );
        }
    }
    tracing::info!("reservation expiry sweeper stopped");
}

/// Releases every reservation overdue now, batch by batch; returns how many.
pub async fn sweep(pool: &PgPool, config: &SagaConfig) -> Result<usize, sqlx::Error> {
    let batch_size = config.sweep_batch.max(1);
    let mut released = 0;
    loop {
        let batch = sweep_batch(pool, config, batch_size).await?;
        released += batch;
        if batch < batch_size as usize {
            return Ok(released);
        }
    }
}

/// Releases up to `batch_size` overdue reservations in one transaction; returns how many.
async fn sweep_batch(
    pool: &PgPool,
    config: &SagaConfig,
    batch_size: u32,
) -> Result<usize, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let overdue =
        sql::lock_overdue_reservations(&mut tx, config.reservation_grace, i64::from(batch_size))
            .await?;
    for reservation in &overdue {
        let metadata = EventMetadata::new(
            reservation.correlation_id.clone(),
            None,
            crate::SERVICE_NAME,
        );
        let headers = EventHeaders {
            correlation_id: reservation.correlation_id.clone(),
            traceparent: None,
        };
        release(
            &mut tx,
            reservation,
            StockReleaseReason::Expired,
            metadata,
            &headers,
        )
        .await?;
    }
    tx.commit().await?;
    if !overdue.is_empty() {
        metrics::counter!("sagaway_reservations_expired_total").increment(overdue.len() as u64);
    }
    Ok(overdue.len())
}
