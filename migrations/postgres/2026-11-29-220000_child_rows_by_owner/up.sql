-- The SQLite migration of the same name explains the change: a user's child rows are found by
-- (user_id, org_id), the two equalities every statement on them names. PostgreSQL plans by
-- statistics and chose the owner's index already; the same indexes keep the two schemas alike
-- and hold while a fresh table has no statistics yet. The (group_id, org_id) index SQLite needs
-- is not added here: the primary key (group_id, member_id) serves a group's members, and one
-- more index would cost every membership write.
DROP INDEX user_emails_user;
CREATE INDEX user_emails_user ON user_emails (user_id, org_id);
DROP INDEX user_phone_numbers_user;
CREATE INDEX user_phone_numbers_user ON user_phone_numbers (user_id, org_id);
DROP INDEX user_extension_values_user;
CREATE INDEX user_extension_values_user ON user_extension_values (user_id, org_id);
