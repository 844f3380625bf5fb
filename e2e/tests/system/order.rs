//! The order service over its own database, with the real product service behind it and its
//! outbox published to the real broker through the real registry.

use std::time::Duration;

use sagaway_contracts::codec::EventCodec;
use sagaway_contracts::events::{AnyEvent, OrderCancelReason};
use sagaway_contracts::pb::common::Money;
use sagaway_contracts::pb::order as pb;
use sagaway_contracts::pb::order::order_service_client::OrderServiceClient;
use sagaway_contracts::pb::product as product_pb;
use sagaway_contracts::pb::product::product_service_client::ProductServiceClient;
use sagaway_contracts::registry::RegistryClient;
use sagaway_platform::identity::Identity;
use sagaway_platform::outbox::PublisherConfig;
use tonic::Code;
use tonic::transport::Channel;
use uuid::Uuid;

use crate::helpers::{
    Running, Service, TopicMarks, admin, as_caller, customer, fresh_database, kafka,
    read_topic_since, service_config, spawn_registry, spawn_service, topic_marks, violated_fields,
    wait_until,
};

/// The order service, the product service it asks, and the registry its publisher uses.
struct System {
    orders: OrderServiceClient<Channel>,
    products: ProductServiceClient<Channel>,
    registry: Running,
    order: Running,
    product: Running,
    /// Where the order topic ended before this system started.
    marks: TopicMarks,
}

impl System {
    async fn start() -> Self {
        let marks = topic_marks(&kafka(), sagaway_contracts::topics::ORDER_EVENTS).await;
        let registry = spawn_registry().await;
        let product = spawn_service(Service::Product, &fresh_database().await).await;
        let order = spawn_order(&product.grpc_url(), &registry.admin_url()).await;
        Self {
            orders: OrderServiceClient::connect(order.grpc_url())
                .await
                .expect("order service"),
            products: ProductServiceClient::connect(product.grpc_url())
                .await
                .expect("product service"),
            registry,
            order,
            product,
            marks,
        }
    }

    async fn product(&mut self, sku: &str, stock: i64) -> String {
        let product = product_pb::Product {
            sku: sku.into(),
            name: format!("Product {sku}"),
            price: Some(Money {
                amount_minor: 1250,
                currency_code: "EUR".into(),
            }),
            stock: Some(product_pb::Stock {
                available: stock,
                reserved: 0,
            }),
            ..Default::default()
        };
        self.products
            .create_product(as_caller(
                &admin(),
                product_pb::CreateProductRequest {
                    product: Some(product),
                },
            ))
            .await
            .expect("create product")
            .into_inner()
            .product_id
    }

    async fn order(
        &mut self,
        who: &Identity,
        items: &[(&str, i64)],
    ) -> Result<pb::Order, tonic::Status> {
        let items = items
            .iter()
            .map(|(id, quantity)| pb::OrderItem {
                product_id: (*id).to_owned(),
                quantity: *quantity,
            })
            .collect();
        self.orders
            .create_order(as_caller(who, pb::CreateOrderRequest { items }))
            .await
            .map(tonic::Response::into_inner)
    }

    async fn stop(self) {
        self.order.stop().await.expect("order stops");
        self.product.stop().await.expect("product stops");
        self.registry.stop().await.expect("registry stops");
    }
}

