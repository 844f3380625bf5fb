//! In-memory caches, kept right across registry instances.
//!
//! Schemas by id never change (ids are never reused), so that cache needs no invalidation and
//! serves `GET /schemas/ids/{id}` from memory. Subject version lists do change: every instance
//! listens on the `sagaway_registry_changes` channel (a trigger notifies on every change) and
//! drops the subject named. Notifications are lost while a listener is disconnected, so on every
//! (re)connect the whole subject cache is dropped, and entries also expire after a short TTL as
//! a last line of defence.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use sqlx::PgPool;
use sqlx::postgres::PgListener;

use crate::store::{SchemaRecord, VersionRecord};

/// The channel the database notifies on.
pub const CHANNEL: &str = "sagaway_registry_changes";

/// A subject's versions (soft-deleted included) and when they were read.
type SubjectEntry = (Instant, Arc<Vec<VersionRecord>>);

/// The registry's caches.
#[derive(Debug)]
pub struct Cache {
    ids: RwLock<HashMap<i32, Arc<SchemaRecord>>>,
    subjects: RwLock<HashMap<String, SubjectEntry>>,
    ttl: Duration,
}

impl Cache {
    /// Empty caches whose subject entries live at most `ttl`.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ids: RwLock::default(),
            subjects: RwLock::default(),
            ttl,
        }
    }

    /// A cached schema.
    pub fn schema(&self, id: i32) -> Option<Arc<SchemaRecord>> {
        read(&self.ids).get(&id).cloned()
    }

    /// Remembers a schema (forever: ids never change meaning).
    pub fn put_schema(&self, record: SchemaRecord) -> Arc<SchemaRecord> {
        let record = Arc::new(record);
        write(&self.ids).insert(record.id, Arc::clone(&record));
        record
    }

    /// Every version of a subject, soft-deleted included, if cached and fresh.
    pub fn versions(&self, subject: &str) -> Option<Arc<Vec<VersionRecord>>> {
        let guard = read(&self.subjects);
        let (at, versions) = guard.get(subject)?;
        (at.elapsed() < self.ttl).then(|| Arc::clone(versions))
    }

    /// Remembers a subject's versions.
    pub fn put_versions(
        &self,
        subject: &str,
        versions: Vec<VersionRecord>,
    ) -> Arc<Vec<VersionRecord>> {
        let versions = Arc::new(versions);
        write(&self.subjects).insert(subject.to_owned(), (Instant::now(), Arc::clone(&versions)));
        versions
    }

    /// Forgets a subject (it changed here or elsewhere).
    pub fn invalidate(&self, subject: &str) {
        write(&self.subjects).remove(subject);
    }

    /// Forgets every subject (notifications may have been missed).
    pub fn invalidate_all(&self) {
        write(&self.subjects).clear();
    }
}

/// Follows the change channel until the process ends, reconnecting after errors.
pub async fn follow_changes(pool: PgPool, cache: Arc<Cache>) {
    loop {
        match PgListener::connect_with(&pool).await {
            Ok(mut listener) => {
                if let Err(err) = listener.listen(CHANNEL).await {
                    tracing::warn!(error = %err, "registry cache: LISTEN failed");
                } else {
                    // Whatever happened while we were not listening is unknown.
                    cache.invalidate_all();
                    loop {
                        match listener.recv().await {
                            Ok(notification) => cache.invalidate(notification.payload()),
                            Err(err) => {
                                tracing::warn!(error = %err, "registry cache: listener lost, reconnecting");
                                break;
                            }
                        }
                    }
                }
            }
            Err(err) => tracing::warn!(error = %err, "registry cache: cannot connect listener"),
        }
        cache.invalidate_all();
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
