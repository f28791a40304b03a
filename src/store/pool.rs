//! The connection pool, its admission bounds, and [`Store`], the handle every query runs
//! through (reads, scans, writes and the SQLite writer).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use diesel::prelude::*;
use diesel::r2d2;
use diesel_migrations::MigrationHarness;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::connection::*;
use super::error::*;
use super::tx::*;
use super::{
    Backend, DbConnection, PG_MIGRATIONS, SQLITE_MIGRATIONS, compute, fair, sqlite_file,
    sqlite_path, writer,
};
use crate::ids::OrgId;
use crate::scim::schema::OrgSchemas;

/// Which blocking threads a database task runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Priority {
    /// Actix's blocking threads, at the process's priority: point reads and writes, whose cost
    /// a request waits on and which are short.
    Request,
    /// [`BACKGROUND`]'s, at a lower CPU priority ([`crate::priority`]): reads whose cost grows
    /// with the data ([`Store::scan`]). While the cores are contended the kernel serves the
    /// short work of every organization first, so one organization's costly listings slow
    /// others' point reads and writes less; while they are not, scans have all the CPU.
    Background,
}

/// The blocking threads of [`Priority::Background`] work: a runtime of its own (never driven:
/// only its blocking pool runs, whose threads lower their priority as they start), one per
/// process and never dropped. `None` if it could not be built: the work runs at
/// [`Priority::Request`] then.
static BACKGROUND: std::sync::LazyLock<Option<tokio::runtime::Runtime>> =
    std::sync::LazyLock::new(|| {
        tokio::runtime::Builder::new_current_thread()
            .thread_name("roster-scan")
            .on_thread_start(|| crate::priority::lower("the scan threads"))
            .build()
            .inspect_err(|e| tracing::warn!(error = %e, "no low-priority threads for scans"))
            .ok()
    });

