-- Accounts and the ledger of every change to their prepaid balance.

CREATE TABLE users (
    id            uuid        PRIMARY KEY,
    -- Normalized by the service (trimmed, lower-case) before it gets here.
    email         text        NOT NULL UNIQUE,
    display_name  text        NOT NULL,
    -- An argon2id PHC string; the password itself is never stored.
    password_hash text        NOT NULL,
    roles         text[]      NOT NULL
                  CHECK (cardinality(roles) > 0 AND roles <@ ARRAY['customer', 'admin']),
    balance_minor bigint      NOT NULL DEFAULT 0 CHECK (balance_minor >= 0),
    currency      text        NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- ListUsers pages by this key, oldest first.
CREATE INDEX users_created_at_id ON users (created_at, id);

-- One row per balance change, written in the transaction that changes the balance. Amounts are
-- positive; the kind says which way they moved: TOPUP adds, DEBIT (an order's payment) takes,
-- REFUND gives a payment back. Payments and refunds name their order; top-ups have none.
CREATE TABLE balance_entries (
    id           uuid        PRIMARY KEY,
    user_id      uuid        NOT NULL REFERENCES users (id),
    kind         text        NOT NULL CHECK (kind IN ('TOPUP', 'DEBIT', 'REFUND')),
    amount_minor bigint      NOT NULL CHECK (amount_minor > 0),
    order_id     uuid,
    created_at   timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'TOPUP') = (order_id IS NULL))
);

CREATE INDEX balance_entries_user_id ON balance_entries (user_id, created_at);
