//! The gateway's configuration, read from environment variables with documented defaults.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use sagaway_platform::config::{ConfigError, Env, Secret};

use crate::auth::keys::JwtAlgorithm;

/// Variable naming extra backends: `name=URL[,URL]@/path/to/descriptor_set.bin;...`.
pub const EXTRA_BACKENDS: &str = "SAGAWAY_GATEWAY_EXTRA_BACKENDS";

/// Variable giving routes their own deadline: `package.Service.Method=3s,...`.
pub const ROUTE_TIMEOUTS: &str = "SAGAWAY_GATEWAY_ROUTE_TIMEOUTS";

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
    /// `SAGAWAY_GATEWAY_TIMEOUT_MS` (5000): the deadline of every backend call whose method has
    /// none of its own in `route_timeouts`.
    pub timeout: Duration,
    /// `SAGAWAY_GATEWAY_ROUTE_TIMEOUTS` (none): per-method deadlines replacing `timeout`, keyed
    /// by the full gRPC method name (`sagaway.order.v1.OrderService.CreateOrder=3s`). A name
    /// that matches no routed method stops the gateway at start-up.
    pub route_timeouts: Vec<RouteTimeout>,
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
    /// `SAGAWAY_RATE_LIMIT_SYNC_MS` (100; 0 counts every request in Redis): requests are
    /// counted in-process and added to the shared counters in Redis this often, so that a
    /// request costs no round trip. One gateway counts exactly; several may together admit up
    /// to one interval's worth of the others' requests beyond a limit (`ratelimit`).
    pub rate_limit_sync: Duration,
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
    /// `SAGAWAY_JWT_ALGORITHM` (`EdDSA`): how access tokens are signed, `EdDSA` or `RS256`.
    pub algorithm: JwtAlgorithm,
    /// `SAGAWAY_JWT_ALLOWED_ALGORITHMS` (empty: only `algorithm`): the `alg` values a presented
    /// token may carry, comma-separated; only `EdDSA` and `RS256` can be named.
    pub allowed_algorithms: Vec<JwtAlgorithm>,
    /// `SAGAWAY_JWT_SIGNING_KEY` (none: with `EdDSA`, a key is generated at start-up and tokens
    /// do not survive a restart; `RS256` requires one): a PKCS#8 PEM private key, Ed25519 or RSA
    /// (2048 to 8192 bits) to match `algorithm`. Secret.
    pub signing_key: Option<Secret>,
    /// `SAGAWAY_JWT_PREVIOUS_PUBLIC_KEY` (none): the public key (SPKI PEM, Ed25519 or RSA) of the
    /// key being rotated out; tokens it signed keep verifying until they expire, provided its
    /// algorithm is allowed.
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
    /// `SAGAWAY_SESSION_CACHE_MS` (2000; 0 is off): how long a session found live in Redis is
    /// believed live without asking again. Revocations reach every gateway at once through
    /// Redis pub/sub (`auth::live`), so this bounds only sessions deleted behind the gateways'
    /// back.
    pub session_cache: Duration,
}

impl AuthConfig {
    /// Reads the `SAGAWAY_JWT_*` and `SAGAWAY_SESSION_*` variables.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let secs = |name: &str, default: u64| -> Result<Duration, ConfigError> {
            env.parse(name, default).map(Duration::from_secs)
        };
        let key = env.secret("SAGAWAY_JWT_SIGNING_KEY", "");
        let previous = env.string("SAGAWAY_JWT_PREVIOUS_PUBLIC_KEY", "");
        let allowed = env.string("SAGAWAY_JWT_ALLOWED_ALGORITHMS", "");
        Ok(Self {
            algorithm: env.parse("SAGAWAY_JWT_ALGORITHM", JwtAlgorithm::EdDSA)?,
            allowed_algorithms: urls(&allowed)
                .iter()
                .map(|name| name.parse())
                .collect::<Result<_, String>>()
                .map_err(|reason| ConfigError {
                    name: "SAGAWAY_JWT_ALLOWED_ALGORITHMS".to_owned(),
                    value: allowed.clone(),
                    reason,
                })?,
            signing_key: (!key.expose().trim().is_empty()).then_some(key),
            previous_public_key: (!previous.trim().is_empty()).then_some(previous),
            token_ttl: secs("SAGAWAY_JWT_TTL_SECS", 300)?,
            issuer: env.string("SAGAWAY_JWT_ISSUER", "sagaway"),
            audience: env.string("SAGAWAY_JWT_AUDIENCE", "sagaway-api"),
            leeway: secs("SAGAWAY_JWT_LEEWAY_SECS", 30)?,
            session_ttl: secs("SAGAWAY_SESSION_TTL_SECS", 7 * 24 * 3600)?,
            session_cache: Duration::from_millis(env.parse("SAGAWAY_SESSION_CACHE_MS", 2000)?),
        })
    }
}

