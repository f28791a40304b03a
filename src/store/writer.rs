//! Group commit for SQLite: the writes of a process run on one writer thread, which drains
//! queued requests into one transaction, each request in a savepoint of its own.
//!
//! SQLite admits one writer at a time, and each transaction pays for taking the file lock and
//! appending its commit to the WAL (about 0.3 ms on the machines roster is measured on, most of
//! it in the kernel). Under load, requests queue for that lock anyway; the writer runs whatever
//! is queued when it starts a transaction — and whatever arrives while it runs, up to
//! [`MAX_BATCH`] — inside one `BEGIN IMMEDIATE … COMMIT`, so the lock and the commit are paid once
//! per batch. Nothing is weakened:
//!
//! - **atomic per request**: each request runs inside its own `SAVEPOINT`; a request that fails
//!   is rolled back to its savepoint and leaves nothing behind, whatever the others did;
//! - **durable before answered**: a request learns its outcome only after the batch has
//!   committed; if the commit fails, every request of the batch is told it failed, and none of
//!   them was written;
//! - **serial**: requests run one after another and each sees the writes of the ones before
//!   it, exactly as with one transaction each. The queue is fair across organizations
//!   ([`super::fair`]): organizations with writes queued take turns, one write each, and each
//!   organization's writes run in their arrival order, so one organization's backlog (a Bulk
//!   request's operations, a flood of creates) never sits in front of another's write;
//! - **no added latency when idle**: the writer never waits for a batch to fill; a lone request
//!   is a batch of one.
//!
//! Other processes on the same file (the `roster` CLI, a second server) still meet the file lock
//! and `busy_timeout`; the writer holds the lock only while a batch runs.
//!
//! Bounded: how many writes may wait is capped where they are admitted ([`super::Store`]'s
//! `run_write`), and a write still queued past its deadline is not run but refused
//! ([`Failure::Expired`], answered 503 with `Retry-After`): its caller has likely given up, and
//! running it would only delay the writes behind it. Requests compute before they queue (the
//! patch engine, validation), so a job holds the lock only for its statements.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use diesel::connection::{AnsiTransactionManager, TransactionManager};

use super::{DbConnection, Manager, StoreError, end_savepoint, fair, savepoint, transaction_depth};

/// The most requests one transaction takes; bounds how long the first of them waits for the
/// commit when requests keep arriving.
pub const MAX_BATCH: usize = 32;

/// Why a request of a batch was not written although it succeeded on its own.
#[derive(Debug, Clone)]
pub enum Failure {
    /// No connection, or the write lock could not be had in time.
    Unavailable(String),
    /// The batch's transaction failed (commit, savepoint bookkeeping, or another request of the
    /// batch panicked); nothing of the batch was written.
    Aborted(String),
    /// The request waited in the queue past its deadline and was not run.
    Expired(Duration),
}

impl From<Failure> for StoreError {
    fn from(failure: Failure) -> StoreError {
        match failure {
            Failure::Unavailable(why) => StoreError::Busy(why),
            Failure::Aborted(why) => StoreError::Task(why),
            Failure::Expired(waited) => StoreError::Overloaded {
                why: format!(
                    "the write waited {} ms for the database writer and was not run",
                    waited.as_millis()
                ),
                retry_after_secs: 1,
            },
        }
    }
}

/// What the writer learns from running a request: whether it succeeded (its savepoint is kept),
/// and how to tell the caller once the batch's fate is known (`None`: committed).
pub struct Outcome {
    pub succeeded: bool,
    pub finish: Finish,
}

/// Tells a request's caller its outcome once the batch's fate is known (`None`: committed).
pub type Finish = Box<dyn FnOnce(Option<Failure>) + Send>;

/// A queued request. Given no connection, it must not run and only report through its
/// [`Outcome::finish`].
pub type Job = Box<dyn FnOnce(Option<&mut DbConnection>) -> Outcome + Send>;

/// The handle requests are queued through; the writer thread stops when the last handle is
/// dropped.
#[derive(Clone)]
pub struct GroupCommit {
    queue: fair::Sender<Queued>,
}

impl std::fmt::Debug for GroupCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit").finish_non_exhaustive()
    }
}

/// A job and when it was queued.
struct Queued {
    job: Job,
    at: Instant,
}

impl GroupCommit {
    /// Starts the writer thread, which takes its connections from `pool` and refuses jobs that
    /// waited longer than `deadline`.
    pub fn start(pool: r2d2::Pool<Manager>, deadline: Duration) -> std::io::Result<GroupCommit> {
        let (queue, queued) = fair::channel::<Queued>();
        std::thread::Builder::new()
            .name("roster-sqlite-writer".to_owned())
            .spawn(move || writer(&pool, &Jobs { queued, deadline }))?;
        Ok(GroupCommit { queue })
    }

    /// Queues `job` in the turn of the organization the current request is served for
    /// ([`fair::current`]); gives it back when the writer has stopped.
    pub fn submit(&self, job: Job) -> Result<(), Job> {
        self.queue
            .send(
                fair::current(),
                Queued {
                    job,
                    at: Instant::now(),
                },
            )
            .map_err(|queued| queued.job)
    }
}

/// The writer's end of the queue: hands out the jobs still within their deadline, and refuses
/// the others as it meets them.
struct Jobs {
    queued: fair::Receiver<Queued>,
    deadline: Duration,
}

impl Jobs {
    /// The next job within its deadline, waiting for one; `None` when every handle is gone.
    fn recv(&self) -> Option<Job> {
        loop {
            let queued = self.queued.recv()?;
            if let Some(job) = self.fresh(queued) {
                return Some(job);
            }
        }
    }

