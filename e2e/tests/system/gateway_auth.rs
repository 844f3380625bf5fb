//! Authentication through the gateway, against real Redis and the real user and product
//! services: register, login, refresh with reuse detection, logout, the JWT attack table, the
//! role rules and the JWK Set, with EdDSA and with RS256 signing. Forged tokens are built here
//! from base64 and ring.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use reqwest::Method;
use ring::signature::{Ed25519KeyPair, KeyPair as _, RsaKeyPair};
use sagaway_gateway::auth::keys::JwtAlgorithm;
use sagaway_platform::config::Secret;
use serde_json::{Value, json};

use crate::helpers::{Running, fresh_database, spawn_product_service, spawn_user_service, unique};

mod attacks;
mod fleet;
mod protection;
mod revocation;

const ADMIN_EMAIL: &str = "root@sagaway.test";
const ADMIN_PASSWORD: &str = "admin-password";

/// A 2048-bit RSA key made for the tests only, shared with the gateway's unit tests.
const TEST_RSA_KEY: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../gateway/src/auth/testdata/rs256-test-key.pem"
));

/// The gateway's signing key, as the tests know it (to forge tokens with it).
enum Signer {
    Ed(Ed25519KeyPair),
    Rsa(RsaKeyPair),
}

impl Signer {
    fn alg(&self) -> &'static str {
        match self {
            Self::Ed(_) => "EdDSA",
            Self::Rsa(_) => "RS256",
        }
    }

    fn sign(&self, input: &[u8]) -> Vec<u8> {
        match self {
            Self::Ed(key) => key.sign(input).as_ref().to_vec(),
            Self::Rsa(key) => {
                let mut signature = vec![0; key.public().modulus_len()];
                key.sign(
                    &ring::signature::RSA_PKCS1_SHA256,
                    &ring::rand::SystemRandom::new(),
                    input,
                    &mut signature,
                )
                .expect("signs");
                signature
            }
        }
    }

    /// The public key's bytes (what an attacker would key an HMAC with).
    fn public(&self) -> Vec<u8> {
        match self {
            Self::Ed(key) => key.public_key().as_ref().to_vec(),
            Self::Rsa(key) => key.public().as_ref().to_vec(),
        }
    }
}

/// The user and product services behind a gateway whose signing key the test knows.
struct System {
    user: Running,
    product: Running,
    gateway: Running,
    base: String,
    signer: Signer,
    kid: String,
    /// What another gateway needs to share this one's keys, backends and counters.
    shared: Shared,
}

/// The settings gateways of one system share.
#[derive(Clone)]
struct Shared {
    pem: String,
    algorithm: JwtAlgorithm,
    user_url: String,
    product_url: String,
    namespace: String,
}

impl Shared {
    fn apply(&self, config: &mut sagaway_gateway::Config) {
        config.user_url = self.user_url.clone();
        config.product_url = self.product_url.clone();
        config.auth.signing_key = Some(Secret::new(self.pem.clone()));
        config.auth.algorithm = self.algorithm;
        config.rate_limit_namespace = self.namespace.clone();
    }

    /// A gateway with these settings, then `configure`'s.
    async fn spawn_gateway(
        &self,
        configure: impl FnOnce(&mut sagaway_gateway::Config) + Send + 'static,
    ) -> Running {
        let settings = self.clone();
        crate::helpers::spawn_gateway_with(
            move |config| {
                settings.apply(config);
                configure(config);
            },
            None,
        )
        .await
    }
}

/// An HTTP answer: status and JSON body.
struct Answer {
    status: u16,
    body: Value,
}

impl Answer {
    fn message(&self) -> &str {
        self.body["message"].as_str().unwrap_or_default()
    }
}

/// A logged-in user's tokens.
struct Login {
    access: String,
    refresh: String,
}

impl System {
    async fn start() -> Self {
        Self::start_signing_with(JwtAlgorithm::EdDSA).await
    }

    /// A system whose gateway signs with `algorithm` and allows only it.
    async fn start_signing_with(algorithm: JwtAlgorithm) -> Self {
        Self::start_configured(algorithm, |_| {}).await
    }

