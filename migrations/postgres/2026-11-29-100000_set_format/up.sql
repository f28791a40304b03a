-- Security Event Token subscriptions (docs/events.md, format "set"): the format is allowed, and
-- a subscription may name the `aud` of its SETs (NULL: the receiver URL). A `set` subscription
-- has no webhook secret: its SETs are signed with roster's own key; `secret` is '' for it.
ALTER TABLE event_subscriptions DROP CONSTRAINT event_subscriptions_format_check;
ALTER TABLE event_subscriptions ADD CONSTRAINT event_subscriptions_format_check
    CHECK (format IN ('webhook', 'set'));
ALTER TABLE event_subscriptions ADD COLUMN audience TEXT;
