DELETE FROM event_deliveries WHERE subscription_id IN
    (SELECT id FROM event_subscriptions WHERE format = 'set');
DELETE FROM event_subscriptions WHERE format = 'set';
ALTER TABLE event_subscriptions DROP COLUMN audience;
ALTER TABLE event_subscriptions DROP CONSTRAINT event_subscriptions_format_check;
ALTER TABLE event_subscriptions ADD CONSTRAINT event_subscriptions_format_check
    CHECK (format IN ('webhook'));
