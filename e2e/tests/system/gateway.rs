//! The gateway transcoding HTTP to the real services started on port 0, and to a service it
//! was not built for that joins through configuration alone.

mod echo;
mod extra;
mod limits;
mod operations;

use std::time::{Duration, Instant};

use reqwest::Method;
use sagaway_platform::identity::Identity;
use serde_json::{Value, json};

use crate::helpers::{
    Running, Service, admin, customer, fresh_database, service_config, spawn_gateway,
    spawn_gateway_with, spawn_product_service, spawn_registry, spawn_service,
};

/// An HTTP answer: status, headers and JSON body.
struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

async fn send(method: Method, url: &str, body: Option<&str>, headers: &[(&str, &str)]) -> Answer {
    let mut request = reqwest::Client::new().request(method.clone(), url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_owned());
    }
    let response = request
        .send()
        .await
        .unwrap_or_else(|err| panic!("{method} {url}: {err}"));
    let (status, headers) = (response.status().as_u16(), response.headers().clone());
    let text = response.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Answer {
        status,
        headers,
        body,
    }
}

async fn get(url: &str) -> Answer {
    send(Method::GET, url, None, &[]).await
}

async fn post(url: &str, body: &str) -> Answer {
    send(Method::POST, url, Some(body), &[]).await
}

/// The product service behind a gateway that vouches for `identity`.
async fn product_behind_gateway(identity: Identity) -> (Running, Running) {
    let product = spawn_product_service(&fresh_database().await, false).await;
    let url = product.grpc_url();
    let gateway = spawn_gateway_with(move |config| config.product_url = url, Some(identity)).await;
    (product, gateway)
}

fn mug(sku: &str) -> String {
    json!({
        "sku": sku,
        "name": "Sagaway mug",
        "description": "Stoneware, 350 ml.",
        "price": { "amountMinor": "1290", "currencyCode": "EUR" },
        "stock": { "available": "12" },
    })
    .to_string()
}

