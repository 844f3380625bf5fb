//! Schemas, subject versions, compatibility levels and modes in PostgreSQL.
//!
//! Registration runs in one transaction holding an advisory lock on the subject, so concurrent
//! registrations from any number of registry instances on one database give one id per distinct
//! schema, consecutive versions per subject, and a compatibility check against exactly the
//! versions that exist when the new one is written. Schema rows are never deleted, so an id
//! never changes meaning and is never reused.

use std::sync::Arc;

use serde_json::Value;
use sqlx::{PgPool, Postgres, Transaction};

use crate::cache::Cache;
use crate::error::ApiError;
use crate::schema::{self, Reference};

/// A schema by global id.
#[derive(Debug, Clone)]
pub struct SchemaRecord {
    /// Global id.
    pub id: i32,
    /// Stored (normalized) text.
    pub schema: String,
    /// What it references.
    pub references: Vec<Reference>,
}

/// One version of a subject.
#[derive(Debug, Clone)]
pub struct VersionRecord {
    /// The subject.
    pub subject: String,
    /// The version, from 1.
    pub version: i32,
    /// The global schema id.
    pub id: i32,
    /// The schema text.
    pub schema: String,
    /// What it references.
    pub references: Vec<Reference>,
    /// Soft-deleted.
    pub deleted: bool,
    /// Registration time, ms since the epoch.
    pub registered_ms: i64,
}

/// Which version a request names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionSpec {
    /// `latest` or `-1`.
    Latest,
    /// A number from 1.
    Number(i32),
}

impl VersionSpec {
    /// Parses a path segment; 42202 for anything else.
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        match raw {
            "latest" | "-1" => Ok(VersionSpec::Latest),
            _ => match raw.parse::<i32>() {
                Ok(v) if v > 0 => Ok(VersionSpec::Number(v)),
                _ => Err(ApiError::InvalidVersion(raw.to_owned())),
            },
        }
    }
}

/// A schema to register.
#[derive(Debug, Clone)]
pub struct NewSchema {
    /// Normalized text.
    pub schema: String,
    /// Its references.
    pub references: Vec<Reference>,
    /// IMPORT mode only: the id and version to register it under.
    pub import: Option<(Option<i32>, Option<i32>)>,
}

/// The registry's storage, with its caches in front.
#[derive(Debug, Clone)]
pub struct Store {
    pool: PgPool,
    cache: Arc<Cache>,
}

type Tx<'a> = Transaction<'a, Postgres>;

fn references_from(value: Value) -> Vec<Reference> {
    serde_json::from_value(value).unwrap_or_default()
}

const VERSION_COLUMNS: &str =
    "sv.subject, sv.version, sv.schema_id, s.schema_text, s.refs, sv.deleted,
    (EXTRACT(EPOCH FROM sv.created_at) * 1000)::BIGINT";

type VersionRow = (String, i32, i32, String, Value, bool, i64);

fn version_from(row: VersionRow) -> VersionRecord {
    let (subject, version, id, schema, refs, deleted, registered_ms) = row;
    VersionRecord {
        subject,
        version,
        id,
        schema,
        references: references_from(refs),
        deleted,
        registered_ms,
    }
}

impl Store {
    /// A store on `pool` (migrations already applied) with `cache` in front.
    pub fn new(pool: PgPool, cache: Arc<Cache>) -> Self {
        Self { pool, cache }
    }

    /// The caches.
    pub fn cache(&self) -> &Arc<Cache> {
        &self.cache
    }

    /// The pool, for readiness checks and listeners.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The live version of `subject` holding exactly `new`, if any, read through the subject
    /// cache: the common case of a producer re-registering its schema, answered without a
    /// write transaction. (A registration racing with it still goes through `register`.)
    pub async fn identical_version(
        &self,
        subject: &str,
        new: &NewSchema,
    ) -> Result<Option<(i32, i32)>, ApiError> {
        if new.import.is_some() {
            return Ok(None);
        }
        let versions = match self.versions(subject, false).await {
            Ok(versions) => versions,
            Err(ApiError::SubjectNotFound(_)) => return Ok(None),
            Err(err) => return Err(err),
        };
        Ok(versions
            .iter()
            .find(|v| v.schema == new.schema && v.references == new.references)
            .map(|v| (v.id, v.version)))
    }

