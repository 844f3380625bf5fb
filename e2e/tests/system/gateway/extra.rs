//! The gateway in front of the echo service, configured only through
//! `SAGAWAY_GATEWAY_EXTRA_BACKENDS`: rules, query mapping, headers, errors and deadlines.

use std::time::{Duration, Instant};

use reqwest::Method;
use sagaway_platform::config::Env;
use sagaway_platform::identity::Identity;
use serde_json::json;

use super::{echo, get, post, send};
use crate::helpers::{Running, customer, spawn_gateway_with};

/// The echo service and a gateway that knows it only from configuration.
struct EchoSystem {
    echo: Running,
    gateway: Running,
    base: String,
}

impl EchoSystem {
    async fn start(identity: Option<Identity>) -> Self {
        Self::with_route_timeouts(identity, "").await
    }

    /// The echo service behind a gateway with `SAGAWAY_GATEWAY_ROUTE_TIMEOUTS` set to `timeouts`.
    async fn with_route_timeouts(identity: Option<Identity>, timeouts: &str) -> Self {
        let (descriptor_set, pool) = echo::descriptor_set();
        let echo = echo::spawn(pool).await;
        Self::in_front_of(echo, &descriptor_set, "", timeouts, identity).await
    }

    /// A gateway whose echo backend lists `extra_urls` before the live address.
    async fn in_front_of(
        echo: Running,
        descriptor_set: &std::path::Path,
        extra_urls: &str,
        route_timeouts: &str,
        identity: Option<Identity>,
    ) -> Self {
        let value = format!(
            "echo={extra_urls}{}@{}",
            echo.grpc_url(),
            descriptor_set.display()
        );
        let env = Env::from_pairs([
            ("SAGAWAY_GATEWAY_EXTRA_BACKENDS", value.as_str()),
            ("SAGAWAY_GATEWAY_ROUTE_TIMEOUTS", route_timeouts),
        ]);
        let parsed = sagaway_gateway::Config::from_env(&env).expect("extra backends parse");
        let (extra, timeouts) = (parsed.extra_backends, parsed.route_timeouts);
        let gateway = spawn_gateway_with(
            move |config| {
                config.extra_backends = extra;
                config.route_timeouts = timeouts;
            },
            identity,
        )
        .await;
        let base = format!("http://{}", gateway.addr);
        Self {
            echo,
            gateway,
            base,
        }
    }

    async fn stop(self) {
        self.gateway.stop().await.expect("gateway stops");
        self.echo.stop().await.expect("echo stops");
    }
}

