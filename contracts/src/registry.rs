//! A client for a Confluent-compatible schema registry (ours, `services/registry`, or
//! Confluent's own): registers schemas and fetches them by id, caching both answers, since a
//! schema id never changes meaning.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use apache_avro::Schema;
use serde::Deserialize;

/// The content type Confluent clients send and registries answer with.
pub const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";

/// What can go wrong talking to the registry.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The registry could not be reached or the connection failed mid-request.
    #[error("schema registry request to {url} failed")]
    Transport {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    /// The registry answered with a Confluent error body.
    #[error("schema registry answered {status} (error_code {error_code}): {message}")]
    Api {
        status: u16,
        error_code: i64,
        message: String,
    },
    /// The registry returned a schema that does not parse as Avro.
    #[error("schema {id} from the registry is not valid Avro")]
    InvalidSchema {
        id: u32,
        #[source]
        source: apache_avro::Error,
    },
}

impl RegistryError {
    /// True when the schema or subject does not exist (Confluent codes 404xx).
    pub fn is_not_found(&self) -> bool {
        matches!(self, RegistryError::Api { status: 404, .. })
    }

    /// True when retrying may help (transport failures and 5xx answers).
    pub fn is_transient(&self) -> bool {
        match self {
            RegistryError::Transport { .. } => true,
            RegistryError::Api { status, .. } => *status >= 500,
            RegistryError::InvalidSchema { .. } => false,
        }
    }
}

#[derive(Deserialize)]
struct IdResponse {
    id: u32,
}

#[derive(Deserialize)]
struct SchemaResponse {
    schema: String,
}

#[derive(Deserialize)]
struct ErrorBody {
    error_code: i64,
    message: String,
}

/// A registry client with in-memory caches; cheap to clone and share.
#[derive(Debug, Clone)]
pub struct RegistryClient {
    base_url: String,
    http: reqwest::Client,
    by_id: Arc<RwLock<HashMap<u32, Arc<Schema>>>>,
    ids: Arc<RwLock<HashMap<(String, String), u32>>>,
}

impl RegistryClient {
    /// A client for the registry at `base_url` (e.g. `http://127.0.0.1:8081`).
    pub fn new(base_url: impl Into<String>) -> Self {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        Self {
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            http,
            by_id: Arc::default(),
            ids: Arc::default(),
        }
    }

    /// The registry's base URL.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Registers `schema_json` under `subject` (or finds it, if already there) and returns its
    /// global id. Answers are cached, so steady-state producing makes no request.
    pub async fn register(&self, subject: &str, schema_json: &str) -> Result<u32, RegistryError> {
        let key = (subject.to_owned(), schema_json.to_owned());
        if let Some(id) = read(&self.ids).get(&key) {
            return Ok(*id);
        }
        let url = format!(
            "{}/subjects/{}/versions",
            self.base_url,
            encode_segment(subject)
        );
        let body = serde_json::json!({ "schema": schema_json });
        let response = self
            .http
            .post(&url)
            .header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE)
            .json(&body)
            .send()
            .await
            .map_err(|source| RegistryError::Transport {
                url: url.clone(),
                source,
            })?;
        let IdResponse { id } = parse(response, &url).await?;
        write(&self.ids).insert(key, id);
        Ok(id)
    }

    /// Would `schema_json` be accepted under `subject` at the subject's compatibility level?
    /// Returns the registry's reasons when not. A subject the registry does not know is
    /// compatible (nothing to break).
    pub async fn check_compatibility(
        &self,
        subject: &str,
        schema_json: &str,
    ) -> Result<Vec<String>, RegistryError> {
        #[derive(Deserialize)]
        struct Answer {
            is_compatible: bool,
            #[serde(default)]
            messages: Vec<String>,
        }
        let url = format!(
            "{}/compatibility/subjects/{}/versions?verbose=true",
            self.base_url,
            encode_segment(subject)
        );
        let response = self
            .http
            .post(&url)
            .header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE)
            .json(&serde_json::json!({ "schema": schema_json }))
            .send()
            .await
            .map_err(|source| RegistryError::Transport {
                url: url.clone(),
                source,
            })?;
        match parse::<Answer>(response, &url).await {
            Ok(answer) if answer.is_compatible => Ok(Vec::new()),
            Ok(answer) if answer.messages.is_empty() => {
                Ok(vec!["the registry reports it incompatible".to_owned()])
            }
            Ok(answer) => Ok(answer.messages),
            Err(err) if err.is_not_found() => Ok(Vec::new()),
            Err(err) => Err(err),
        }
    }

    /// The schema with global id `id`, fetched once and then served from memory.
    pub async fn schema_by_id(&self, id: u32) -> Result<Arc<Schema>, RegistryError> {
        if let Some(schema) = read(&self.by_id).get(&id) {
            return Ok(Arc::clone(schema));
        }
        let url = format!("{}/schemas/ids/{id}", self.base_url);
        let response =
            self.http
                .get(&url)
                .send()
                .await
                .map_err(|source| RegistryError::Transport {
                    url: url.clone(),
                    source,
                })?;
        let SchemaResponse { schema } = parse(response, &url).await?;
        let parsed = Arc::new(
            Schema::parse_str(&schema)
                .map_err(|source| RegistryError::InvalidSchema { id, source })?,
        );
        write(&self.by_id).insert(id, Arc::clone(&parsed));
        Ok(parsed)
    }
}

async fn parse<T: for<'de> Deserialize<'de>>(
    response: reqwest::Response,
    url: &str,
) -> Result<T, RegistryError> {
    let status = response.status();
    let bytes = response
        .bytes()
        .await
        .map_err(|source| RegistryError::Transport {
            url: url.to_owned(),
            source,
        })?;
    if status.is_success() {
        return serde_json::from_slice(&bytes).map_err(|err| RegistryError::Api {
            status: status.as_u16(),
            error_code: 0,
            message: format!("unexpected response body: {err}"),
        });
    }
    let (error_code, message) = match serde_json::from_slice::<ErrorBody>(&bytes) {
        Ok(body) => (body.error_code, body.message),
        Err(_) => (
            i64::from(status.as_u16()),
            String::from_utf8_lossy(&bytes).into_owned(),
        ),
    };
    Err(RegistryError::Api {
        status: status.as_u16(),
        error_code,
        message,
    })
}

/// Percent-encodes a subject for use as one path segment.
fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::encode_segment;

    #[test]
    fn subjects_are_encoded_as_one_path_segment() {
        assert_eq!(encode_segment("a.b-c_d"), "a.b-c_d");
        assert_eq!(encode_segment("ctx:a/b"), "ctx%3Aa%2Fb");
    }
}
