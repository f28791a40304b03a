DROP INDEX audit_events_org_id;
DROP TABLE console_links;
DROP TABLE console_sessions;
