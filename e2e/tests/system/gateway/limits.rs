//! What a client may send through the gateway: body and header size limits, CORS, and JSON
//! 405s on the gateway's own routes.

use reqwest::Method;
use serde_json::json;

use super::{post, send};
use crate::helpers::{customer, spawn_gateway, spawn_gateway_with};

#[tokio::test]
async fn a_body_over_the_limit_is_413_with_a_json_error_and_one_within_it_is_read() {
    let gateway = spawn_gateway_with(
        |config| config.protection.max_body_bytes = 1024,
        Some(customer()),
    )
    .await;
    let base = format!("http://{}", gateway.addr);

    let big = format!(r#"{{"email": "{}"}}"#, "a".repeat(2048));
    let refused = post(&format!("{base}/v1/auth/login"), &big).await;
    assert_eq!(refused.status, 413, "{}", refused.body);
    assert_eq!(refused.body["code"], json!(8), "{}", refused.body);
    assert!(
        refused.body["message"]
            .as_str()
            .is_some_and(|m| m.contains("1024")),
        "{}",
        refused.body
    );
    let transcoded = post(&format!("{base}/v1/orders"), &big).await;
    assert_eq!(transcoded.status, 413, "{}", transcoded.body);

    let small = post(&format!("{base}/v1/auth/login"), "{not json").await;
    assert_eq!(
        small.status, 400,
        "a small body reaches the handler: {}",
        small.body
    );
    gateway.stop().await.expect("gateway stops");
}

#[tokio::test]
async fn a_chunked_body_is_cut_off_at_the_limit_with_a_413() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    let gateway = spawn_gateway_with(|config| config.protection.max_body_bytes = 1024, None).await;
    let mut stream = tokio::net::TcpStream::connect(gateway.addr)
        .await
        .expect("connects");
    let chunk = "a".repeat(600);
    let request = format!(
        "POST /v1/auth/login HTTP/1.1\r\nhost: gateway\r\ncontent-type: application/json\r\n\
         transfer-encoding: chunked\r\nconnection: close\r\n\r\n\
         258\r\n{chunk}\r\n258\r\n{chunk}\r\n0\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .await
        .expect("request sent");
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .await
        .expect("answer read");
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains(r#""code":8"#), "{answer}");
    gateway.stop().await.expect("gateway stops");
}

#[tokio::test]
async fn too_many_or_too_large_request_headers_are_431() {
    let gateway = spawn_gateway_with(
        |config| {
            config.protection.max_headers = 20;
            config.protection.max_header_bytes = 2048;
        },
        None,
    )
    .await;
    let url = format!("http://{}/health/live", gateway.addr);

    let names: Vec<String> = (0..30).map(|i| format!("x-extra-{i}")).collect();
    let many: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "1")).collect();
    let answer = send(Method::GET, &url, None, &many).await;
    assert_eq!(answer.status, 431, "{}", answer.body);
    assert_eq!(answer.body["code"], json!(8), "{}", answer.body);

    let long = "v".repeat(4096);
    let answer = send(Method::GET, &url, None, &[("x-long", &long)]).await;
    assert_eq!(answer.status, 431, "{}", answer.body);

    let fine = send(Method::GET, &url, None, &[("x-short", "v")]).await;
    assert_eq!(fine.status, 200, "{}", fine.body);
    gateway.stop().await.expect("gateway stops");
}

#[tokio::test]
async fn cors_answers_preflights_for_allowed_origins_only() {
    let gateway = spawn_gateway_with(
        |config| config.protection.cors_allowed_origins = vec!["https://shop.example".into()],
        None,
    )
    .await;
    let url = format!("http://{}/v1/products", gateway.addr);
    let preflight = |origin: &'static str| {
        let url = url.clone();
        async move {
            let headers = [
                ("origin", origin),
                ("access-control-request-method", "POST"),
                (
                    "access-control-request-headers",
                    "authorization, content-type",
                ),
            ];
            send(Method::OPTIONS, &url, None, &headers).await
        }
    };

    let allowed = preflight("https://shop.example").await;
    assert_eq!(allowed.status, 200, "{}", allowed.body);
    let header = |name: &str| {
        allowed
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(
        header("access-control-allow-origin"),
        "https://shop.example"
    );
    assert!(header("access-control-allow-methods").contains("POST"));
    assert!(header("access-control-allow-headers").contains("authorization"));

    let other = preflight("https://evil.example").await;
    assert!(
        other.headers.get("access-control-allow-origin").is_none(),
        "{:?}",
        other.headers
    );
    let simple = send(
        Method::GET,
        &url,
        None,
        &[("origin", "https://shop.example")],
    )
    .await;
    assert_eq!(simple.status, 401, "still authenticated: {}", simple.body);
    assert_eq!(
        simple
            .headers
            .get("access-control-allow-origin")
            .and_then(|v| v.to_str().ok()),
        Some("https://shop.example")
    );
    gateway.stop().await.expect("gateway stops");
}

#[tokio::test]
async fn without_allowed_origins_no_cors_header_is_sent() {
    let gateway = spawn_gateway().await;
    let url = format!("http://{}/v1/products", gateway.addr);
    let headers = [
        ("origin", "https://shop.example"),
        ("access-control-request-method", "GET"),
    ];
    let answer = send(Method::OPTIONS, &url, None, &headers).await;
    assert!(
        answer.headers.get("access-control-allow-origin").is_none(),
        "{:?}",
        answer.headers
    );
    assert_eq!(answer.status, 405, "{}", answer.body);
    gateway.stop().await.expect("gateway stops");
}

#[tokio::test]
async fn the_auth_endpoints_answer_a_wrong_method_with_a_json_405() {
    let gateway = spawn_gateway().await;
    let base = format!("http://{}", gateway.addr);
    for (method, path, allow) in [
        (Method::GET, "/v1/auth/login", "POST"),
        (Method::DELETE, "/v1/auth/logout", "POST"),
        (Method::GET, "/v1/auth/register", "POST"),
        (Method::PUT, "/v1/auth/refresh", "POST"),
        (Method::POST, "/.well-known/jwks.json", "GET"),
    ] {
        let answer = send(method.clone(), &format!("{base}{path}"), None, &[]).await;
        assert_eq!(answer.status, 405, "{method} {path}: {}", answer.body);
        assert_eq!(
            answer.body["code"],
            json!(12),
            "{method} {path}: {}",
            answer.body
        );
        assert_eq!(
            answer.headers.get("allow").and_then(|v| v.to_str().ok()),
            Some(allow),
            "{method} {path}"
        );
    }
    gateway.stop().await.expect("gateway stops");
}
