//! StockReserved: take the order's total from the customer's balance, or say why not.

use sagaway_contracts::events::{
    AnyEvent, PaymentCompleted, PaymentFailed, PaymentFailureReason, StockReserved,
};
use sagaway_platform::inbox::{EventContext, HandlerError};
use sagaway_platform::money::Money;
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use super::sql;
use crate::domain::{EntryKind, User};
use crate::{SERVICE_NAME, store};
use sagaway_platform::inbox::parse_id;

/// Captures the order's payment (PaymentCompleted) or refuses it (PaymentFailed). An order
/// cancelled already, or paid already, is left alone and answered with nothing.
pub async fn on_stock_reserved(
    tx: &mut Transaction<'_, Postgres>,
    event: &StockReserved,
    ctx: &EventContext,
) -> Result<(), HandlerError> {
    let order_id = parse_id("order_id", &event.order_id)?;
    let user_id = parse_id("user_id", &event.user_id)?;
    if event.total_minor < 1 {
        return Err(HandlerError::permanent(format!(
            "StockReserved for {order_id} has total {}",
            event.total_minor
        )));
    }
    sql::lock_order(tx, order_id).await?;
    if sql::is_cancelled(tx, order_id).await? {
        tracing::info!(%order_id, "order cancelled before payment; nothing taken");
        return Ok(());
    }
    if sql::lock_payment_of_order(tx, order_id).await?.is_some() {
        tracing::info!(%order_id, "order already has a payment; StockReserved ignored");
        return Ok(());
    }
    let answer = match decide(tx, event, user_id).await? {
        Decision::Capture(user) => capture(tx, event, order_id, &user, ctx).await?,
        Decision::Refuse(reason) => {
            tracing::info!(%order_id, %user_id, ?reason, "payment refused");
            PaymentFailed {
                metadata: ctx.caused_metadata(SERVICE_NAME),
                order_id: event.order_id.clone(),
                user_id: event.user_id.clone(),
                amount_minor: event.total_minor,
                currency: event.currency.clone(),
                reason,
            }
            .into()
        }
    };
    sagaway_platform::outbox::enqueue(tx, &answer, &ctx.caused_headers()).await?;
    Ok(())
}

/// Whether the payment can be taken.
#[derive(Debug)]
enum Decision {
    /// From this account, locked.
    Capture(User),
    /// Not at all, for this reason.
    Refuse(PaymentFailureReason),
}

/// Checks the expiry, then locks the account and checks its currency and balance.
async fn decide(
    tx: &mut Transaction<'_, Postgres>,
    event: &StockReserved,
    user_id: Uuid,
) -> Result<Decision, HandlerError> {
    if sql::has_passed(tx, event.expires_at).await? {
        return Ok(Decision::Refuse(PaymentFailureReason::Unknown));
    }
    let Some(user) = store::lock_user(tx, user_id).await? else {
        return Ok(Decision::Refuse(PaymentFailureReason::AccountNotFound));
    };
    Ok(match judge(&user.balance, event) {
        Some(reason) => Decision::Refuse(reason),
        None => Decision::Capture(user),
    })
}

/// Why `balance` cannot pay for `event`'s total, if it cannot.
fn judge(balance: &Money, event: &StockReserved) -> Option<PaymentFailureReason> {
    if balance.currency().as_str() != event.currency {
        Some(PaymentFailureReason::CurrencyMismatch)
    } else if balance.amount_minor() < event.total_minor {
        Some(PaymentFailureReason::InsufficientFunds)
    } else {
        None
    }
}

/// Debits the locked account, records the payment and its ledger entry; returns the
/// PaymentCompleted to publish.
async fn capture(
    tx: &mut Transaction<'_, Postgres>,
    event: &StockReserved,
    order_id: Uuid,
    user: &User,
    ctx: &EventContext,
) -> Result<AnyEvent, HandlerError> {
    let currency = user.balance.currency();
    let amount = Money::new(event.total_minor, currency);
    let remaining = Money::new(user.balance.amount_minor() - event.total_minor, currency);
    store::set_balance(tx, user.id, remaining).await?;
    store::record_entry(tx, user.id, EntryKind::Debit, amount, Some(order_id)).await?;
    let payment_id = sql::insert_payment(
        tx,
        order_id,
        user.id,
        amount.amount_minor(),
        currency.as_str(),
    )
    .await?;
    tracing::info!(%order_id, user_id = %user.id, %payment_id, %amount, "payment captured");
    Ok(PaymentCompleted {
        metadata: ctx.caused_metadata(SERVICE_NAME),
        order_id: event.order_id.clone(),
        user_id: event.user_id.clone(),
        payment_id: payment_id.to_string(),
        amount_minor: amount.amount_minor(),
        currency: currency.as_str().to_owned(),
    }
    .into())
}

#[cfg(test)]
mod tests {
    use sagaway_contracts::events::EventMetadata;
    use sagaway_platform::money::Currency;

    use super::*;

    fn reserved(total_minor: i64, currency: &str) -> StockReserved {
        StockReserved {
            metadata: EventMetadata::new("c", None, "test"),
            order_id: Uuid::now_v7().to_string(),
            user_id: Uuid::now_v7().to_string(),
            reservation_id: Uuid::now_v7().to_string(),
            lines: Vec::new(),
            total_minor,
            currency: currency.into(),
            expires_at: 0,
        }
    }

    #[test]
    fn a_balance_pays_what_it_covers_in_its_own_currency_only() {
        let balance = Money::new(1_000, Currency::EUR);
        let cases = [
            (1_000, "EUR", None),
            (999, "EUR", None),
            (1_001, "EUR", Some(PaymentFailureReason::InsufficientFunds)),
            (10, "USD", Some(PaymentFailureReason::CurrencyMismatch)),
        ];
        for (total, currency, expected) in cases {
            let found = judge(&balance, &reserved(total, currency));
            assert_eq!(found, expected, "{total} {currency}");
        }
    }
}
