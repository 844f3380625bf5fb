//! Authentication through the gateway, against real Redis and the real user and product
//! services: register, login, refresh with reuse detection, logout, the JWT attack table, the
//! role rules and the JWK Set. Forged tokens are built here from base64 and ring.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use reqwest::Method;
use ring::signature::{Ed25519KeyPair, KeyPair as _};
use sagaway_platform::config::Secret;
use serde_json::{Value, json};

use crate::helpers::{Running, fresh_database, spawn_product_service, spawn_user_service};

mod attacks;
mod protection;

const ADMIN_EMAIL: &str = "root@sagaway.test";
const ADMIN_PASSWORD: &str = "admin-password";

/// The user and product services behind a gateway whose signing key the test knows.
struct System {
    user: Running,
    product: Running,
    gateway: Running,
    base: String,
    key: Ed25519KeyPair,
    kid: String,
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
        let admin = sagaway_user::AdminAccount {
            email: sagaway_user::domain::Email::parse(ADMIN_EMAIL).expect("email"),
            password: sagaway_user::domain::Password::parse(ADMIN_PASSWORD).expect("password"),
        };
        let user = spawn_user_service(&fresh_database().await, Some(admin)).await;
        let product = spawn_product_service(&fresh_database().await, false).await;
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new())
            .expect("key generates");
        let pem = format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            STANDARD.encode(pkcs8.as_ref())
        );
        let (user_url, product_url) = (user.grpc_url(), product.grpc_url());
        let gateway = crate::helpers::spawn_gateway_with(
            move |config| {
                config.user_url = user_url;
                config.product_url = product_url;
                config.auth.signing_key = Some(Secret::new(pem));
            },
            None,
        )
        .await;
        let key = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("key parses");
        let kid = sagaway_gateway::auth::keys::thumbprint(key.public_key().as_ref());
        let base = format!("http://{}", gateway.addr);
        Self {
            user,
            product,
            gateway,
            base,
            key,
            kid,
        }
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let mut request = reqwest::Client::new().request(method, format!("{}{path}", self.base));
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
        let email = format!("{}@sagaway.test", uuid::Uuid::new_v4().simple());
        assert_eq!(self.register(&email).await.status, 201);
        self.login(&email, "correct horse").await
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
    let x = URL_SAFE_NO_PAD.encode(system.key.public_key().as_ref());
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
        openapi.body["paths"]["/v1/auth/login"]["post"].is_object(),
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
