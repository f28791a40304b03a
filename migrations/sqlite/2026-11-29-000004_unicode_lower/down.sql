-- roster's connections replace lower() with a Unicode-aware one (src/store/lower.rs): rebuild
-- the expression indexes built with SQLite's ASCII-only lower().
REINDEX users_org_display_name_lower;
REINDEX user_phone_numbers_value_lower;
