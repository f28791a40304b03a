-- Fails if two resources of an org share an externalId: resolve those first.
DROP INDEX groups_org_external_id;
CREATE UNIQUE INDEX groups_org_external_id ON groups (org_id, external_id);
DROP INDEX users_org_external_id;
CREATE UNIQUE INDEX users_org_external_id ON users (org_id, external_id);
