//! Storage: one diesel connection type for SQLite and PostgreSQL, one r2d2 pool, embedded
//! migrations per backend, and the tenant-scoped queries.
//!
//! The backend is chosen by the URL: `postgres://…` or `postgresql://…` is PostgreSQL, anything
//! else (a path, or `sqlite://path`) is an SQLite file. Queries are written once against
//! [`DbConnection`]; the only per-backend code is here (connection set-up, `BEGIN IMMEDIATE`) and
//! in the SQL of a few expressions. The statements every request runs are still written once,
//! and run through `native!` on the backend's own connection type (the same text compiled for
//! each backend), which spares diesel's `MultiConnection` re-rendering their SQL on every run.

/// Runs `$body` with `$c` bound to the backend's own connection (`PgConnection` or
/// `SqliteConnection`) instead of the [`DbConnection`] wrapper; `$body` is compiled once per
/// backend. For the statements on every request's path: through the wrapper, diesel's
/// `MultiConnection` renders a statement's whole SQL text several times per run (to decide it
/// may be cached, to bind, to find it in the cache), while on the backend's own connection a
/// statement of a fixed shape is found in the cache by its type. Same SQL either way.
macro_rules! native {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::store::DbConnection::Pg($c) => $body,
            $crate::store::DbConnection::Sqlite($c) => $body,
        }
    };
}

pub mod audit;
pub mod events;
pub mod filter;
pub mod groups;
pub mod import;
pub mod json;
pub mod orgs;
pub mod schema;
pub mod tokens;
pub mod users;
pub mod writer;

use std::time::Duration;

use diesel::connection::{
    AnsiTransactionManager, Connection, SimpleConnection, TransactionDepthChange,
    TransactionManager, TransactionManagerStatus,
};
use diesel::prelude::*;
use diesel::r2d2::{self, CustomizeConnection, ManageConnection};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::ids::OrgId;

/// Migrations for PostgreSQL, embedded in the binary.
pub const PG_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");
/// Migrations for SQLite, embedded in the binary. Same directory names as [`PG_MIGRATIONS`].
pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

/// A connection to either backend; all query code is written against this one type.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

/// Which database a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

impl Backend {
    /// The backend a `DATABASE_URL` names.
    pub fn of_url(url: &str) -> Backend {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }
}

/// The SQLite file a `DATABASE_URL` names, or `None` for PostgreSQL.
pub fn sqlite_path(url: &str) -> Option<&str> {
    match Backend::of_url(url) {
        Backend::Postgres => None,
        Backend::Sqlite => Some(url.strip_prefix("sqlite://").unwrap_or(url)),
    }
}

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

/// Opens connections for the pool, choosing the backend by URL scheme so that a connection
/// error reports the real cause (diesel's derived `establish` hides it).
#[derive(Debug, Clone)]
pub struct Manager {
    url: String,
}

impl ManageConnection for Manager {
    type Connection = DbConnection;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConnection, r2d2::Error> {
        let conn = match sqlite_path(&self.url) {
            None => PgConnection::establish(&self.url).map(DbConnection::Pg),
            Some(path) => SqliteConnection::establish(path).map(DbConnection::Sqlite),
        };
        conn.map_err(r2d2::Error::ConnectionError)
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), r2d2::Error> {
        r2d2::R2D2Connection::ping(conn).map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        r2d2::R2D2Connection::is_broken(conn)
    }
}

/// Per-connection SQLite settings. `busy_timeout` must come first: switching to WAL takes a lock,
/// and without a timeout concurrent first connections fail with "database is locked".
#[derive(Debug)]
struct SqlitePragmas;

impl CustomizeConnection<DbConnection, r2d2::Error> for SqlitePragmas {
    fn on_acquire(&self, conn: &mut DbConnection) -> Result<(), r2d2::Error> {
        if let DbConnection::Sqlite(c) = conn {
            c.batch_execute(
                "PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; \
                 PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
            )
            .map_err(r2d2::Error::QueryError)?;
        }
        Ok(())
    }
}

/// A pooled connection.
pub type PooledConnection = r2d2::PooledConnection<Manager>;