    /// A system whose gateway signs with `algorithm`, after `configure` has adjusted the rest.
    async fn start_configured(
        algorithm: JwtAlgorithm,
        configure: impl FnOnce(&mut sagaway_gateway::Config) + Send + 'static,
    ) -> Self {
        let admin = sagaway_user::AdminAccount {
            email: sagaway_user::domain::Email::parse(ADMIN_EMAIL).expect("email"),
            password: sagaway_user::domain::Password::parse(ADMIN_PASSWORD).expect("password"),
        };
        let user = spawn_user_service(&fresh_database().await, Some(admin)).await;
        let product = spawn_product_service(&fresh_database().await, false).await;
        let (pem, signer) = match algorithm {
            JwtAlgorithm::EdDSA => {
                let pkcs8 = Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new())
                    .expect("key generates");
                let pem = format!(
                    "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
                    STANDARD.encode(pkcs8.as_ref())
                );
                let key = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("key parses");
                (pem, Signer::Ed(key))
            }
            JwtAlgorithm::RS256 => {
                let der = sagaway_gateway::auth::keys::pem_body(TEST_RSA_KEY, "PRIVATE KEY")
                    .expect("PEM");
                let key = RsaKeyPair::from_pkcs8(&der).expect("RSA key parses");
                (TEST_RSA_KEY.to_owned(), Signer::Rsa(key))
            }
        };
        let shared = Shared {
            pem,
            algorithm,
            user_url: user.grpc_url(),
            product_url: product.grpc_url(),
            namespace: unique("ratelimit"),
        };
        let gateway = shared.spawn_gateway(configure).await;
        let kid = match &signer {
            Signer::Ed(key) => sagaway_gateway::auth::keys::thumbprint(key.public_key().as_ref()),
            Signer::Rsa(key) => {
                sagaway_gateway::auth::keys::PublicKey::from_pkcs1_rsa(key.public().as_ref())
                    .expect("RSA public key")
                    .thumbprint()
            }
        };
        let base = format!("http://{}", gateway.addr);
        Self {
            user,
            product,
            gateway,
            base,
            signer,
            kid,
            shared,
        }
    }

    /// Another gateway in front of the same services, with the same keys, Redis and rate-limit
    /// counters, after `configure`; its base URL.
    async fn another_gateway(
        &self,
        configure: impl FnOnce(&mut sagaway_gateway::Config) + Send + 'static,
    ) -> (Running, String) {
        let gateway = self.shared.spawn_gateway(configure).await;
        let base = format!("http://{}", gateway.addr);
        (gateway, base)
    }

    /// Another gateway as [`System::another_gateway`] makes it, whose session cache keeps an
    /// entry for a minute: within a test, only a revocation message makes it forget one.
    async fn gateway_told_by_message(&self) -> (Running, String) {
        self.another_gateway(|config| {
            config.auth.session_cache = std::time::Duration::from_secs(60);
        })
        .await
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        send_to(&self.base, method, path, token, body).await
    }

    async fn me(&self, token: &str) -> Answer {
        self.send(Method::GET, "/v1/me", Some(token), None).await
    }

    async fn register(&self, email: &str) -> Answer {
        let body = json!({ "email": email, "password": "correct horse", "display_name": "Ada" });
        self.send(Method::POST, "/v1/auth/register", None, Some(body))
            .await
    }

    async fn login(&self, email: &str, password: &str) -> Login {
        let body = json!({ "email": email, "password": password });
        let answer = self
            .send(Method::POST, "/v1/auth/login", None, Some(body))
            .await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert_eq!(answer.body["token_type"], "Bearer");
        Login {
            access: answer.body["access_token"].as_str().expect("token").into(),
            refresh: answer.body["refresh_token"]
                .as_str()
                .expect("refresh")
                .into(),
        }
    }

    /// A registered, logged-in customer.
    async fn customer(&self) -> Login {
        self.customer_with_sessions(1).await.1.remove(0)
    }

    /// A registered customer logged in `sessions` times (a phone, a laptop, ...): their email
    /// and each session's tokens.
    async fn customer_with_sessions(&self, sessions: usize) -> (String, Vec<Login>) {
        let email = format!("{}@sagaway.test", uuid::Uuid::new_v4().simple());
        assert_eq!(self.register(&email).await.status, 201);
        let mut logins = Vec::new();
        for _ in 0..sessions {
            logins.push(self.login(&email, "correct horse").await);
        }
        (email, logins)
    }

    async fn refresh(&self, refresh: &str) -> Answer {
        let body = json!({ "refresh_token": refresh });
        self.send(Method::POST, "/v1/auth/refresh", None, Some(body))
            .await
    }

    async fn stop(self) {
        self.gateway.stop().await.expect("gateway stops");
        self.product.stop().await.expect("product stops");
        self.user.stop().await.expect("user stops");
    }
}