#[tokio::test]
async fn products_are_created_with_a_body_field_then_fetched_by_path_and_listed_by_query() {
    let (product, gateway) = product_behind_gateway(admin()).await;
    let base = format!("http://{}", gateway.addr);

    let created = post(&format!("{base}/v1/products"), &mug("GW-MUG-1")).await;
    assert_eq!(created.status, 200, "{}", created.body);
    post(&format!("{base}/v1/products"), &mug("GW-MUG-2")).await;
    let id = created.body["productId"]
        .as_str()
        .expect("productId")
        .to_owned();

    let fetched = get(&format!("{base}/v1/products/{id}")).await;
    assert_eq!(fetched.status, 200, "{}", fetched.body);
    assert_eq!(fetched.body["sku"], "GW-MUG-1");
    assert_eq!(
        fetched.body["price"],
        json!({"amountMinor": "1290", "currencyCode": "EUR"})
    );
    assert_eq!(
        fetched.body["stock"]["reserved"], "0",
        "defaults are emitted"
    );

    let page = get(&format!("{base}/v1/products?page_size=1")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(page.body["products"].as_array().map(Vec::len), Some(1));
    assert_ne!(page.body["nextPageToken"], "", "{}", page.body);

    gateway.stop().await.expect("gateway stops");
    product.stop().await.expect("product stops");
}

#[tokio::test]
async fn backend_errors_keep_their_grpc_code_and_field_violations() {
    let (product, gateway) = product_behind_gateway(admin()).await;
    let base = format!("http://{}", gateway.addr);

    let missing = get(&format!("{base}/v1/products/{}", uuid::Uuid::new_v4())).await;
    assert_eq!(
        (missing.status, &missing.body["code"]),
        (404, &json!(5)),
        "{}",
        missing.body
    );

    let invalid = post(&format!("{base}/v1/products"), r#"{"sku": "", "name": ""}"#).await;
    assert_eq!(
        (invalid.status, &invalid.body["code"]),
        (400, &json!(3)),
        "{}",
        invalid.body
    );
    let detail = &invalid.body["details"][0];
    assert_eq!(
        detail["@type"], "type.googleapis.com/google.rpc.BadRequest",
        "{detail}"
    );
    let fields: Vec<&str> = detail["fieldViolations"]
        .as_array()
        .expect("fieldViolations")
        .iter()
        .filter_map(|v| v["field"].as_str())
        .collect();
    assert!(!fields.is_empty(), "{detail}");

    gateway.stop().await.expect("gateway stops");
    product.stop().await.expect("product stops");
}

#[tokio::test]
async fn client_mistakes_are_400s_that_say_where() {
    let (product, gateway) = product_behind_gateway(admin()).await;
    let base = format!("http://{}", gateway.addr);
    let cases = [
        ("/v1/products", "{\"sku\": \"A\",\n \"name\": ", "line 2"),
        ("/v1/products", r#"{"name": 5}"#, "column"),
        ("/v1/products", r#"{"colour": "red"}"#, "colour"),
        ("/v1/products?page_size=ten", "", "page_size"),
    ];
    for (path, body, says) in cases {
        let answer = if body.is_empty() {
            get(&format!("{base}{path}")).await
        } else {
            post(&format!("{base}{path}"), body).await
        };
        assert_eq!(answer.status, 400, "{path} {body}: {}", answer.body);
        let message = answer.body["message"].as_str().unwrap_or_default();
        assert!(message.contains(says), "{path} {body}: {message}");
    }
    gateway.stop().await.expect("gateway stops");
    product.stop().await.expect("product stops");
}

#[tokio::test]
async fn orders_are_placed_and_cancelled_through_a_custom_verb() {
    let caller = admin();
    let registry = spawn_registry().await;
    let product = spawn_service(Service::Product, &fresh_database().await).await;
    let order = spawn_order(&product.grpc_url(), &registry.admin_url()).await;
    let (product_url, order_url) = (product.grpc_url(), order.grpc_url());
    let gateway = spawn_gateway_with(
        move |config| {
            config.product_url = product_url;
            config.order_url = order_url;
        },
        Some(caller),
    )
    .await;
    let base = format!("http://{}", gateway.addr);
    let created = post(&format!("{base}/v1/products"), &mug("GW-ORDER-MUG")).await;
    let product_id = created.body["productId"].as_str().expect("productId");

    let items = json!({"items": [{"productId": product_id, "quantity": "1"}]}).to_string();
    let placed = post(&format!("{base}/v1/orders"), &items).await;
    assert_eq!(placed.status, 200, "{}", placed.body);
    let order_id = placed.body["orderId"].as_str().expect("orderId");

    let url = format!("{base}/v1/orders/{order_id}:cancel");
    let cancelled = post(&url, r#"{"reason": "changed my mind"}"#).await;
    assert_eq!(cancelled.status, 200, "{}", cancelled.body);
    assert_eq!(
        cancelled.body["status"], "ORDER_STATUS_CANCELLED",
        "{}",
        cancelled.body
    );

    let wrong = get(&url).await;
    assert_eq!(wrong.status, 405, "{}", wrong.body);
    assert_eq!(
        wrong.headers.get("allow").and_then(|v| v.to_str().ok()),
        Some("POST")
    );

    gateway.stop().await.expect("gateway stops");
    order.stop().await.expect("order stops");
    product.stop().await.expect("product stops");
    registry.stop().await.expect("registry stops");
}

async fn spawn_order(product_url: &str, registry_url: &str) -> Running {
    let mut service = service_config(sagaway_order::SERVICE_NAME, &fresh_database().await);
    service.schema_registry_url = registry_url.to_owned();
    let config = sagaway_order::Config {
        service,
        product_url: product_url.to_owned(),
        product_deadline: Duration::from_millis(1500),
        product_attempts: 3,
        publisher: Default::default(),
        saga: sagaway_order::saga::SagaConfig::disabled(),
    };
    let app = sagaway_order::Application::build(config)
        .await
        .expect("order service builds");
    let (addr, admin) = (app.grpc_addr(), app.admin_addr());
    Running::start(addr, admin, |stopped| {
        app.run_until_stopped(async move {
            let _ = stopped.await;
        })
    })
}

#[tokio::test]
async fn unknown_paths_are_404_and_known_paths_with_the_wrong_method_are_405() {
    let gateway = spawn_gateway().await;
    let base = format!("http://{}", gateway.addr);

    let unknown = get(&format!("{base}/v1/nowhere")).await;
    assert_eq!(
        (unknown.status, &unknown.body["code"]),
        (404, &json!(5)),
        "{}",
        unknown.body
    );

    let wrong = send(Method::DELETE, &format!("{base}/v1/products"), None, &[]).await;
    assert_eq!(wrong.status, 405, "{}", wrong.body);
    let allow = wrong.headers.get("allow").and_then(|v| v.to_str().ok());
    assert_eq!(allow, Some("GET, POST"));
    assert!(wrong.body["message"].is_string(), "{}", wrong.body);

    gateway.stop().await.expect("gateway stops");
}

#[tokio::test]
async fn a_backend_that_is_down_is_a_503_at_once() {
    let gateway = spawn_gateway_with(|_| {}, Some(customer())).await;
    let started = Instant::now();
    let answer = get(&format!("http://{}/v1/products/p-1", gateway.addr)).await;
    assert_eq!(
        (answer.status, &answer.body["code"]),
        (503, &json!(14)),
        "{}",
        answer.body
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    gateway.stop().await.expect("gateway stops");
}