    /// Registers `new` under `subject`; an identical live schema keeps its id and version.
    /// `check` sees the subject's live versions (oldest first), each with the texts of the
    /// schemas it references, and may refuse the new schema.
    pub async fn register(
        &self,
        subject: &str,
        new: &NewSchema,
        check: impl FnOnce(&[(VersionRecord, Vec<String>)]) -> Result<(), ApiError>,
    ) -> Result<(i32, i32), ApiError> {
        let mut tx = self.pool.begin().await?;
        lock_subject(&mut tx, subject).await?;
        let live: Vec<VersionRecord> = subject_versions(&mut tx, subject, false).await?;
        let fingerprint = schema::fingerprint_input(&new.schema, &new.references);
        if let Some(existing) = live.iter().find(|v| {
            v.schema == new.schema && v.references == new.references && new.import.is_none()
        }) {
            return Ok((existing.id, existing.version));
        }
        let mut with_references = Vec::with_capacity(live.len());
        for version in live {
            let referenced = self.resolve_references(&version.references).await?;
            with_references.push((version, referenced));
        }
        check(&with_references)?;
        let id = match new.import {
            Some((Some(id), _)) => import_schema(&mut tx, id, new, &fingerprint).await?,
            _ => upsert_schema(&mut tx, new, &fingerprint).await?,
        };
        let all = subject_versions(&mut tx, subject, true).await?;
        let version = match new.import {
            Some((_, Some(version))) => {
                if all.iter().any(|v| v.version == version) {
                    return Err(ApiError::OperationNotPermitted(format!(
                        "Version {version} of subject '{subject}' already exists"
                    )));
                }
                version
            }
            _ => all.iter().map(|v| v.version).max().unwrap_or(0) + 1,
        };
        sqlx::query(
            "INSERT INTO subject_versions (subject, version, schema_id) VALUES ($1, $2, $3)",
        )
        .bind(subject)
        .bind(version)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.cache.invalidate(subject);
        Ok((id, version))
    }

