-- The transactional outbox and the idempotent-consumer inbox that every service shares
-- (sagaway-platform). Versions 1-99 belong to the platform; services number theirs from 100.

-- Events written in the business transaction that produced them, waiting for the publisher.
-- `id` is the publishing order; `published_at` is set once the broker has acknowledged the
-- event, and published rows are deleted after the publisher's retention.
CREATE TABLE outbox (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id       TEXT        NOT NULL UNIQUE,
    topic          TEXT        NOT NULL,
    message_key    TEXT        NOT NULL,
    event_type     TEXT        NOT NULL,
    payload        JSONB       NOT NULL,
    correlation_id TEXT        NOT NULL,
    traceparent    TEXT,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    published_at   TIMESTAMPTZ
);

CREATE INDEX outbox_pending ON outbox (id) WHERE published_at IS NULL;
CREATE INDEX outbox_published ON outbox (published_at) WHERE published_at IS NOT NULL;

-- Events a consumer group has applied, recorded in the same transaction as their effect, so a
-- redelivered event is recognised and its effect skipped.
CREATE TABLE inbox (
    consumer_group  TEXT        NOT NULL,
    event_id        TEXT        NOT NULL,
    topic           TEXT        NOT NULL,
    kafka_partition INTEGER     NOT NULL,
    kafka_offset    BIGINT      NOT NULL,
    processed_at    TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (consumer_group, event_id)
);

CREATE INDEX inbox_processed_at ON inbox (processed_at);
