-- Listings are scoped by org and ordered by id: with these, a page walks the index instead of
-- sorting every row of the organization (with its JSON) to find it.
CREATE INDEX users_org_id ON users (org_id, id);
CREATE INDEX groups_org_id ON groups (org_id, id);
