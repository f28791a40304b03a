-- externalId is not unique (RFC 7643 §3.1): several resources of an org may share one.
-- Kept indexed on (org_id, external_id) for `externalId eq` lookups and filters.
DROP INDEX users_org_external_id;
CREATE INDEX users_org_external_id ON users (org_id, external_id);
DROP INDEX groups_org_external_id;
CREATE INDEX groups_org_external_id ON groups (org_id, external_id);