async fn spawn_order(product_url: &str, registry_url: &str) -> Running {
    let mut service = service_config(sagaway_order::SERVICE_NAME, &fresh_database().await);
    service.schema_registry_url = registry_url.to_owned();
    let config = sagaway_order::Config {
        service,
        product_url: product_url.to_owned(),
        product_deadline: Duration::from_millis(1500),
        product_attempts: 3,
        publisher: PublisherConfig {
            poll_interval: Duration::from_millis(200),
            ..PublisherConfig::default()
        },
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

/// The events about `order_id` on the order topic since `marks`, decoded.
async fn events_of(
    registry: &Running,
    marks: &TopicMarks,
    order_id: &str,
) -> Vec<(AnyEvent, std::collections::HashMap<String, String>)> {
    let codec = EventCodec::new(RegistryClient::new(registry.admin_url()));
    let mut found = Vec::new();
    for message in read_topic_since(&kafka(), sagaway_contracts::topics::ORDER_EVENTS, marks).await
    {
        if message.key.as_deref() == Some(order_id) {
            let event = codec.decode(&message.payload).await.expect("decodes");
            found.push((event, message.headers.clone()));
        }
    }
    found
}

#[tokio::test]
async fn an_order_is_created_pending_and_its_order_created_event_is_published() {
    let mut system = System::start().await;
    let (a, b) = (
        system.product("SKU-A", 10).await,
        system.product("SKU-B", 10).await,
    );
    let who = customer();
    let mut request = as_caller(
        &who,
        pb::CreateOrderRequest {
            items: vec![
                pb::OrderItem {
                    product_id: a.clone(),
                    quantity: 2,
                },
                pb::OrderItem {
                    product_id: b.clone(),
                    quantity: 1,
                },
            ],
        },
    );
    request
        .metadata_mut()
        .insert("x-request-id", "req-42".parse().expect("ascii"));
    request.metadata_mut().insert(
        "traceparent",
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
            .parse()
            .expect("ascii"),
    );
    let order = system
        .orders
        .create_order(request)
        .await
        .expect("created")
        .into_inner();
    assert_eq!(order.status(), pb::OrderStatus::Pending);
    assert_eq!(order.user_id, who.user_id.to_string());
    assert_eq!(
        order
            .lines
            .iter()
            .map(|l| (l.product_id.clone(), l.quantity))
            .collect::<Vec<_>>(),
        vec![(a.clone(), 2), (b, 1)]
    );

    let (registry, marks) = (&system.registry, &system.marks);
    let order_id = order.order_id.clone();
    wait_until(
        "OrderCreated is on the topic",
        Duration::from_secs(20),
        || {
            let order_id = order_id.clone();
            async move { !events_of(registry, marks, &order_id).await.is_empty() }
        },
    )
    .await;
    let events = events_of(registry, marks, &order.order_id).await;
    let (AnyEvent::OrderCreated(created), headers) = &events[0] else {
        panic!("{events:?}")
    };
    assert_eq!(created.user_id, who.user_id.to_string());
    assert_eq!(created.lines.len(), 2);
    assert_eq!(
        created.metadata.correlation_id, "req-42",
        "the request id correlates the saga"
    );
    assert_eq!(
        headers.get("correlation-id").map(String::as_str),
        Some("req-42")
    );
    assert_eq!(
        headers.get("event-type").map(String::as_str),
        Some("sagaway.events.OrderCreated")
    );
    assert!(
        headers
            .get("traceparent")
            .is_some_and(|t| t.contains("0af7651916cd43dd8448eb211c80319c"))
    );

    let history = system
        .orders
        .list_order_status_history(as_caller(
            &who,
            pb::ListOrderStatusHistoryRequest {
                order_id: order.order_id.clone(),
            },
        ))
        .await
        .expect("history")
        .into_inner()
        .changes;
    assert_eq!(history.len(), 1);
    assert_eq!(
        (history[0].to_status(), history[0].event_id.as_str()),
        (pb::OrderStatus::Pending, created.metadata.event_id.as_str())
    );
    system.stop().await;
}

#[tokio::test]
async fn bad_orders_are_refused_with_a_violation_per_field_and_nothing_is_stored() {
    let mut system = System::start().await;
    let known = system.product("SKU-K", 5).await;
    let unknown = Uuid::new_v4().to_string();
    type Case<'a> = (Vec<(&'a str, i64)>, Vec<&'a str>);
    let cases: Vec<Case<'_>> = vec![
        (vec![], vec!["items"]),
        (vec![("not-a-uuid", 1)], vec!["items[0].product_id"]),
        (vec![(known.as_str(), 0)], vec!["items[0].quantity"]),
        (
            vec![(known.as_str(), 1), (known.as_str(), 1)],
            vec!["items[1].product_id"],
        ),
        (
            vec![(known.as_str(), 1), (unknown.as_str(), 1)],
            vec!["items[1].product_id"],
        ),
    ];
    let who = customer();
    for (items, fields) in cases {
        let status = system.order(&who, &items).await.expect_err("refused");
        assert_eq!(
            status.code(),
            Code::InvalidArgument,
            "{items:?}: {status:?}"
        );
        let got: Vec<String> = violated_fields(&status);
        assert_eq!(got, fields, "{items:?}");
    }
    let listed = system
        .orders
        .list_orders(as_caller(&who, pb::ListOrdersRequest::default()))
        .await
        .expect("list")
        .into_inner();
    assert!(listed.orders.is_empty(), "nothing stored: {listed:?}");
    system.stop().await;
}

