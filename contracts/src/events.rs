//! One Rust type per Avro event in `avro/`, field for field, and [`EventType`], which ties each
//! to its record name, topic and schema.
//!
//! Ids are UUID strings; money is `i64` minor units plus an ISO 4217 currency code;
//! timestamps are milliseconds since the Unix epoch (`timestamp-millis`).

use serde::{Deserialize, Serialize};

use crate::topics;

/// Metadata every event carries first (`sagaway.events.EventMetadata`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventMetadata {
    /// Unique per event; consumers deduplicate on it.
    pub event_id: String,
    /// The saga's correlation id: the id of the request that started it.
    pub correlation_id: String,
    /// The `event_id` of the event that caused this one, if any.
    pub causation_id: Option<String>,
    /// When the event happened, in milliseconds since the Unix epoch.
    pub occurred_at: i64,
    /// The producing service, e.g. `order-service`.
    pub producer: String,
}

impl EventMetadata {
    /// Metadata for a new event with a fresh id, stamped now.
    pub fn new(
        correlation_id: impl Into<String>,
        causation_id: Option<String>,
        producer: &str,
    ) -> Self {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or_default();
        Self {
            event_id: uuid::Uuid::now_v7().to_string(),
            correlation_id: correlation_id.into(),
            causation_id,
            occurred_at: now,
            producer: producer.to_owned(),
        }
    }
}

/// A product and quantity ordered (`OrderCreatedLine`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderCreatedLine {
    pub product_id: String,
    pub quantity: i64,
}

/// A customer placed an order; the product service reserves its stock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderCreated {
    pub metadata: EventMetadata,
    pub order_id: String,
    pub user_id: String,
    pub lines: Vec<OrderCreatedLine>,
}

/// The order is paid and its stock reserved; the product service commits the reservation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderCompleted {
    pub metadata: EventMetadata,
    pub order_id: String,
    pub user_id: String,
    pub total_minor: i64,
    pub currency: String,
}

/// Why an order was cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrderCancelReason {
    Unknown,
    CustomerRequested,
    ReservationExpired,
}

/// The order was cancelled; stock is released and any payment refunded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderCancelled {
    pub metadata: EventMetadata,
    pub order_id: String,
    pub user_id: String,
    pub reason: OrderCancelReason,
    pub detail: Option<String>,
}

/// A reserved, priced order line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReservedLine {
    pub product_id: String,
    pub quantity: i64,
    pub unit_price_minor: i64,
}

/// Every line of an order is reserved until `expires_at`; the user service takes payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockReserved {
    pub metadata: EventMetadata,
    pub order_id: String,
    pub user_id: String,
    pub reservation_id: String,
    pub lines: Vec<ReservedLine>,
    pub total_minor: i64,
    pub currency: String,
    pub expires_at: i64,
}

/// Why a line could not be reserved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StockShortfallReason {
    Unknown,
    InsufficientStock,
    ProductNotFound,
    CurrencyMismatch,
}

/// One line that could not be reserved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockShortfall {
    pub product_id: String,
    pub requested: i64,
    pub available: i64,
    pub reason: StockShortfallReason,
}

/// The order could not be reserved; the order is rejected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockReservationFailed {
    pub metadata: EventMetadata,
    pub order_id: String,
    pub user_id: String,
    pub shortfalls: Vec<StockShortfall>,
}

/// Why a reservation was released.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StockReleaseReason {
    Unknown,
    PaymentFailed,
    OrderCancelled,
    Expired,
}

/// A released line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleasedLine {
    pub product_id: String,
    pub quantity: i64,
}

/// A reservation went back to available stock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockReleased {
    pub metadata: EventMetadata,
    pub order_id: String,
    pub user_id: String,
    pub reservation_id: String,
    pub reason: StockReleaseReason,
    pub lines: Vec<ReleasedLine>,
}

/// A committed (sold) line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommittedLine {
    pub product_id: String,
    pub quantity: i64,
}

/// A reservation became a sale.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockCommitted {
    pub metadata: EventMetadata,
    pub order_id: String,
    pub reservation_id: String,
    pub lines: Vec<CommittedLine>,
}

