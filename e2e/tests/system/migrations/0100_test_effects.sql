-- What the tests' inbox handlers do: one row per applied event, deliberately without a unique
-- key, so an effect applied twice shows up as two rows. Version 100: the first a service may use.
CREATE TABLE test_effects (
    event_id   TEXT        NOT NULL,
    order_id   TEXT        NOT NULL,
    attempt    INTEGER     NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);