/// One method's own deadline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteTimeout {
    /// The full method name, `package.Service.Method`.
    pub method: String,
    /// The deadline of its calls (a client may lower it, never raise it).
    pub timeout: Duration,
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
            route_timeouts: parse_route_timeouts(&env.string(ROUTE_TIMEOUTS, "")).map_err(
                |reason| ConfigError {
                    name: ROUTE_TIMEOUTS.to_owned(),
                    value: env.string(ROUTE_TIMEOUTS, ""),
                    reason,
                },
            )?,
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
            rate_limit_sync: millis("SAGAWAY_RATE_LIMIT_SYNC_MS", 100)?,
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

/// Parses `package.Service.Method=3s,other.Service/Method=250ms,...`: a full method name (its
/// last `.` or `/` separates the service from the method) and a duration in `ms` or `s` (a bare
/// number is milliseconds). Zero is refused: it would fail every call.
pub fn parse_route_timeouts(raw: &str) -> Result<Vec<RouteTimeout>, String> {
    raw.split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            let (method, duration) = entry
                .split_once('=')
                .ok_or_else(|| format!("{entry:?} is not package.Service.Method=DURATION"))?;
            let method = method.trim().trim_start_matches('/').replace('/', ".");
            if method.split('.').filter(|part| !part.is_empty()).count() < 2 {
                return Err(format!("{entry:?}: {method:?} is not a full method name"));
            }
            let duration = duration.trim();
            let (number, unit) = match duration.strip_suffix("ms") {
                Some(number) => (number, 1),
                None => match duration.strip_suffix('s') {
                    Some(number) => (number, 1000),
                    None => (duration, 1),
                },
            };
            let millis: u64 = number.trim().parse().map_err(|_| {
                format!("{entry:?}: {duration:?} is not a duration like 3s or 250ms")
            })?;
            if millis == 0 {
                return Err(format!("{entry:?}: a deadline of zero fails every call"));
            }
            Ok(RouteTimeout {
                method,
                timeout: Duration::from_millis(millis.saturating_mul(unit)),
            })
        })
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
    fn route_timeouts_take_seconds_milliseconds_and_either_separator() {
        let parsed = parse_route_timeouts(
            "sagaway.order.v1.OrderService.CreateOrder=3s, /demo.echo.v1.EchoService/Slow=250ms,a.B=40",
        )
        .expect("parses");
        let pairs: Vec<(&str, u128)> = parsed
            .iter()
            .map(|t| (t.method.as_str(), t.timeout.as_millis()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("sagaway.order.v1.OrderService.CreateOrder", 3000),
                ("demo.echo.v1.EchoService.Slow", 250),
                ("a.B", 40),
            ]
        );
        for bad in ["CreateOrder=3s", "a.B=soon", "a.B=0ms", "a.B"] {
            assert!(parse_route_timeouts(bad).is_err(), "{bad}");
        }
        let env = Env::from_pairs([(ROUTE_TIMEOUTS, "a.B=never")]);
        let err = Config::from_env(&env).expect_err("refused");
        assert!(err.to_string().contains(ROUTE_TIMEOUTS), "{err}");
    }

    #[test]
    fn a_malformed_extra_backend_names_the_variable() {
        let env = Env::from_pairs([(EXTRA_BACKENDS, "echo-without-anything")]);
        let err = Config::from_env(&env).expect_err("refused");
        assert!(err.to_string().contains(EXTRA_BACKENDS), "{err}");
    }
}