/// The customer's balance was debited for the order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentCompleted {
    pub metadata: EventMetadata,
    pub order_id: String,
    pub user_id: String,
    pub payment_id: String,
    pub amount_minor: i64,
    pub currency: String,
}

/// Why a payment failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PaymentFailureReason {
    Unknown,
    InsufficientFunds,
    AccountNotFound,
    CurrencyMismatch,
}

/// The balance could not be debited; stock is released and the order fails.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentFailed {
    pub metadata: EventMetadata,
    pub order_id: String,
    pub user_id: String,
    pub amount_minor: i64,
    pub currency: String,
    pub reason: PaymentFailureReason,
}

/// Why a payment was refunded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RefundReason {
    Unknown,
    OrderCancelled,
    ReservationExpired,
}

/// A captured payment was given back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentRefunded {
    pub metadata: EventMetadata,
    pub order_id: String,
    pub user_id: String,
    pub payment_id: String,
    pub amount_minor: i64,
    pub currency: String,
    pub reason: RefundReason,
}

/// Every event type of the saga.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    OrderCreated,
    OrderCompleted,
    OrderCancelled,
    StockReserved,
    StockReservationFailed,
    StockReleased,
    StockCommitted,
    PaymentCompleted,
    PaymentFailed,
    PaymentRefunded,
}

impl EventType {
    /// Every event type, grouped by topic.
    pub const ALL: [EventType; 10] = [
        EventType::OrderCreated,
        EventType::OrderCompleted,
        EventType::OrderCancelled,
        EventType::StockReserved,
        EventType::StockReservationFailed,
        EventType::StockReleased,
        EventType::StockCommitted,
        EventType::PaymentCompleted,
        EventType::PaymentFailed,
        EventType::PaymentRefunded,
    ];

    /// The position of this type in [`EventType::ALL`] (which lists them in declaration order).
    pub const fn index(self) -> usize {
        self as usize
    }

    /// The record's simple name, e.g. `OrderCreated`.
    pub const fn record_name(self) -> &'static str {
        match self {
            EventType::OrderCreated => "OrderCreated",
            EventType::OrderCompleted => "OrderCompleted",
            EventType::OrderCancelled => "OrderCancelled",
            EventType::StockReserved => "StockReserved",
            EventType::StockReservationFailed => "StockReservationFailed",
            EventType::StockReleased => "StockReleased",
            EventType::StockCommitted => "StockCommitted",
            EventType::PaymentCompleted => "PaymentCompleted",
            EventType::PaymentFailed => "PaymentFailed",
            EventType::PaymentRefunded => "PaymentRefunded",
        }
    }

    /// The record's full name, `sagaway.events.<Name>`; also the `event-type` header value.
    pub fn full_name(self) -> String {
        format!("{}.{}", crate::avro::NAMESPACE, self.record_name())
    }

    /// The topic the event travels on.
    pub const fn topic(self) -> &'static str {
        match self {
            EventType::OrderCreated | EventType::OrderCompleted | EventType::OrderCancelled => {
                topics::ORDER_EVENTS
            }
            EventType::StockReserved
            | EventType::StockReservationFailed
            | EventType::StockReleased
            | EventType::StockCommitted => topics::STOCK_EVENTS,
            EventType::PaymentCompleted | EventType::PaymentFailed | EventType::PaymentRefunded => {
                topics::PAYMENT_EVENTS
            }
        }
    }

    /// The registry subject of this event (`TopicRecordNameStrategy`).
    pub fn subject(self) -> String {
        topics::subject(self.topic(), &self.full_name())
    }

    /// The event type whose record has this simple or full name.
    pub fn from_name(name: &str) -> Option<EventType> {
        let simple = name.rsplit('.').next().unwrap_or(name);
        Self::ALL
            .into_iter()
            .find(|event| event.record_name() == simple)
    }
}

/// A Rust type that is one of the saga's events.
pub trait Event: Serialize + for<'de> Deserialize<'de> {
    /// Which event this type is.
    const TYPE: EventType;
    /// The metadata the event carries.
    fn metadata(&self) -> &EventMetadata;
    /// The order the event is about: the Kafka message key.
    fn order_id(&self) -> &str;
}

