-- Nothing to do on PostgreSQL: its lower() already folds beyond ASCII (by the database's
-- locale). The SQLite migration of the same name rebuilds the indexes on lower().
SELECT 1;
