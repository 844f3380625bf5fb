//! PaymentFailed and OrderCancelled: give a held reservation's stock back (StockReleased).

use sagaway_contracts::events::{
    AnyEvent, EventMetadata, ReleasedLine, StockReleaseReason, StockReleased,
};
use sagaway_platform::inbox::{EventContext, HandlerError};
use sagaway_platform::outbox::EventHeaders;
use sqlx::{Postgres, Transaction};

use super::sql::{self, Move, Reservation, Status};
use sagaway_platform::inbox::parse_id;

/// Releases the order's reservation when it is still held, with `reason`. A reservation that
/// was already released or committed, or none at all (the reservation failed), is left alone.
pub async fn on_compensation(
    tx: &mut Transaction<'_, Postgres>,
    order_id: &str,
    reason: StockReleaseReason,
    ctx: &EventContext,
) -> Result<(), HandlerError> {
    let order_id = parse_id("order_id", order_id)?;
    let Some(reservation) = sql::lock_reservation_of_order(tx, order_id).await? else {
        tracing::info!(%order_id, ?reason, "no reservation to release");
        return Ok(());
    };
    if !reservation.is_reserved() {
        tracing::info!(%order_id, ?reason, status = %reservation.status, "reservation already settled");
        return Ok(());
    }
    let metadata = ctx.caused_metadata(crate::SERVICE_NAME);
    release(tx, &reservation, reason, metadata, &ctx.caused_headers()).await?;
    Ok(())
}

/// Puts a locked RESERVED reservation's units back into available stock, marks it RELEASED
/// with `reason` and writes StockReleased to the outbox.
pub async fn release(
    tx: &mut Transaction<'_, Postgres>,
    reservation: &Reservation,
    reason: StockReleaseReason,
    metadata: EventMetadata,
    headers: &EventHeaders,
) -> Result<(), sqlx::Error> {
    let lines = sql::reservation_lines(tx, reservation.id).await?;
    let ids: Vec<_> = lines.iter().map(|line| line.product_id).collect();
    sql::lock_products(tx, &ids).await?;
    sql::move_stock(tx, &lines, Move::Release).await?;
    sql::set_status(
        tx,
        reservation.id,
        Status::Released,
        Some(reason_name(reason)),
    )
    .await?;
    let event: AnyEvent = StockReleased {
        metadata,
        order_id: reservation.order_id.to_string(),
        user_id: reservation.user_id.to_string(),
        reservation_id: reservation.id.to_string(),
        reason,
        lines: lines
            .iter()
            .map(|line| ReleasedLine {
                product_id: line.product_id.to_string(),
                quantity: line.quantity,
            })
            .collect(),
    }
    .into();
    tracing::info!(order_id = %reservation.order_id, reservation_id = %reservation.id, ?reason, "stock released");
    sagaway_platform::outbox::enqueue(tx, &event, headers).await
}

/// The stored name of a release reason (the Avro symbol).
fn reason_name(reason: StockReleaseReason) -> &'static str {
    match reason {
        StockReleaseReason::Unknown => "UNKNOWN",
        StockReleaseReason::PaymentFailed => "PAYMENT_FAILED",
        StockReleaseReason::OrderCancelled => "ORDER_CANCELLED",
        StockReleaseReason::Expired => "EXPIRED",
    }
}
