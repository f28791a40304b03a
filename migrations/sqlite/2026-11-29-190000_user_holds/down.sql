DROP INDEX users_org_held;
ALTER TABLE users DROP COLUMN hold_reason;
ALTER TABLE users DROP COLUMN held_by;
ALTER TABLE users DROP COLUMN held_at;