/// The connection pool and the backend it talks to. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: r2d2::Pool<Manager>,
    backend: Backend,
    /// Orgs seen to exist. Orgs are never deleted, so this can only grow and is never stale.
    known_orgs: std::sync::Arc<std::sync::RwLock<std::collections::HashSet<String>>>,
    /// SQLite admits one writer at a time: this process's writes go through one writer thread
    /// that commits them in groups ([`writer`]). `None` on PostgreSQL, where writers run
    /// concurrently on pooled connections.
    writer: Option<writer::GroupCommit>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens a pool of `pool_size` connections to `url`. Fails when no connection can be made
    /// within `connect_timeout`, with the database's own error.
    pub fn open(url: &str, pool_size: u32, connect_timeout: Duration) -> Result<Store, StoreError> {
        let backend = Backend::of_url(url);
        let builder = r2d2::Pool::builder()
            .max_size(pool_size.max(1))
            .connection_timeout(connect_timeout)
            // A file connection does not go stale; a PostgreSQL one may (server restart), so
            // it is pinged before use there.
            .test_on_check_out(backend == Backend::Postgres)
            .connection_customizer(Box::new(SqlitePragmas));
        let pool = builder
            .build(Manager {
                url: url.to_owned(),
            })
            .map_err(|e| StoreError::Unavailable(r2d2::PoolError::from(e)))?;
        let writer =
            match backend {
                Backend::Sqlite => Some(writer::GroupCommit::start(pool.clone()).map_err(|e| {
                    StoreError::Task(format!("cannot start the writer thread: {e}"))
                })?),
                Backend::Postgres => None,
            };
        Ok(Store {
            pool,
            backend,
            known_orgs: Default::default(),
            writer,
        })
    }

    /// The backend this store talks to.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A connection from the pool, blocking up to the pool's connection timeout.
    pub fn conn(&self) -> Result<PooledConnection, StoreError> {
        Ok(self.pool.get()?)
    }

    /// Applies the pending embedded migrations of this backend; returns how many ran.
    pub fn migrate(&self) -> Result<usize, StoreError> {
        let mut conn = self.conn()?;
        let source = match &*conn {
            DbConnection::Pg(_) => PG_MIGRATIONS,
            DbConnection::Sqlite(_) => SQLITE_MIGRATIONS,
        };
        let applied = conn
            .run_pending_migrations(source)
            .map_err(|e| StoreError::Migration(e.to_string()))?;
        Ok(applied.len())
    }

    /// Whether `org` is known to exist without asking the database (orgs are never deleted).
    pub fn org_known(&self, org: &OrgId) -> bool {
        self.known_orgs
            .read()
            .is_ok_and(|known| known.contains(org.as_str()))
    }

    /// Remembers that `org` exists.
    pub fn remember_org(&self, org: &OrgId) {
        if let Ok(mut known) = self.known_orgs.write() {
            known.insert(org.as_str().to_owned());
        }
    }

    /// [`Store::run`] for work that writes. On SQLite the work is queued for the writer thread,
    /// which runs it in a savepoint of a shared transaction and answers once that transaction
    /// has committed ([`writer`]: group commit). `f` must leave no transaction open; it opens
    /// its own with [`write_tx`], which becomes the savepoint's inner savepoint. On PostgreSQL it
    /// is [`Store::run`].
    pub async fn run_write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let Some(writer) = &self.writer else {
            return self.run(f).await;
        };
        let (reply, answer) = tokio::sync::oneshot::channel::<Result<T, E>>();
        let span = tracing::Span::current();
        let job: writer::Job = Box::new(move |conn: Option<&mut DbConnection>| {
            let result = conn.map(|conn| {
                let _entered = span.enter();
                f(conn)
            });
            writer::Outcome {
                succeeded: matches!(result, Some(Ok(_))),
                finish: Box::new(move |failure: Option<writer::Failure>| {
                    let answer = match (result, failure) {
                        // A request that failed on its own reports its own error: nothing of
                        // it was written either way.
                        (Some(Err(e)), _) => Err(e),
                        (Some(Ok(value)), None) => Ok(value),
                        (_, Some(failure)) => Err(E::from(StoreError::from(failure))),
                        (None, None) => Err(E::from(StoreError::Task(
                            "the write was not run".to_owned(),
                        ))),
                    };
                    // The caller may have gone (client disconnected); the write stands.
                    let _ = reply.send(answer);
                }),
            }
        });
        if writer.submit(job).is_err() {
            return Err(E::from(StoreError::Task(
                "the writer thread has stopped".to_owned(),
            )));
        }
        answer.await.map_err(|_| {
            E::from(StoreError::Task(
                "the write was abandoned: its batch failed".to_owned(),
            ))
        })?
    }

    /// [`Store::run`] for reads bounded by an index: a point lookup and the handful of rows
    /// hanging off it (a token's standing, a user by id and its groups, `userName eq`). On
    /// SQLite, when the pool has an idle connection at hand, they run right here on the async
    /// worker: a WAL read of a few rows takes microseconds and never waits for writers, which
    /// is less than handing the work to a blocking thread and back. Otherwise (PostgreSQL,
    /// whose every statement is a network round trip, or no idle connection) as [`Store::run`].
    /// Never use it for work whose cost grows with the data (scans, pages, counts).
    pub async fn run_indexed<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        if self.backend == Backend::Sqlite
            && let Some(mut conn) = self.pool.try_get()
        {
            return read_tx(&mut conn, f);
        }
        self.run(f).await
    }

    /// [`Store::run_indexed`] when `indexed`, else [`Store::run`]: for reads that learn only at
    /// run time whether they are point reads (a filter pinning a unique attribute, one user's
    /// groups rather than a page's).
    pub async fn run_read<T, E, F>(&self, indexed: bool, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        if indexed {
            self.run_indexed(f).await
        } else {
            self.run(f).await
        }
    }

    /// Whether the database answers a trivial query.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.run(|conn| {
            diesel::sql_query("SELECT 1")
                .execute(conn)
                .map(drop)
                .map_err(StoreError::from)
        })
        .await
    }

    /// Runs blocking database work off the async workers, inside the caller's tracing span.
    ///
    /// With [`Store::run_indexed`] (point reads) and [`Store::run_write`] (writes), the only ways
    /// request handlers reach the database: the closure gets a pooled connection; a pool that
    /// cannot hand one out in time is [`StoreError::Unavailable`].
    pub async fn run<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        self.blocking(f).await
    }

    /// The one place that hands blocking work a pooled connection.
    async fn blocking<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let pool = self.pool.clone();
        let span = tracing::Span::current();
        actix_web::rt::task::spawn_blocking(move || {
            let _entered = span.enter();
            let mut conn = pool.get().map_err(StoreError::from)?;
            f(&mut conn)
        })
        .await
        .map_err(|e| E::from(StoreError::Task(e.to_string())))?
    }
}

