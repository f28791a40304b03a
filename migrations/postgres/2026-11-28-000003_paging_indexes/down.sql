DROP INDEX groups_org_id;
DROP INDEX users_org_id;
