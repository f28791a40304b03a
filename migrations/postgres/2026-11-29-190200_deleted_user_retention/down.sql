DROP TABLE org_deleted_user_retention;
-- Fails if events of channel `system` exist: delete them first.
ALTER TABLE audit_events DROP CONSTRAINT audit_events_channel_check;
ALTER TABLE audit_events ADD CONSTRAINT audit_events_channel_check
    CHECK (channel IN ('scim', 'admin', 'cli'));
