-- Membership rows get a real foreign key for each kind of member, so that a membership can
-- never outlive its member: `member_user_id` names a user, `member_group_id` a group, exactly
-- one of them is set and equals `member_id`. `member_id` stays the key the membership queries
-- and `members.value` filters use (primary key, group_members_member, group_members_member_id).
-- SQLite cannot add a constraint to a table, so the table is rebuilt.
CREATE TABLE group_members_keyed (
    group_id         TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    org_id           TEXT NOT NULL,
    member_id        TEXT NOT NULL,
    member_type      TEXT NOT NULL CHECK (member_type IN ('User', 'Group')),
    member_user_id   TEXT REFERENCES users (id) ON DELETE CASCADE,
    member_group_id  TEXT REFERENCES groups (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, member_id),
    CONSTRAINT group_members_one_member CHECK (
        (member_type = 'User' AND member_user_id = member_id AND member_group_id IS NULL)
        OR (member_type = 'Group' AND member_group_id = member_id AND member_user_id IS NULL)
    )
);

-- Rows whose member is gone are dropped, not migrated.
INSERT INTO group_members_keyed
    (group_id, org_id, member_id, member_type, member_user_id, member_group_id)
SELECT gm.group_id, gm.org_id, gm.member_id, gm.member_type,
       CASE WHEN gm.member_type = 'User' THEN gm.member_id END,
       CASE WHEN gm.member_type = 'Group' THEN gm.member_id END
  FROM group_members gm
 WHERE (gm.member_type = 'User'
        AND EXISTS (SELECT 1 FROM users u WHERE u.id = gm.member_id AND u.org_id = gm.org_id))
    OR (gm.member_type = 'Group'
        AND EXISTS (SELECT 1 FROM groups g WHERE g.id = gm.member_id AND g.org_id = gm.org_id));

DROP TABLE group_members;
ALTER TABLE group_members_keyed RENAME TO group_members;

CREATE INDEX group_members_member ON group_members (org_id, member_id);
CREATE INDEX group_members_member_id ON group_members (member_id);
-- The cascades look rows up by these columns; without an index every delete of a user or
-- group would scan the whole table.
CREATE INDEX group_members_member_user_id ON group_members (member_user_id);
CREATE INDEX group_members_member_group_id ON group_members (member_group_id);
