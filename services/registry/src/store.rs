//! Schemas and subject versions in PostgreSQL.
//!
//! Registration runs in one transaction holding an advisory lock on the subject, so concurrent
//! registrations (from any number of registry instances on the same database) give one id per
//! distinct schema and consecutive versions per subject.

use sqlx::{PgPool, Postgres, Transaction};

use crate::error::ApiError;

/// One version of a subject.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SubjectVersion {
    pub subject: String,
    pub version: i32,
    pub id: i32,
    pub schema: String,
}

/// The registry's storage.
#[derive(Debug, Clone)]
pub struct Store {
    pool: PgPool,
}

/// Parses and normalizes an Avro schema: the text stored and compared (insignificant
/// whitespace removed, object keys in a stable order).
pub fn normalize_avro(schema: &str) -> Result<String, ApiError> {
    apache_avro::Schema::parse_str(schema)
        .map_err(|err| ApiError::InvalidSchema(err.to_string()))?;
    let value: serde_json::Value =
        serde_json::from_str(schema).map_err(|err| ApiError::InvalidSchema(err.to_string()))?;
    Ok(value.to_string())
}

impl Store {
    /// A store on `pool` (migrations already applied).
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// Registers `schema` under `subject`; an identical schema already there keeps its id.
    pub async fn register(&self, subject: &str, schema: &str) -> Result<i32, ApiError> {
        let normalized = normalize_avro(schema)?;
        let mut tx = self.pool.begin().await?;
        let id = upsert_schema(&mut tx, &normalized).await?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
            .bind(subject)
            .execute(&mut *tx)
            .await?;
        let existing: Option<i32> = sqlx::query_scalar(
            "SELECT version FROM subject_versions WHERE subject = $1 AND schema_id = $2 AND NOT deleted",
        )
        .bind(subject)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        if existing.is_none() {
            sqlx::query(
                "INSERT INTO subject_versions (subject, version, schema_id)
                 SELECT $1, COALESCE(MAX(version), 0) + 1, $2 FROM subject_versions WHERE subject = $1",
            )
            .bind(subject)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(id)
    }

    /// The schema text with global id `id`.
    pub async fn schema_by_id(&self, id: i32) -> Result<String, ApiError> {
        sqlx::query_scalar("SELECT schema_text FROM schemas WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| ApiError::SchemaNotFound(id.to_string()))
    }

    /// Subjects with at least one live version, sorted.
    pub async fn subjects(&self) -> Result<Vec<String>, ApiError> {
        Ok(sqlx::query_scalar(
            "SELECT DISTINCT subject FROM subject_versions WHERE NOT deleted ORDER BY subject",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// The live versions of `subject`, ascending; 40401 when it has none.
    pub async fn versions(&self, subject: &str) -> Result<Vec<i32>, ApiError> {
        let versions: Vec<i32> = sqlx::query_scalar(
            "SELECT version FROM subject_versions WHERE subject = $1 AND NOT deleted ORDER BY version",
        )
        .bind(subject)
        .fetch_all(&self.pool)
        .await?;
        if versions.is_empty() {
            return Err(ApiError::SubjectNotFound(subject.to_owned()));
        }
        Ok(versions)
    }

    /// One live version of `subject` (`None` = the latest).
    pub async fn version(
        &self,
        subject: &str,
        version: Option<i32>,
    ) -> Result<SubjectVersion, ApiError> {
        let live = self.versions(subject).await?;
        let wanted = match version {
            Some(v) if live.contains(&v) => v,
            Some(v) => return Err(ApiError::VersionNotFound(v.to_string())),
            None => live.last().copied().unwrap_or_default(),
        };
        Ok(sqlx::query_as(
            "SELECT sv.subject, sv.version, sv.schema_id AS id, s.schema_text AS schema
             FROM subject_versions sv JOIN schemas s ON s.id = sv.schema_id
             WHERE sv.subject = $1 AND sv.version = $2",
        )
        .bind(subject)
        .bind(wanted)
        .fetch_one(&self.pool)
        .await?)
    }

    /// The live version of `subject` holding exactly `schema`, if any.
    pub async fn lookup(&self, subject: &str, schema: &str) -> Result<SubjectVersion, ApiError> {
        let normalized = normalize_avro(schema)?;
        self.versions(subject).await?;
        sqlx::query_as(
            "SELECT sv.subject, sv.version, sv.schema_id AS id, s.schema_text AS schema
             FROM subject_versions sv JOIN schemas s ON s.id = sv.schema_id
             WHERE sv.subject = $1 AND s.fingerprint = md5($2) AND NOT sv.deleted
             ORDER BY sv.version LIMIT 1",
        )
        .bind(subject)
        .bind(&normalized)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| ApiError::SchemaNotFound("for the given subject".to_owned()))
    }
}

async fn upsert_schema(
    tx: &mut Transaction<'_, Postgres>,
    normalized: &str,
) -> Result<i32, ApiError> {
    sqlx::query("INSERT INTO schemas (schema_text, fingerprint) VALUES ($1, md5($1)) ON CONFLICT (fingerprint) DO NOTHING")
        .bind(normalized)
        .execute(&mut **tx)
        .await?;
    Ok(
        sqlx::query_scalar("SELECT id FROM schemas WHERE fingerprint = md5($1)")
            .bind(normalized)
            .fetch_one(&mut **tx)
            .await?,
    )
}
