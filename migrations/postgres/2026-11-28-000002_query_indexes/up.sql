-- Indexes for the SQL the filter translator writes (src/store/filter.rs); each expression is
-- repeated there verbatim, since an expression index serves only the same expression.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- displayName eq: lower(users.display_name) = $n
CREATE INDEX users_org_display_name_lower ON users (org_id, lower(display_name));
-- userName co/sw/ew: users.user_name_ci LIKE $n
CREATE INDEX users_user_name_ci_trgm ON users USING gin (user_name_ci gin_trgm_ops);

-- emails.value eq / emails[type eq "work"].value eq: users.id IN (SELECT c.user_id FROM
-- user_emails c WHERE c.value_ci = $n …), run once, not per user
CREATE INDEX user_emails_value_ci ON user_emails (value_ci);
-- emails.value co/sw/ew: c.value_ci LIKE $n
CREATE INDEX user_emails_value_ci_trgm ON user_emails USING gin (value_ci gin_trgm_ops);
-- phoneNumbers.value eq: lower(c.value) = $n
CREATE INDEX user_phone_numbers_value_lower ON user_phone_numbers (lower(value));

-- members.value eq (groups.id IN (SELECT c.group_id … WHERE c.member_id = $n)) and a user's
-- groups.value
CREATE INDEX group_members_member_id ON group_members (member_id);
