//! What operators see of the gateway: readiness that covers Redis and every backend, per-route
//! metrics labelled by template, and the offline docs page.

use serde_json::json;

use super::{get, product_behind_gateway};
use crate::helpers::{customer, spawn_gateway};

#[tokio::test]
async fn readiness_checks_redis_and_the_grpc_health_of_every_backend() {
    let (product, gateway) = product_behind_gateway(customer()).await;
    let ready = get(&format!("http://{}/health/ready", gateway.addr)).await;

    assert_eq!(ready.status, 503, "order and user are down: {}", ready.body);
    let checks = &ready.body["checks"];
    assert_eq!(checks["redis"], json!("ok"), "{checks}");
    assert_eq!(checks["backend:product"], json!("ok"), "{checks}");
    assert_ne!(checks["backend:order"], json!("ok"), "{checks}");
    assert_ne!(checks["backend:user"], json!("ok"), "{checks}");

    gateway.stop().await.expect("gateway stops");
    product.stop().await.expect("product stops");
}

#[tokio::test]
async fn metrics_count_and_time_requests_by_route_template_method_and_status() {
    let (product, gateway) = product_behind_gateway(customer()).await;
    let base = format!("http://{}", gateway.addr);
    let id = uuid::Uuid::new_v4();
    let missing = get(&format!("{base}/v1/products/{id}")).await;
    assert_eq!(missing.status, 404, "{}", missing.body);

    let metrics = get(&format!("{base}/metrics")).await;
    let text = metrics.body.as_str().expect("metrics text").to_owned();
    let line = |name: &str| {
        text.lines()
            .find(|line| {
                line.starts_with(name)
                    && line.contains(r#"route="/v1/products/{product_id}""#)
                    && line.contains(r#"method="GET""#)
                    && line.contains(r#"status="404""#)
            })
            .map(str::to_owned)
    };
    assert!(line("sagaway_gateway_requests_total").is_some(), "{text}");
    assert!(
        line("sagaway_gateway_request_duration_seconds").is_some(),
        "{text}"
    );
    assert!(
        !text.contains(&id.to_string()),
        "raw paths are never labels"
    );

    gateway.stop().await.expect("gateway stops");
    product.stop().await.expect("product stops");
}

#[tokio::test]
async fn the_docs_page_is_self_contained_html_that_reads_the_openapi_document() {
    let gateway = spawn_gateway().await;
    let response = reqwest::get(format!("http://{}/docs", gateway.addr))
        .await
        .expect("GET /docs");
    assert_eq!(response.status().as_u16(), 200);
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let page = response.text().await.expect("page");
    assert!(page.contains(r#"fetch("/openapi.json")"#), "{page}");
    for external in ["http://", "https://", "src=", "<link"] {
        assert!(!page.contains(external), "no external assets: {external}");
    }
    gateway.stop().await.expect("gateway stops");
}
