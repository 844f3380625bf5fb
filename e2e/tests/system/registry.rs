//! The contract registry as Confluent clients use it: the v7 REST surface, Confluent's error
//! codes, compatibility levels, references, modes, deletion, several instances on one
//! database, access control, and the Rust `schema_registry_converter` client unchanged.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{fresh_database, get_json, spawn_registry, spawn_registry_with};

const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";

fn record(name: &str, fields: Value) -> String {
    json!({ "type": "record", "name": name, "namespace": "t", "fields": fields }).to_string()
}

fn v1() -> String {
    record("Probe", json!([{ "name": "a", "type": "long" }]))
}

fn v2_compatible() -> String {
    record(
        "Probe",
        json!([{ "name": "a", "type": "long" }, { "name": "b", "type": "string", "default": "" }]),
    )
}

fn v2_breaking() -> String {
    record(
        "Probe",
        json!([{ "name": "a", "type": "long" }, { "name": "c", "type": "string" }]),
    )
}

async fn send(
    method: reqwest::Method,
    url: &str,
    body: Option<Value>,
    headers: &[(&str, &str)],
) -> (u16, Value) {
    let mut request = reqwest::Client::new().request(method, url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(body) = body {
        request = request
            .header("content-type", CONTENT_TYPE)
            .body(body.to_string());
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn post(url: &str, body: Value) -> (u16, Value) {
    send(reqwest::Method::POST, url, Some(body), &[]).await
}

async fn put(url: &str, body: Value) -> (u16, Value) {
    send(reqwest::Method::PUT, url, Some(body), &[]).await
}

async fn delete(url: &str) -> (u16, Value) {
    send(reqwest::Method::DELETE, url, None, &[]).await
}

async fn register(base: &str, subject: &str, schema: &str) -> (u16, Value) {
    post(
        &format!("{base}/subjects/{subject}/versions"),
        json!({ "schema": schema }),
    )
    .await
}

#[tokio::test]
async fn the_same_schema_gets_one_global_id_in_every_subject() {
    let registry = spawn_registry().await;
    let base = registry.admin_url();
    let (status, first) = register(&base, "a-value", &v1()).await;
    assert_eq!(status, 200, "{first}");
    let (_, again) = register(&base, "a-value", &v1()).await;
    let (_, other) = register(&base, "b%2Fvalue", &v1()).await;
    assert_eq!(first["id"], again["id"]);
    assert_eq!(first["id"], other["id"]);

    let (_, versions) = get_json(&format!("{base}/subjects/a-value/versions")).await;
    assert_eq!(versions, json!([1]), "re-registering adds no version");
    let (_, subjects) = get_json(&format!("{base}/subjects")).await;
    assert_eq!(subjects, json!(["a-value", "b/value"]));
    let (_, prefixed) = get_json(&format!("{base}/subjects?subjectPrefix=b")).await;
    assert_eq!(prefixed, json!(["b/value"]));

    let id = &first["id"];
    let (status, by_id) = get_json(&format!("{base}/schemas/ids/{id}")).await;
    assert_eq!(status, 200);
    let parsed: Value =
        serde_json::from_str(by_id["schema"].as_str().expect("schema")).expect("json");
    assert_eq!(parsed["name"], "Probe");
    let (_, raw) = get_json(&format!("{base}/schemas/ids/{id}/schema")).await;
    assert_eq!(
        raw["name"], "Probe",
        "the /schema route returns the schema itself"
    );
    let (_, users) = get_json(&format!("{base}/schemas/ids/{id}/versions")).await;
    assert_eq!(
        users,
        json!([{ "subject": "a-value", "version": 1 }, { "subject": "b/value", "version": 1 }])
    );
    let (_, subjects_of_id) = get_json(&format!("{base}/schemas/ids/{id}/subjects")).await;
    assert_eq!(subjects_of_id, json!(["a-value", "b/value"]));

    let (status, latest) = get_json(&format!("{base}/subjects/a-value/versions/latest")).await;
    assert_eq!(status, 200);
    assert_eq!(
        (latest["version"].clone(), latest["id"].clone()),
        (json!(1), id.clone())
    );
    assert!(
        latest.get("schemaType").is_none(),
        "schemaType is omitted for AVRO: {latest}"
    );
    let (_, found) = post(
        &format!("{base}/subjects/a-value"),
        json!({ "schema": v1() }),
    )
    .await;
    assert_eq!(found["version"], 1, "lookup finds the version: {found}");
    let (_, root) = get_json(&format!("{base}/")).await;
    assert_eq!(root, json!({}));
    let (_, types) = get_json(&format!("{base}/schemas/types")).await;
    assert_eq!(types, json!(["AVRO"]));
    let (_, contexts) = get_json(&format!("{base}/contexts")).await;
    assert_eq!(contexts, json!(["."]));
    registry.stop().await.expect("stops");
}

#[tokio::test]
async fn client_mistakes_get_confluent_error_codes_and_store_nothing() {
    let registry = spawn_registry().await;
    let base = registry.admin_url();
    let huge = "x".repeat(3 * 1024 * 1024);
    type Case<'a> = (&'a str, (u16, Value), (u16, i64));
    let cases: Vec<Case<'_>> = vec![
        (
            "unknown id",
            get_json(&format!("{base}/schemas/ids/999999")).await,
            (404, 40403),
        ),
        (
            "unknown subject",
            get_json(&format!("{base}/subjects/nope/versions")).await,
            (404, 40401),
        ),
        (
            "bad version",
            get_json(&format!("{base}/subjects/nope/versions/zero")).await,
            (422, 42202),
        ),
        (
            "invalid avro",
            register(&base, "s", r#"{"type":"nonsense"}"#).await,
            (422, 42201),
        ),
        (
            "record without fields",
            register(&base, "s", r#"{"type":"record","name":"X"}"#).await,
            (422, 42201),
        ),
        (
            "not json at all",
            register(&base, "s", "{{{").await,
            (422, 42201),
        ),
        (
            "unknown route",
            get_json(&format!("{base}/associations/resources/-/topic")).await,
            (404, 404),
        ),
        (
            "wrong method",
            delete(&format!("{base}/schemas/types")).await,
            (404, 404),
        ),
        (
            "malformed body",
            post(
                &format!("{base}/subjects/s/versions"),
                json!("not an object"),
            )
            .await,
            (400, 400),
        ),
        (
            "no schema",
            post(
                &format!("{base}/subjects/s/versions"),
                json!({ "schemaType": "AVRO" }),
            )
            .await,
            (422, 42201),
        ),
        (
            "protobuf",
            post(
                &format!("{base}/subjects/s/versions"),
                json!({ "schema": "x", "schemaType": "PROTOBUF" }),
            )
            .await,
            (422, 42201),
        ),
        (
            "invalid level",
            put(
                &format!("{base}/config/s"),
                json!({ "compatibility": "SIDEWAYS" }),
            )
            .await,
            (422, 42203),
        ),
        (
            "invalid mode",
            put(&format!("{base}/mode"), json!({ "mode": "WRITEONLY" })).await,
            (422, 42204),
        ),
        (
            "no subject config",
            get_json(&format!("{base}/config/s")).await,
            (404, 40408),
        ),
        (
            "oversized body",
            post(
                &format!("{base}/subjects/s/versions"),
                json!({ "schema": huge }),
            )
            .await,
            (413, 413),
        ),
    ];
    for (case, (status, body), (want_status, want_code)) in cases {
        assert_eq!(status, want_status, "{case}: {body}");
        assert_eq!(body["error_code"], want_code, "{case}: {body}");
        assert!(
            body["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{case}: {body}"
        );
    }
    let (_, subjects) = get_json(&format!("{base}/subjects")).await;
    assert_eq!(subjects, json!([]), "nothing stored by bad requests");
    registry.stop().await.expect("stops");
}

#[tokio::test]
async fn incompatible_schemas_are_refused_with_reasons_at_the_subject_level() {
    let registry = spawn_registry().await;
    let base = registry.admin_url();
    register(&base, "p", &v1()).await;

    let (status, refused) = register(&base, "p", &v2_breaking()).await;
    assert_eq!(
        (status, refused["error_code"].clone()),
        (409, json!(409)),
        "{refused}"
    );
    let (_, versions) = get_json(&format!("{base}/subjects/p/versions")).await;
    assert_eq!(versions, json!([1]), "the refused schema is not stored");

    let check = format!("{base}/compatibility/subjects/p/versions/latest?verbose=true");
    let (_, verdict) = post(&check, json!({ "schema": v2_breaking() })).await;
    assert_eq!(verdict["is_compatible"], false, "{verdict}");
    let reasons = verdict["messages"].to_string();
    assert!(
        reasons.contains('c') && reasons.contains("default"),
        "names the field and why: {reasons}"
    );
    let (_, verdict) = post(
        &format!("{base}/compatibility/subjects/p/versions"),
        json!({ "schema": v2_compatible() }),
    )
    .await;
    assert_eq!(verdict, json!({ "is_compatible": true }));
    let (_, unknown) = post(
        &format!("{base}/compatibility/subjects/new/versions"),
        json!({ "schema": v1() }),
    )
    .await;
    assert_eq!(
        unknown["is_compatible"], true,
        "nothing to break in a new subject"
    );

    let (_, set) = put(
        &format!("{base}/config/p"),
        json!({ "compatibility": "none" }),
    )
    .await;
    assert_eq!(set, json!({ "compatibility": "NONE" }));
    let (_, level) = get_json(&format!("{base}/config/p")).await;
    assert_eq!(level, json!({ "compatibilityLevel": "NONE" }));
    let (status, _) = register(&base, "p", &v2_breaking()).await;
    assert_eq!(status, 200, "NONE accepts anything");

    let (_, global) = get_json(&format!("{base}/config")).await;
    assert_eq!(
        global,
        json!({ "compatibilityLevel": "BACKWARD" }),
        "Confluent's default"
    );
    put(
        &format!("{base}/config"),
        json!({ "compatibility": "FULL_TRANSITIVE" }),
    )
    .await;
    let (_, inherited) = get_json(&format!("{base}/config/other?defaultToGlobal=true")).await;
    assert_eq!(
        inherited,
        json!({ "compatibilityLevel": "FULL_TRANSITIVE" })
    );
    let (_, removed) = delete(&format!("{base}/config/p")).await;
    assert_eq!(removed, json!({ "compatibilityLevel": "NONE" }));
    registry.stop().await.expect("stops");
}

#[tokio::test]
async fn soft_and_permanent_deletion_follow_confluent_rules() {
    let registry = spawn_registry().await;
    let base = registry.admin_url();
    register(&base, "d", &v1()).await;
    register(&base, "d", &v2_compatible()).await;

    assert_eq!(
        delete(&format!("{base}/subjects/d/versions/2?permanent=true"))
            .await
            .1["error_code"],
        40407
    );
    assert_eq!(
        delete(&format!("{base}/subjects/d/versions/2")).await,
        (200, json!(2))
    );
    assert_eq!(
        delete(&format!("{base}/subjects/d/versions/2")).await.1["error_code"],
        40402,
        "hidden once soft-deleted"
    );
    let (_, visible) = get_json(&format!("{base}/subjects/d/versions")).await;
    assert_eq!(visible, json!([1]));
    let (_, all) = get_json(&format!("{base}/subjects/d/versions?deleted=True")).await;
    assert_eq!(all, json!([1, 2]), "Python-style booleans are understood");

    assert_eq!(
        delete(&format!("{base}/subjects/d?permanent=true")).await.1["error_code"],
        40405
    );
    assert_eq!(
        delete(&format!("{base}/subjects/d")).await,
        (200, json!([1]))
    );
    assert_eq!(
        delete(&format!("{base}/subjects/d")).await.1["error_code"],
        40404
    );
    let (_, subjects) = get_json(&format!("{base}/subjects?deleted=true")).await;
    assert_eq!(subjects, json!(["d"]));
    assert_eq!(
        delete(&format!("{base}/subjects/d?permanent=true")).await,
        (200, json!([1, 2]))
    );
    assert_eq!(
        get_json(&format!("{base}/subjects/d/versions?deleted=true"))
            .await
            .1["error_code"],
        40401
    );
    registry.stop().await.expect("stops");
}

#[tokio::test]
async fn schemas_may_reference_types_registered_under_other_subjects() {
    let registry = spawn_registry().await;
    let base = registry.admin_url();
    let money = record(
        "Money",
        json!([{ "name": "minor", "type": "long" }, { "name": "currency", "type": "string" }]),
    );
    let (_, money_id) = register(&base, "money", &money).await;
    let order = record("Order", json!([{ "name": "total", "type": "t.Money" }]));

    let (status, body) = register(&base, "order", &order).await;
    assert_eq!(
        (status, body["error_code"].clone()),
        (422, json!(42201)),
        "unresolved without the reference: {body}"
    );
    // schema_registry_converter sends extra null fields in references; they are ignored.
    let reference = json!([{ "name": "t.Money", "subject": "money", "version": 1, "schemaType": null, "references": null }]);
    let (status, order_id) = post(
        &format!("{base}/subjects/order/versions"),
        json!({ "schema": order, "references": reference }),
    )
    .await;
    assert_eq!(status, 200, "{order_id}");

    let (_, by_id) = get_json(&format!("{base}/schemas/ids/{}", order_id["id"])).await;
    assert_eq!(
        by_id["references"],
        json!([{ "name": "t.Money", "subject": "money", "version": 1 }])
    );
    let (_, referencing) =
        get_json(&format!("{base}/subjects/money/versions/1/referencedby")).await;
    assert_eq!(referencing, json!([order_id["id"]]));
    assert_ne!(money_id["id"], order_id["id"]);
    registry.stop().await.expect("stops");
}

#[tokio::test]
async fn modes_guard_writes_and_import_keeps_given_ids() {
    let registry = spawn_registry().await;
    let base = registry.admin_url();
    let (_, mode) = get_json(&format!("{base}/mode")).await;
    assert_eq!(mode, json!({ "mode": "READWRITE" }));

    put(&format!("{base}/mode/ro"), json!({ "mode": "READONLY" })).await;
    let (status, body) = register(&base, "ro", &v1()).await;
    assert_eq!(
        (status, body["error_code"].clone()),
        (422, json!(42205)),
        "{body}"
    );

    let (status, body) = post(
        &format!("{base}/subjects/rw/versions"),
        json!({ "schema": v1(), "id": 500 }),
    )
    .await;
    assert_eq!(
        body["error_code"], 42205,
        "ids are only accepted in IMPORT mode: {status} {body}"
    );

    put(&format!("{base}/mode/imp"), json!({ "mode": "IMPORT" })).await;
    let (status, body) = post(
        &format!("{base}/subjects/imp/versions"),
        json!({ "schema": v1(), "id": 500, "version": 3 }),
    )
    .await;
    assert_eq!((status, body), (200, json!({ "id": 500 })));
    let (_, imported) = get_json(&format!("{base}/subjects/imp/versions/3")).await;
    assert_eq!(imported["id"], 500);

    let (_, next) = register(&base, "after-import", &v2_compatible()).await;
    assert!(
        next["id"].as_i64().is_some_and(|id| id > 500),
        "new ids never collide with imported ones: {next}"
    );
    let (_, removed) = delete(&format!("{base}/mode/ro")).await;
    assert_eq!(removed, json!({ "mode": "READONLY" }));
    registry.stop().await.expect("stops");
}

#[tokio::test]
async fn newer_response_fields_only_for_clients_that_accept_them() {
    let registry = spawn_registry().await;
    let base = registry.admin_url();
    register(&base, "x", &v1()).await;
    let url = format!("{base}/subjects/x/versions/1");
    let (_, plain) = get_json(&url).await;
    assert_eq!(
        plain.as_object().map(|o| o.len()),
        Some(4),
        "subject, version, id, schema only: {plain}"
    );
    let (_, extended) = send(
        reqwest::Method::GET,
        &url,
        None,
        &[("Confluent-Accept-Unknown-Properties", "true")],
    )
    .await;
    assert!(
        extended.get("ts").is_some() && extended.get("deleted").is_some(),
        "{extended}"
    );
    registry.stop().await.expect("stops");
}

#[tokio::test]
async fn instances_on_one_database_agree_on_ids_and_see_each_others_changes() {
    let database = fresh_database().await;
    let a = spawn_registry_with(&database, Default::default()).await;
    let b = spawn_registry_with(&database, Default::default()).await;
    let (base_a, base_b) = (a.admin_url(), b.admin_url());

    // Twenty concurrent registrations of one new schema, split across both instances.
    let schema = record("Race", json!([{ "name": "n", "type": "int" }]));
    let attempts = (0..20).map(|i| {
        let base = if i % 2 == 0 {
            base_a.clone()
        } else {
            base_b.clone()
        };
        let schema = schema.clone();
        async move { register(&base, "race", &schema).await }
    });
    let results = futures::future::join_all(attempts).await;
    let ids: std::collections::HashSet<_> = results
        .iter()
        .map(|(status, body)| (*status, body["id"].clone()))
        .collect();
    assert_eq!(ids.len(), 1, "one id for one schema: {results:?}");
    assert_eq!(
        get_json(&format!("{base_a}/subjects/race/versions"))
            .await
            .1,
        json!([1])
    );

    // A caches the subject, B adds a version, A learns of it without waiting for its cache TTL.
    assert_eq!(
        get_json(&format!("{base_a}/subjects/race/versions/latest"))
            .await
            .1["version"],
        1
    );
    let evolved = record(
        "Race",
        json!([{ "name": "n", "type": "int" }, { "name": "m", "type": "int", "default": 0 }]),
    );
    let (status, _) = register(&base_b, "race", &evolved).await;
    assert_eq!(status, 200);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let (_, latest) = get_json(&format!("{base_a}/subjects/race/versions/latest")).await;
        if latest["version"] == 2 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "instance A never saw version 2: {latest}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    a.stop().await.expect("a stops");
    b.stop().await.expect("b stops");
}

#[tokio::test]
async fn writes_can_require_credentials_while_reads_stay_open() {
    let access = sagaway_registry::auth::Access {
        users: sagaway_registry::auth::Access::parse_users("ci:s3cret"),
        protect_reads: false,
    };
    let registry = spawn_registry_with(&fresh_database().await, access).await;
    let base = registry.admin_url();
    let (status, body) = register(&base, "locked", &v1()).await;
    assert_eq!(
        (status, body["error_code"].clone()),
        (401, json!(401)),
        "{body}"
    );
    let url = format!("{base}/subjects/locked/versions");
    let body = json!({ "schema": v1() });
    // "ci:s3cret" in base64.
    let (status, _) = send(
        reqwest::Method::POST,
        &url,
        Some(body.clone()),
        &[("authorization", "Basic Y2k6czNjcmV0")],
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = send(
        reqwest::Method::POST,
        &url,
        Some(body),
        &[("authorization", "Basic Y2k6bm9wZQ==")],
    )
    .await;
    assert_eq!(status, 401, "a wrong password is refused");
    assert_eq!(
        get_json(&format!("{base}/subjects")).await,
        (200, json!(["locked"])),
        "reads are open"
    );
    assert_eq!(
        get_json(&format!("{base}/health/ready")).await.0,
        200,
        "health is always open"
    );
    registry.stop().await.expect("stops");
}

#[tokio::test]
async fn the_rust_schema_registry_converter_round_trips_an_event() {
    use schema_registry_converter::async_impl::avro::{AvroDecoder, AvroEncoder};
    use schema_registry_converter::async_impl::schema_registry::SrSettings;
    use schema_registry_converter::schema_registry_common::{
        SchemaType, SubjectNameStrategy, SuppliedSchema,
    };

    let registry = spawn_registry().await;
    let settings = SrSettings::new(registry.admin_url());
    let event_type = sagaway_contracts::events::EventType::PaymentCompleted;
    let event = sagaway_contracts::events::PaymentCompleted {
        metadata: sagaway_contracts::events::EventMetadata::new("corr-1", None, "converter-test"),
        order_id: "order-9".into(),
        user_id: "user-9".into(),
        payment_id: "pay-9".into(),
        amount_minor: 4200,
        currency: "EUR".into(),
    };
    let supplied = SuppliedSchema::new(
        Some(event_type.full_name()),
        SchemaType::Avro,
        sagaway_contracts::avro::schema_json(event_type).to_owned(),
    );
    let strategy = SubjectNameStrategy::TopicRecordNameStrategyWithSchema(
        event_type.topic().to_owned(),
        supplied,
    );
    let bytes = AvroEncoder::new(settings.clone())
        .encode_struct(&event, &strategy)
        .await
        .expect("encode");

    // Our codec reads what the converter wrote, and the converter reads it back too.
    let codec = sagaway_contracts::codec::EventCodec::new(
        sagaway_contracts::registry::RegistryClient::new(registry.admin_url()),
    );
    let decoded = codec.decode(&bytes).await.expect("our codec decodes it");
    assert_eq!(decoded, event.clone().into());
    let theirs = AvroDecoder::new(settings)
        .decode(Some(&bytes))
        .await
        .expect("converter decodes");
    assert_eq!(
        theirs.name.map(|n| n.fullname(None)),
        Some(event_type.full_name())
    );
    let (_, subjects) = get_json(&format!("{}/subjects", registry.admin_url())).await;
    assert_eq!(subjects, json!([event_type.subject()]));
    registry.stop().await.expect("stops");
}
