-- An admin's hold on a deactivated user (docs/admin-api.md, "Who decides"): while held_at is
-- set, no SCIM request may reactivate the user; only an admin's release or activation lifts it.
ALTER TABLE users ADD COLUMN held_at TIMESTAMP;
ALTER TABLE users ADD COLUMN held_by TEXT;
ALTER TABLE users ADD COLUMN hold_reason TEXT;
-- The admin list's `held=true`: held users are few.
CREATE INDEX users_org_held ON users (org_id, id) WHERE held_at IS NOT NULL;
