-- The audit channel `system`: work roster does by itself (the purge of deleted users past
-- their org's retention, actor `retention`). SQLite cannot alter a CHECK constraint: the table
-- is rebuilt (https://www.sqlite.org/lang_altertable.html#otheralter). No table has a foreign
-- key to audit_events and it has no trigger; its indexes are re-created below. The ids are
-- kept (AUTOINCREMENT: the rename carries sqlite_sequence's entry, so no id is reused).
CREATE TABLE audit_events_new (
    id           INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    org_id       TEXT NOT NULL REFERENCES orgs (id),
    occurred_at  TIMESTAMP NOT NULL,
    actor        TEXT NOT NULL,
    channel      TEXT NOT NULL CHECK (channel IN ('scim', 'admin', 'cli', 'system')),
    action       TEXT NOT NULL,
    target_type  TEXT NOT NULL,
    target_id    TEXT NOT NULL,
    attributes   TEXT NOT NULL CHECK (json_valid(attributes)),
    detail       TEXT CHECK (detail IS NULL OR json_valid(detail))
);
INSERT INTO audit_events_new (id, org_id, occurred_at, actor, channel, action, target_type, target_id, attributes, detail)
    SELECT id, org_id, occurred_at, actor, channel, action, target_type, target_id, attributes, detail FROM audit_events;
DROP TABLE audit_events;
ALTER TABLE audit_events_new RENAME TO audit_events;
CREATE INDEX audit_events_org_target ON audit_events (org_id, target_id, id);
CREATE INDEX audit_events_org_id ON audit_events (org_id, id);

-- An org's own retention of deleted users (PUT /admin/v1/deleted-user-retention); an org
-- without a row keeps them 30 days.
CREATE TABLE org_deleted_user_retention (
    org_id      TEXT PRIMARY KEY NOT NULL REFERENCES orgs (id),
    days        INTEGER NOT NULL CHECK (days BETWEEN 1 AND 3650),
    updated_at  TIMESTAMP NOT NULL,
    updated_by  TEXT NOT NULL
);
