-- Indexes for the SQL the filter translator writes (src/store/filter.rs); each expression is
-- repeated there verbatim, since an expression index serves only the same expression.

-- displayName eq: lower(users.display_name) = ?
CREATE INDEX users_org_display_name_lower ON users (org_id, lower(display_name));

-- emails.value eq / emails[type eq "work"].value eq: users.id IN (SELECT c.user_id FROM
-- user_emails c WHERE c.value_ci = ? …), run once, not per user
CREATE INDEX user_emails_value_ci ON user_emails (value_ci);
-- phoneNumbers.value eq: lower(c.value) = ?
CREATE INDEX user_phone_numbers_value_lower ON user_phone_numbers (lower(value));

-- members.value eq (groups.id IN (SELECT c.group_id … WHERE c.member_id = ?)) and a user's
-- groups.value
CREATE INDEX group_members_member_id ON group_members (member_id);
