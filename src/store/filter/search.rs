//! The admin list's text search (the console's Manage users search box): `text` anywhere in
//! userName, displayName or an e-mail address, ignoring case. The comparison is `LIKE '%…%'`
//! on the folded columns (`users.user_name_ci` against the caseless key of `text`,
//! `lower(users.display_name)` and `user_emails.value_ci` against `text` in lower case), written
//! so that an index finds the candidates instead of a scan of the org:
//!
//! - PostgreSQL: a union of the three conditions (the same `LIKE`s, so the same users), each a
//!   page of its own: the page's filters (status, hold, cursor), in id order, at most the
//!   page's rows. The planner picks per arm between its pg_trgm GIN index (migration
//!   `2026-11-29-170000_user_search`), which collects every match and sorts them, and a walk in
//!   id order that stops at the page's last match. It picks by the `LIKE`'s estimated
//!   selectivity, read from the column's statistics (`lower(display_name)` has its own, from
//!   its index): for a common text (`hopper`, 1 user in 6 at 100,000) the walk reads about
//!   300 rows instead of 16,667 (`EXPLAIN ANALYZE`: 5 ms instead of 50). Two conditions:
//!   statistics (without them, as in a table loaded before autovacuum came by or with
//!   autovacuum off, every `LIKE` looks rare and every arm takes its index, hence
//!   [`crate::store::import::analyze`] after a load), and a plan made for the patterns, not a
//!   generic one ([`Part::PlanPerValues`]). Left as is: a text common overall whose matches
//!   are all recent (`user09`, the newest 10,000 of 100,000) is walked from the first id, some
//!   90,000 rows (docs/performance.md).
//! - SQLite: the FTS5 trigram tables of that migration find the candidates (a phrase query is
//!   a substring match of 3 characters or more), and the `LIKE`s are checked on them. A text
//!   shorter than 3 characters (after folding) has no trigram: it is matched by the `LIKE`s
//!   alone, a scan in id order that stops at the page's last row.

use super::sql::{Part, SqlBool, budget_check, escape_like};
use crate::store::caseless::user_name_key;

/// The shortest text the SQLite trigram tables can find, in characters.
pub const TRIGRAM: usize = 3;

/// `text` as an FTS5 phrase: in double quotes, a double quote doubled.
fn phrase(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

/// The page a search is for: the rest of its query, repeated in each arm of the union.
#[derive(Debug, Clone, Copy)]
pub struct Page<'a> {
    /// `Some(true)`: active users only; `Some(false)`: deactivated only.
    pub active: Option<bool>,
    /// `Some(true)`: users on hold only; `Some(false)`: users not on hold only.
    pub held: Option<bool>,
    /// Only users with an id after this one.
    pub after: Option<&'a str>,
    /// Users on the page.
    pub limit: i64,
}

impl Page<'_> {
    /// Whether the page filters on a user's columns (status, hold) besides its id.
    fn filters_users(&self) -> bool {
        self.active.is_some() || self.held.is_some()
    }
}

/// The page's filters on the user `u` (status, hold, cursor), each ` AND …`.
fn user_filters(out: &mut SqlBool, page: Page<'_>) {
    // Keywords rather than bound values, so the partial indexes on inactive and on held users
    // apply.
    match page.active {
        Some(true) => out.push(" AND u.active"),
        Some(false) => out.push(" AND NOT u.active"),
        None => {}
    }
    match page.held {
        Some(true) => out.push(" AND u.held_at IS NOT NULL"),
        Some(false) => out.push(" AND u.held_at IS NULL"),
        None => {}
    }
    if let Some(after) = page.after {
        out.push(" AND u.id > ");
        out.bind(after);
    }
}

/// An arm's order and limit: `id` in order, at most the page's users.
fn order_limit(out: &mut SqlBool, id: &'static str, page: Page<'_>) {
    out.push(" ORDER BY ");
    out.push(id);
    // A number this code computed, not text from a request.
    out.owned(format!(" LIMIT {}", page.limit.max(1)));
}

/// The condition on `users` for `page`'s users matching `text` (scoped with
/// [`SqlBool::for_org`]); the caller applies `page` to the query as well.
pub fn text_search(text: &str, page: Page<'_>) -> SqlBool {
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

    // Each arm is a page of its own (the page's filters, in id order, at most `page.limit`):
    // the page's users are among the union of the arms' pages, and the planner picks per arm
    // between its trigram index (few matches) and a walk in id order that stops at the limit
    // (many matches).
    let mut pg = SqlBool::default();
    // Planned for its patterns each time: a generic plan (kept after five runs on a connection
    // when its estimate is the cheaper) takes every `LIKE $n` for 1 row in 200 and walks each
    // arm in id order, reading all 100,000 users for a text that few match (`user099999`:
    // 250 ms instead of 20).
    pg.0.push(Part::PlanPerValues);
    pg.push("users.id IN ((SELECT u.id FROM users u WHERE u.org_id = ");
    pg.0.push(Part::Org);
    pg.push(" AND u.user_name_ci LIKE ");
    pg.bind(key_pattern);
    pg.push(" ESCAPE '\\'");
    user_filters(&mut pg, page);
    order_limit(&mut pg, "u.id", page);
    pg.push(") UNION ALL (SELECT u.id FROM users u WHERE u.org_id = ");
    pg.0.push(Part::Org);
    pg.push(" AND lower(u.display_name) LIKE ");
    pg.bind(lower_pattern.clone());
    pg.push(" ESCAPE '\\'");
    user_filters(&mut pg, page);
    order_limit(&mut pg, "u.id", page);
    pg.push(") UNION ALL (SELECT DISTINCT e.user_id FROM user_emails e WHERE e.org_id = ");
    pg.0.push(Part::Org);
    pg.push(" AND e.value_ci LIKE ");
    pg.bind(lower_pattern);
    pg.push(" ESCAPE '\\'");
    if let Some(after) = page.after {
        pg.push(" AND e.user_id > ");
        pg.bind(after);
    }
    if page.filters_users() {
        // The cursor again on the user: PostgreSQL does not carry `e.user_id > …` over to
        // `u.id` (only equalities), and joined in id order the check would read the org's
        // users from the first (50,000 rows for a 2-character text, active users, the middle
        // page: 21 ms; with the cursor here 0.7 ms).
        pg.push(" AND EXISTS (SELECT 1 FROM users u WHERE u.id = e.user_id");
        user_filters(&mut pg, page);
        pg.push(")");
    }
    order_limit(&mut pg, "e.user_id", page);
    pg.push("))");

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

    // On SQLite, bounded by the query budget (ROSTER_QUERY_TIMEOUT) as a filter's scan is: a
    // text shorter than a trigram is a scan.
    let mut out = SqlBool::default();
    out.0.push(budget_check());
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
