-- Settings of the store itself, one row per name.
-- `name_key_version`: the version of the caseless key rule (src/scim/caseless.rs) that computed
-- users.user_name_ci and groups.display_name_ci. Keys can only be computed in Rust, so the
-- re-keying runs at start, after the migrations (src/store/rekey.rs); the keys existing before
-- this migration were computed by version 1.
CREATE TABLE settings (
    name   TEXT PRIMARY KEY NOT NULL,
    value  TEXT NOT NULL
);
INSERT INTO settings (name, value) VALUES ('name_key_version', '1');
