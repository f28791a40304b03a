-- Child rows are read and rewritten through their owner: a user's e-mails, phone numbers and
-- extension values on every write that changes them, a group's members on every group read
-- and write; each statement is scoped by org_id as well (docs/limits.md). SQLite plans without
-- statistics (roster never runs ANALYZE on it), and between an index that leads with org_id and
-- one on the owner's id alone it took the org's: a PATCH of one user read every e-mail of its
-- org (67 ms of CPU at 20,000 users, benches/neighbour.rs). An index on (owner, org_id) matches
-- both equalities and is chosen; it serves the foreign keys' cascades too, so it replaces the
-- owner-only index. A group's members had only the primary key (group_id, member_id) beside
-- (org_id, member_id): the same choice, the same fix. PostgreSQL plans by statistics and keeps
-- its indexes (docs/performance.md, "Noisy neighbours").
DROP INDEX user_emails_user;
CREATE INDEX user_emails_user ON user_emails (user_id, org_id);
DROP INDEX user_phone_numbers_user;
CREATE INDEX user_phone_numbers_user ON user_phone_numbers (user_id, org_id);
DROP INDEX user_extension_values_user;
CREATE INDEX user_extension_values_user ON user_extension_values (user_id, org_id);
CREATE INDEX group_members_group ON group_members (group_id, org_id);
