-- The order saga: a payment seen before its reservation is remembered here, so that the
-- StockReserved arriving later completes the order (events of two topics come in any order).
-- Payments seen for a reserved order are kept too, one per order.

CREATE TABLE order_payments (
    order_id     UUID PRIMARY KEY REFERENCES orders (id),
    payment_id   TEXT        NOT NULL,
    amount_minor BIGINT      NOT NULL,
    currency     TEXT        NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);
