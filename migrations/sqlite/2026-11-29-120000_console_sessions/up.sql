-- Admin console sessions (docs/console.md). Only the SHA-256 of the session id is stored, so a
-- copy of the database opens no session. Every session stands on a token (`token_jti`, and the
-- admin `admin_sub` when the token acts as a user): it ends when that token is revoked or that
-- admin deactivated, the same rule as the token itself.
CREATE TABLE console_sessions (
    id_hash       TEXT PRIMARY KEY NOT NULL,
    org_id        TEXT NOT NULL REFERENCES orgs (id),
    admin_sub     TEXT,
    token_jti     TEXT NOT NULL,
    csrf_token    TEXT NOT NULL,
    created_at    TIMESTAMP NOT NULL,
    last_seen_at  TIMESTAMP NOT NULL,
    -- Idle expiry, moved forward as the session is used; never past `expires_at`.
    idle_expires_at TIMESTAMP NOT NULL,
    -- Absolute expiry, fixed at sign-in.
    expires_at    TIMESTAMP NOT NULL
);
CREATE INDEX console_sessions_expires ON console_sessions (expires_at);

-- One-time sign-in links printed by `roster console-link`: stored hashed, single use, short-lived.
-- `jti` names the session's standing: `roster token revoke <jti>` ends the sessions it opened.
CREATE TABLE console_links (
    id_hash     TEXT PRIMARY KEY NOT NULL,
    org_id      TEXT NOT NULL REFERENCES orgs (id),
    jti         TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    expires_at  TIMESTAMP NOT NULL,
    used_at     TIMESTAMP
);

-- The console's audit log page reads an org's newest events first, by action or channel.
CREATE INDEX audit_events_org_id ON audit_events (org_id, id);