    /// The schema with global id `id`.
    pub async fn schema_by_id(&self, id: i32) -> Result<Arc<SchemaRecord>, ApiError> {
        if let Some(found) = self.cache.schema(id) {
            return Ok(found);
        }
        let row: Option<(String, Value)> =
            sqlx::query_as("SELECT schema_text, refs FROM schemas WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        let (schema, refs) = row.ok_or_else(|| ApiError::SchemaNotFound(id.to_string()))?;
        Ok(self.cache.put_schema(SchemaRecord {
            id,
            schema,
            references: references_from(refs),
        }))
    }

    /// Subjects with a live version (or any version, with `include_deleted`), sorted.
    pub async fn subjects(
        &self,
        prefix: &str,
        include_deleted: bool,
    ) -> Result<Vec<String>, ApiError> {
        Ok(sqlx::query_scalar(
            "SELECT DISTINCT subject FROM subject_versions
             WHERE (NOT deleted OR $2) AND starts_with(subject, $1) ORDER BY subject",
        )
        .bind(prefix)
        .bind(include_deleted)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Every version of `subject`, oldest first; 40401 when it has none visible.
    pub async fn versions(
        &self,
        subject: &str,
        include_deleted: bool,
    ) -> Result<Vec<VersionRecord>, ApiError> {
        let all = match self.cache.versions(subject) {
            Some(all) => all,
            None => {
                let mut tx = self.pool.begin().await?;
                let all = subject_versions(&mut tx, subject, true).await?;
                tx.commit().await?;
                self.cache.put_versions(subject, all)
            }
        };
        let versions: Vec<VersionRecord> = all
            .iter()
            .filter(|v| include_deleted || !v.deleted)
            .cloned()
            .collect();
        if versions.is_empty() {
            return Err(ApiError::SubjectNotFound(subject.to_owned()));
        }
        Ok(versions)
    }

    /// One version of `subject`.
    pub async fn version(
        &self,
        subject: &str,
        spec: VersionSpec,
        include_deleted: bool,
    ) -> Result<VersionRecord, ApiError> {
        let versions = self.versions(subject, include_deleted).await?;
        pick(versions, spec, subject)
    }

    /// The version of `subject` holding exactly this schema.
    pub async fn lookup(
        &self,
        subject: &str,
        normalized: &str,
        references: &[Reference],
        include_deleted: bool,
    ) -> Result<VersionRecord, ApiError> {
        let versions = self.versions(subject, include_deleted).await?;
        versions
            .into_iter()
            .find(|v| v.schema == normalized && v.references == references)
            .ok_or_else(|| ApiError::SchemaNotFound("not found".to_owned()))
    }

    /// Ids of the schemas that reference `subject` at `version`.
    pub async fn referenced_by(&self, subject: &str, version: i32) -> Result<Vec<i32>, ApiError> {
        let probe = serde_json::json!([{ "subject": subject, "version": version }]);
        Ok(
            sqlx::query_scalar("SELECT id FROM schemas WHERE refs @> $1 ORDER BY id")
                .bind(probe)
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// The subject-versions that use schema `id`.
    pub async fn id_versions(
        &self,
        id: i32,
        include_deleted: bool,
    ) -> Result<Vec<(String, i32)>, ApiError> {
        self.schema_by_id(id).await?;
        Ok(sqlx::query_as(
            "SELECT subject, version FROM subject_versions WHERE schema_id = $1 AND (NOT deleted OR $2)
             ORDER BY subject, version",
        )
        .bind(id)
        .bind(include_deleted)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The texts of everything `references` needs, dependencies before dependants.
    pub async fn resolve_references(
        &self,
        references: &[Reference],
    ) -> Result<Vec<String>, ApiError> {
        let mut out: Vec<String> = Vec::new();
        let mut stack: Vec<(Reference, bool)> = references
            .iter()
            .rev()
            .map(|r| (r.clone(), false))
            .collect();
        let mut seen = std::collections::HashSet::new();
        while let Some((reference, expanded)) = stack.pop() {
            let key = (reference.subject.clone(), reference.version);
            let found = self
                .version(
                    &reference.subject,
                    VersionSpec::Number(reference.version),
                    false,
                )
                .await
                .map_err(|_| {
                    ApiError::InvalidSchema(format!(
                        "reference {} to subject '{}' version {} does not exist",
                        reference.name, reference.subject, reference.version
                    ))
                })?;
            if expanded {
                if seen.insert(key) {
                    out.push(found.schema);
                }
                continue;
            }
            if seen.contains(&key) {
                continue;
            }
            stack.push((reference, true));
            stack.extend(found.references.into_iter().rev().map(|r| (r, false)));
        }
        Ok(out)
    }

    /// Soft or permanent deletion of one version; returns the version number.
    pub async fn delete_version(
        &self,
        subject: &str,
        spec: VersionSpec,
        permanent: bool,
    ) -> Result<i32, ApiError> {
        let mut tx = self.pool.begin().await?;
        lock_subject(&mut tx, subject).await?;
        let all = subject_versions(&mut tx, subject, true).await?;
        if all.is_empty() {
            return Err(ApiError::SubjectNotFound(subject.to_owned()));
        }
        let target = if permanent {
            pick(all, spec, subject)?
        } else {
            pick(
                all.into_iter().filter(|v| !v.deleted).collect(),
                spec,
                subject,
            )?
        };
        match (permanent, target.deleted) {
            (false, true) => {
                return Err(ApiError::VersionSoftDeleted(
                    subject.to_owned(),
                    target.version,
                ));
            }
            (true, false) => {
                return Err(ApiError::VersionNotSoftDeleted(
                    subject.to_owned(),
                    target.version,
                ));
            }
            (false, false) => {
                sqlx::query("UPDATE subject_versions SET deleted = true WHERE subject = $1 AND version = $2")
                    .bind(subject)
                    .bind(target.version)
                    .execute(&mut *tx)
                    .await?;
            }
            (true, true) => {
                sqlx::query("DELETE FROM subject_versions WHERE subject = $1 AND version = $2")
                    .bind(subject)
                    .bind(target.version)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        self.cache.invalidate(subject);
        Ok(target.version)
    }

    /// Soft or permanent deletion of a subject; returns the versions deleted.
    pub async fn delete_subject(
        &self,
        subject: &str,
        permanent: bool,
    ) -> Result<Vec<i32>, ApiError> {
        let mut tx = self.pool.begin().await?;
        lock_subject(&mut tx, subject).await?;
        let all = subject_versions(&mut tx, subject, true).await?;
        if all.is_empty() {
            return Err(ApiError::SubjectNotFound(subject.to_owned()));
        }
        let live: Vec<i32> = all
            .iter()
            .filter(|v| !v.deleted)
            .map(|v| v.version)
            .collect();
        let versions = if permanent {
            if !live.is_empty() {
                return Err(ApiError::SubjectNotSoftDeleted(subject.to_owned()));
            }
            sqlx::query("DELETE FROM subject_versions WHERE subject = $1")
                .bind(subject)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM compatibility_config WHERE subject = $1")
                .bind(subject)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM registry_mode WHERE subject = $1")
                .bind(subject)
                .execute(&mut *tx)
                .await?;
            all.iter().map(|v| v.version).collect()
        } else {
            if live.is_empty() {
                return Err(ApiError::SubjectSoftDeleted(subject.to_owned()));
            }
            sqlx::query("UPDATE subject_versions SET deleted = true WHERE subject = $1")
                .bind(subject)
                .execute(&mut *tx)
                .await?;
            live
        };
        tx.commit().await?;
        self.cache.invalidate(subject);
        Ok(versions)
    }

    /// A stored setting (`compatibility_config` or `registry_mode`) for `subject` ('' = global).
    pub async fn setting(&self, table: Setting, subject: &str) -> Result<Option<String>, ApiError> {
        let sql = format!(
            "SELECT {} FROM {} WHERE subject = $1",
            table.column(),
            table.table()
        );
        Ok(sqlx::query_scalar(&sql)
            .bind(subject)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Stores a setting.
    pub async fn put_setting(
        &self,
        table: Setting,
        subject: &str,
        value: &str,
    ) -> Result<(), ApiError> {
        let sql = format!(
            "INSERT INTO {t} (subject, {c}) VALUES ($1, $2) ON CONFLICT (subject) DO UPDATE SET {c} = EXCLUDED.{c}",
            t = table.table(),
            c = table.column()
        );
        sqlx::query(&sql)
            .bind(subject)
            .bind(value)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Removes a setting; returns what it was.
    pub async fn delete_setting(
        &self,
        table: Setting,
        subject: &str,
    ) -> Result<Option<String>, ApiError> {
        let sql = format!(
            "DELETE FROM {} WHERE subject = $1 RETURNING {}",
            table.table(),
            table.column()
        );
        Ok(sqlx::query_scalar(&sql)
            .bind(subject)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// True if the subject has any version, live or soft-deleted.
    pub async fn subject_exists(&self, subject: &str) -> Result<bool, ApiError> {
        Ok(
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM subject_versions WHERE subject = $1)")
                .bind(subject)
                .fetch_one(&self.pool)
                .await?,
        )
    }
}

/// The two per-subject settings.
#[derive(Debug, Clone, Copy)]
pub enum Setting {
    /// Compatibility level.
    Compatibility,
    /// READWRITE / READONLY / IMPORT.
    Mode,
}

impl Setting {
    fn table(self) -> &'static str {
        match self {
            Setting::Compatibility => "compatibility_config",
            Setting::Mode => "registry_mode",
        }
    }
    fn column(self) -> &'static str {
        match self {
            Setting::Compatibility => "compatibility",
            Setting::Mode => "mode",
        }
    }
}

fn pick(
    versions: Vec<VersionRecord>,
    spec: VersionSpec,
    subject: &str,
) -> Result<VersionRecord, ApiError> {
    if versions.is_empty() {
        return Err(ApiError::SubjectNotFound(subject.to_owned()));
    }
    match spec {
        VersionSpec::Latest => versions
            .into_iter()
            .last()
            .ok_or_else(|| ApiError::SubjectNotFound(subject.to_owned())),
        VersionSpec::Number(n) => versions
            .into_iter()
            .find(|v| v.version == n)
            .ok_or_else(|| ApiError::VersionNotFound(n.to_string())),
    }
}

async fn lock_subject(tx: &mut Tx<'_>, subject: &str) -> Result<(), ApiError> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
        .bind(subject)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

async fn subject_versions(
    tx: &mut Tx<'_>,
    subject: &str,
    include_deleted: bool,
) -> Result<Vec<VersionRecord>, ApiError> {
    let sql = format!(
        "SELECT {VERSION_COLUMNS} FROM subject_versions sv JOIN schemas s ON s.id = sv.schema_id
         WHERE sv.subject = $1 AND (NOT sv.deleted OR $2) ORDER BY sv.version"
    );
    let rows: Vec<VersionRow> = sqlx::query_as(&sql)
        .bind(subject)
        .bind(include_deleted)
        .fetch_all(&mut **tx)
        .await?;
    Ok(rows.into_iter().map(version_from).collect())
}

async fn upsert_schema(
    tx: &mut Tx<'_>,
    new: &NewSchema,
    fingerprint: &str,
) -> Result<i32, ApiError> {
    let refs = serde_json::to_value(&new.references).unwrap_or(Value::Array(Vec::new()));
    sqlx::query(
        "INSERT INTO schemas (schema_text, refs, fingerprint) VALUES ($1, $2, md5($3))
         ON CONFLICT (fingerprint) DO NOTHING",
    )
    .bind(&new.schema)
    .bind(refs)
    .bind(fingerprint)
    .execute(&mut **tx)
    .await?;
    Ok(
        sqlx::query_scalar("SELECT id FROM schemas WHERE fingerprint = md5($1)")
            .bind(fingerprint)
            .fetch_one(&mut **tx)
            .await?,
    )
}

/// IMPORT mode: the schema keeps the id it had in the registry it came from.
async fn import_schema(
    tx: &mut Tx<'_>,
    id: i32,
    new: &NewSchema,
    fingerprint: &str,
) -> Result<i32, ApiError> {
    let existing: Option<(String, i32)> = sqlx::query_as(
        "SELECT fingerprint, id FROM schemas WHERE id = $1 OR fingerprint = md5($2)",
    )
    .bind(id)
    .bind(fingerprint)
    .fetch_optional(&mut **tx)
    .await?;
    if let Some((_, existing_id)) = existing {
        if existing_id != id {
            return Err(ApiError::OperationNotPermitted(format!(
                "Schema already registered with id {existing_id} instead of input id {id}"
            )));
        }
        let same: bool =
            sqlx::query_scalar("SELECT fingerprint = md5($2) FROM schemas WHERE id = $1")
                .bind(id)
                .bind(fingerprint)
                .fetch_one(&mut **tx)
                .await?;
        if !same {
            return Err(ApiError::OperationNotPermitted(format!(
                "Overwrite new schema with id {id} is not permitted"
            )));
        }
        return Ok(id);
    }
    let refs = serde_json::to_value(&new.references).unwrap_or(Value::Array(Vec::new()));
    sqlx::query(
        "INSERT INTO schemas (id, schema_text, refs, fingerprint) OVERRIDING SYSTEM VALUE VALUES ($1, $2, $3, md5($4))",
    )
    .bind(id)
    .bind(&new.schema)
    .bind(refs)
    .bind(fingerprint)
    .execute(&mut **tx)
    .await?;
    // Ids the sequence hands out later must not collide with imported ones.
    sqlx::query("SELECT setval(pg_get_serial_sequence('schemas', 'id'), GREATEST((SELECT MAX(id) FROM schemas), 1))")
        .execute(&mut **tx)
        .await?;
    Ok(id)
}
