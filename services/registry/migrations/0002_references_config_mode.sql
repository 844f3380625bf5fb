-- Schema references (Avro named types defined in other subjects), per-subject and global
-- compatibility levels, and modes. The empty subject '' holds the global setting.

ALTER TABLE schemas ADD COLUMN refs JSONB NOT NULL DEFAULT '[]'::jsonb;
CREATE INDEX schemas_refs ON schemas USING GIN (refs jsonb_path_ops);

CREATE TABLE compatibility_config (
    subject       TEXT PRIMARY KEY,
    compatibility TEXT NOT NULL
);

CREATE TABLE registry_mode (
    subject TEXT PRIMARY KEY,
    mode    TEXT NOT NULL
);

-- Other registry instances on this database learn of every change through this channel
-- (payload: the subject changed, or '' for global settings).
CREATE FUNCTION notify_registry_change() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('sagaway_registry_changes', COALESCE(NEW.subject, OLD.subject, ''));
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER subject_versions_changed AFTER INSERT OR UPDATE OR DELETE ON subject_versions
    FOR EACH ROW EXECUTE FUNCTION notify_registry_change();
CREATE TRIGGER compatibility_config_changed AFTER INSERT OR UPDATE OR DELETE ON compatibility_config
    FOR EACH ROW EXECUTE FUNCTION notify_registry_change();
CREATE TRIGGER registry_mode_changed AFTER INSERT OR UPDATE OR DELETE ON registry_mode
    FOR EACH ROW EXECUTE FUNCTION notify_registry_change();
