//! OrderCreated: reserve every line of the order, or none of them.

use std::collections::BTreeMap;

use sagaway_contracts::events::{
    AnyEvent, OrderCreated, ReservedLine, StockReservationFailed, StockReserved, StockShortfall,
    StockShortfallReason,
};
use sagaway_platform::inbox::{EventContext, HandlerError};
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use super::StockSaga;
use super::sql::{self, Line, LockedProduct, Move, NewReservation};
use crate::SERVICE_NAME;
use sagaway_platform::inbox::parse_id;

/// Reserves the order's stock (StockReserved) or changes nothing (StockReservationFailed).
/// An order that already has a reservation is left alone: it is a re-sent OrderCreated.
pub async fn on_order_created(
    saga: &StockSaga,
    tx: &mut Transaction<'_, Postgres>,
    event: &OrderCreated,
    ctx: &EventContext,
) -> Result<(), HandlerError> {
    let order_id = parse_id("order_id", &event.order_id)?;
    let user_id = parse_id("user_id", &event.user_id)?;
    let lines = order_lines(event)?;
    if sql::reservation_exists(tx, order_id).await? {
        tracing::info!(%order_id, "order already has a reservation; OrderCreated ignored");
        return Ok(());
    }
    let ids: Vec<Uuid> = lines.iter().map(|line| line.product_id).collect();
    let products = sql::lock_products(tx, &ids).await?;
    let currency = saga.currency.as_str();
    let shortfalls = shortfalls(&lines, &products, currency);
    let answer: AnyEvent = if shortfalls.is_empty() {
        let priced = priced(&lines, &products);
        let total_minor = total(&priced)?;
        sql::move_stock(tx, &lines, Move::Reserve).await?;
        let (reservation_id, expires_at) = sql::insert_reservation(
            tx,
            &NewReservation {
                order_id,
                user_id,
                correlation_id: &ctx.correlation_id,
                ttl: saga.config.reservation_ttl,
                total_minor,
                currency,
                lines: &priced,
            },
        )
        .await?;
        tracing::info!(%order_id, %reservation_id, total_minor, "stock reserved");
        StockReserved {
            metadata: ctx.caused_metadata(SERVICE_NAME),
            order_id: event.order_id.clone(),
            user_id: event.user_id.clone(),
            reservation_id: reservation_id.to_string(),
            lines: priced
                .iter()
                .map(|(line, price)| ReservedLine {
                    product_id: line.product_id.to_string(),
                    quantity: line.quantity,
                    unit_price_minor: *price,
                })
                .collect(),
            total_minor,
            currency: currency.to_owned(),
            expires_at: expires_at.timestamp_millis(),
        }
        .into()
    } else {
        tracing::info!(%order_id, shortfalls = shortfalls.len(), "stock reservation failed");
        StockReservationFailed {
            metadata: ctx.caused_metadata(SERVICE_NAME),
            order_id: event.order_id.clone(),
            user_id: event.user_id.clone(),
            shortfalls,
        }
        .into()
    };
    sagaway_platform::outbox::enqueue(tx, &answer, &ctx.caused_headers()).await?;
    Ok(())
}

/// The order's lines, one per product (quantities of repeated products added up), in product
/// id order. An order no one could have placed (a malformed id, a quantity below one, no
/// lines) is refused for good.
fn order_lines(event: &OrderCreated) -> Result<Vec<Line>, HandlerError> {
    if event.lines.is_empty() {
        return Err(HandlerError::permanent("OrderCreated has no lines"));
    }
    let mut lines = BTreeMap::<Uuid, i64>::new();
    for line in &event.lines {
        let product_id = parse_id("lines.product_id", &line.product_id)?;
        if line.quantity < 1 {
            return Err(HandlerError::permanent(format!(
                "OrderCreated line for {product_id} has quantity {}",
                line.quantity
            )));
        }
        let quantity = lines.entry(product_id).or_default();
        *quantity = quantity
            .checked_add(line.quantity)
            .ok_or_else(|| HandlerError::permanent("OrderCreated quantities overflow"))?;
    }
    Ok(lines
        .into_iter()
        .map(|(product_id, quantity)| Line {
            product_id,
            quantity,
        })
        .collect())
}

