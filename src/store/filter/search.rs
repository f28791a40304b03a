//! The admin list's text search (the console's Manage users search box): `text` anywhere in
//! userName, displayName or an e-mail address, ignoring case. The comparison is `LIKE '%…%'`
//! on the folded columns (`users.user_name_ci` against the caseless key of `text`,
//! `lower(users.display_name)` and `user_emails.value_ci` against `text` in lower case), written
//! so that an index finds the candidates instead of a scan of the org:
//!
//! - PostgreSQL: a union of the three conditions, each served by its pg_trgm GIN index
//!   (migration `2026-11-29-170000_user_search`); the same `LIKE`s, so the same users.
//! - SQLite: the FTS5 trigram tables of that migration find the candidates (a phrase query is
//!   a substring match of 3 characters or more), and the `LIKE`s are checked on them. A text
//!   shorter than 3 characters (after folding) has no trigram: it is matched by the `LIKE`s
//!   alone, a scan in id order that stops at the page's last row.

use super::sql::{Part, SqlBool, escape_like};
use crate::store::caseless::user_name_key;

/// The shortest text the SQLite trigram tables can find, in characters.
pub const TRIGRAM: usize = 3;

/// `text` as an FTS5 phrase: in double quotes, a double quote doubled.
fn phrase(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

/// The condition on `users` (scoped with [`SqlBool::for_org`]).
pub fn text_search(text: &str) -> SqlBool {
    let key = user_name_key(text);
    let lower = text.to_lowercase();
    let key_pattern = format!("%{}%", escape_like(&key));
    let lower_pattern = format!("%{}%", escape_like(&lower));

    // The exact condition, as both backends compare.
    let mut like = SqlBool::default();
    like.push("users.user_name_ci LIKE ");
    like.bind(key_pattern.clone());
    like.push(" ESCAPE '\\' OR lower(users.display_name) LIKE ");
    like.bind(lower_pattern.clone());
    like.push(
        " ESCAPE '\\' OR EXISTS (SELECT 1 FROM user_emails e WHERE e.org_id = users.org_id \
         AND e.user_id = users.id AND e.value_ci LIKE ",
    );
    like.bind(lower_pattern.clone());
    like.push(" ESCAPE '\\')");

    let mut pg = SqlBool::default();
    pg.push("users.id IN (SELECT u.id FROM users u WHERE u.org_id = ");
    pg.0.push(Part::Org);
    pg.push(" AND u.user_name_ci LIKE ");
    pg.bind(key_pattern);
    pg.push(" ESCAPE '\\' UNION ALL SELECT u.id FROM users u WHERE u.org_id = ");
    pg.0.push(Part::Org);
    pg.push(" AND lower(u.display_name) LIKE ");
    pg.bind(lower_pattern.clone());
    pg.push(" ESCAPE '\\' UNION ALL SELECT e.user_id FROM user_emails e WHERE e.org_id = ");
    pg.0.push(Part::Org);
    pg.push(" AND e.value_ci LIKE ");
    pg.bind(lower_pattern);
    pg.push(" ESCAPE '\\')");

    let mut sqlite = SqlBool::default();
    if key.chars().count() >= TRIGRAM && lower.chars().count() >= TRIGRAM {
        sqlite.push(
            "users.id IN (SELECT k.user_id FROM user_search_keys k WHERE k.key IN \
             (SELECT rowid FROM user_name_search WHERE user_name_search MATCH ",
        );
        sqlite.bind(format!(
            "name_key : {} OR display_lower : {}",
            phrase(&key),
            phrase(&lower)
        ));
        sqlite.push(") UNION ALL SELECT e.user_id FROM user_emails e WHERE e.org_id = ");
        sqlite.0.push(Part::Org);
        sqlite.push(
            " AND e.id IN (SELECT rowid FROM user_email_search WHERE user_email_search MATCH ",
        );
        sqlite.bind(phrase(&lower));
        sqlite.push(")) AND (");
        sqlite.append(like);
        sqlite.push(")");
    } else {
        sqlite.append(like);
    }

    let mut out = SqlBool::default();
    out.dialect(pg, sqlite);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phrases_quote_and_double_quotes() {
        assert_eq!(phrase("ada"), "\"ada\"");
        assert_eq!(phrase("a\"b"), "\"a\"\"b\"");
    }
}
