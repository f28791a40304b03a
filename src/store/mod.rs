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
pub mod budget;
pub mod compute;
pub mod events;
pub mod filter;
pub mod groups;
pub mod import;
pub mod json;
pub mod lower;
pub mod monitoring;
pub mod orgs;
pub mod rekey;
pub mod schema;
pub mod sqlite_file;
pub mod tokens;
pub mod users;
pub mod writer;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use diesel::connection::{
    AnsiTransactionManager, Connection, SimpleConnection, TransactionDepthChange,
    TransactionManager, TransactionManagerStatus,
};
use diesel::prelude::*;
use diesel::r2d2::{self, CustomizeConnection, ManageConnection};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

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
    /// The server is at capacity (too much work queued: writes, password hashing, database
    /// tasks, or one organization's scans), or queued work waited past its deadline: refused
    /// rather than left to hang. Answered 503 with `Retry-After: retry_after_secs`.
    #[error("the server is at capacity ({why}); retry after {retry_after_secs} s")]
    Overloaded { why: String, retry_after_secs: u32 },
    /// A scanning read ran longer than [`StoreSettings::query_timeout`] and was stopped.
    #[error("the query ran longer than {limit:?} and was stopped")]
    TooCostly { limit: Duration },
}

/// SQLite's `PRAGMA synchronous` (docs/operations-durability.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Synchronous {
    /// In WAL mode, a commit survives the process being killed but the last ones may be lost
    /// when the machine loses power or the OS crashes; fewer `fsync`s.
    #[default]
    Normal,
    /// Every commit is synced to disk before it is acknowledged: survives power loss too.
    Full,
}

impl Synchronous {
    fn pragma(self) -> &'static str {
        match self {
            Synchronous::Normal => "NORMAL",
            Synchronous::Full => "FULL",
        }
    }
}

/// Bounds on the database work of requests, and SQLite's durability setting
/// (docs/limits.md, "Queries").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreSettings {
    /// Longest a scanning read (a listing, a search, a page) may run: PostgreSQL's
    /// `statement_timeout` for each of its statements, SQLite's budget ([`budget`]) for all
    /// of them. Past it the read is stopped: [`StoreError::TooCostly`].
    pub query_timeout: Duration,
    /// Scanning reads one organization may have running at once in this process.
    pub org_scans: u32,
    /// How long a scanning read waits for one of its organization's [`StoreSettings::org_scans`]
    /// before it is refused with [`StoreError::Overloaded`].
    pub scan_wait: Duration,
    /// Database tasks (queued for a blocking thread or running) this process admits at once;
    /// one more is refused at once with [`StoreError::Overloaded`].
    pub max_tasks: u32,
    /// SQLite's `PRAGMA synchronous`.
    pub synchronous: Synchronous,
}

impl Default for StoreSettings {
    fn default() -> StoreSettings {
        StoreSettings {
            query_timeout: Duration::from_secs(5),
            org_scans: 2,
            scan_wait: Duration::from_secs(2),
            max_tasks: 128,
            synchronous: Synchronous::Normal,
        }
    }
}

