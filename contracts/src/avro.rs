//! The Avro schemas of `avro/`, embedded at build time and parsed once per process.

use std::sync::LazyLock;

use apache_avro::Schema;

use crate::events::EventType;

/// Namespace of every Sagaway event record.
pub const NAMESPACE: &str = "sagaway.events";

/// The canonical shared metadata record (`avro/shared/EventMetadata.avsc`); every event schema
/// inlines an identical copy so that each schema stands alone in the registry.
pub const EVENT_METADATA_JSON: &str = include_str!("../../avro/shared/EventMetadata.avsc");

/// The `.avsc` text of one event type.
pub const fn schema_json(event: EventType) -> &'static str {
    match event {
        EventType::OrderCreated => include_str!("../../avro/OrderCreated.avsc"),
        EventType::OrderCompleted => include_str!("../../avro/OrderCompleted.avsc"),
        EventType::OrderCancelled => include_str!("../../avro/OrderCancelled.avsc"),
        EventType::StockReserved => include_str!("../../avro/StockReserved.avsc"),
        EventType::StockReservationFailed => include_str!("../../avro/StockReservationFailed.avsc"),
        EventType::StockReleased => include_str!("../../avro/StockReleased.avsc"),
        EventType::StockCommitted => include_str!("../../avro/StockCommitted.avsc"),
        EventType::PaymentCompleted => include_str!("../../avro/PaymentCompleted.avsc"),
        EventType::PaymentFailed => include_str!("../../avro/PaymentFailed.avsc"),
        EventType::PaymentRefunded => include_str!("../../avro/PaymentRefunded.avsc"),
    }
}

static PARSED: LazyLock<Vec<Schema>> = LazyLock::new(|| {
    EventType::ALL
        .iter()
        .map(|event| {
            Schema::parse_str(schema_json(*event)).unwrap_or_else(|err| {
                // The schemas are compiled into the binary and parsed by the test suite, so a
                // failure here is a build defect, not a runtime condition.
                panic!(
                    "embedded schema {} does not parse: {err}",
                    event.record_name()
                )
            })
        })
        .collect()
});

/// The parsed schema of one event type (parsed on first use, then shared).
pub fn schema(event: EventType) -> &'static Schema {
    &PARSED[event.index()]
}

static REGISTERED: LazyLock<Vec<String>> = LazyLock::new(|| {
    EventType::ALL
        .iter()
        .map(|event| {
            serde_json::from_str::<serde_json::Value>(schema_json(*event))
                .map(|value| value.to_string())
                .unwrap_or_else(|_| schema_json(*event).to_owned())
        })
        .collect()
});

/// The schema text as registered: the `.avsc` with insignificant whitespace removed (docs,
/// defaults and aliases kept, since compatibility depends on them). Computed once.
pub fn registered_json(event: EventType) -> &'static str {
    &REGISTERED[event.index()]
}
