//! SQLite's `lower()`, made Unicode-aware.
//!
//! SQLite's built-in `lower()` folds ASCII letters only, so `name.familyName eq "ΣΟΦΊΑ"` missed a
//! stored `σοφία` on SQLite while PostgreSQL (whose `lower()` follows the database's locale) and
//! the in-memory evaluator ([`crate::scim::filter`]) found it. Every SQLite connection roster
//! opens replaces `lower(X)` with Rust's [`str::to_lowercase`] (Unicode's default lower-case
//! mapping), so the same filter selects the same users on both backends and in the evaluator.
//!
//! The function is deterministic, so SQLite still uses the expression indexes built on it
//! (`users_org_display_name_lower`, `user_phone_numbers_value_lower`); the migration
//! `2026-11-29-000004_unicode_lower` rebuilt them with it. Because those indexes now hold Rust's
//! lower-case forms, the database must only be written by roster (any tool that writes those
//! tables without this function would store index entries that disagree with it).

use diesel::sql_types::{Nullable, Text};
use diesel::sqlite::SqliteConnection;

diesel::define_sql_function! {
    /// `X` in lower case by Unicode's default mapping; NULL stays NULL.
    fn lower(text: Nullable<Text>) -> Nullable<Text>;
}

/// Replaces SQLite's `lower(X)` on a new connection.
pub(crate) fn register(conn: &mut SqliteConnection) -> diesel::QueryResult<()> {
    lower_utils::register_impl(conn, |text: Option<String>| text.map(|t| t.to_lowercase()))
}

#[cfg(test)]
mod tests {
    use diesel::prelude::*;

    #[derive(QueryableByName)]
    struct Folded {
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
        folded: Option<String>,
    }

    #[test]
    fn lower_folds_all_of_unicode_and_keeps_null() {
        let mut conn = SqliteConnection::establish(":memory:").unwrap();
        let fold = |conn: &mut SqliteConnection, sql: &str| {
            diesel::sql_query(sql)
                .get_result::<Folded>(conn)
                .unwrap()
                .folded
        };
        // The built-in folds ASCII only.
        assert_eq!(
            fold(&mut conn, "SELECT lower('ΣΟΦΊΑ Ünal ADA') AS folded").as_deref(),
            Some("ΣΟΦΊΑ Ünal ada")
        );
        super::register(&mut conn).unwrap();
        assert_eq!(
            fold(&mut conn, "SELECT lower('ΣΟΦΊΑ Ünal ADA') AS folded").as_deref(),
            Some("σοφία ünal ada")
        );
        assert_eq!(fold(&mut conn, "SELECT lower(NULL) AS folded"), None);
        assert_eq!(
            fold(&mut conn, "SELECT lower(42) AS folded").as_deref(),
            Some("42")
        );
    }
}
