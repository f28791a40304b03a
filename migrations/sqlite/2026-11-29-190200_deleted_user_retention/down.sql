DROP TABLE org_deleted_user_retention;
-- Fails if events of channel `system` exist: delete them first.
CREATE TABLE audit_events_old (
    id           INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    org_id       TEXT NOT NULL REFERENCES orgs (id),
    occurred_at  TIMESTAMP NOT NULL,
    actor        TEXT NOT NULL,
    channel      TEXT NOT NULL CHECK (channel IN ('scim', 'admin', 'cli')),
    action       TEXT NOT NULL,
    target_type  TEXT NOT NULL,
    target_id    TEXT NOT NULL,
    attributes   TEXT NOT NULL CHECK (json_valid(attributes)),
    detail       TEXT CHECK (detail IS NULL OR json_valid(detail))
);
INSERT INTO audit_events_old (id, org_id, occurred_at, actor, channel, action, target_type, target_id, attributes, detail)
    SELECT id, org_id, occurred_at, actor, channel, action, target_type, target_id, attributes, detail FROM audit_events;
DROP TABLE audit_events;
ALTER TABLE audit_events_old RENAME TO audit_events;
CREATE INDEX audit_events_org_target ON audit_events (org_id, target_id, id);
CREATE INDEX audit_events_org_id ON audit_events (org_id, id);