#[tokio::test]
async fn a_service_the_gateway_was_not_built_for_joins_through_configuration() {
    let system = EchoSystem::start(Some(customer())).await;
    let base = &system.base;

    let echoed = get(&format!(
        "{base}/v1/echo/hello?times=3&mood=MOOD_HAPPY&tags=a&tags=b"
    ))
    .await;
    assert_eq!(echoed.status, 200, "{}", echoed.body);
    assert_eq!(echoed.body["message"], "hello");
    assert_eq!(echoed.body["times"], 3);
    assert_eq!(echoed.body["mood"], "MOOD_HAPPY");
    assert_eq!(echoed.body["tags"], json!(["a", "b"]));
    assert_eq!(echoed.body["shelf"], "", "defaults are emitted");

    // Map fields, one entry per parameter (grpc-gateway's and OpenAPI deepObject's form).
    let counted = get(&format!(
        "{base}/v1/echo/hi?counts[apples]=3&counts%5Bpears%5D=2&counts[apples]=4"
    ))
    .await;
    assert_eq!(counted.status, 200, "{}", counted.body);
    assert_eq!(
        counted.body["counts"],
        json!({"apples": 4, "pears": 2}),
        "the last value of a key wins"
    );
    for (query, message) in [
        (
            "counts[apples]=many",
            "query parameter counts[apples]: \"many\" is not a 32-bit integer",
        ),
        (
            "counts=3",
            "query parameter counts: a map field is set one entry at a time, as counts[key]",
        ),
        (
            "tags[a]=1",
            "query parameter tags[a]: tags is not a map field",
        ),
        (
            "counts[apples=1",
            "query parameter counts[apples: a map entry is written field[key]",
        ),
    ] {
        let refused = get(&format!("{base}/v1/echo/hi?{query}")).await;
        assert_eq!(
            (refused.status, refused.body["message"].as_str()),
            (400, Some(message)),
            "{query}"
        );
    }

    let shelved = get(&format!("{base}/v1/echo/shelves/shelves/7/hi%20there")).await;
    assert_eq!(shelved.status, 200, "{}", shelved.body);
    assert_eq!(
        (&shelved.body["shelf"], &shelved.body["message"]),
        (&json!("shelves/7"), &json!("hi there"))
    );

    let pinned = post(
        &format!("{base}/v1/boards/b-1/notes"),
        r#"{"text": "hi", "stars": 5}"#,
    )
    .await;
    assert_eq!(pinned.status, 200, "{}", pinned.body);
    assert_eq!(
        pinned.body,
        json!({"text": "hi", "stars": 5, "board": "b-1"}),
        "response_body"
    );

    let openapi = get(&format!("{base}/openapi.json")).await;
    let echo = &openapi.body["paths"]["/v1/echo/{message}"]["get"];
    assert_eq!(
        echo["summary"], "Echoes a message, with the request id and trace it came with.",
        "{echo}"
    );
    let counts = echo["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|parameter| parameter["name"] == "counts")
        .expect("the map is a query parameter");
    assert_eq!(
        (
            &counts["style"],
            &counts["schema"]["additionalProperties"]["type"]
        ),
        (&json!("deepObject"), &json!("integer"))
    );
    assert!(
        openapi.body["paths"]["/v1/products"]["post"].is_object(),
        "built-in routes too"
    );

    system.stop().await;
}

#[tokio::test]
async fn request_ids_are_kept_or_generated_and_forwarded_with_the_traceparent() {
    let system = EchoSystem::start(Some(customer())).await;
    let trace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let url = format!("{}/v1/echo/x", system.base);

    let kept = send(
        Method::GET,
        &url,
        None,
        &[("x-request-id", "req-42"), ("traceparent", trace)],
    )
    .await;
    assert_eq!(
        kept.headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok()),
        Some("req-42")
    );
    assert_eq!(
        (&kept.body["requestId"], &kept.body["traceparent"]),
        (&json!("req-42"), &json!(trace))
    );

    let generated = get(&url).await;
    let id = generated
        .headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .expect("an id");
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
    assert_eq!(generated.body["requestId"], id);

    system.stop().await;
}

#[tokio::test]
async fn client_sent_identity_headers_never_reach_the_backend() {
    let forged = [
        ("x-sagaway-user-id", "00000000-0000-0000-0000-000000000001"),
        ("x-sagaway-roles", "admin"),
    ];
    let system = EchoSystem::start(None).await;
    let answer = send(
        Method::GET,
        &format!("{}/v1/echo/x", system.base),
        None,
        &forged,
    )
    .await;
    assert_eq!(
        answer.status, 401,
        "forged headers are no login: {}",
        answer.body
    );
    system.stop().await;

    let caller = customer();
    let system = EchoSystem::start(Some(caller.clone())).await;
    let answer = send(
        Method::GET,
        &format!("{}/v1/echo/x", system.base),
        None,
        &forged,
    )
    .await;
    assert_eq!(
        answer.body["userId"],
        caller.user_id.to_string(),
        "the vouched identity wins"
    );
    system.stop().await;
}

#[tokio::test]
async fn backend_statuses_become_the_standard_http_statuses() {
    let system = EchoSystem::start(Some(customer())).await;
    let table = [
        (3, 400),
        (5, 404),
        (6, 409),
        (7, 403),
        (8, 429),
        (9, 400),
        (10, 409),
        (12, 501),
        (13, 500),
        (14, 503),
        (16, 401),
    ];
    for (code, http) in table {
        let answer = send(
            Method::DELETE,
            &format!("{}/v1/failures/{code}", system.base),
            None,
            &[],
        )
        .await;
        assert_eq!(
            (answer.status, &answer.body["code"]),
            (http, &json!(code)),
            "{}",
            answer.body
        );
    }
    system.stop().await;
}

