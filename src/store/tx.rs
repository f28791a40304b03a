//! Transactions: savepoints, reads (bounded or not) and writes, on either backend.

use std::time::Duration;

use diesel::connection::{
    AnsiTransactionManager, Connection, SimpleConnection, TransactionDepthChange,
    TransactionManager, TransactionManagerStatus,
};
use diesel::prelude::*;
use diesel::result::Error as DieselError;

use super::error::*;
use super::{DbConnection, budget};

/// Runs `f` inside `SAVEPOINT roster_tx`: released on `Ok`, rolled back to on `Err`. The
/// statements are prepared once and kept (diesel's own savepoints are parsed anew each time, a
/// cost every write paid twice in the SQLite writer). Savepoints of one name stack, so these
/// nest. They are invisible to diesel's transaction depth, which is why [`write_tx`] decides
/// "nested or not" from that depth alone: only a transaction diesel opened counts.
pub(super) fn in_savepoint<T, E, F>(conn: &mut DbConnection, f: F) -> Result<T, E>
where
    E: From<DieselError>,
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
{
    savepoint(conn)?;
    match f(conn) {
        Ok(value) => {
            end_savepoint(conn, true)?;
            Ok(value)
        }
        Err(e) => {
            if let Err(rollback) = end_savepoint(conn, false) {
                tracing::error!(error = %rollback, "rolling back to a savepoint failed");
                return Err(E::from(rollback));
            }
            Err(e)
        }
    }
}

/// Opens a `roster_tx` savepoint (see [`in_savepoint`]).
pub(crate) fn savepoint(conn: &mut DbConnection) -> QueryResult<()> {
    execute_plain(conn, "SAVEPOINT roster_tx")
}

/// Ends the innermost `roster_tx` savepoint: released when `keep`, else rolled back to and
/// released, so the enclosing transaction is as it was before [`savepoint`].
pub(crate) fn end_savepoint(conn: &mut DbConnection, keep: bool) -> QueryResult<()> {
    if !keep {
        execute_plain(conn, "ROLLBACK TO roster_tx")?;
    }
    execute_plain(conn, "RELEASE roster_tx")
}

/// How deep the connection is in transactions diesel opened (0: none); an error when diesel
/// considers its transaction state broken.
pub(crate) fn transaction_depth(conn: &mut DbConnection) -> QueryResult<u32> {
    let depth = transaction_status(conn).transaction_depth()?;
    Ok(depth.map_or(0, std::num::NonZeroU32::get))
}

/// Diesel's record of the connection's transactions (its depth, or broken).
pub(super) fn transaction_status(conn: &mut DbConnection) -> &mut TransactionManagerStatus {
    match conn {
        DbConnection::Sqlite(c) => AnsiTransactionManager::transaction_manager_status_mut(c),
        DbConnection::Pg(c) => AnsiTransactionManager::transaction_manager_status_mut(c),
    }
}

/// Records in diesel's transaction manager a transaction level opened or closed by a statement
/// of ours, so that nested work and the pool's broken-connection check see the true depth.
pub(super) fn change_depth(
    conn: &mut DbConnection,
    change: TransactionDepthChange,
) -> QueryResult<()> {
    match transaction_status(conn) {
        TransactionManagerStatus::Valid(status) => status.change_transaction_depth(change),
        TransactionManagerStatus::InError => Err(DieselError::BrokenTransactionManager),
    }
}

/// Opens a transaction with `begin` (`BEGIN`, `BEGIN IMMEDIATE`) as a statement kept prepared:
/// diesel's own `begin_transaction` parses its SQL anew on every call.
pub(super) fn begin_kept(conn: &mut DbConnection, begin: &'static str) -> QueryResult<()> {
    if transaction_depth(conn)? > 0 {
        return Err(DieselError::AlreadyInTransaction);
    }
    execute_plain(conn, begin)?;
    change_depth(conn, TransactionDepthChange::IncreaseDepth)
}

/// Ends the transaction [`begin_kept`] opened: `COMMIT` when `keep`, else `ROLLBACK`. When the
/// statement fails the transaction is rolled back. SQLite ends a transaction by itself on some
/// failures (a failed `COMMIT`, an I/O error); that `ROLLBACK` then fails too, and goes through
/// diesel's `batch_execute`, which records that the connection is out of its transaction. Only
/// a connection still in a transaction it cannot leave is marked broken, so that the pool
/// discards it instead of reusing it.
pub(super) fn end_kept(conn: &mut DbConnection, keep: bool) -> QueryResult<()> {
    let ended = execute_plain(conn, if keep { "COMMIT" } else { "ROLLBACK" });
    if ended.is_ok() {
        return change_depth(conn, TransactionDepthChange::DecreaseDepth);
    }
    match conn.batch_execute("ROLLBACK") {
        Ok(()) => change_depth(conn, TransactionDepthChange::DecreaseDepth)?,
        Err(_) if matches!(transaction_depth(conn), Ok(0)) => {}
        Err(_) => transaction_status(conn).set_in_error(),
    }
    ended
}