/// Sends a request to the gateway at `base`.
async fn send_to(
    base: &str,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Answer {
    let mut request = reqwest::Client::new().request(method, format!("{base}{path}"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("gateway answers");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Answer { status, body }
}

/// Asserts that the gateway at `base` refuses `token` with `session revoked` within a second
/// (`GET /v1/me`, polled). Another gateway learns of a revocation from Redis pub/sub: the
/// message leaves Redis before the revoking gateway is answered, but a gateway busy elsewhere
/// (every process of a test shares one thread) may read it a moment after the client's next
/// request. Such gateways come from [`System::gateway_told_by_message`], with a cache age of a
/// minute, so a refusal within the second can only come from the message.
async fn assert_revoked_at(base: &str, token: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
    let refused = loop {
        let answer = send_to(base, Method::GET, "/v1/me", Some(token), None).await;
        if answer.status == 401 || std::time::Instant::now() > deadline {
            break answer;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    };
    assert_eq!(
        (refused.status, refused.message()),
        (401, "session revoked")
    );
}

/// Deletes `key` straight in Redis, behind the gateways' backs; how many keys went.
async fn delete_in_redis(key: &str) -> u32 {
    let mut redis = redis::Client::open(crate::helpers::redis_url())
        .expect("redis url")
        .get_multiplexed_async_connection()
        .await
        .expect("redis connects");
    redis::cmd("DEL")
        .arg(key)
        .query_async(&mut redis)
        .await
        .expect("DEL")
}

fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64")).expect("json")
}

#[tokio::test]
async fn a_customer_may_not_create_products_but_the_bootstrapped_admin_may() {
    let system = System::start().await;
    let product = json!({
        "sku": "AUTH-MUG-1",
        "name": "Sagaway mug",
        "price": { "amountMinor": "1290", "currencyCode": "EUR" },
        "stock": { "available": "3" },
    });
    let customer = system.customer().await;
    let refused = system
        .send(
            Method::POST,
            "/v1/products",
            Some(&customer.access),
            Some(product.clone()),
        )
        .await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    let users = system
        .send(Method::GET, "/v1/users", Some(&customer.access), None)
        .await;
    assert_eq!(users.status, 403, "{}", users.body);

    let admin = system.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(
        claims_of(&admin.access)["roles"],
        json!(["customer", "admin"])
    );
    let created = system
        .send(
            Method::POST,
            "/v1/products",
            Some(&admin.access),
            Some(product),
        )
        .await;
    assert_eq!(created.status, 200, "{}", created.body);
    assert_eq!(created.body["sku"], "AUTH-MUG-1");
    system.stop().await;
}

#[tokio::test]
async fn the_jwks_lists_the_signing_key_under_its_kid() {
    let system = System::start().await;
    let jwks = system
        .send(Method::GET, "/.well-known/jwks.json", None, None)
        .await;
    assert_eq!(jwks.status, 200);
    let key = &jwks.body["keys"][0];
    let x = URL_SAFE_NO_PAD.encode(system.signer.public());
    assert_eq!(
        (
            &key["kid"],
            &key["alg"],
            &key["use"],
            &key["crv"],
            &key["x"]
        ),
        (
            &json!(system.kid),
            &json!("EdDSA"),
            &json!("sig"),
            &json!("Ed25519"),
            &json!(x)
        )
    );
    let openapi = system.send(Method::GET, "/openapi.json", None, None).await;
    assert!(
        ["/v1/auth/login", "/v1/auth/revoke"]
            .iter()
            .all(|path| openapi.body["paths"][path]["post"].is_object()),
        "the auth endpoints are documented"
    );
    let login = system.customer().await;
    let header = token_header(&login.access);
    assert_eq!(
        (&header["alg"], &header["kid"]),
        (&json!("EdDSA"), &json!(system.kid))
    );
    system.stop().await;
}

fn token_header(token: &str) -> Value {
    let header = token.split('.').next().expect("header");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).expect("base64")).expect("json")
}

#[tokio::test]
async fn client_sent_identity_headers_are_ignored_in_favour_of_the_token() {
    let system = System::start().await;
    let login = system.customer().await;
    let own = claims_of(&login.access)["sub"].clone();
    let forged = reqwest::Client::new()
        .get(format!("{}/v1/me", system.base))
        .bearer_auth(&login.access)
        .header("x-sagaway-user-id", uuid::Uuid::new_v4().to_string())
        .header("x-sagaway-roles", "admin")
        .send()
        .await
        .expect("answers");
    assert_eq!(forged.status(), 200);
    let body: Value = forged.json().await.expect("json");
    assert_eq!(body["userId"], own);
    assert_eq!(body["roles"], json!(["ROLE_CUSTOMER"]));
    system.stop().await;
}

#[tokio::test]
async fn bad_credentials_are_401_and_bad_registrations_keep_their_field_violations() {
    let system = System::start().await;
    let body = json!({ "email": ADMIN_EMAIL, "password": "wrong-password" });
    let refused = system
        .send(Method::POST, "/v1/auth/login", None, Some(body))
        .await;
    assert_eq!(
        (refused.status, refused.message()),
        (401, "invalid email or password")
    );
    let invalid = system.register("not-an-email").await;
    assert_eq!(invalid.status, 400, "{}", invalid.body);
    assert_eq!(
        invalid.body["details"][0]["fieldViolations"][0]["field"], "email",
        "{}",
        invalid.body
    );
    let garbage = system.refresh("no-such-token").await;
    assert_eq!(
        (garbage.status, garbage.message()),
        (401, "invalid refresh token")
    );
    system.stop().await;
}

#[tokio::test]
async fn an_rs256_gateway_publishes_an_rsa_jwk_and_accepts_only_rs256_tokens() {
    let system = System::start_signing_with(JwtAlgorithm::RS256).await;
    let jwks = system
        .send(Method::GET, "/.well-known/jwks.json", None, None)
        .await;
    let key = &jwks.body["keys"][0];
    assert_eq!(
        (
            &key["kty"],
            &key["alg"],
            &key["use"],
            &key["kid"],
            &key["e"]
        ),
        (
            &json!("RSA"),
            &json!("RS256"),
            &json!("sig"),
            &json!(system.kid),
            &json!("AQAB")
        ),
        "{}",
        jwks.body
    );
    let n = URL_SAFE_NO_PAD
        .decode(key["n"].as_str().expect("n"))
        .expect("base64url");
    assert_eq!(n.len(), 256, "a 2048-bit modulus");

    let login = system.customer().await;
    let header = token_header(&login.access);
    assert_eq!(
        (&header["alg"], &header["kid"]),
        (&json!("RS256"), &json!(system.kid))
    );
    let me = system.me(&login.access).await;
    assert_eq!(me.status, 200, "{}", me.body);
    let refreshed = system.refresh(&login.refresh).await;
    let access = refreshed.body["access_token"].as_str().expect("token");
    assert_eq!(system.me(access).await.status, 200, "refreshed tokens too");

    // The same claims signed EdDSA by a key of its own, under its own kid or the gateway's.
    let ed = Ed25519KeyPair::from_pkcs8(
        Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new())
            .expect("key")
            .as_ref(),
    )
    .expect("key");
    let ed_kid = sagaway_gateway::auth::keys::thumbprint(ed.public_key().as_ref());
    let claims = URL_SAFE_NO_PAD.encode(claims_of(&login.access).to_string());
    for kid in [ed_kid.as_str(), system.kid.as_str()] {
        let header = URL_SAFE_NO_PAD.encode(json!({ "alg": "EdDSA", "kid": kid }).to_string());
        let input = format!("{header}.{claims}");
        let token = format!(
            "{input}.{}",
            URL_SAFE_NO_PAD.encode(ed.sign(input.as_bytes()))
        );
        let refused = system.me(&token).await;
        assert_eq!(
            (refused.status, refused.message()),
            (401, "alg not allowed"),
            "{}",
            refused.body
        );
    }
    system.stop().await;
}
