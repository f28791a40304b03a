-- Groups: hot attributes as columns, the rest of the resource (without members) as jsonb.
CREATE TABLE groups (
    id               TEXT PRIMARY KEY NOT NULL,
    org_id           TEXT NOT NULL REFERENCES orgs (id),
    display_name     TEXT NOT NULL,
    -- displayName case-folded in Rust, the key of per-org uniqueness.
    display_name_ci  TEXT NOT NULL,
    external_id      TEXT,
    resource         TEXT NOT NULL CHECK (json_valid(resource)),
    version          BIGINT NOT NULL,
    created_at       TIMESTAMP NOT NULL,
    last_modified    TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX groups_org_display_name_ci ON groups (org_id, display_name_ci);
CREATE UNIQUE INDEX groups_org_external_id ON groups (org_id, external_id);
CREATE INDEX groups_org_last_modified ON groups (org_id, last_modified);

-- Membership: one row per (group, member), so adding a member to a large group touches one row.
-- A member is a user or a group of the same org; it has no foreign key because it names either
-- table, and deleting a user or group removes its rows in the same transaction.
CREATE TABLE group_members (
    group_id     TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    org_id       TEXT NOT NULL,
    member_id    TEXT NOT NULL,
    member_type  TEXT NOT NULL CHECK (member_type IN ('User', 'Group')),
    PRIMARY KEY (group_id, member_id)
);
CREATE INDEX group_members_member ON group_members (org_id, member_id);
