-- Security Event Token subscriptions (docs/events.md, format "set"): the format is allowed, and
-- a subscription may name the `aud` of its SETs (NULL: the receiver URL). A `set` subscription
-- has no webhook secret: its SETs are signed with roster's own key; `secret` is '' for it.
--
-- SQLite cannot change a CHECK constraint: both tables are rebuilt. Connections run with
-- foreign_keys on (a pragma a transaction cannot change), so the order matters: the copies
-- first, the old deliveries dropped before their subscriptions (dropping a parent with children
-- would cascade), then the renames.
CREATE TABLE event_subscriptions_new (
    id               TEXT PRIMARY KEY NOT NULL,
    org_id           TEXT NOT NULL REFERENCES orgs (id),
    url              TEXT NOT NULL,
    format           TEXT NOT NULL CHECK (format IN ('webhook', 'set')),
    -- Space-separated event types; NULL: every type.
    events           TEXT,
    description      TEXT,
    secret           TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('active', 'disabled')),
    disabled_reason  TEXT,
    disabled_at      TIMESTAMP,
    -- First failure of the current run of failures; NULL while deliveries succeed.
    failing_since    TIMESTAMP,
    created_at       TIMESTAMP NOT NULL,
    -- The delivery worker that holds the subscription, and until when.
    lease_owner      TEXT,
    lease_until      TIMESTAMP,
    -- The `aud` of a `set` subscription's SETs; NULL: the receiver URL.
    audience         TEXT
);
INSERT INTO event_subscriptions_new (id, org_id, url, format, events, description, secret, status, disabled_reason, disabled_at, failing_since, created_at, lease_owner, lease_until)
    SELECT id, org_id, url, format, events, description, secret, status, disabled_reason, disabled_at, failing_since, created_at, lease_owner, lease_until FROM event_subscriptions;
CREATE TABLE event_deliveries_new (
    id                INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    subscription_id   TEXT NOT NULL REFERENCES event_subscriptions_new (id) ON DELETE CASCADE,
    org_id            TEXT NOT NULL,
    -- The `webhook-id`: fixed at enqueue, the same on every attempt.
    event_id          TEXT NOT NULL,
    event_type        TEXT NOT NULL,
    -- The exact bytes sent, so that every attempt signs and sends the same body.
    body              TEXT NOT NULL,
    created_at        TIMESTAMP NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('pending', 'delivered')),
    attempts          INTEGER NOT NULL,
    next_attempt_at   TIMESTAMP NOT NULL,
    last_attempt_at   TIMESTAMP,
    last_status       INTEGER,
    last_error        TEXT,
    response_excerpt  TEXT,
    delivered_at      TIMESTAMP
);
INSERT INTO event_deliveries_new (id, subscription_id, org_id, event_id, event_type, body, created_at, status, attempts, next_attempt_at, last_attempt_at, last_status, last_error, response_excerpt, delivered_at)
    SELECT id, subscription_id, org_id, event_id, event_type, body, created_at, status, attempts, next_attempt_at, last_attempt_at, last_status, last_error, response_excerpt, delivered_at FROM event_deliveries;
DROP TABLE event_deliveries;
DROP TABLE event_subscriptions;
-- Renaming the parent rewrites the deliveries' foreign key to the new name.
ALTER TABLE event_subscriptions_new RENAME TO event_subscriptions;
ALTER TABLE event_deliveries_new RENAME TO event_deliveries;
CREATE INDEX event_subscriptions_org ON event_subscriptions (org_id);
CREATE INDEX event_deliveries_subscription ON event_deliveries (subscription_id, id);
CREATE INDEX event_deliveries_pending ON event_deliveries (subscription_id, id) WHERE status = 'pending';
