-- Tokens minted by roster (the admin API or `roster token create`), so that an org admin can
-- list, rotate and revoke them (docs/admin-api.md, "Tokens"). The token itself is never stored:
-- it is shown once. Whether a token is refused is decided by `revoked_tokens`, as for every
-- token; `revoked_at` there may lie in the future: the end of a rotation's overlap.
CREATE TABLE api_tokens (
    jti           TEXT PRIMARY KEY NOT NULL,
    org_id        TEXT NOT NULL REFERENCES orgs (id),
    name          TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('provisioner', 'admin')),
    subject       TEXT,
    created_at    TIMESTAMP NOT NULL,
    -- The admin's `sub` (else the token's `jti`) or `cli`.
    created_by    TEXT NOT NULL,
    expires_at    TIMESTAMP,
    -- To the minute; written at most once a minute per token and node, batched.
    last_used_at  TIMESTAMP,
    -- The token that replaced this one by a rotation.
    rotated_to    TEXT
);
CREATE INDEX api_tokens_org ON api_tokens (org_id, created_at);

-- An org's own rate limit, in place of ROSTER_RATE_LIMIT_PER_SECOND / _BURST.
CREATE TABLE org_rate_limits (
    org_id      TEXT PRIMARY KEY NOT NULL REFERENCES orgs (id),
    per_second  INTEGER NOT NULL CHECK (per_second > 0),
    burst       INTEGER NOT NULL CHECK (burst > 0),
    updated_at  TIMESTAMP NOT NULL,
    updated_by  TEXT NOT NULL
);

-- The SCIM request log (docs/admin-api.md, "SCIM request log"): SCIM requests that failed or
-- changed something. Never a value: the path without its query, attribute names of the body.
CREATE TABLE scim_requests (
    id           INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    org_id       TEXT NOT NULL,
    occurred_at  TIMESTAMP NOT NULL,
    token_jti    TEXT NOT NULL,
    method       TEXT NOT NULL,
    path         TEXT NOT NULL,
    status       INTEGER NOT NULL,
    scim_type    TEXT,
    duration_us  BIGINT NOT NULL,
    resource_id  TEXT,
    -- JSON array of attribute names (and PATCH `op path` pairs); never values.
    body_summary TEXT,
    request_id   TEXT
);
CREATE INDEX scim_requests_org ON scim_requests (org_id, id);
CREATE INDEX scim_requests_occurred ON scim_requests (occurred_at);
