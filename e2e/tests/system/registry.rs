//! The registry's core routes, as Confluent clients call them.

use crate::helpers::{get_json, spawn_registry};

const SCHEMA: &str =
    r#"{"type":"record","name":"Probe","namespace":"t","fields":[{"name":"a","type":"long"}]}"#;
const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";

async fn post(url: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
    let response = reqwest::Client::new()
        .post(url)
        .header("content-type", CONTENT_TYPE)
        .body(body.to_string())
        .send()
        .await
        .expect("post");
    let status = response.status().as_u16();
    (status, response.json().await.expect("json body"))
}

#[tokio::test]
async fn the_same_schema_gets_one_global_id_in_every_subject() {
    let registry = spawn_registry().await;
    let base = registry.admin_url();
    let (status, first) = post(
        &format!("{base}/subjects/a-value/versions"),
        serde_json::json!({ "schema": SCHEMA }),
    )
    .await;
    assert_eq!(status, 200, "{first}");
    let (_, again) = post(
        &format!("{base}/subjects/a-value/versions"),
        serde_json::json!({ "schema": SCHEMA }),
    )
    .await;
    let (_, other) = post(
        &format!("{base}/subjects/b%2Fvalue/versions"),
        serde_json::json!({ "schema": SCHEMA }),
    )
    .await;
    assert_eq!(first["id"], again["id"]);
    assert_eq!(first["id"], other["id"]);

    let (_, versions) = get_json(&format!("{base}/subjects/a-value/versions")).await;
    assert_eq!(
        versions,
        serde_json::json!([1]),
        "re-registering adds no version"
    );
    let (_, subjects) = get_json(&format!("{base}/subjects")).await;
    assert_eq!(subjects, serde_json::json!(["a-value", "b/value"]));

    let (status, by_id) = get_json(&format!("{base}/schemas/ids/{}", first["id"])).await;
    assert_eq!(status, 200);
    let parsed: serde_json::Value =
        serde_json::from_str(by_id["schema"].as_str().expect("schema")).expect("json");
    assert_eq!(parsed["name"], "Probe");

    let (status, latest) = get_json(&format!("{base}/subjects/a-value/versions/latest")).await;
    assert_eq!(status, 200);
    assert_eq!(
        (latest["version"].clone(), latest["id"].clone()),
        (1.into(), first["id"].clone())
    );
    assert!(
        latest.get("schemaType").is_none(),
        "schemaType is omitted for AVRO: {latest}"
    );
    registry.stop().await.expect("stops");
}

#[tokio::test]
async fn client_mistakes_get_confluent_error_codes() {
    let registry = spawn_registry().await;
    let base = registry.admin_url();
    let cases: Vec<(&str, (u16, serde_json::Value))> = vec![
        (
            "unknown id",
            get_json(&format!("{base}/schemas/ids/999999")).await,
        ),
        (
            "unknown subject",
            get_json(&format!("{base}/subjects/nope/versions")).await,
        ),
        (
            "bad version",
            get_json(&format!("{base}/subjects/nope/versions/zero")).await,
        ),
        (
            "invalid avro",
            post(
                &format!("{base}/subjects/s/versions"),
                serde_json::json!({ "schema": "{\"type\":\"nonsense\"}" }),
            )
            .await,
        ),
        (
            "unknown route",
            get_json(&format!("{base}/associations/resources/-/topic")).await,
        ),
        (
            "malformed json",
            post(
                &format!("{base}/subjects/s/versions"),
                serde_json::json!("not an object"),
            )
            .await,
        ),
    ];
    let expected = [
        (404, 40403),
        (404, 40401),
        (422, 42202),
        (422, 42201),
        (404, 404),
        (400, 400),
    ];
    for ((case, (status, body)), (want_status, want_code)) in cases.into_iter().zip(expected) {
        assert_eq!(status, want_status, "{case}: {body}");
        assert_eq!(body["error_code"], want_code, "{case}: {body}");
    }
    let (_, subjects) = get_json(&format!("{base}/subjects")).await;
    assert_eq!(
        subjects,
        serde_json::json!([]),
        "nothing stored by bad requests"
    );
    registry.stop().await.expect("stops");
}