/// One shortfall per line that cannot be reserved in full.
fn shortfalls(lines: &[Line], products: &[LockedProduct], currency: &str) -> Vec<StockShortfall> {
    lines
        .iter()
        .filter_map(|line| {
            let product = products.iter().find(|p| p.id == line.product_id);
            let (available, reason) = match product {
                None => (0, StockShortfallReason::ProductNotFound),
                Some(p) if p.currency != currency => {
                    (p.available, StockShortfallReason::CurrencyMismatch)
                }
                Some(p) if p.available < line.quantity => {
                    (p.available, StockShortfallReason::InsufficientStock)
                }
                Some(_) => return None,
            };
            Some(StockShortfall {
                product_id: line.product_id.to_string(),
                requested: line.quantity,
                available,
                reason,
            })
        })
        .collect()
}

/// Each line with its product's current price (every product is there: no shortfall).
fn priced(lines: &[Line], products: &[LockedProduct]) -> Vec<(Line, i64)> {
    lines
        .iter()
        .filter_map(|line| {
            let product = products.iter().find(|p| p.id == line.product_id)?;
            Some((*line, product.price_minor))
        })
        .collect()
}

/// The order's total in minor units; an order too large to price is refused for good.
fn total(priced: &[(Line, i64)]) -> Result<i64, HandlerError> {
    priced
        .iter()
        .try_fold(0_i64, |sum, (line, price)| {
            line.quantity
                .checked_mul(*price)
                .and_then(|amount| sum.checked_add(amount))
        })
        .ok_or_else(|| HandlerError::permanent("the order's total overflows"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn product(id: Uuid, available: i64) -> LockedProduct {
        LockedProduct {
            id,
            available,
            price_minor: 250,
            currency: "EUR".into(),
        }
    }

    #[test]
    fn a_shortfall_is_reported_per_failing_line_with_what_is_available() {
        let (short, missing, fine) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let lines = [
            Line {
                product_id: short,
                quantity: 3,
            },
            Line {
                product_id: missing,
                quantity: 1,
            },
            Line {
                product_id: fine,
                quantity: 2,
            },
        ];
        let products = [product(short, 2), product(fine, 2)];
        let found = shortfalls(&lines, &products, "EUR");
        let reasons: Vec<_> = found.iter().map(|s| (s.available, s.reason)).collect();
        assert_eq!(
            reasons,
            [
                (2, StockShortfallReason::InsufficientStock),
                (0, StockShortfallReason::ProductNotFound)
            ]
        );
    }

    #[test]
    fn repeated_products_are_added_up_and_bad_lines_are_refused_for_good() {
        let id = Uuid::now_v7().to_string();
        let mut event = OrderCreated {
            metadata: sagaway_contracts::events::EventMetadata::new("c", None, "test"),
            order_id: Uuid::now_v7().to_string(),
            user_id: Uuid::now_v7().to_string(),
            lines: vec![
                sagaway_contracts::events::OrderCreatedLine {
                    product_id: id.clone(),
                    quantity: 2,
                },
                sagaway_contracts::events::OrderCreatedLine {
                    product_id: id,
                    quantity: 3,
                },
            ],
        };
        let lines = order_lines(&event).expect("valid");
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].quantity, 5);
        event.lines[0].quantity = 0;
        assert!(matches!(
            order_lines(&event),
            Err(HandlerError::Permanent(_))
        ));
        event.lines[0].product_id = "not-a-uuid".into();
        assert!(matches!(
            order_lines(&event),
            Err(HandlerError::Permanent(_))
        ));
    }
}
