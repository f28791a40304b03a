-- The audit channel `system`: work roster does by itself (the purge of deleted users past
-- their org's retention, actor `retention`).
ALTER TABLE audit_events DROP CONSTRAINT audit_events_channel_check;
ALTER TABLE audit_events ADD CONSTRAINT audit_events_channel_check
    CHECK (channel IN ('scim', 'admin', 'cli', 'system'));

-- An org's own retention of deleted users (PUT /admin/v1/deleted-user-retention); an org
-- without a row keeps them 30 days.
CREATE TABLE org_deleted_user_retention (
    org_id      TEXT PRIMARY KEY REFERENCES orgs (id),
    days        INTEGER NOT NULL CHECK (days BETWEEN 1 AND 3650),
    updated_at  TIMESTAMP NOT NULL,
    updated_by  TEXT NOT NULL
);
