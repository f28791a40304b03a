-- Deleted users (SCIM DELETE), kept for an admin's restore until they are purged
-- (docs/admin-api.md, "Deleted users"). A table of their own, not a flag on users: no query of
-- users (lists, filters, groups, token checks, userName uniqueness) can forget to leave them
-- out, and their userName and externalId are free at once.
CREATE TABLE deleted_users (
    id              TEXT PRIMARY KEY,
    org_id          TEXT NOT NULL REFERENCES orgs (id),
    user_name       TEXT NOT NULL,
    external_id     TEXT,
    display_name    TEXT,
    active          BOOLEAN NOT NULL,
    resource        JSONB NOT NULL,
    password_hash   TEXT,
    version         BIGINT NOT NULL,
    created_at      TIMESTAMP NOT NULL,
    deactivated_at  TIMESTAMP,
    deactivated_by  TEXT,
    deactivated_via TEXT,
    held_at         TIMESTAMP,
    held_by         TEXT,
    hold_reason     TEXT,
    deleted_at      TIMESTAMP NOT NULL,
    deleted_by      TEXT NOT NULL,
    deleted_via     TEXT NOT NULL,
    -- The ids of the groups the user was removed from by the deletion (a JSON array).
    removed_groups  JSONB NOT NULL
);
CREATE INDEX deleted_users_org_id ON deleted_users (org_id, id);