/// Runs `f` inside `SAVEPOINT roster_tx`: released on `Ok`, rolled back to on `Err`. The
/// statements are prepared once and kept (diesel's own savepoints are parsed anew each time, a
/// cost every write paid twice in the SQLite writer). Savepoints of one name stack, so these
/// nest. They are invisible to diesel's transaction depth, which is why [`write_tx`] decides
/// "nested or not" from that depth alone: only a transaction diesel opened counts.
fn in_savepoint<T, E, F>(conn: &mut DbConnection, f: F) -> Result<T, E>
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
fn transaction_status(conn: &mut DbConnection) -> &mut TransactionManagerStatus {
    match conn {
        DbConnection::Sqlite(c) => AnsiTransactionManager::transaction_manager_status_mut(c),
        DbConnection::Pg(c) => AnsiTransactionManager::transaction_manager_status_mut(c),
    }
}

/// Records in diesel's transaction manager a transaction level opened or closed by a statement
/// of ours, so that nested work and the pool's broken-connection check see the true depth.
fn change_depth(conn: &mut DbConnection, change: TransactionDepthChange) -> QueryResult<()> {
    match transaction_status(conn) {
        TransactionManagerStatus::Valid(status) => status.change_transaction_depth(change),
        TransactionManagerStatus::InError => Err(DieselError::BrokenTransactionManager),
    }
}

/// Opens a transaction with `begin` (`BEGIN`, `BEGIN IMMEDIATE`) as a statement kept prepared:
/// diesel's own `begin_transaction` parses its SQL anew on every call.
fn begin_kept(conn: &mut DbConnection, begin: &'static str) -> QueryResult<()> {
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
fn end_kept(conn: &mut DbConnection, keep: bool) -> QueryResult<()> {
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
fn execute_plain(conn: &mut DbConnection, statement: &'static str) -> QueryResult<()> {
    Plain(statement).execute(conn).map(drop)
}

/// A fixed statement, cached by its text.
#[derive(Debug, Clone, Copy)]
struct Plain(&'static str);

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
fn read_tx<T, E, F>(conn: &mut DbConnection, f: F) -> Result<T, E>
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

#[cfg(test)]
mod tests {
    use super::*;

    fn sqlite() -> (tempfile::TempDir, DbConnection) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let conn = SqliteConnection::establish(path.to_str().unwrap()).unwrap();
        (dir, DbConnection::Sqlite(conn))
    }

    #[test]
    fn kept_transactions_keep_diesels_depth_true() {
        let (_dir, mut conn) = sqlite();
        begin_kept(&mut conn, "BEGIN").unwrap();
        assert_eq!(transaction_depth(&mut conn).unwrap(), 1);
        assert!(
            begin_kept(&mut conn, "BEGIN").is_err(),
            "no transaction inside a transaction"
        );
        end_kept(&mut conn, true).unwrap();
        assert_eq!(transaction_depth(&mut conn).unwrap(), 0);
        begin_kept(&mut conn, "BEGIN IMMEDIATE").unwrap();
        end_kept(&mut conn, false).unwrap();
        assert_eq!(transaction_depth(&mut conn).unwrap(), 0);
        assert!(!r2d2::R2D2Connection::is_broken(&mut conn));
    }

    #[test]
    fn a_transaction_sqlite_ended_by_itself_leaves_the_connection_usable() {
        let (_dir, mut conn) = sqlite();
        begin_kept(&mut conn, "BEGIN").unwrap();
        // SQLite ends a transaction itself on some failures; diesel still counts it open.
        conn.batch_execute("ROLLBACK").unwrap();
        assert!(end_kept(&mut conn, true).is_err(), "the COMMIT fails");
        assert_eq!(transaction_depth(&mut conn).unwrap(), 0);
        assert!(
            !r2d2::R2D2Connection::is_broken(&mut conn),
            "a healthy connection is not discarded"
        );
        begin_kept(&mut conn, "BEGIN").unwrap();
        end_kept(&mut conn, true).unwrap();
    }
}
