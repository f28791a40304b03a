//! The storage layer's failures, and the database errors its callers recognise.

use std::time::Duration;

use diesel::r2d2;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

/// Failures of the storage layer. Uniqueness clashes are recognised by the callers through
/// [`unique_violation`], since only they know which SCIM attribute a constraint protects.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No connection could be had in time (pool exhausted or database unreachable).
    #[error("the database is unavailable: {0}")]
    Unavailable(#[from] r2d2::PoolError),
    /// A query failed.
    #[error("database query failed: {0}")]
    Query(#[from] DieselError),
    /// Running the embedded migrations failed.
    #[error("database migration failed: {0}")]
    Migration(String),
    /// The blocking task running a query was cancelled or panicked, or the write batch it was
    /// part of failed (nothing of it was written).
    #[error("database task failed: {0}")]
    Task(String),
    /// The SQLite writer could not get a connection or the write lock in time.
    #[error("the database is busy: {0}")]
    Busy(String),
    /// The server is at capacity (too much work queued: writes, password hashing, database
    /// tasks, or one organization's scans), or queued work waited past its deadline: refused
    /// rather than left to hang. Answered 503 with `Retry-After: retry_after_secs`.
    #[error("the server is at capacity ({why}); retry after {retry_after_secs} s")]
    Overloaded { why: String, retry_after_secs: u32 },
    /// A scanning read ran longer than [`super::StoreSettings::query_timeout`] and was stopped.
    #[error("the query ran longer than {limit:?} and was stopped")]
    TooCostly { limit: Duration },
}
/// If `err` is a unique-constraint violation, the text that names the constraint (PostgreSQL's
/// constraint name or SQLite's "UNIQUE constraint failed: table.columns" message).
pub fn unique_violation(err: &DieselError) -> Option<String> {
    match err {
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => Some(
            info.constraint_name()
                .map(str::to_owned)
                .unwrap_or_else(|| info.message().to_owned()),
        ),
        _ => None,
    }
}

/// Whether `err` is a foreign-key violation: on a membership insert, the member was deleted
/// after it was looked up (see `groups::insert_members`).
pub fn foreign_key_violation(err: &DieselError) -> bool {
    matches!(
        err,
        DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _)
    )
}
