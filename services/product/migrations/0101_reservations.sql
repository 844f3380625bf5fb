-- The saga's side of stock: reservations held for orders awaiting payment, and the counters
-- that make invariant 2 checkable (DESIGN.md): everything ever put in stock (`received`) is
-- always available, reserved or sold.

ALTER TABLE products
    ADD COLUMN sold     bigint NOT NULL DEFAULT 0 CHECK (sold >= 0),
    -- Initial stock plus every restock. Existing rows hold only available and reserved units.
    ADD COLUMN received bigint;

UPDATE products SET received = available + reserved;

ALTER TABLE products
    ALTER COLUMN received SET NOT NULL,
    ADD CONSTRAINT products_stock_conserved CHECK (received = available + reserved + sold);

-- Rows inserted without `received` (older code, hand-written fixtures) start with what they
-- hold, so the conservation check above is met from the first moment.
CREATE FUNCTION products_default_received() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.received IS NULL THEN
        NEW.received := NEW.available + NEW.reserved + NEW.sold;
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER products_default_received
    BEFORE INSERT ON products
    FOR EACH ROW EXECUTE FUNCTION products_default_received();

-- One reservation per order: RESERVED until payment commits it (COMMITTED) or compensation or
-- expiry gives the stock back (RELEASED, with the reason). A reservation that failed leaves
-- no row.
CREATE TABLE reservations (
    id             uuid        PRIMARY KEY,
    order_id       uuid        NOT NULL UNIQUE,
    user_id        uuid        NOT NULL,
    status         text        NOT NULL CHECK (status IN ('RESERVED', 'RELEASED', 'COMMITTED')),
    release_reason text        CHECK ((status = 'RELEASED') = (release_reason IS NOT NULL)),
    correlation_id text        NOT NULL,
    expires_at     timestamptz NOT NULL,
    total_minor    bigint      NOT NULL CHECK (total_minor >= 0),
    currency       text        NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- The expiry sweeper's scan: only live reservations, soonest first.
CREATE INDEX reservations_live_by_expiry ON reservations (expires_at) WHERE status = 'RESERVED';

-- One line per product (an order's lines for the same product are added up).
CREATE TABLE reservation_lines (
    reservation_id   uuid   NOT NULL REFERENCES reservations (id),
    product_id       uuid   NOT NULL REFERENCES products (id),
    quantity         bigint NOT NULL CHECK (quantity > 0),
    unit_price_minor bigint NOT NULL CHECK (unit_price_minor > 0),
    PRIMARY KEY (reservation_id, product_id)
);
