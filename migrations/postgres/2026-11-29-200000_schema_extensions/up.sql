-- An organization's own extension schemas (RFC 7643 §3.3), registered by its admins with
-- POST /admin/v1/schema-extensions (docs/admin-api.md, "Schema extensions"). `definition` is
-- the schema resource as roster validated it (RFC 7643 §7); `urn_ci` is the URN in lower case,
-- so that one URN is registered once per org whatever its case (RFC 7643 §2.1).
CREATE TABLE schema_extensions (
    org_id         TEXT NOT NULL REFERENCES orgs (id),
    urn_ci         TEXT NOT NULL,
    urn            TEXT NOT NULL,
    resource_type  TEXT NOT NULL CHECK (resource_type IN ('User', 'Group')),
    definition     JSONB NOT NULL,
    created_at     TIMESTAMP NOT NULL,
    created_by     TEXT NOT NULL,
    PRIMARY KEY (org_id, urn_ci)
);
-- Bumped with every registration and removal: each node compares it with the version of the
-- org's schemas it holds on every request (the token check's statement), and reloads them when
-- it differs, so a registration holds on every node from the next request on.
ALTER TABLE orgs ADD COLUMN schema_version BIGINT NOT NULL DEFAULT 0;
-- The string values of users' extension attributes, one row per value (a multi-valued
-- attribute's each value; a complex one's sub-attributes as `attr.sub`), mirrored from the
-- JSON resource on every write, so that a filter on one (`urn:…:costCode eq "X"`) is an index
-- lookup instead of a scan of the org. `attr` is `<URN>:<attribute>[.<sub>]` in lower case.
CREATE TABLE user_extension_values (
    id        BIGSERIAL PRIMARY KEY,
    user_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    org_id    TEXT NOT NULL,
    attr      TEXT NOT NULL,
    value     TEXT NOT NULL,
    value_ci  TEXT NOT NULL
);
CREATE INDEX user_extension_values_user ON user_extension_values (user_id);
-- text_pattern_ops: the index serves `sw` (value_ci LIKE 'x%') as well as `eq`.
CREATE INDEX user_extension_values_lookup ON user_extension_values (org_id, attr, value_ci text_pattern_ops);
