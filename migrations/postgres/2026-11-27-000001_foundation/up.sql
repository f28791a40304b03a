-- Tenants. The slug is the tenant key carried in every token (`org` claim).
CREATE TABLE orgs (
    id          TEXT PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    name        TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL
);
INSERT INTO orgs (id, name, created_at) VALUES ('default', 'Default organization', now() AT TIME ZONE 'UTC');

-- Users: hot attributes as columns, the full resource (canonical SCIM JSON without id/meta/password) as jsonb.
CREATE TABLE users (
    id              TEXT PRIMARY KEY,
    org_id          TEXT NOT NULL REFERENCES orgs (id),
    user_name       TEXT NOT NULL,
    -- userName case-folded in Rust (Unicode-aware), the key of per-org uniqueness.
    user_name_ci    TEXT NOT NULL,
    external_id     TEXT,
    display_name    TEXT,
    active          BOOLEAN NOT NULL,
    resource        JSONB NOT NULL,
    password_hash   TEXT,
    version         BIGINT NOT NULL,
    created_at      TIMESTAMP NOT NULL,
    last_modified   TIMESTAMP NOT NULL,
    deactivated_at  TIMESTAMP,
    deactivated_by  TEXT,
    deactivated_via TEXT CHECK (deactivated_via IN ('scim', 'admin'))
);
CREATE UNIQUE INDEX users_org_user_name_ci ON users (org_id, user_name_ci);
CREATE UNIQUE INDEX users_org_external_id ON users (org_id, external_id);
CREATE INDEX users_org_display_name ON users (org_id, display_name);
CREATE INDEX users_org_created ON users (org_id, created_at);
CREATE INDEX users_org_last_modified ON users (org_id, last_modified);
CREATE INDEX users_org_inactive ON users (org_id, id) WHERE NOT active;

-- Multi-valued attributes that connectors filter on, mirrored from the resource JSON.
CREATE TABLE user_emails (
    id          BIGSERIAL PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    org_id      TEXT NOT NULL,
    value       TEXT NOT NULL,
    value_ci    TEXT NOT NULL,
    type        TEXT,
    is_primary  BOOLEAN NOT NULL
);
CREATE INDEX user_emails_user ON user_emails (user_id);
CREATE INDEX user_emails_org_value ON user_emails (org_id, value_ci);

CREATE TABLE user_phone_numbers (
    id          BIGSERIAL PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    org_id      TEXT NOT NULL,
    value       TEXT NOT NULL,
    type        TEXT,
    is_primary  BOOLEAN NOT NULL
);
CREATE INDEX user_phone_numbers_user ON user_phone_numbers (user_id);
CREATE INDEX user_phone_numbers_org_value ON user_phone_numbers (org_id, value);

-- Token ids (`jti`) refused from now on.
CREATE TABLE revoked_tokens (
    jti         TEXT PRIMARY KEY,
    revoked_at  TIMESTAMP NOT NULL
);

-- Append-only audit log, written in the same transaction as the change it records.
CREATE TABLE audit_events (
    id           BIGSERIAL PRIMARY KEY,
    org_id       TEXT NOT NULL REFERENCES orgs (id),
    occurred_at  TIMESTAMP NOT NULL,
    actor        TEXT NOT NULL,
    channel      TEXT NOT NULL CHECK (channel IN ('scim', 'admin', 'cli')),
    action       TEXT NOT NULL,
    target_type  TEXT NOT NULL,
    target_id    TEXT NOT NULL,
    attributes   JSONB NOT NULL,
    detail       JSONB
);
CREATE INDEX audit_events_org_target ON audit_events (org_id, target_id, id);
