-- Schemas are global: one row per distinct schema text, whatever subjects use it, so the same
-- schema gets the same id everywhere. Ids come from a sequence and are never reused.
CREATE TABLE schemas (
    id          INTEGER PRIMARY KEY GENERATED ALWAYS AS IDENTITY,
    schema_type TEXT NOT NULL DEFAULT 'AVRO',
    schema_text TEXT NOT NULL,
    fingerprint TEXT NOT NULL UNIQUE, -- md5 of the normalized text: equal text, equal id
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- A subject's versions, each pointing at a global schema.
CREATE TABLE subject_versions (
    subject    TEXT    NOT NULL,
    version    INTEGER NOT NULL CHECK (version > 0),
    schema_id  INTEGER NOT NULL REFERENCES schemas (id),
    deleted    BOOLEAN NOT NULL DEFAULT false,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (subject, version)
);

CREATE INDEX subject_versions_by_schema ON subject_versions (schema_id);
