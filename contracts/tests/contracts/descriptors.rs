//! The exported descriptor set: every service, every client-facing RPC with its HTTP rule.

use prost_reflect::{DescriptorPool, MethodDescriptor, Value};
use sagaway_contracts::FILE_DESCRIPTOR_SET;
use sagaway_contracts::pb::SERVICE_NAMES;

/// RPCs that only other services call: deliberately without an HTTP route.
const INTERNAL_RPCS: [&str; 3] = [
    "sagaway.user.v1.UserService.RegisterUser",
    "sagaway.user.v1.UserService.AuthenticateUser",
    "sagaway.product.v1.ProductService.BatchGetProducts",
];

fn pool() -> DescriptorPool {
    DescriptorPool::decode(FILE_DESCRIPTOR_SET).expect("the descriptor set decodes")
}

/// The `(verb, path)` of a method's `google.api.http` rule, if it has one.
fn http_rule(pool: &DescriptorPool, method: &MethodDescriptor) -> Option<(String, String)> {
    let extension = pool
        .get_extension_by_name("google.api.http")
        .expect("google.api.http is known");
    let options = method.options();
    if !options.has_extension(&extension) {
        return None;
    }
    let rule = options.get_extension(&extension);
    let Value::Message(rule) = rule.as_ref() else {
        return None;
    };
    for verb in ["get", "put", "post", "delete", "patch"] {
        if let Some(Value::String(path)) = rule.get_field_by_name(verb).as_deref()
            && !path.is_empty()
        {
            return Some((verb.to_owned(), path.clone()));
        }
    }
    None
}

#[test]
fn descriptor_set_contains_every_service() {
    let pool = pool();
    for name in SERVICE_NAMES {
        let service = pool
            .get_service_by_name(name)
            .unwrap_or_else(|| panic!("{name} missing"));
        assert!(service.methods().len() >= 5, "{name} has too few methods");
    }
}

#[test]
fn every_client_facing_rpc_has_an_http_rule() {
    let pool = pool();
    let mut routed = Vec::new();
    for name in SERVICE_NAMES {
        let service = pool.get_service_by_name(name).expect("service");
        for method in service.methods() {
            let full = method.full_name().to_owned();
            match (
                http_rule(&pool, &method),
                INTERNAL_RPCS.contains(&full.as_str()),
            ) {
                (Some(rule), false) => routed.push((full, rule)),
                (None, true) => {}
                (Some(_), true) => panic!("{full} is internal but has an HTTP rule"),
                (None, false) => panic!("{full} is client-facing but has no google.api.http rule"),
            }
        }
    }
    let find = |method: &str| {
        routed
            .iter()
            .find(|(name, _)| name.ends_with(method))
            .map(|(_, r)| r.clone())
    };
    assert_eq!(
        find("OrderService.CreateOrder"),
        Some(("post".into(), "/v1/orders".into()))
    );
    assert_eq!(
        find("ProductService.GetProduct"),
        Some(("get".into(), "/v1/products/{product_id}".into()))
    );
    assert_eq!(
        find("OrderService.CancelOrder"),
        Some(("post".into(), "/v1/orders/{order_id}:cancel".into()))
    );
    assert_eq!(routed.len(), 13, "routed RPCs: {routed:#?}");
}

#[test]
fn descriptor_set_keeps_comments_for_api_docs() {
    let pool = pool();
    let order = pool
        .get_message_by_name("sagaway.order.v1.Order")
        .expect("Order");
    let location = order
        .parent_file_descriptor_proto()
        .source_code_info
        .clone();
    assert!(
        location.is_some_and(|info| info.location.iter().any(|l| l.leading_comments.is_some())),
        "source comments were stripped from the descriptor set"
    );
}