/// Any saga event, as a consumer receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnyEvent {
    OrderCreated(OrderCreated),
    OrderCompleted(OrderCompleted),
    OrderCancelled(OrderCancelled),
    StockReserved(StockReserved),
    StockReservationFailed(StockReservationFailed),
    StockReleased(StockReleased),
    StockCommitted(StockCommitted),
    PaymentCompleted(PaymentCompleted),
    PaymentFailed(PaymentFailed),
    PaymentRefunded(PaymentRefunded),
}

macro_rules! event_impls {
    ($($name:ident),* $(,)?) => {
        $(
            impl Event for $name {
                const TYPE: EventType = EventType::$name;
                fn metadata(&self) -> &EventMetadata {
                    &self.metadata
                }
                fn order_id(&self) -> &str {
                    &self.order_id
                }
            }

            impl From<$name> for AnyEvent {
                fn from(event: $name) -> Self {
                    AnyEvent::$name(event)
                }
            }
        )*

        impl AnyEvent {
            /// Which event this is.
            pub fn event_type(&self) -> EventType {
                match self {
                    $(AnyEvent::$name(_) => EventType::$name,)*
                }
            }

            /// The metadata the event carries.
            pub fn metadata(&self) -> &EventMetadata {
                match self {
                    $(AnyEvent::$name(event) => &event.metadata,)*
                }
            }

            /// The order the event is about.
            pub fn order_id(&self) -> &str {
                match self {
                    $(AnyEvent::$name(event) => &event.order_id,)*
                }
            }

            /// Builds the typed event from a decoded Avro value of the given type.
            pub(crate) fn from_value(
                event_type: EventType,
                value: &apache_avro::types::Value,
            ) -> Result<Self, apache_avro::Error> {
                Ok(match event_type {
                    $(EventType::$name => AnyEvent::$name(apache_avro::from_value(value)?),)*
                })
            }

            /// The event as an Avro value (not yet resolved against its schema).
            pub fn to_value(&self) -> Result<apache_avro::types::Value, apache_avro::Error> {
                match self {
                    $(AnyEvent::$name(event) => apache_avro::to_value(event),)*
                }
            }

            /// The event as JSON, field for field (how the outbox stores it until it is
            /// published; enums are their symbol names, absent optionals `null`).
            pub fn to_json(&self) -> serde_json::Value {
                let json = match self {
                    $(AnyEvent::$name(event) => serde_json::to_value(event),)*
                };
                // Plain structs with string keys and derived `Serialize` cannot fail to become
                // JSON; a failure here would be a defect in this file, not bad input.
                json.unwrap_or_else(|err| {
                    unreachable!("saga events always serialize to JSON: {err}")
                })
            }

            /// The typed event of `event_type` from its JSON form (the inverse of
            /// [`AnyEvent::to_json`]).
            pub fn from_json(
                event_type: EventType,
                json: serde_json::Value,
            ) -> Result<Self, serde_json::Error> {
                Ok(match event_type {
                    $(EventType::$name => AnyEvent::$name(serde_json::from_value(json)?),)*
                })
            }
        }
    };
}

event_impls!(
    OrderCreated,
    OrderCompleted,
    OrderCancelled,
    StockReserved,
    StockReservationFailed,
    StockReleased,
    StockCommitted,
    PaymentCompleted,
    PaymentFailed,
    PaymentRefunded,
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip_through_json_with_enums_and_absent_optionals() {
        let event = AnyEvent::from(OrderCancelled {
            metadata: EventMetadata::new("corr-1", None, "order-service"),
            order_id: "order-1".into(),
            user_id: "user-1".into(),
            reason: OrderCancelReason::CustomerRequested,
            detail: None,
        });
        let json = event.to_json();
        assert_eq!(json["reason"], "CUSTOMER_REQUESTED");
        assert!(json["detail"].is_null());
        let back = AnyEvent::from_json(EventType::OrderCancelled, json).expect("from JSON");
        assert_eq!(back, event);
    }

    #[test]
    fn json_of_another_event_type_is_refused() {
        let json = serde_json::json!({ "order_id": "order-1" });
        assert!(AnyEvent::from_json(EventType::StockReserved, json).is_err());
    }
}
