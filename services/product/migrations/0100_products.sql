-- The catalogue and its stock. Reservations for orders arrive with the saga; until then
-- `reserved` stays 0.

CREATE TABLE products (
    id          uuid        PRIMARY KEY,
    sku         text        NOT NULL UNIQUE CHECK (sku ~ '^[A-Za-z0-9._-]{1,64}$'),
    name        text        NOT NULL CHECK (name <> ''),
    description text        NOT NULL DEFAULT '',
    price_minor bigint      NOT NULL CHECK (price_minor > 0),
    currency    text        NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    -- Units that new orders can still reserve, and units held for orders awaiting payment.
    available   bigint      NOT NULL CHECK (available >= 0),
    reserved    bigint      NOT NULL DEFAULT 0 CHECK (reserved >= 0),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- ListProducts pages by this key, oldest first.
CREATE INDEX products_created_at_id ON products (created_at, id);
