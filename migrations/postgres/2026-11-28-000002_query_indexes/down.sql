DROP INDEX IF EXISTS group_members_member_id;
DROP INDEX IF EXISTS user_phone_numbers_value_lower;
DROP INDEX IF EXISTS user_emails_value_ci_trgm;
DROP INDEX IF EXISTS user_emails_value_ci;
DROP INDEX IF EXISTS users_user_name_ci_trgm;
DROP INDEX IF EXISTS users_org_display_name_lower;
