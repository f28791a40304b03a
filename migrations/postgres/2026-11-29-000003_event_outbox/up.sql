-- Lifecycle event subscriptions of an org (docs/events.md). The signing secret is stored as
-- issued: roster needs it to sign every delivery.
CREATE TABLE event_subscriptions (
    id               TEXT PRIMARY KEY,
    org_id           TEXT NOT NULL REFERENCES orgs (id),
    url              TEXT NOT NULL,
    format           TEXT NOT NULL CHECK (format IN ('webhook')),
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
    lease_until      TIMESTAMP
);
CREATE INDEX event_subscriptions_org ON event_subscriptions (org_id);

-- The outbox: one row per event and subscription, written in the transaction of the change.
-- `id` is the delivery order of a subscription.
CREATE TABLE event_deliveries (
    id                BIGSERIAL PRIMARY KEY,
    subscription_id   TEXT NOT NULL REFERENCES event_subscriptions (id) ON DELETE CASCADE,
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
CREATE INDEX event_deliveries_subscription ON event_deliveries (subscription_id, id);
CREATE INDEX event_deliveries_pending ON event_deliveries (subscription_id, id) WHERE status = 'pending';
