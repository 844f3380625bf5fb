-- Orders, their lines and every status change (versions 100+; the platform's outbox and inbox
-- tables come from its own migrations, 1-99).

CREATE TABLE orders (
    id             UUID PRIMARY KEY,
    user_id        UUID        NOT NULL,
    status         TEXT        NOT NULL,
    total_minor    BIGINT,
    currency       TEXT,
    failure_reason TEXT        NOT NULL DEFAULT '',
    created_at     TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);

CREATE INDEX orders_by_user ON orders (user_id, created_at DESC, id DESC);
CREATE INDEX orders_by_time ON orders (created_at DESC, id DESC);

CREATE TABLE order_lines (
    order_id         UUID    NOT NULL REFERENCES orders (id),
    line_no          INTEGER NOT NULL,
    product_id       UUID    NOT NULL,
    quantity         BIGINT  NOT NULL CHECK (quantity > 0),
    unit_price_minor BIGINT,
    PRIMARY KEY (order_id, line_no)
);

-- Every transition with what caused it: an event id (a saga event or the event a request
-- emitted) and its type or the RPC's name.
CREATE TABLE order_status_history (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id    UUID        NOT NULL REFERENCES orders (id),
    from_status TEXT,
    to_status   TEXT        NOT NULL,
    event_id    TEXT        NOT NULL,
    event_type  TEXT        NOT NULL,
    reason      TEXT        NOT NULL DEFAULT '',
    changed_at  TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);

CREATE INDEX order_status_history_by_order ON order_status_history (order_id, id);
