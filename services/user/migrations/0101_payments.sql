-- The saga's side of money: one payment per order, captured from the balance and maybe
-- refunded, and the cancellations seen before any payment (so a late StockReserved takes
-- nothing). Every balance change is also a `balance_entries` row (DEBIT, REFUND) written in the
-- same transaction, so money is conserved (invariant 3):
-- sum(balance) = sum(TOPUP) - sum(DEBIT) + sum(REFUND).

CREATE TABLE payments (
    id           uuid        PRIMARY KEY,
    -- At most one payment per order, however often its StockReserved is delivered.
    order_id     uuid        NOT NULL UNIQUE,
    user_id      uuid        NOT NULL REFERENCES users (id),
    amount_minor bigint      NOT NULL CHECK (amount_minor > 0),
    currency     text        NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    status       text        NOT NULL CHECK (status IN ('CAPTURED', 'REFUNDED')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- Orders cancelled before any payment was taken for them.
CREATE TABLE cancelled_orders (
    order_id   uuid        PRIMARY KEY,
    reason     text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- A payment's ledger entries, looked up by order.
CREATE INDEX balance_entries_order_id ON balance_entries (order_id) WHERE order_id IS NOT NULL;