/// Bounds on the database work of requests, and SQLite's durability setting
/// (docs/limits.md, "Queries").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreSettings {
    /// Longest a scanning read (a listing, a search, a page) may run: PostgreSQL's
    /// `statement_timeout` for each of its statements, SQLite's budget ([`super::budget`]) for all
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
pub(super) struct Admission {
    pub(super) settings: StoreSettings,
    pub(super) tasks: Arc<Semaphore>,
    /// Grows with the organizations that have scanned since start; orgs are few (an operator
    /// creates each) and never deleted.
    pub(super) org_scans: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl Admission {
    pub(super) fn new(settings: StoreSettings) -> Admission {
        Admission {
            settings,
            tasks: Arc::new(Semaphore::new(usize_of(settings.max_tasks))),
            org_scans: Mutex::new(HashMap::new()),
        }
    }

    /// Seconds after which a refused scan may find a permit: a running scan ends within the
    /// query timeout.
    pub(super) fn scan_retry_after(&self) -> u32 {
        let secs = self.settings.query_timeout.as_secs_f64().ceil();
        // Float to integer saturates; the timeout is a few seconds.
        (secs as u32).max(1)
    }
}

pub(super) fn usize_of(n: u32) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// The connection pool and the backend it talks to. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    pub(super) pool: r2d2::Pool<Manager>,
    pub(super) backend: Backend,
    /// Orgs seen to exist. Orgs are never deleted, so this can only grow and is never stale.
    pub(super) known_orgs: std::sync::Arc<std::sync::RwLock<std::collections::HashSet<String>>>,
    /// Each org's resource types with its own extension schemas, as last read; checked against
    /// the org's `schema_version` on every authorized request ([`super::tokens::standing`]).
    pub(super) org_schemas: Arc<std::sync::RwLock<HashMap<String, Arc<OrgSchemas>>>>,
    /// SQLite admits one writer at a time: this process's writes go through one writer thread
    /// that commits them in groups ([`writer`]). `None` on PostgreSQL, where writers run
    /// concurrently on pooled connections.
    pub(super) writer: Option<writer::GroupCommit>,
    /// Writes admitted and not yet answered (queued for the writer or running), at most
    /// [`StoreOptions::write_queue`]; a write beyond that is [`StoreError::Overloaded`].
    pub(super) writes: std::sync::Arc<tokio::sync::Semaphore>,
    /// CPU-heavy work that must not occupy the threads database work runs on.
    pub(super) compute: compute::Pool,
    pub(super) admission: Arc<Admission>,
    /// Notified after this process commits a write that queued event deliveries
    /// ([`Store::outbox`]).
    pub(super) outbox: Arc<tokio::sync::Notify>,
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
            org_schemas: Default::default(),
            writer,
            writes: std::sync::Arc::new(tokio::sync::Semaphore::new(options.write_queue.max(1))),
            compute,
            admission: Arc::new(Admission::new(options.queries)),
            outbox: Arc::default(),
        })
    }

    /// This store with a pool of its own of `size` connections to `url` (the URL the store
    /// was opened with) on PostgreSQL, for background work that must not take the connections
    /// requests wait for. The event delivery worker looks for due events after every commit
    /// and reads and records each batch, each time checking out a connection (with its ping):
    /// on the request pool, that halved the creates/s of 16 clients on the default pool of 8
    /// (docs/performance.md, "Lifecycle events"). Everything else (the outbox, the admission
    /// bounds) is shared. On SQLite, whose writes all go through the one writer thread, this
    /// same store.
    pub fn with_own_pool(&self, url: &str, size: u32) -> Result<Store, StoreError> {
        if self.backend != Backend::Postgres {
            return Ok(self.clone());
        }
        let pool = r2d2::Pool::builder()
            .max_size(size.max(1))
            .min_idle(Some(0))
            .connection_timeout(self.pool.connection_timeout())
            .test_on_check_out(true)
            .build(Manager {
                url: url.to_owned(),
            })
            .map_err(|e| StoreError::Unavailable(r2d2::PoolError::from(e)))?;
        Ok(Store {
            pool,
            ..self.clone()
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

    /// The org's resource types as this process last read them, if it has.
    pub fn cached_schemas(&self, org: &OrgId) -> Option<Arc<OrgSchemas>> {
        self.org_schemas
            .read()
            .ok()
            .and_then(|cache| cache.get(org.as_str()).cloned())
    }

    /// Keeps `schemas` as the org's resource types (unless a newer version is kept already).
    pub fn cache_schemas(&self, org: &OrgId, schemas: Arc<OrgSchemas>) {
        if let Ok(mut cache) = self.org_schemas.write() {
            let entry = cache
                .entry(org.as_str().to_owned())
                .or_insert_with(|| Arc::clone(&schemas));
            if entry.version < schemas.version {
                *entry = schemas;
            }
        }
    }

    /// Remembers that `org` exists.
    pub fn remember_org(&self, org: &OrgId) {
        if let Ok(mut known) = self.known_orgs.write() {
            known.insert(org.as_str().to_owned());
        }
    }

    /// Notified (one stored permit) each time a write of this process that queued event
    /// deliveries has committed: the delivery worker waits on it instead of only polling. Never
    /// before the commit, so a woken worker always finds the deliveries; other processes on the
    /// same database are not notified, and find them when they poll.
    pub fn outbox(&self) -> Arc<tokio::sync::Notify> {
        Arc::clone(&self.outbox)
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
            // `f` commits its own transaction before it returns.
            let (result, queued) = self
                .run(move |conn| {
                    super::events::take_queued();
                    let result = f(conn);
                    Ok::<_, E>((result, super::events::take_queued()))
                })
                .await?;
            if queued && result.is_ok() {
                self.outbox.notify_one();
            }
            return result;
        };
        let outbox = Arc::clone(&self.outbox);
        let (reply, answer) = tokio::sync::oneshot::channel::<Result<T, E>>();
        let span = tracing::Span::current();
        let meter = fair::meter();
        let job: writer::Job = Box::new(move |conn: Option<&mut DbConnection>| {
            let result = conn.map(|conn| {
                let _entered = span.enter();
                super::events::take_queued();
                fair::timed(meter.as_deref(), || f(conn))
            });
            let queued = super::events::take_queued();
            writer::Outcome {
                succeeded: matches!(result, Some(Ok(_))),
                finish: Box::new(move |failure: Option<writer::Failure>| {
                    // Called once the batch's transaction has committed (`None`) or failed.
                    if queued && failure.is_none() && matches!(result, Some(Ok(_))) {
                        outbox.notify_one();
                    }
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
            return fair::timed(fair::meter().as_deref(), || read_tx(&mut conn, f));
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
        self.blocking_at(Priority::Background, move |conn| {
            // Held until the read has ended, even when the client has gone.
            let _permit = permit;
            bounded_read(conn, limit, f)
        })
        .await
    }

    /// One of `org`'s scan permits, waiting at most [`StoreSettings::scan_wait`].
    pub(super) async fn scan_permit(
        &self,
        org: &OrgId,
    ) -> Result<OwnedSemaphorePermit, StoreError> {
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
    pub(super) async fn blocking<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        self.blocking_at(Priority::Request, f).await
    }

    /// [`Store::blocking`] on a thread of the given [`Priority`].
    async fn blocking_at<T, E, F>(&self, priority: Priority, f: F) -> Result<T, E>
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
        let meter = fair::meter();
        let work = move || {
            let _slot = slot;
            let _entered = span.enter();
            let mut conn = pool.get().map_err(StoreError::from)?;
            fair::timed(meter.as_deref(), || f(&mut conn))
        };
        let task = match (priority, &*BACKGROUND) {
            (Priority::Background, Some(background)) => background.spawn_blocking(work),
            _ => actix_web::rt::task::spawn_blocking(work),
        };
        task.await
            .map_err(|e| E::from(StoreError::Task(e.to_string())))?
    }
}
