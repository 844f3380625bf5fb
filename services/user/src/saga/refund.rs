//! StockReleased (EXPIRED) and OrderCancelled: give a captured payment back (PaymentRefunded),
//! or remember a cancellation that came before any payment.

use sagaway_contracts::events::{AnyEvent, PaymentRefunded, RefundReason};
use sagaway_platform::inbox::{EventContext, HandlerError};
use sagaway_platform::money::{Currency, Money};
use sqlx::{Postgres, Transaction};

use super::sql::{self, Payment, Status};
use crate::domain::EntryKind;
use crate::{SERVICE_NAME, store};
use sagaway_platform::inbox::parse_id;

/// Refunds the order's payment when it is still captured. With no payment at all, a
/// cancellation is remembered so that a later StockReserved takes nothing; an expiry needs no
/// memory (its StockReserved came before it on the same partition).
pub async fn on_compensation(
    tx: &mut Transaction<'_, Postgres>,
    order_id: &str,
    reason: RefundReason,
    ctx: &EventContext,
) -> Result<(), HandlerError> {
    let order_id = parse_id("order_id", order_id)?;
    sql::lock_order(tx, order_id).await?;
    match sql::lock_payment_of_order(tx, order_id).await? {
        Some(payment) if payment.is_captured() => refund(tx, &payment, reason, ctx).await,
        Some(_) => {
            tracing::info!(%order_id, ?reason, "payment already refunded");
            Ok(())
        }
        None if reason == RefundReason::OrderCancelled => {
            tracing::info!(%order_id, "order cancelled before any payment; remembered");
            sql::remember_cancellation(tx, order_id, "ORDER_CANCELLED").await?;
            Ok(())
        }
        None => {
            tracing::info!(%order_id, ?reason, "no payment to refund");
            Ok(())
        }
    }
}

/// Credits a locked CAPTURED payment back to its account, marks it REFUNDED, records the
/// ledger entry and writes PaymentRefunded to the outbox.
async fn refund(
    tx: &mut Transaction<'_, Postgres>,
    payment: &Payment,
    reason: RefundReason,
    ctx: &EventContext,
) -> Result<(), HandlerError> {
    let currency = Currency::parse(&payment.currency).map_err(|err| {
        HandlerError::permanent(format!("payment {} has currency {err:?}", payment.id))
    })?;
    let amount = Money::new(payment.amount_minor, currency);
    // The payments table refers to the account, so it is there.
    let user = store::lock_user(tx, payment.user_id)
        .await?
        .ok_or_else(|| HandlerError::permanent(format!("account {} is gone", payment.user_id)))?;
    let balance = user
        .balance
        .checked_add(amount)
        .ok_or_else(|| HandlerError::permanent(format!("refund of {} overflows", payment.id)))?;
    store::set_balance(tx, user.id, balance).await?;
    let order_id = Some(payment.order_id);
    store::record_entry(tx, user.id, EntryKind::Refund, amount, order_id).await?;
    sql::set_status(tx, payment.id, Status::Refunded).await?;
    tracing::info!(order_id = %payment.order_id, payment_id = %payment.id, %amount, ?reason, "payment refunded");
    let event: AnyEvent = PaymentRefunded {
        metadata: ctx.caused_metadata(SERVICE_NAME),
        order_id: payment.order_id.to_string(),
        user_id: payment.user_id.to_string(),
        payment_id: payment.id.to_string(),
        amount_minor: payment.amount_minor,
        currency: payment.currency.clone(),
        reason,
    }
    .into();
    sagaway_platform::outbox::enqueue(tx, &event, &ctx.caused_headers()).await?;
    Ok(())
}