#[tokio::test]
async fn a_client_timeout_lowers_the_deadline_and_answers_504() {
    let system = EchoSystem::start(Some(customer())).await;
    let started = Instant::now();
    let headers = [("x-request-timeout-ms", "200")];
    let answer = send(
        Method::GET,
        &format!("{}/v1/slow?millis=3000", system.base),
        None,
        &headers,
    )
    .await;
    assert_eq!(
        (answer.status, &answer.body["code"]),
        (504, &json!(4)),
        "{}",
        answer.body
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    system.stop().await;
}

#[tokio::test]
async fn gets_are_retried_on_the_next_address_when_one_is_down() {
    let (descriptor_set, pool) = echo::descriptor_set();
    let echo = echo::spawn(pool).await;
    let system = EchoSystem::in_front_of(
        echo,
        &descriptor_set,
        "http://127.0.0.1:1,",
        "",
        Some(customer()),
    )
    .await;
    for _ in 0..4 {
        let answer = get(&format!("{}/v1/echo/again", system.base)).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
    let unsafe_call = post(&format!("{}/v1/boards/b/notes", system.base), "{}").await;
    let second = post(&format!("{}/v1/boards/b/notes", system.base), "{}").await;
    let statuses = [unsafe_call.status, second.status];
    assert!(
        statuses.contains(&503) && statuses.contains(&200),
        "POSTs are not retried: {statuses:?}"
    );
    system.stop().await;
}

/// Milliseconds in a `grpc-timeout` value (`{digits}{H|M|S|m|u|n}`).
fn grpc_timeout_millis(value: &serde_json::Value) -> f64 {
    let text = value.as_str().unwrap_or_default();
    let (digits, unit) = text.split_at(text.len().saturating_sub(1));
    let amount: f64 = digits
        .parse()
        .unwrap_or_else(|_| panic!("grpc-timeout {text:?}"));
    let per_milli = match unit {
        "H" => 3_600_000.0,
        "M" => 60_000.0,
        "S" => 1000.0,
        "m" => 1.0,
        "u" => 1e-3,
        "n" => 1e-6,
        _ => panic!("grpc-timeout unit in {text:?}"),
    };
    amount * per_milli
}

#[tokio::test]
async fn a_route_deadline_reaches_the_backend_as_grpc_timeout_and_answers_504_past_it() {
    // The gateway-wide deadline stays 5 s; only Slow gets 400 ms.
    let system =
        EchoSystem::with_route_timeouts(Some(customer()), "demo.echo.v1.EchoService.Slow=400ms")
            .await;
    let slow = |millis: u64, headers: &'static [(&'static str, &'static str)]| {
        let url = format!("{}/v1/slow?millis={millis}", system.base);
        async move { send(Method::GET, &url, None, headers).await }
    };

    let quick = slow(0, &[]).await;
    assert_eq!(quick.status, 200, "{}", quick.body);
    let seen = grpc_timeout_millis(&quick.body["grpcTimeout"]);
    assert!(
        (300.0..=400.0).contains(&seen),
        "the backend saw the route's deadline: {seen} ms"
    );

    let raised = slow(0, &[("x-request-timeout-ms", "60000")]).await;
    let seen = grpc_timeout_millis(&raised.body["grpcTimeout"]);
    assert!(seen <= 400.0, "a client cannot raise it: {seen} ms");
    let lowered = slow(0, &[("x-request-timeout-ms", "150")]).await;
    let seen = grpc_timeout_millis(&lowered.body["grpcTimeout"]);
    assert!(seen <= 150.0, "a client can lower it: {seen} ms");

    let started = Instant::now();
    let late = slow(3000, &[]).await;
    assert_eq!(
        (late.status, &late.body["code"]),
        (504, &json!(4)),
        "{}",
        late.body
    );
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "answered at the route's deadline, not the gateway's: {:?}",
        started.elapsed()
    );

    let other = get(&format!("{}/v1/echo/x", system.base)).await;
    assert_eq!(other.status, 200, "other routes keep the default");
    system.stop().await;
}

#[tokio::test]
async fn a_route_deadline_for_a_method_nobody_routes_stops_the_gateway_at_start() {
    let (descriptor_set, _) = echo::descriptor_set();
    let value = format!("echo=http://127.0.0.1:1@{}", descriptor_set.display());
    let env = Env::from_pairs([
        ("SAGAWAY_GATEWAY_EXTRA_BACKENDS", value.as_str()),
        (
            "SAGAWAY_GATEWAY_ROUTE_TIMEOUTS",
            "demo.echo.v1.EchoService.Slowly=1s",
        ),
        ("SAGAWAY_HTTP_ADDR", "127.0.0.1:0"),
    ]);
    let config = sagaway_gateway::Config::from_env(&env).expect("parses");
    let err = sagaway_gateway::Application::build(config)
        .await
        .expect_err("a misspelt method is refused");
    assert!(
        format!("{err:#}").contains("SAGAWAY_GATEWAY_ROUTE_TIMEOUTS"),
        "{err:#}"
    );
}
