ALTER TABLE group_members DROP CONSTRAINT group_members_one_member;
ALTER TABLE group_members DROP COLUMN member_group_id, DROP COLUMN member_user_id;
