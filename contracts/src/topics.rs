//! Kafka topic names and schema-registry subject naming, in one place.
//!
//! A topic carries several event types, so subjects follow Confluent's
//! `TopicRecordNameStrategy`: `<topic>-<record full name>`.

/// Order lifecycle events: `OrderCreated`, `OrderCompleted`, `OrderCancelled`.
pub const ORDER_EVENTS: &str = "sagaway.order.events";
/// Stock events: `StockReserved`, `StockReservationFailed`, `StockReleased`, `StockCommitted`.
pub const STOCK_EVENTS: &str = "sagaway.stock.events";
/// Payment events: `PaymentCompleted`, `PaymentFailed`, `PaymentRefunded`.
pub const PAYMENT_EVENTS: &str = "sagaway.payment.events";

/// Every saga topic, in the order above.
pub const SAGA_TOPICS: [&str; 3] = [ORDER_EVENTS, STOCK_EVENTS, PAYMENT_EVENTS];

/// Suffix of the dead-letter twin of each topic.
pub const DLQ_SUFFIX: &str = ".dlq";

/// The dead-letter topic for `topic`, where messages go that cannot be processed after retries.
pub fn dlq(topic: &str) -> String {
    format!("{topic}{DLQ_SUFFIX}")
}

/// The registry subject of a record on a topic (`TopicRecordNameStrategy`).
pub fn subject(topic: &str, record_full_name: &str) -> String {
    format!("{topic}-{record_full_name}")
}

/// Every topic the saga uses, dead-letter twins included (what a deployment must create).
pub fn all_topics() -> Vec<String> {
    SAGA_TOPICS
        .iter()
        .flat_map(|topic| [(*topic).to_owned(), dlq(topic)])
        .collect()
}

/// Kafka message header names every saga event carries.
pub mod headers {
    /// The event's record full name, e.g. `sagaway.events.OrderCreated`.
    pub const EVENT_TYPE: &str = "event-type";
    /// The saga's correlation id (also inside the event's metadata).
    pub const CORRELATION_ID: &str = "correlation-id";
    /// W3C trace context of the request that caused the event.
    pub const TRACEPARENT: &str = "traceparent";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_follow_topic_record_name_strategy() {
        assert_eq!(
            subject(ORDER_EVENTS, "sagaway.events.OrderCreated"),
            "sagaway.order.events-sagaway.events.OrderCreated"
        );
    }

    #[test]
    fn every_saga_topic_has_a_dlq_twin() {
        let all = all_topics();
        assert_eq!(all.len(), 6);
        for topic in SAGA_TOPICS {
            assert!(all.contains(&format!("{topic}.dlq")), "{topic} lacks a dlq");
        }
    }
}
