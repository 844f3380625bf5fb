//! The order's domain: its statuses and a new order parsed from a request, so that invalid
//! input never reaches the database.

use std::collections::HashSet;

use sagaway_contracts::pb::order as pb;
use sagaway_platform::status::Violation;
use uuid::Uuid;

/// Most lines one order may have.
pub const MAX_LINES: usize = 100;
/// Most units of one product per order.
pub const MAX_QUANTITY: i64 = 10_000;

/// Where an order stands. Terminal: COMPLETED, REJECTED, PAYMENT_FAILED, CANCELLED.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderStatus {
    /// Created; the saga has started.
    Pending,
    /// Every line is reserved; payment is next.
    StockReserved,
    /// Paid and reserved; stock is being committed.
    Completed,
    /// Stock was short.
    Rejected,
    /// The balance was short.
    PaymentFailed,
    /// Cancelled by the customer or because the reservation expired.
    Cancelled,
}

impl OrderStatus {
    /// The name stored in the database.
    pub const fn as_db(self) -> &'static str {
        match self {
            OrderStatus::Pending => "PENDING",
            OrderStatus::StockReserved => "STOCK_RESERVED",
            OrderStatus::Completed => "COMPLETED",
            OrderStatus::Rejected => "REJECTED",
            OrderStatus::PaymentFailed => "PAYMENT_FAILED",
            OrderStatus::Cancelled => "CANCELLED",
        }
    }

    /// Reads a stored name.
    pub fn from_db(raw: &str) -> Option<Self> {
        [
            OrderStatus::Pending,
            OrderStatus::StockReserved,
            OrderStatus::Completed,
            OrderStatus::Rejected,
            OrderStatus::PaymentFailed,
            OrderStatus::Cancelled,
        ]
        .into_iter()
        .find(|status| status.as_db() == raw)
    }

    /// The protobuf enum value.
    pub fn to_pb(self) -> pb::OrderStatus {
        match self {
            OrderStatus::Pending => pb::OrderStatus::Pending,
            OrderStatus::StockReserved => pb::OrderStatus::StockReserved,
            OrderStatus::Completed => pb::OrderStatus::Completed,
            OrderStatus::Rejected => pb::OrderStatus::Rejected,
            OrderStatus::PaymentFailed => pb::OrderStatus::PaymentFailed,
            OrderStatus::Cancelled => pb::OrderStatus::Cancelled,
        }
    }

    /// The status a protobuf filter names; `None` for UNSPECIFIED (no filter).
    pub fn from_pb(value: i32) -> Option<Self> {
        match pb::OrderStatus::try_from(value).ok()? {
            pb::OrderStatus::Unspecified => None,
            pb::OrderStatus::Pending => Some(OrderStatus::Pending),
            pb::OrderStatus::StockReserved => Some(OrderStatus::StockReserved),
            pb::OrderStatus::Completed => Some(OrderStatus::Completed),
            pb::OrderStatus::Rejected => Some(OrderStatus::Rejected),
            pb::OrderStatus::PaymentFailed => Some(OrderStatus::PaymentFailed),
            pb::OrderStatus::Cancelled => Some(OrderStatus::Cancelled),
        }
    }

    /// True when the order can no longer change.
    pub const fn is_terminal(self) -> bool {
        matches!(
            self,
            OrderStatus::Completed
                | OrderStatus::Rejected
                | OrderStatus::PaymentFailed
                | OrderStatus::Cancelled
        )
    }
}

/// One line of a new order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewLine {
    /// The product.
    pub product_id: Uuid,
    /// Units, 1 to [`MAX_QUANTITY`].
    pub quantity: i64,
}

/// A valid new order: 1 to [`MAX_LINES`] lines, each product once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrder {
    /// The lines, in request order.
    pub lines: Vec<NewLine>,
}

impl TryFrom<&pb::CreateOrderRequest> for NewOrder {
    type Error = Vec<Violation>;

    fn try_from(request: &pb::CreateOrderRequest) -> Result<Self, Self::Error> {
        let mut violations = Vec::new();
        if request.items.is_empty() {
            violations.push(Violation::new("items", "must contain at least one item"));
        }
        if request.items.len() > MAX_LINES {
            violations.push(Violation::new(
                "items",
                format!("at most {MAX_LINES} items per order"),
            ));
        }
        let mut seen = HashSet::new();
        let mut lines = Vec::with_capacity(request.items.len());
        for (index, item) in request.items.iter().enumerate() {
            let product_id = match Uuid::parse_str(item.product_id.trim()) {
                Ok(id) => Some(id),
                Err(_) => {
                    violations.push(Violation::new(
                        format!("items[{index}].product_id"),
                        "must be a product id (UUID)",
                    ));
                    None
                }
            };
            if !(1..=MAX_QUANTITY).contains(&item.quantity) {
                violations.push(Violation::new(
                    format!("items[{index}].quantity"),
                    format!("must be between 1 and {MAX_QUANTITY}"),
                ));
            }
            if let Some(product_id) = product_id {
                if !seen.insert(product_id) {
                    violations.push(Violation::new(
                        format!("items[{index}].product_id"),
                        "is listed twice; combine the quantities in one item",
                    ));
                }
                lines.push(NewLine {
                    product_id,
                    quantity: item.quantity,
                });
            }
        }
        if violations.is_empty() {
            Ok(Self { lines })
        } else {
            Err(violations)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(product_id: &str, quantity: i64) -> pb::OrderItem {
        pb::OrderItem {
            product_id: product_id.to_owned(),
            quantity,
        }
    }

    #[test]
    fn bad_items_are_each_reported_by_field() {
        let id = Uuid::new_v4().to_string();
        let cases: Vec<(Vec<pb::OrderItem>, Vec<&str>)> = vec![
            (vec![], vec!["items"]),
            (vec![item("nope", 1)], vec!["items[0].product_id"]),
            (vec![item(&id, 0)], vec!["items[0].quantity"]),
            (vec![item(&id, MAX_QUANTITY + 1)], vec!["items[0].quantity"]),
            (
                vec![item(&id, 1), item(&id, 2)],
                vec!["items[1].product_id"],
            ),
            (
                vec![item("x", -1)],
                vec!["items[0].product_id", "items[0].quantity"],
            ),
        ];
        for (items, fields) in cases {
            let request = pb::CreateOrderRequest { items };
            let violations = NewOrder::try_from(&request).expect_err("invalid");
            let got: Vec<_> = violations.iter().map(|v| v.field.as_str()).collect();
            assert_eq!(got, fields);
        }
    }

    #[test]
    fn a_valid_order_keeps_its_lines_in_order() {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let request = pb::CreateOrderRequest {
            items: vec![item(&a.to_string(), 2), item(&b.to_string(), 1)],
        };
        let order = NewOrder::try_from(&request).expect("valid");
        assert_eq!(
            order.lines,
            vec![
                NewLine {
                    product_id: a,
                    quantity: 2
                },
                NewLine {
                    product_id: b,
                    quantity: 1
                }
            ]
        );
    }

    #[test]
    fn terminal_statuses_are_exactly_the_four_outcomes() {
        let terminal: Vec<_> = [
            OrderStatus::Pending,
            OrderStatus::StockReserved,
            OrderStatus::Completed,
            OrderStatus::Rejected,
            OrderStatus::PaymentFailed,
            OrderStatus::Cancelled,
        ]
        .into_iter()
        .filter(|s| s.is_terminal())
        .collect();
        assert_eq!(terminal.len(), 4);
        assert!(!OrderStatus::StockReserved.is_terminal());
    }
}