/// Runs a statement without parameters or results through diesel's statement cache, so it is
/// prepared once per connection (`diesel::sql_query` opts out of that cache).
pub(super) fn execute_plain(conn: &mut DbConnection, statement: &'static str) -> QueryResult<()> {
    Plain(statement).execute(conn).map(drop)
}

/// A fixed statement, cached by its text.
#[derive(Debug, Clone, Copy)]
pub(super) struct Plain(&'static str);

impl diesel::query_builder::QueryId for Plain {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<DB: diesel::backend::Backend> diesel::query_builder::QueryFragment<DB> for Plain {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, DB>,
    ) -> QueryResult<()> {
        out.push_sql(self.0);
        Ok(())
    }
}

impl<Conn> RunQueryDsl<Conn> for Plain {}

/// Runs the reads of `f` in one SQLite read transaction: one snapshot, and the WAL read lock
/// (an `fcntl` on the shared-memory file, under a mutex every connection of the process shares)
/// taken and released once instead of around every statement. Nothing to roll back: the
/// transaction is ended either way. A connection already in a transaction runs `f` as it is.
pub(super) fn read_tx<T, E, F>(conn: &mut DbConnection, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<StoreError>,
{
    if transaction_depth(conn).ok() != Some(0) || !matches!(conn, DbConnection::Sqlite(_)) {
        return f(conn);
    }
    begin_kept(conn, "BEGIN").map_err(|e| E::from(StoreError::Query(e)))?;
    let result = f(conn);
    if let Err(e) = end_kept(conn, true) {
        tracing::error!(error = %e, "ending a read transaction failed");
        if result.is_ok() {
            return Err(E::from(StoreError::Query(e)));
        }
    }
    result
}

/// Runs the reads of `f` in one transaction whose work is bounded by `limit`: on PostgreSQL
/// `SET LOCAL statement_timeout` (each statement), on SQLite the [`budget`] (all statements
/// together, checked on the rows the filter visits). An error of `f` once the limit was hit is
/// [`StoreError::TooCostly`]: PostgreSQL's cancellation (SQLSTATE 57014) reaches here only as
/// text, in the server's language, so it is recognised by the time taken instead.
pub(super) fn bounded_read<T, E, F>(conn: &mut DbConnection, limit: Duration, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<StoreError>,
{
    let too_costly = || E::from(StoreError::TooCostly { limit });
    if matches!(conn, DbConnection::Sqlite(_)) {
        let budget = budget::Budget::start(limit);
        let result = read_tx(conn, f);
        return match result {
            Err(_) if budget.spent() => Err(too_costly()),
            other => other,
        };
    }
    type Tm = <DbConnection as Connection>::TransactionManager;
    let query_failed = |e| E::from(StoreError::Query(e));
    let millis = limit.as_millis().max(1);
    Tm::begin_transaction(conn).map_err(query_failed)?;
    if let Err(e) = conn.batch_execute(&format!("SET LOCAL statement_timeout = {millis}")) {
        if let Err(rollback) = Tm::rollback_transaction(conn) {
            tracing::error!(error = %rollback, "rollback failed");
        }
        return Err(query_failed(e));
    }
    let started = crate::clock::monotonic();
    let result = f(conn);
    let ended = if result.is_ok() {
        Tm::commit_transaction(conn)
    } else {
        Tm::rollback_transaction(conn)
    };
    match result {
        Err(_) if crate::clock::monotonic().saturating_duration_since(started) >= limit => {
            Err(too_costly())
        }
        Err(e) => Err(e),
        Ok(value) => {
            ended.map_err(query_failed)?;
            Ok(value)
        }
    }
}

/// Runs `f` in a write transaction: `BEGIN IMMEDIATE` on SQLite (so a transaction that reads
/// before it writes waits for the write lock up front instead of failing on the upgrade), a plain
/// `BEGIN` on PostgreSQL. Commits on `Ok`, rolls back on `Err`. Inside a transaction already
/// open (the SQLite writer's batch, a Bulk request) it is a savepoint: `Err` undoes `f` alone.
pub fn write_tx<T, E, F>(conn: &mut DbConnection, f: F) -> Result<T, E>
where
    E: From<DieselError>,
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
{
    type Tm = <DbConnection as Connection>::TransactionManager;
    if transaction_depth(conn)? > 0 {
        return in_savepoint(conn, f);
    }
    match conn {
        DbConnection::Sqlite(c) => {
            AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?
        }
        DbConnection::Pg(_) => Tm::begin_transaction(conn)?,
    }
    match f(conn) {
        Ok(value) => {
            Tm::commit_transaction(conn)?;
            Ok(value)
        }
        Err(e) => {
            if let Err(rollback) = Tm::rollback_transaction(conn) {
                tracing::error!(error = %rollback, "rollback failed");
            }
            Err(e)
        }
    }
}
