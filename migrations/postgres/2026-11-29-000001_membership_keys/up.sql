-- Membership rows get a real foreign key for each kind of member, so that a membership can
-- never outlive its member: `member_user_id` names a user, `member_group_id` a group, exactly
-- one of them is set and equals `member_id`. `member_id` stays the key the membership queries
-- and `members.value` filters use (primary key, group_members_member, group_members_member_id).
-- Deleting a user or group removes its rows through ON DELETE CASCADE even when an add of it
-- committed between the delete's read and its write.
ALTER TABLE group_members
    ADD COLUMN member_user_id TEXT REFERENCES users (id) ON DELETE CASCADE,
    ADD COLUMN member_group_id TEXT REFERENCES groups (id) ON DELETE CASCADE;

-- Rows whose member is gone (left by a delete that raced an add) are dropped, not migrated.
DELETE FROM group_members gm
 WHERE (gm.member_type = 'User'
        AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = gm.member_id AND u.org_id = gm.org_id))
    OR (gm.member_type = 'Group'
        AND NOT EXISTS (SELECT 1 FROM groups g WHERE g.id = gm.member_id AND g.org_id = gm.org_id));
UPDATE group_members SET member_user_id = member_id WHERE member_type = 'User';
UPDATE group_members SET member_group_id = member_id WHERE member_type = 'Group';

ALTER TABLE group_members ADD CONSTRAINT group_members_one_member CHECK (
    (member_type = 'User' AND member_user_id = member_id AND member_group_id IS NULL)
    OR (member_type = 'Group' AND member_group_id = member_id AND member_user_id IS NULL)
);

-- The cascades look rows up by these columns; without an index every delete of a user or
-- group would scan the whole table.
CREATE INDEX group_members_member_user_id ON group_members (member_user_id);
CREATE INDEX group_members_member_group_id ON group_members (member_group_id);
