//! OrderCompleted: the reservation becomes a sale (StockCommitted).

use sagaway_contracts::events::{AnyEvent, CommittedLine, OrderCompleted, StockCommitted};
use sagaway_platform::inbox::{EventContext, HandlerError};
use sqlx::{Postgres, Transaction};

use super::sql::{self, Line, Move, Reservation, Status};
use sagaway_platform::inbox::parse_id;

/// Commits the order's reservation. A held one moves its units from reserved to sold. One that
/// expired (a payment raced the expiry and the order service completed the order) is sold from
/// available stock when every line is there; when it is not, the sale cannot be honoured: that
/// is logged at error level and counted in `sagaway_stock_commit_after_expiry_failed_total`,
/// and nothing is emitted. The grace period of the expiry sweeper
/// (`SAGAWAY_RESERVATION_GRACE_SECS`) makes this race improbable. A reservation already
/// committed, released for another reason, or missing is left alone.
pub async fn on_order_completed(
    tx: &mut Transaction<'_, Postgres>,
    event: &OrderCompleted,
    ctx: &EventContext,
) -> Result<(), HandlerError> {
    let order_id = parse_id("order_id", &event.order_id)?;
    let Some(reservation) = sql::lock_reservation_of_order(tx, order_id).await? else {
        tracing::warn!(%order_id, "OrderCompleted for an order without a reservation; ignored");
        return Ok(());
    };
    let lines = sql::reservation_lines(tx, reservation.id).await?;
    let ids: Vec<_> = lines.iter().map(|line| line.product_id).collect();
    let movement = if reservation.is_reserved() {
        Move::Commit
    } else if reservation.expired() {
        let products = sql::lock_products(tx, &ids).await?;
        let in_stock = lines.iter().all(|line| {
            products
                .iter()
                .any(|p| p.id == line.product_id && p.available >= line.quantity)
        });
        if !in_stock {
            metrics::counter!("sagaway_stock_commit_after_expiry_failed_total").increment(1);
            tracing::error!(
                %order_id, reservation_id = %reservation.id,
                "order completed after its reservation expired and the stock is gone; \
                 the sale cannot be committed"
            );
            return Ok(());
        }
        Move::SellFromAvailable
    } else {
        tracing::info!(%order_id, status = %reservation.status, "reservation already settled");
        return Ok(());
    };
    sql::lock_products(tx, &ids).await?;
    sql::move_stock(tx, &lines, movement).await?;
    sql::set_status(tx, reservation.id, Status::Committed, None).await?;
    tracing::info!(%order_id, reservation_id = %reservation.id, ?movement, "stock committed");
    let committed = committed(&reservation, &lines, ctx);
    sagaway_platform::outbox::enqueue(tx, &committed, &ctx.caused_headers()).await?;
    Ok(())
}

fn committed(reservation: &Reservation, lines: &[Line], ctx: &EventContext) -> AnyEvent {
    StockCommitted {
        metadata: ctx.caused_metadata(crate::SERVICE_NAME),
        order_id: reservation.order_id.to_string(),
        reservation_id: reservation.id.to_string(),
        lines: lines
            .iter()
            .map(|line| CommittedLine {
                product_id: line.product_id.to_string(),
                quantity: line.quantity,
            })
            .collect(),
    }
    .into()
}
