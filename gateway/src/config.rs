//! The gateway's configuration, read from environment variables with documented defaults.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use sagaway_platform::config::{ConfigError, Env, Secret};

/// Variable naming extra backends: `name=URL[,URL]@/path/to/descriptor_set.bin;...`.
pub const EXTRA_BACKENDS: &str = "SAGAWAY_GATEWAY_EXTRA_BACKENDS";

/// The gateway's configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// `SAGAWAY_HTTP_ADDR` (`0.0.0.0:8080`).
    pub http_addr: SocketAddr,
    /// `SAGAWAY_REDIS_URL` (`redis://127.0.0.1:6379`): sessions, rate limits, idempotency keys.
    pub redis_url: String,
    /// `SAGAWAY_ORDER_URL` (`http://127.0.0.1:50051`); comma-separated for several instances.
    pub order_url: String,
    /// `SAGAWAY_PRODUCT_URL` (`http://127.0.0.1:50052`); comma-separated for several instances.
    pub product_url: String,
    /// `SAGAWAY_USER_URL` (`http://127.0.0.1:50053`); comma-separated for several instances.
    pub user_url: String,
    /// `SAGAWAY_GATEWAY_EXTRA_BACKENDS` (none): services the gateway was not built with.
    pub extra_backends: Vec<ExtraBackend>,
    /// `SAGAWAY_GATEWAY_TIMEOUT_MS` (5000): the deadline of every backend call.
    pub timeout: Duration,
    /// `SAGAWAY_GATEWAY_CONNECT_TIMEOUT_MS` (1000): how long connecting to a backend may take.
    pub connect_timeout: Duration,
    /// `SAGAWAY_GATEWAY_GET_ATTEMPTS` (3): attempts for a GET whose backend is UNAVAILABLE.
    pub get_attempts: u32,
    /// Tokens and sessions.
    pub auth: AuthConfig,
    /// `SAGAWAY_IDEMPOTENCY_TTL_SECS` (86400): how long an `Idempotency-Key` answer is replayed.
    pub idempotency_ttl: Duration,
    /// `SAGAWAY_RATE_LIMIT_PER_IP` (6000; 0 is off): API requests per window per client IP.
    pub rate_limit_per_ip: u64,
    /// `SAGAWAY_RATE_LIMIT_PER_USER` (3000; 0 is off): requests per window per user.
    pub rate_limit_per_user: u64,
    /// `SAGAWAY_RATE_LIMIT_WINDOW_SECS` (60): the rate-limit window.
    pub rate_limit_window: Duration,
    /// `SAGAWAY_RATE_LIMIT_NAMESPACE` (`sagaway`): prefix of the counters in Redis; gateways
    /// sharing it share their counts.
    pub rate_limit_namespace: String,
    /// Request size limits and CORS.
    pub protection: Protection,
    /// `SAGAWAY_GATEWAY_HEALTH_TIMEOUT_MS` (500): how long `/health/ready` waits for each
    /// backend's gRPC health check.
    pub health_timeout: Duration,
}

/// Limits on what a client may send, and which browser origins may call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Protection {
    /// `SAGAWAY_GATEWAY_MAX_BODY_BYTES` (1048576): a larger request body is 413.
    pub max_body_bytes: usize,
    /// `SAGAWAY_GATEWAY_MAX_HEADER_BYTES` (16384): request headers (names and values) larger in
    /// total are 431.
    pub max_header_bytes: usize,
    /// `SAGAWAY_GATEWAY_MAX_HEADERS` (64): more request headers are 431. hyper itself refuses
    /// more than 100 whatever this says.
    pub max_headers: usize,
    /// `SAGAWAY_CORS_ALLOWED_ORIGINS` (empty: no CORS headers at all): comma-separated origins
    /// (`https://shop.example`) allowed to call from a browser.
    pub cors_allowed_origins: Vec<String>,
}

impl Protection {
    /// Reads the `SAGAWAY_GATEWAY_MAX_*` and `SAGAWAY_CORS_*` variables.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            max_body_bytes: env.parse("SAGAWAY_GATEWAY_MAX_BODY_BYTES", 1 << 20)?,
            max_header_bytes: env.parse("SAGAWAY_GATEWAY_MAX_HEADER_BYTES", 16 << 10)?,
            max_headers: env.parse("SAGAWAY_GATEWAY_MAX_HEADERS", 64)?,
            cors_allowed_origins: urls(&env.string("SAGAWAY_CORS_ALLOWED_ORIGINS", "")),
        })
    }
}

/// Access tokens, their keys and the sessions they are bound to.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// `SAGAWAY_JWT_SIGNING_KEY` (none: a key is generated at start-up and tokens do not survive
    /// a restart): an Ed25519 private key, PKCS#8 PEM. Secret.
    pub signing_key: Option<Secret>,
    /// `SAGAWAY_JWT_PREVIOUS_PUBLIC_KEY` (none): the Ed25519 public key (SPKI PEM) of the key
    /// being rotated out; tokens it signed keep verifying until they expire.
    pub previous_public_key: Option<String>,
    /// `SAGAWAY_JWT_TTL_SECS` (300): lifetime of an access token.
    pub token_ttl: Duration,
    /// `SAGAWAY_JWT_ISSUER` (`sagaway`): the `iss` written and required.
    pub issuer: String,
    /// `SAGAWAY_JWT_AUDIENCE` (`sagaway-api`): the `aud` written and required.
    pub audience: String,
    /// `SAGAWAY_JWT_LEEWAY_SECS` (30): clock skew allowed on `exp`, `nbf` and `iat`.
    pub leeway: Duration,
    /// `SAGAWAY_SESSION_TTL_SECS` (604800, 7 days): a session's idle lifetime, renewed by every
    /// refresh.
    pub session_ttl: Duration,
}