/// The admission state of a [`Store`]: the task bound and one semaphore per organization.
struct Admission {
    settings: StoreSettings,
    tasks: Arc<Semaphore>,
    /// Grows with the organizations that have scanned since start; orgs are few (an operator
    /// creates each) and never deleted.
    org_scans: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl Admission {
    fn new(settings: StoreSettings) -> Admission {
        Admission {
            settings,
            tasks: Arc::new(Semaphore::new(usize_of(settings.max_tasks))),
            org_scans: Mutex::new(HashMap::new()),
        }
    }

    /// Seconds after which a refused scan may find a permit: a running scan ends within the
    /// query timeout.
    fn scan_retry_after(&self) -> u32 {
        let secs = self.settings.query_timeout.as_secs_f64().ceil();
        // Float to integer saturates; the timeout is a few seconds.
        (secs as u32).max(1)
    }
}

fn usize_of(n: u32) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
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

/// Per-connection SQLite settings, and the [`budget`] function. `busy_timeout` must come
/// first: switching to WAL takes a lock, and without a timeout concurrent first connections fail
/// with "database is locked".
#[derive(Debug)]
struct SqlitePragmas {
    busy_timeout: Duration,
    synchronous: Synchronous,
}

impl CustomizeConnection<DbConnection, r2d2::Error> for SqlitePragmas {
    fn on_acquire(&self, conn: &mut DbConnection) -> Result<(), r2d2::Error> {
        if let DbConnection::Sqlite(c) = conn {
            c.batch_execute(&format!(
                "PRAGMA busy_timeout = {}; PRAGMA journal_mode = WAL; \
                 PRAGMA synchronous = {}; PRAGMA foreign_keys = ON;",
                self.busy_timeout.as_millis(),
                self.synchronous.pragma()
            ))
            .map_err(r2d2::Error::QueryError)?;
            budget::register(c).map_err(r2d2::Error::QueryError)?;
            lower::register(c).map_err(r2d2::Error::QueryError)?;
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
    /// Writes admitted and not yet answered (queued for the writer or running), at most
    /// [`StoreOptions::write_queue`]; a write beyond that is [`StoreError::Overloaded`].
    writes: std::sync::Arc<tokio::sync::Semaphore>,
    /// CPU-heavy work that must not occupy the threads database work runs on.
    compute: compute::Pool,
    admission: Arc<Admission>,
}

/// How a [`Store`] is sized. [`StoreOptions::new`] gives the defaults.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Connections in the pool.
    pub pool_size: u32,
    /// How long to wait for a pooled connection (then [`StoreError::Unavailable`]).
    pub connect_timeout: Duration,
    /// SQLite: how long a statement waits for another process's lock before "database is
    /// locked".
    pub busy_timeout: Duration,
    /// Writes admitted at once (queued for the SQLite writer or running); more are refused.
    pub write_queue: usize,
    /// SQLite: a write still queued after this long is refused instead of run.
    pub write_deadline: Duration,
    /// Bounds on reads and SQLite's durability.
    pub queries: StoreSettings,
    /// Threads of the compute pool (password hashing).
    pub compute_threads: usize,
    /// Work waiting for the compute pool; more is refused.
    pub compute_queue: usize,
}

impl StoreOptions {
    /// The defaults for a pool of `pool_size` connections.
    pub fn new(pool_size: u32, connect_timeout: Duration) -> StoreOptions {
        StoreOptions {
            pool_size,
            connect_timeout,
            busy_timeout: Duration::from_secs(10),
            write_queue: 1024,
            write_deadline: Duration::from_secs(10),
            queries: StoreSettings::default(),
            compute_threads: 1,
            compute_queue: 64,
        }
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens a pool of `pool_size` connections to `url` with the default [`StoreSettings`].
    /// Fails when no connection can be made within `connect_timeout`, with the database's own
    /// error.
    pub fn open(url: &str, pool_size: u32, connect_timeout: Duration) -> Result<Store, StoreError> {
        Store::open_with(url, &StoreOptions::new(pool_size, connect_timeout))
    }

    /// [`Store::open`] with every size given.
    pub fn open_with(url: &str, options: &StoreOptions) -> Result<Store, StoreError> {
        let backend = Backend::of_url(url);
        if let Some(path) = sqlite_path(url) {
            sqlite_file::create_private(path)?;
        }
        let builder = r2d2::Pool::builder()
            .max_size(options.pool_size.max(1))
            .connection_timeout(options.connect_timeout)
            // A file connection does not go stale; a PostgreSQL one may (server restart), so
            // it is pinged before use there.
            .test_on_check_out(backend == Backend::Postgres)
            .connection_customizer(Box::new(SqlitePragmas {
                busy_timeout: options.busy_timeout,
                synchronous: options.queries.synchronous,
            }));
        let pool = builder
            .build(Manager {
                url: url.to_owned(),
            })
            .map_err(|e| StoreError::Unavailable(r2d2::PoolError::from(e)))?;
        let writer = match backend {
            Backend::Sqlite => Some(
                writer::GroupCommit::start(pool.clone(), options.write_deadline).map_err(|e| {
                    StoreError::Task(format!("cannot start the writer thread: {e}"))
                })?,
            ),
            Backend::Postgres => None,
        };
        let compute = compute::Pool::start(options.compute_threads, options.compute_queue)
            .map_err(|e| StoreError::Task(format!("cannot start the compute threads: {e}")))?;
        Ok(Store {
            pool,
            backend,
            known_orgs: Default::default(),
            writer,
            writes: std::sync::Arc::new(tokio::sync::Semaphore::new(options.write_queue.max(1))),
            compute,
            admission: Arc::new(Admission::new(options.queries)),
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
        // Admitted or refused now: a write that cannot be taken on is told so at once instead
        // of waiting in an unbounded queue. The permit is held until the write is answered.
        let Ok(_admitted) = self.writes.clone().try_acquire_owned() else {
            return Err(E::from(StoreError::Overloaded {
                why: "too many writes are waiting for the database".to_owned(),
                retry_after_secs: 1,
            }));
        };
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

    /// Runs CPU-heavy work (password hashing) on the store's compute pool: a few threads of its
    /// own, so that it never occupies the threads database work runs on. Refused with
    /// [`StoreError::Overloaded`] when the pool's queue is full.
    pub async fn run_cpu<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.compute.run(f).await
    }

    /// A read of `org`'s data that learns only at run time whether it is a point read (a filter
    /// pinning a unique attribute, one user's groups rather than a page's):
    /// [`Store::run_indexed`] when `indexed`, else [`Store::scan`].
    pub async fn read<T, E, F>(&self, org: &OrgId, indexed: bool, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        if indexed {
            self.run_indexed(f).await
        } else {
            self.scan(org, f).await
        }
    }

    /// Runs a read of `org`'s data whose cost grows with the data (a filtered or sorted
    /// listing, a search, a page), within two bounds. Fairness: at most
    /// [`StoreSettings::org_scans`] of one organization run at once, so that one organization's
    /// clients cannot hold every blocking thread and pooled connection while others wait (point
    /// reads take no permit); a scan that finds none free within [`StoreSettings::scan_wait`] is
    /// [`StoreError::Overloaded`]. Time: the read runs in one transaction whose statements are
    /// stopped after [`StoreSettings::query_timeout`] ([`bounded_read`]), which is
    /// [`StoreError::TooCostly`].
    pub async fn scan<T, E, F>(&self, org: &OrgId, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let permit = self.scan_permit(org).await.map_err(E::from)?;
        let limit = self.admission.settings.query_timeout;
        self.blocking(move |conn| {
            // Held until the read has ended, even when the client has gone.
            let _permit = permit;
            bounded_read(conn, limit, f)
        })
        .await
    }

    /// One of `org`'s scan permits, waiting at most [`StoreSettings::scan_wait`].
    async fn scan_permit(&self, org: &OrgId) -> Result<OwnedSemaphorePermit, StoreError> {
        let admission = &self.admission;
        let semaphore = {
            let mut orgs = admission
                .org_scans
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            Arc::clone(orgs.entry(org.as_str().to_owned()).or_insert_with(|| {
                Arc::new(Semaphore::new(usize_of(admission.settings.org_scans)))
            }))
        };
        let overloaded = || StoreError::Overloaded {
            why: "this organization's searches are all running".to_owned(),
            retry_after_secs: admission.scan_retry_after(),
        };
        match semaphore.clone().try_acquire_owned() {
            Ok(permit) => return Ok(permit),
            Err(_) if admission.settings.scan_wait.is_zero() => return Err(overloaded()),
            Err(_) => {}
        }
        match actix_web::rt::time::timeout(admission.settings.scan_wait, semaphore.acquire_owned())
            .await
        {
            Ok(Ok(permit)) => Ok(permit),
            Ok(Err(_)) | Err(_) => {
                tracing::warn!(org = %org.as_str(), "the organization's scans are all running");
                Err(overloaded())
            }
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
    /// With [`Store::run_indexed`] (point reads), [`Store::scan`] (reads that grow with the
    /// data: use it, not this, for those) and [`Store::run_write`] (writes), the only ways
    /// request handlers reach the database: the closure gets a pooled connection; a pool that
    /// cannot hand one out in time is [`StoreError::Unavailable`], a full task queue
    /// [`StoreError::Overloaded`].
    pub async fn run<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        self.blocking(f).await
    }

    /// The one place that hands blocking work a pooled connection. At most
    /// [`StoreSettings::max_tasks`] such tasks wait or run at once; one more is refused at once
    /// ([`StoreError::Overloaded`]) rather than queued without bound. A task waits for a
    /// connection at most the pool's connection timeout ([`StoreError::Unavailable`]).
    async fn blocking<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let Ok(slot) = Arc::clone(&self.admission.tasks).try_acquire_owned() else {
            tracing::warn!("the database task queue is full");
            return Err(E::from(StoreError::Overloaded {
                why: "too many database tasks are waiting".to_owned(),
                retry_after_secs: 1,
            }));
        };
        let pool = self.pool.clone();
        let span = tracing::Span::current();
        actix_web::rt::task::spawn_blocking(move || {
            let _slot = slot;
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

/// Runs the reads of `f` in one transaction whose work is bounded by `limit`: on PostgreSQL
/// `SET LOCAL statement_timeout` (each statement), on SQLite the [`budget`] (all statements
/// together, checked on the rows the filter visits). An error of `f` once the limit was hit is
/// [`StoreError::TooCostly`]: PostgreSQL's cancellation (SQLSTATE 57014) reaches here only as
/// text, in the server's language, so it is recognised by the time taken instead.
fn bounded_read<T, E, F>(conn: &mut DbConnection, limit: Duration, f: F) -> Result<T, E>
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
    fn sqlite_synchronous_is_the_configured_one() {
        #[derive(QueryableByName)]
        struct Pragma {
            #[diesel(sql_type = diesel::sql_types::Integer)]
            synchronous: i32,
        }
        let dir = tempfile::tempdir().unwrap();
        let url = dir.path().join("t.db").display().to_string();
        for (setting, expected) in [(Synchronous::Normal, 1), (Synchronous::Full, 2)] {
            let options = StoreOptions {
                queries: StoreSettings {
                    synchronous: setting,
                    ..StoreSettings::default()
                },
                ..StoreOptions::new(1, Duration::from_secs(5))
            };
            let store = Store::open_with(&url, &options).unwrap();
            let pragma: Pragma = diesel::sql_query("PRAGMA synchronous")
                .get_result(&mut *store.conn().unwrap())
                .unwrap();
            assert_eq!(pragma.synchronous, expected, "{setting:?}");
        }
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
