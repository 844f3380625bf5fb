//! Avro schemas and the event types that mirror them.

use sagaway_contracts::avro::{self, EVENT_METADATA_JSON};
use sagaway_contracts::codec::{from_binary, to_binary};
use sagaway_contracts::events::*;

fn metadata() -> EventMetadata {
    EventMetadata {
        event_id: "0192f8a0-0000-7000-8000-000000000001".into(),
        correlation_id: "req-1".into(),
        causation_id: Some("0192f8a0-0000-7000-8000-000000000000".into()),
        occurred_at: 1_763_700_000_123,
        producer: "test".into(),
    }
}

/// One populated sample of every event type.
fn samples() -> Vec<AnyEvent> {
    let order_id = || "order-1".to_owned();
    let user_id = || "user-1".to_owned();
    vec![
        OrderCreated {
            metadata: metadata(),
            order_id: order_id(),
            user_id: user_id(),
            lines: vec![OrderCreatedLine {
                product_id: "p1".into(),
                quantity: 2,
            }],
        }
        .into(),
        OrderCompleted {
            metadata: metadata(),
            order_id: order_id(),
            user_id: user_id(),
            total_minor: 1999,
            currency: "EUR".into(),
        }
        .into(),
        OrderCancelled {
            metadata: EventMetadata {
                causation_id: None,
                ..metadata()
            },
            order_id: order_id(),
            user_id: user_id(),
            reason: OrderCancelReason::CustomerRequested,
            detail: None,
        }
        .into(),
        StockReserved {
            metadata: metadata(),
            order_id: order_id(),
            user_id: user_id(),
            reservation_id: "r1".into(),
            lines: vec![ReservedLine {
                product_id: "p1".into(),
                quantity: 2,
                unit_price_minor: 500,
            }],
            total_minor: 1000,
            currency: "EUR".into(),
            expires_at: 1_763_700_999_000,
        }
        .into(),
        StockReservationFailed {
            metadata: metadata(),
            order_id: order_id(),
            user_id: user_id(),
            shortfalls: vec![StockShortfall {
                product_id: "p1".into(),
                requested: 3,
                available: 1,
                reason: StockShortfallReason::InsufficientStock,
            }],
        }
        .into(),
        StockReleased {
            metadata: metadata(),
            order_id: order_id(),
            user_id: user_id(),
            reservation_id: "r1".into(),
            reason: StockReleaseReason::Expired,
            lines: vec![ReleasedLine {
                product_id: "p1".into(),
                quantity: 2,
            }],
        }
        .into(),
        StockCommitted {
            metadata: metadata(),
            order_id: order_id(),
            reservation_id: "r1".into(),
            lines: vec![CommittedLine {
                product_id: "p1".into(),
                quantity: 2,
            }],
        }
        .into(),
        PaymentCompleted {
            metadata: metadata(),
            order_id: order_id(),
            user_id: user_id(),
            payment_id: "pay-1".into(),
            amount_minor: 1000,
            currency: "EUR".into(),
        }
        .into(),
        PaymentFailed {
            metadata: metadata(),
            order_id: order_id(),
            user_id: user_id(),
            amount_minor: 1000,
            currency: "EUR".into(),
            reason: PaymentFailureReason::InsufficientFunds,
        }
        .into(),
        PaymentRefunded {
            metadata: metadata(),
            order_id: order_id(),
            user_id: user_id(),
            payment_id: "pay-1".into(),
            amount_minor: 1000,
            currency: "EUR".into(),
            reason: RefundReason::ReservationExpired,
        }
        .into(),
    ]
}

#[test]
fn every_avsc_file_parses_and_names_its_event() {
    for event in EventType::ALL {
        let schema = avro::schema(event);
        let apache_avro::Schema::Record(record) = schema else {
            panic!("{} is not a record", event.record_name());
        };
        assert_eq!(record.name.fullname(None), event.full_name());
    }
    apache_avro::Schema::parse_str(EVENT_METADATA_JSON).expect("EventMetadata.avsc parses");
}

#[test]
fn every_event_inlines_the_canonical_metadata_record() {
    let canonical: serde_json::Value = serde_json::from_str(EVENT_METADATA_JSON).expect("json");
    for event in EventType::ALL {
        let schema: serde_json::Value =
            serde_json::from_str(avro::schema_json(event)).expect("json");
        let first = &schema["fields"][0];
        assert_eq!(
            first["name"],
            "metadata",
            "{}: first field",
            event.record_name()
        );
        assert_eq!(
            first["type"],
            canonical,
            "{}: metadata differs",
            event.record_name()
        );
    }
}

#[test]
fn every_enum_has_a_default_so_it_can_grow() {
    fn walk(value: &serde_json::Value, found: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(map) => {
                if map.get("type").and_then(|t| t.as_str()) == Some("enum") {
                    assert_eq!(map["symbols"][0], "UNKNOWN", "{:?}", map["name"]);
                    assert_eq!(map["default"], "UNKNOWN", "{:?}", map["name"]);
                    found.push(map["name"].to_string());
                }
                map.values().for_each(|child| walk(child, found));
            }
            serde_json::Value::Array(items) => items.iter().for_each(|child| walk(child, found)),
            _ => {}
        }
    }
    let mut enums = Vec::new();
    for event in EventType::ALL {
        walk(
            &serde_json::from_str(avro::schema_json(event)).expect("json"),
            &mut enums,
        );
    }
    assert_eq!(enums.len(), 5, "enums found: {enums:?}");
}

#[test]
fn every_event_type_round_trips_through_avro_binary() {
    let samples = samples();
    assert_eq!(
        samples.len(),
        EventType::ALL.len(),
        "one sample per event type"
    );
    for sample in samples {
        let event_type = sample.event_type();
        let value = sample.to_value().expect("to value");
        let bytes = to_binary(event_type, value).expect("encode");
        let decoded = from_binary(event_type, &bytes).expect("decode");
        assert_eq!(
            decoded,
            sample,
            "{} changed in the round trip",
            event_type.record_name()
        );
    }
}

#[test]
fn every_event_type_sits_at_its_index_in_all() {
    for (position, event) in EventType::ALL.into_iter().enumerate() {
        assert_eq!(event.index(), position, "{}", event.record_name());
    }
}

#[test]
fn events_map_to_their_topics_and_subjects() {
    assert_eq!(
        EventType::StockReserved.subject(),
        "sagaway.stock.events-sagaway.events.StockReserved"
    );
    assert_eq!(EventType::PaymentRefunded.topic(), "sagaway.payment.events");
    assert_eq!(
        EventType::from_name("sagaway.events.OrderCancelled"),
        Some(EventType::OrderCancelled)
    );
    assert_eq!(EventType::from_name("Nope"), None);
}