    /// The next job within its deadline if one is queued now.
    fn try_recv(&self) -> Option<Job> {
        loop {
            let queued = self.queued.try_recv()?;
            if let Some(job) = self.fresh(queued) {
                return Some(job);
            }
        }
    }

    /// Every job queued now, expired or not.
    fn drain(&self) -> impl Iterator<Item = Job> + '_ {
        std::iter::from_fn(|| self.queued.try_recv()).map(|q| q.job)
    }

    fn fresh(&self, queued: Queued) -> Option<Job> {
        let waited = queued.at.elapsed();
        metrics::histogram!(crate::monitoring::WRITE_WAIT).record(waited.as_secs_f64());
        if waited <= self.deadline {
            return Some(queued.job);
        }
        tracing::warn!(waited_ms = waited.as_millis(), "a queued write expired");
        ((queued.job)(None).finish)(Some(Failure::Expired(waited)));
        None
    }
}

fn writer(pool: &r2d2::Pool<Manager>, jobs: &Jobs) {
    while let Some(first) = jobs.recv() {
        let mut conn = match pool.get() {
            Ok(conn) => conn,
            Err(e) => {
                refuse(first, jobs, &Failure::Unavailable(e.to_string()));
                continue;
            }
        };
        let DbConnection::Sqlite(sqlite) = &mut *conn else {
            refuse(
                first,
                jobs,
                &Failure::Aborted("group commit needs SQLite".to_owned()),
            );
            continue;
        };
        if let Err(e) = AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN IMMEDIATE") {
            refuse(first, jobs, &Failure::Unavailable(e.to_string()));
            continue;
        }
        run_batch(&mut conn, first, jobs);
    }
}

/// Runs `first` and what queues behind it (up to [`MAX_BATCH`]) in the open transaction, then
/// commits and tells every request.
fn run_batch(conn: &mut DbConnection, first: Job, jobs: &Jobs) {
    let mut finishes = Vec::with_capacity(MAX_BATCH);
    let mut next = Some(first);
    let mut aborted: Option<Failure> = None;
    while let Some(job) = next.take() {
        match run_in_savepoint(conn, job) {
            Ok(finish) => finishes.push(finish),
            Err((finish, failure)) => {
                finishes.extend(finish);
                aborted = Some(failure);
                break;
            }
        }
        if finishes.len() < MAX_BATCH {
            next = jobs.try_recv();
        }
    }
    type Tm = <DbConnection as diesel::Connection>::TransactionManager;
    let failure = match aborted {
        None => Tm::commit_transaction(conn)
            .err()
            .map(|e| Failure::Aborted(format!("the transaction could not be committed: {e}"))),
        Some(failure) => {
            // Leave the connection out of any transaction; if that fails too, diesel marks it
            // broken and the pool discards it.
            while matches!(transaction_depth(conn), Ok(d) if d > 0) {
                if let Err(e) = Tm::rollback_transaction(conn) {
                    tracing::error!(error = %e, "rolling back an aborted batch failed");
                    break;
                }
            }
            Some(failure)
        }
    };
    metrics::histogram!(crate::monitoring::WRITE_BATCH_SIZE).record(finishes.len() as f64);
    if let Some(failure) = &failure {
        tracing::error!(requests = finishes.len(), reason = ?failure, "a write batch failed; none of its requests was written");
    }
    for finish in finishes {
        finish(failure.clone());
    }
}

/// Runs one request inside a savepoint: kept when it succeeds, rolled back when it fails. A
/// panic, or savepoint bookkeeping that fails, aborts the batch (`Err`).
///
/// The savepoint is [`super::write_tx`]'s own kind (statements kept prepared, invisible to
/// diesel's transaction depth), so a request's `write_tx` still sees the batch's transaction
/// and nests its savepoint in this one. A request rolled back to its savepoint leaves the batch
/// as it found it.
fn run_in_savepoint(
    conn: &mut DbConnection,
    job: Job,
) -> Result<Finish, (Option<Finish>, Failure)> {
    if let Err(e) = savepoint(conn) {
        let outcome = job(None);
        return Err((
            Some(outcome.finish),
            Failure::Aborted(format!("could not open a savepoint: {e}")),
        ));
    }
    let expected = transaction_depth(conn).ok();
    let outcome = match catch_unwind(AssertUnwindSafe(|| job(Some(conn)))) {
        Ok(outcome) => outcome,
        // The request's reply channel went with the unwound closure: its caller learns that
        // the write was abandoned.
        Err(_) => {
            return Err((
                None,
                Failure::Aborted("a request of the batch panicked".to_owned()),
            ));
        }
    };
    if transaction_depth(conn).ok() != expected {
        return Err((
            Some(outcome.finish),
            Failure::Aborted("a request left a transaction open".to_owned()),
        ));
    }
    match end_savepoint(conn, outcome.succeeded) {
        Ok(()) => Ok(outcome.finish),
        Err(e) => Err((
            Some(outcome.finish),
            Failure::Aborted(format!("could not close a savepoint: {e}")),
        )),
    }
}

/// Tells `first` and everything queued behind it that it was not written.
fn refuse(first: Job, jobs: &Jobs, failure: &Failure) {
    tracing::warn!(reason = ?failure, "write requests refused");
    for job in std::iter::once(first).chain(jobs.drain()) {
        (job(None).finish)(Some(failure.clone()));
    }
}
