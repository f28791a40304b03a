-- The console's user search (store::filter::search): a case-insensitive substring of userName,
-- displayName or an e-mail address, as a union of three `LIKE '%…%'`s, each served by a
-- trigram GIN index. users_user_name_ci_trgm and user_emails_value_ci_trgm exist since
-- 2026-11-28-000002_query_indexes (for `co`/`sw`/`ew` filters); this adds displayName's.
-- pg_trgm ships with PostgreSQL (contrib) and is a trusted extension (PostgreSQL 13+).
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX users_display_name_lower_trgm ON users USING gin (lower(display_name) gin_trgm_ops);
