//! Each process starts, binds, and answers health, metrics, gRPC health and reflection; RPCs
//! without the caller's identity are refused as UNAUTHENTICATED.

use sagaway_contracts::pb;
use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_reflection::pb::v1::ServerReflectionRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

use crate::helpers::{
    Service, fresh_database, get_json, spawn_gateway, spawn_registry, spawn_service,
};

async fn channel(url: String) -> tonic::transport::Channel {
    tonic::transport::Channel::from_shared(url)
        .expect("url")
        .connect()
        .await
        .expect("connect")
}

async fn reflected_services(url: String) -> Vec<String> {
    let mut client = ServerReflectionClient::new(channel(url).await);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = client
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .expect("reflection call")
        .into_inner();
    let response = responses
        .message()
        .await
        .expect("stream")
        .expect("one answer");
    match response.message_response {
        Some(MessageResponse::ListServicesResponse(list)) => {
            list.service.into_iter().map(|s| s.name).collect()
        }
        other => panic!("unexpected reflection answer {other:?}"),
    }
}

async fn first_rpc_code(service: Service, url: String) -> Code {
    let result = match service {
        Service::Order => pb::order::order_service_client::OrderServiceClient::connect(url)
            .await
            .expect("connect")
            .get_order(pb::order::GetOrderRequest {
                order_id: "x".into(),
            })
            .await
            .map(drop),
        Service::Product => pb::product::product_service_client::ProductServiceClient::connect(url)
            .await
            .expect("connect")
            .get_product(pb::product::GetProductRequest {
                product_id: "x".into(),
            })
            .await
            .map(drop),
        Service::User => pb::user::user_service_client::UserServiceClient::connect(url)
            .await
            .expect("connect")
            .get_me(pb::user::GetMeRequest {})
            .await
            .map(drop),
    };
    result.expect_err("not implemented yet").code()
}

#[tokio::test]
async fn every_grpc_service_answers_health_metrics_reflection_and_refuses_anonymous_calls() {
    for service in Service::ALL {
        let database = fresh_database().await;
        let running = spawn_service(service, &database).await;
        let name = service.grpc_name();

        let (status, body) = get_json(&format!("{}/health/live", running.admin_url())).await;
        assert_eq!(status, 200, "{name} live: {body}");

        let (status, body) = get_json(&format!("{}/health/ready", running.admin_url())).await;
        assert_eq!(status, 200, "{name} ready: {body}");
        assert_eq!(body["checks"]["database"], "ok", "{name}: {body}");
        assert_eq!(body["checks"]["broker"], "ok", "{name}: {body}");

        let (status, metrics) = get_json(&format!("{}/metrics", running.admin_url())).await;
        assert_eq!(status, 200);
        assert!(
            metrics
                .as_str()
                .is_some_and(|text| text.contains("sagaway_build_info")),
            "{name}: {metrics}"
        );

        let mut health = HealthClient::new(channel(running.grpc_url()).await);
        let answer = health
            .check(HealthCheckRequest {
                service: name.into(),
            })
            .await
            .expect("health check")
            .into_inner();
        assert_eq!(
            answer.status,
            ServingStatus::Serving as i32,
            "{name} health"
        );

        let listed = reflected_services(running.grpc_url()).await;
        assert!(
            listed.iter().any(|s| s == name),
            "{name} not in reflection: {listed:?}"
        );
        assert!(
            listed.iter().any(|s| s == "grpc.health.v1.Health"),
            "{listed:?}"
        );

        // Without the caller's identity (set by the gateway) an RPC is UNAUTHENTICATED.
        let code = first_rpc_code(service, running.grpc_url()).await;
        assert_eq!(code, Code::Unauthenticated, "{name}");
        running.stop().await.expect("drains and stops cleanly");
    }
}

#[tokio::test]
async fn readiness_names_the_dependency_that_is_down() {
    // Nothing listens on port 1: the database check must fail and say so.
    let running = spawn_service(
        Service::Product,
        "postgres://postgres:postgres@127.0.0.1:1/none",
    )
    .await;
    let (status, body) = get_json(&format!("{}/health/ready", running.admin_url())).await;
    assert_eq!(status, 503, "{body}");
    assert_ne!(body["checks"]["database"], "ok", "{body}");
    assert_eq!(body["checks"]["broker"], "ok", "{body}");
    let (status, _) = get_json(&format!("{}/health/live", running.admin_url())).await;
    assert_eq!(status, 200, "liveness does not depend on the database");
    running.stop().await.expect("stops");
}

#[tokio::test]
async fn registry_and_gateway_answer_health_and_json_404s() {
    let registry = spawn_registry().await;
    let (status, body) = get_json(&format!("{}/health/ready", registry.admin_url())).await;
    assert_eq!(
        (status, &body["checks"]["database"]),
        (200, &"ok".into()),
        "{body}"
    );

    let gateway = spawn_gateway().await;
    let (status, body) = get_json(&format!("{}/health/ready", gateway.admin_url())).await;
    // Its backends point nowhere here, so it is not ready; Redis itself answers.
    assert_eq!(
        (status, &body["checks"]["redis"]),
        (503, &"ok".into()),
        "{body}"
    );
    assert_ne!(body["checks"]["backend:product"], "ok", "{body}");
    let (status, body) = get_json(&format!("{}/metrics", gateway.admin_url())).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = get_json(&format!("{}/v1/nowhere", gateway.admin_url())).await;
    assert_eq!(status, 404);
    assert_eq!(body["code"], 5, "{body}");

    registry.stop().await.expect("registry stops");
    gateway.stop().await.expect("gateway stops");
}
