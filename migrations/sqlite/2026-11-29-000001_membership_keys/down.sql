CREATE TABLE group_members_plain (
    group_id     TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    org_id       TEXT NOT NULL,
    member_id    TEXT NOT NULL,
    member_type  TEXT NOT NULL CHECK (member_type IN ('User', 'Group')),
    PRIMARY KEY (group_id, member_id)
);
INSERT INTO group_members_plain (group_id, org_id, member_id, member_type)
SELECT group_id, org_id, member_id, member_type FROM group_members;
DROP TABLE group_members;
ALTER TABLE group_members_plain RENAME TO group_members;
CREATE INDEX group_members_member ON group_members (org_id, member_id);
CREATE INDEX group_members_member_id ON group_members (member_id);
