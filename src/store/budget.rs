//! The time budget of a scanning read on SQLite.
//!
//! SQLite has no statement timeout, and diesel offers neither `sqlite3_progress_handler` nor
//! `sqlite3_interrupt` (and this crate forbids `unsafe`). So every SQLite connection gets an SQL
//! function, `roster_within_budget()`, that the filter translation puts first in the `WHERE`
//! clause of the queries that scan ([`super::filter::translate`]): SQLite evaluates it for every
//! row the query visits, and once the deadline of the read running on this thread has passed it
//! fails, which ends the statement with an error. [`Budget::start`] sets the deadline before a
//! read and [`Budget::spent`] tells afterwards whether the function ended it, so that the caller
//! answers `tooMany` (the same as PostgreSQL's `statement_timeout`) instead of a 500.
//!
//! The deadline is thread-local: a read runs on one thread from its first statement to its last,
//! and the function runs on the thread that steps the statement. Reads started without a budget
//! (point reads, the writer thread) see no deadline and are never stopped.

use std::cell::Cell;
use std::time::{Duration, Instant};

use diesel::serialize::{self, IsNull, Output, ToSql};
use diesel::sql_types::Bool;
use diesel::sqlite::{Sqlite, SqliteConnection};

use crate::clock;

/// The SQL text of the check, for the filter translation.
pub(crate) const CHECK_SQL: &str = "roster_within_budget()";

/// Rows between two readings of the clock: reading it costs about as much as visiting a row.
const ROWS_PER_CLOCK_READ: u32 = 64;

thread_local! {
    static DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
    static SPENT: Cell<bool> = const { Cell::new(false) };
    static ROWS: Cell<u32> = const { Cell::new(0) };
}

diesel::define_sql_function! {
    /// True while the read running on this thread is within its time budget; an error after.
    fn roster_within_budget() -> Bool;
}

/// What the check answers SQLite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    Within,
    Spent,
}

/// The error that ends an over-budget statement (its text is SQLite's error message).
#[derive(Debug, thiserror::Error)]
#[error("roster: the query ran past its time budget")]
struct OverBudget;

impl ToSql<Bool, Sqlite> for Check {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        match self {
            Check::Within => {
                out.set_value(1_i32);
                Ok(IsNull::No)
            }
            Check::Spent => Err(Box::new(OverBudget)),
        }
    }
}

fn check() -> Check {
    let Some(deadline) = DEADLINE.with(Cell::get) else {
        return Check::Within;
    };
    if SPENT.with(Cell::get) {
        return Check::Spent;
    }
    let rows = ROWS.with(|r| {
        let n = r.get().wrapping_add(1);
        r.set(n);
        n
    });
    if !rows.is_multiple_of(ROWS_PER_CLOCK_READ) || clock::monotonic() < deadline {
        return Check::Within;
    }
    SPENT.with(|s| s.set(true));
    Check::Spent
}

/// Registers `roster_within_budget()` on a new SQLite connection: nondeterministic, so that
/// SQLite calls it for every row rather than once per statement.
pub(crate) fn register(conn: &SqliteConnection) -> diesel::QueryResult<()> {
    roster_within_budget_utils::register_nondeterministic_impl(conn, check)
}

/// The budget of the read running on this thread; cleared when dropped.
#[derive(Debug)]
pub(crate) struct Budget(());

impl Budget {
    /// Gives the reads this thread runs from now on `limit` of time.
    pub(crate) fn start(limit: Duration) -> Budget {
        let deadline = clock::monotonic().checked_add(limit);
        DEADLINE.with(|d| d.set(deadline));
        SPENT.with(|s| s.set(false));
        ROWS.with(|r| r.set(0));
        Budget(())
    }

    /// Whether `roster_within_budget()` stopped a statement since [`Budget::start`].
    pub(crate) fn spent(&self) -> bool {
        SPENT.with(Cell::get)
    }
}

impl Drop for Budget {
    fn drop(&mut self) {
        DEADLINE.with(|d| d.set(None));
        SPENT.with(|s| s.set(false));
    }
}

#[cfg(test)]
mod tests {
    use diesel::prelude::*;

    use super::*;

    fn conn() -> SqliteConnection {
        let conn = SqliteConnection::establish(":memory:").unwrap();
        register(&conn).unwrap();
        conn
    }

    /// Counts to `n` through a recursive CTE, checking the budget on every row.
    fn count(conn: &mut SqliteConnection, n: i64) -> QueryResult<i64> {
        #[derive(QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        diesel::sql_query(format!(
            "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < {n}) \
             SELECT count(*) AS n FROM r WHERE {CHECK_SQL}"
        ))
        .get_result::<Count>(conn)
        .map(|c| c.n)
    }

    #[test]
    fn a_read_without_a_budget_is_never_stopped() {
        let mut conn = conn();
        assert_eq!(count(&mut conn, 10_000).unwrap(), 10_000);
    }

    #[test]
    fn a_read_past_its_budget_is_stopped_and_the_connection_lives_on() {
        let mut conn = conn();
        let budget = Budget::start(Duration::ZERO);
        let err = count(&mut conn, 1_000_000).unwrap_err();
        assert!(budget.spent(), "{err}");
        assert!(err.to_string().contains("time budget"), "{err}");
        drop(budget);
        assert_eq!(count(&mut conn, 100).unwrap(), 100);
        let budget = Budget::start(Duration::from_secs(60));
        assert_eq!(count(&mut conn, 1000).unwrap(), 1000);
        assert!(!budget.spent());
    }
}