#[tokio::test]
async fn requests_without_identity_are_unauthenticated() {
    let mut system = System::start().await;
    let status = system
        .orders
        .list_orders(pb::ListOrdersRequest::default())
        .await
        .expect_err("no identity");
    assert_eq!(status.code(), Code::Unauthenticated);
    system.stop().await;
}

#[tokio::test]
async fn a_customer_sees_only_their_orders_and_an_admin_sees_all() {
    let mut system = System::start().await;
    let product = system.product("SKU-O", 50).await;
    let (alice, bob) = (customer(), customer());
    let mut alices = Vec::new();
    for _ in 0..5 {
        alices.push(
            system
                .order(&alice, &[(product.as_str(), 1)])
                .await
                .expect("alice orders")
                .order_id,
        );
    }
    let bobs = system
        .order(&bob, &[(product.as_str(), 1)])
        .await
        .expect("bob orders")
        .order_id;

    let not_found = system
        .orders
        .get_order(as_caller(
            &alice,
            pb::GetOrderRequest {
                order_id: bobs.clone(),
            },
        ))
        .await
        .expect_err("hidden");
    assert_eq!(
        not_found.code(),
        Code::NotFound,
        "another customer's order is not revealed"
    );
    let seen = system
        .orders
        .get_order(as_caller(
            &admin(),
            pb::GetOrderRequest {
                order_id: bobs.clone(),
            },
        ))
        .await
        .expect("admin");
    assert_eq!(seen.into_inner().user_id, bob.user_id.to_string());

    // Alice pages through her own orders, two at a time, newest first, without gaps or repeats.
    let mut token = String::new();
    let mut paged = Vec::new();
    loop {
        let page = system
            .orders
            .list_orders(as_caller(
                &alice,
                pb::ListOrdersRequest {
                    page_size: 2,
                    page_token: token.clone(),
                    status: 0,
                },
            ))
            .await
            .expect("page")
            .into_inner();
        paged.extend(page.orders.into_iter().map(|o| o.order_id));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    let newest_first: Vec<String> = alices.iter().rev().cloned().collect();
    assert_eq!(paged, newest_first);

    let everyone = system
        .orders
        .list_orders(as_caller(
            &admin(),
            pb::ListOrdersRequest {
                page_size: 100,
                ..Default::default()
            },
        ))
        .await
        .expect("admin list");
    assert_eq!(everyone.into_inner().orders.len(), 6);
    let bad = system
        .orders
        .list_orders(as_caller(
            &alice,
            pb::ListOrdersRequest {
                page_token: "garbage".into(),
                ..Default::default()
            },
        ))
        .await
        .expect_err("bad token");
    assert_eq!(violated_fields(&bad), vec!["page_token"]);
    system.stop().await;
}

#[tokio::test]
async fn cancelling_a_pending_order_records_it_and_tells_the_saga_once() {
    let mut system = System::start().await;
    let product = system.product("SKU-C", 5).await;
    let (owner, stranger) = (customer(), customer());
    let order = system
        .order(&owner, &[(product.as_str(), 2)])
        .await
        .expect("created");
    let cancel = |who: &Identity, reason: &str| {
        as_caller(
            who,
            pb::CancelOrderRequest {
                order_id: order.order_id.clone(),
                reason: reason.into(),
            },
        )
    };

    let refused = system
        .orders
        .cancel_order(cancel(&stranger, "mine now"))
        .await
        .expect_err("not theirs");
    assert_eq!(refused.code(), Code::NotFound);
    let cancelled = system
        .orders
        .cancel_order(cancel(&owner, "changed my mind"))
        .await
        .expect("cancelled")
        .into_inner();
    assert_eq!(
        (cancelled.status(), cancelled.failure_reason.as_str()),
        (pb::OrderStatus::Cancelled, "changed my mind")
    );
    let again = system
        .orders
        .cancel_order(cancel(&owner, "again"))
        .await
        .expect("idempotent")
        .into_inner();
    assert_eq!(
        (again.status(), again.failure_reason.as_str()),
        (pb::OrderStatus::Cancelled, "changed my mind")
    );

    let history = system
        .orders
        .list_order_status_history(as_caller(
            &owner,
            pb::ListOrderStatusHistoryRequest {
                order_id: order.order_id.clone(),
            },
        ))
        .await
        .expect("history")
        .into_inner()
        .changes;
    let steps: Vec<_> = history
        .iter()
        .map(|c| (c.from_status(), c.to_status(), c.event_type.clone()))
        .collect();
    assert_eq!(
        steps,
        vec![
            (
                pb::OrderStatus::Unspecified,
                pb::OrderStatus::Pending,
                "CreateOrder".to_owned()
            ),
            (
                pb::OrderStatus::Pending,
                pb::OrderStatus::Cancelled,
                "CancelOrder".to_owned()
            ),
        ]
    );
    let (registry, marks) = (&system.registry, &system.marks);
    let order_id = order.order_id.clone();
    wait_until(
        "OrderCancelled is on the topic",
        Duration::from_secs(20),
        || {
            let order_id = order_id.clone();
            async move { events_of(registry, marks, &order_id).await.len() >= 2 }
        },
    )
    .await;
    let cancellations: Vec<_> = events_of(registry, marks, &order.order_id)
        .await
        .into_iter()
        .filter_map(|(event, _)| match event {
            AnyEvent::OrderCancelled(c) => Some(c),
            _ => None,
        })
        .collect();
    assert_eq!(
        cancellations.len(),
        1,
        "one cancellation event for two cancel calls"
    );
    assert_eq!(
        cancellations[0].reason,
        OrderCancelReason::CustomerRequested
    );
    assert_eq!(cancellations[0].metadata.event_id, history[1].event_id);
    system.stop().await;
}

#[tokio::test]
async fn creating_an_order_while_the_product_service_is_down_fails_clearly_and_stores_nothing() {
    let registry = spawn_registry().await;
    // Nothing listens on port 1: every attempt is UNAVAILABLE.
    let order = spawn_order("http://127.0.0.1:1", &registry.admin_url()).await;
    let mut orders = OrderServiceClient::connect(order.grpc_url())
        .await
        .expect("order service");
    let who = customer();
    let request = as_caller(
        &who,
        pb::CreateOrderRequest {
            items: vec![pb::OrderItem {
                product_id: Uuid::new_v4().to_string(),
                quantity: 1,
            }],
        },
    );
    let status = tokio::time::timeout(Duration::from_secs(15), orders.create_order(request))
        .await
        .expect("answers, does not hang")
        .expect_err("refused");
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(
        status.message().contains("product service"),
        "{}",
        status.message()
    );
    let listed = orders
        .list_orders(as_caller(&who, pb::ListOrdersRequest::default()))
        .await
        .expect("list")
        .into_inner();
    assert!(listed.orders.is_empty());
    order.stop().await.expect("stops");
    registry.stop().await.expect("stops");
}