impl AuthConfig {
    /// Reads the `SAGAWAY_JWT_*` and `SAGAWAY_SESSION_*` variables.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let secs = |name: &str, default: u64| -> Result<Duration, ConfigError> {
            env.parse(name, default).map(Duration::from_secs)
        };
        let key = env.secret("SAGAWAY_JWT_SIGNING_KEY", "");
        let previous = env.string("SAGAWAY_JWT_PREVIOUS_PUBLIC_KEY", "");
        Ok(Self {
            signing_key: (!key.expose().trim().is_empty()).then_some(key),
            previous_public_key: (!previous.trim().is_empty()).then_some(previous),
            token_ttl: secs("SAGAWAY_JWT_TTL_SECS", 300)?,
            issuer: env.string("SAGAWAY_JWT_ISSUER", "sagaway"),
            audience: env.string("SAGAWAY_JWT_AUDIENCE", "sagaway-api"),
            leeway: secs("SAGAWAY_JWT_LEEWAY_SECS", 30)?,
            session_ttl: secs("SAGAWAY_SESSION_TTL_SECS", 7 * 24 * 3600)?,
        })
    }
}

/// A backend described by its own descriptor set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtraBackend {
    /// Its name, for logs.
    pub name: String,
    /// Its addresses, used in turn.
    pub urls: Vec<String>,
    /// A `FileDescriptorSet` written with `--include_imports` (protoc, grpcio-tools, buf, protox).
    pub descriptor_set: PathBuf,
}

impl Config {
    /// Reads the configuration; a bad value names its variable.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let millis = |name: &str, default: u64| -> Result<Duration, ConfigError> {
            env.parse(name, default).map(Duration::from_millis)
        };
        Ok(Self {
            http_addr: env.parse("SAGAWAY_HTTP_ADDR", SocketAddr::from(([0, 0, 0, 0], 8080)))?,
            redis_url: env.string("SAGAWAY_REDIS_URL", "redis://127.0.0.1:6379"),
            order_url: env.string("SAGAWAY_ORDER_URL", "http://127.0.0.1:50051"),
            product_url: env.string("SAGAWAY_PRODUCT_URL", "http://127.0.0.1:50052"),
            user_url: env.string("SAGAWAY_USER_URL", "http://127.0.0.1:50053"),
            extra_backends: parse_extra_backends(&env.string(EXTRA_BACKENDS, "")).map_err(
                |reason| ConfigError {
                    name: EXTRA_BACKENDS.to_owned(),
                    value: env.string(EXTRA_BACKENDS, ""),
                    reason,
                },
            )?,
            timeout: millis("SAGAWAY_GATEWAY_TIMEOUT_MS", 5000)?,
            connect_timeout: millis("SAGAWAY_GATEWAY_CONNECT_TIMEOUT_MS", 1000)?,
            get_attempts: env.parse("SAGAWAY_GATEWAY_GET_ATTEMPTS", 3)?,
            auth: AuthConfig::from_env(env)?,
            idempotency_ttl: Duration::from_secs(env.parse("SAGAWAY_IDEMPOTENCY_TTL_SECS", 86400)?),
            rate_limit_per_ip: env.parse("SAGAWAY_RATE_LIMIT_PER_IP", 6000)?,
            rate_limit_per_user: env.parse("SAGAWAY_RATE_LIMIT_PER_USER", 3000)?,
            rate_limit_window: Duration::from_secs(
                env.parse("SAGAWAY_RATE_LIMIT_WINDOW_SECS", 60)?,
            ),
            rate_limit_namespace: env.string("SAGAWAY_RATE_LIMIT_NAMESPACE", "sagaway"),
            protection: Protection::from_env(env)?,
            health_timeout: millis("SAGAWAY_GATEWAY_HEALTH_TIMEOUT_MS", 500)?,
        })
    }
}

/// Splits a comma-separated list (addresses, origins).
pub fn urls(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|url| !url.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Parses `name=URL[,URL]@path;...`.
pub fn parse_extra_backends(raw: &str) -> Result<Vec<ExtraBackend>, String> {
    raw.split(';')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            let (name, rest) = entry
                .split_once('=')
                .ok_or_else(|| format!("{entry:?} is not name=URL[,URL]@descriptor_set"))?;
            let (list, path) = rest
                .rsplit_once('@')
                .ok_or_else(|| format!("{entry:?} has no @descriptor_set path"))?;
            let urls = urls(list);
            if name.trim().is_empty() || urls.is_empty() || path.trim().is_empty() {
                return Err(format!("{entry:?} needs a name, an address and a path"));
            }
            Ok(ExtraBackend {
                name: name.trim().to_owned(),
                urls,
                descriptor_set: PathBuf::from(path.trim()),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_backends_are_read_with_every_address() {
        let parsed =
            parse_extra_backends("echo=http://a:1,http://b:2@/tmp/echo.bin; x=http://c:3@x.bin")
                .expect("parses");
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed[0].name, "echo");
        assert_eq!(parsed[0].urls, ["http://a:1", "http://b:2"]);
        assert_eq!(parsed[0].descriptor_set, PathBuf::from("/tmp/echo.bin"));
        assert_eq!(parsed[1].urls, ["http://c:3"]);
    }

    #[test]
    fn a_malformed_extra_backend_names_the_variable() {
        let env = Env::from_pairs([(EXTRA_BACKENDS, "echo-without-anything")]);
        let err = Config::from_env(&env).expect_err("refused");
        assert!(err.to_string().contains(EXTRA_BACKENDS), "{err}");
    }
}
