//! The query parameter / path variable mapping table, against the real product and order
//! descriptors.

use prost_reflect::DescriptorPool;

use super::*;

fn message(name: &str) -> DynamicMessage {
    let pool = DescriptorPool::decode(sagaway_contracts::pb::FILE_DESCRIPTOR_SET).expect("pool");
    DynamicMessage::new(pool.get_message_by_name(name).expect("message"))
}

fn json(message: &DynamicMessage) -> serde_json::Value {
    serde_json::to_value(message).expect("serialises")
}

fn path(dotted: &str) -> Vec<String> {
    dotted.split('.').map(str::to_owned).collect()
}

#[test]
fn text_values_set_the_fields_the_table_names() {
    let table = [
        (
            "sagaway.product.v1.ListProductsRequest",
            vec![("page_size", "5")],
            serde_json::json!({"pageSize": 5}),
        ),
        (
            "sagaway.product.v1.ListProductsRequest",
            vec![("pageToken", "t")],
            serde_json::json!({"pageToken": "t"}),
        ),
        (
            "sagaway.product.v1.CreateProductRequest",
            vec![("product.sku", "S-1")],
            serde_json::json!({"product": {"sku": "S-1"}}),
        ),
        (
            "sagaway.order.v1.ListOrdersRequest",
            vec![("status", "ORDER_STATUS_CANCELLED")],
            serde_json::json!({"status": "ORDER_STATUS_CANCELLED"}),
        ),
        (
            "sagaway.order.v1.ListOrdersRequest",
            vec![("status", "2")],
            serde_json::json!({"status": "ORDER_STATUS_STOCK_RESERVED"}),
        ),
    ];
    for (name, values, expected) in table {
        let mut message = message(name);
        for (field, raw) in &values {
            set_from_text(&mut message, &path(field), raw).expect("sets");
        }
        assert_eq!(json(&message), expected, "{name} {values:?}");
    }
}

#[test]
fn text_of_the_wrong_type_names_the_field() {
    let table = [
        (
            "sagaway.product.v1.ListProductsRequest",
            "page_size",
            "ten",
            "page_size",
        ),
        (
            "sagaway.product.v1.ListProductsRequest",
            "no_such",
            "1",
            "no_such",
        ),
        (
            "sagaway.order.v1.ListOrdersRequest",
            "status",
            "SHIPPED_TO_MARS",
            "status",
        ),
        (
            "sagaway.product.v1.ListProductsRequest",
            "page_size.deeper",
            "1",
            "page_size",
        ),
    ];
    for (name, field, raw, mentions) in table {
        let err = set_from_text(&mut message(name), &path(field), raw).expect_err("refused");
        assert!(err.contains(mentions), "{field}={raw}: {err}");
    }
}

#[test]
fn repeated_fields_collect_every_value() {
    let pool = DescriptorPool::decode(sagaway_contracts::pb::FILE_DESCRIPTOR_SET).expect("pool");
    let Some(request) = pool.get_message_by_name("sagaway.product.v1.BatchGetProductsRequest")
    else {
        return;
    };
    let mut message = DynamicMessage::new(request);
    let field = message
        .descriptor()
        .fields()
        .find(|f| f.is_list())
        .expect("a repeated field");
    for raw in ["a", "b"] {
        set_from_text(&mut message, &[field.name().to_owned()], raw).expect("sets");
    }
    assert_eq!(
        json(&message)[field.json_name()],
        serde_json::json!(["a", "b"])
    );
}

#[test]
fn well_known_types_are_read_from_their_json_text() {
    let pool = DescriptorPool::decode(sagaway_contracts::pb::FILE_DESCRIPTOR_SET).expect("pool");
    let timestamp = pool
        .get_message_by_name("google.protobuf.Timestamp")
        .expect("Timestamp is imported");
    let value = parse_value(&Kind::Message(timestamp.clone()), "2026-01-02T03:04:05Z")
        .expect("an RFC 3339 time parses");
    let seconds = value
        .as_message()
        .and_then(|m| m.get_field_by_name("seconds"))
        .and_then(|s| s.as_i64());
    assert_eq!(seconds, Some(1_767_323_045));
    assert!(parse_value(&Kind::Message(timestamp), "yesterday").is_err());
}

#[test]
fn query_names_are_field_paths_with_an_optional_map_key() {
    assert_eq!(
        query_name("product.sku").expect("plain"),
        (path("product.sku"), None)
    );
    assert_eq!(
        query_name("labels[a.b]").expect("entry"),
        (path("labels"), Some("a.b")),
        "a key may hold dots"
    );
    assert_eq!(
        query_name("x.labels[]").expect("empty key"),
        (path("x.labels"), Some(""))
    );
    for bad in ["labels[a", "labels[a]b", "labels[a[b]]"] {
        let why = query_name(bad).expect_err(bad);
        assert!(why.contains("field[key]"), "{bad}: {why}");
    }
}

#[test]
fn a_map_entry_of_a_field_that_is_not_a_map_names_the_field() {
    let mut request = message("sagaway.product.v1.ListProductsRequest");
    let why = set_map_entry_from_text(&mut request, &path("page_size"), "a", "1")
        .expect_err("page_size is no map");
    assert_eq!(why, "page_size[a]: page_size is not a map field");
    let why = set_map_entry_from_text(&mut request, &path("nope"), "a", "1").expect_err("no field");
    assert_eq!(why, "nope[a]: no such field");
}
