//! A small pool of threads for CPU-heavy work that is not database work (argon2 password
//! hashing): a fixed number of threads fed by a bounded queue.
//!
//! Database work runs on actix's blocking pool; work that keeps a core busy for tens of
//! milliseconds does not belong there, where a flood of it delays every org's reads. Here it
//! takes at most `threads` cores, and when `queue` jobs are already waiting the next one is
//! refused ([`StoreError::Overloaded`], answered 503 with `Retry-After`) instead of queueing
//! without bound.
//!
//! Shared fairly between organizations (docs/limits.md, "Sharing the server between
//! organizations"): the queue hands out jobs in the organizations' turns ([`super::fair`]), and
//! an organization with nothing queued is never refused for a queue that others filled. The
//! threads run at a lower CPU priority than the server's others (`nice` [`crate::priority::NICE`]): the work here
//! is deliberately slow and waited for by one request, so while the cores are contended the
//! kernel gives them first to the short requests of every organization, and while they are not
//! the pool still has them all.

use std::sync::Arc;

use super::{StoreError, fair};

type Job = Box<dyn FnOnce() + Send>;

/// The handle jobs are queued through; the threads stop when the last handle is dropped.
#[derive(Clone)]
pub struct Pool {
    queue: fair::Sender<Job>,
    capacity: usize,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl Pool {
    /// Starts `threads` threads (at least one) behind a queue of `queue` jobs (at least one).
    pub fn start(threads: usize, queue: usize) -> std::io::Result<Pool> {
        let (sender, jobs) = fair::channel::<Job>();
        let jobs = Arc::new(jobs);
        for n in 0..threads.max(1) {
            let jobs = Arc::clone(&jobs);
            std::thread::Builder::new()
                .name(format!("roster-compute-{n}"))
                .spawn(move || {
                    crate::priority::lower("the compute threads");
                    work(&jobs);
                })?;
        }
        Ok(Pool {
            queue: sender,
            capacity: queue.max(1),
        })
    }

    /// Runs `f` on the pool and returns its result; refused at once when the queue is full.
    pub async fn run<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let span = tracing::Span::current();
        let meter = fair::meter();
        let job: Job = Box::new(move || {
            let _entered = span.enter();
            let output = fair::timed(meter.as_deref(), f);
            // Let go of the request's meter before it is answered, so that its work is all
            // counted by then.
            drop(meter);
            // The caller may have gone; the work is done either way.
            let _ = reply.send(output);
        });
        match self.queue.try_send(fair::current(), job, self.capacity) {
            Ok(()) => {}
            Err(fair::Full::Full(_)) => {
                return Err(StoreError::Overloaded {
                    why: "too many password hashes are waiting to be computed".to_owned(),
                    retry_after_secs: 1,
                });
            }
            Err(fair::Full::Gone(_)) => {
                return Err(StoreError::Task(
                    "the compute threads have stopped".to_owned(),
                ));
            }
        }
        answer
            .await
            .map_err(|_| StoreError::Task("a compute job was abandoned".to_owned()))
    }
}

fn work(jobs: &fair::Receiver<Job>) {
    while let Some(job) = jobs.recv() {
        // A panicking job loses only its own answer; the thread keeps serving.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_queue_refuses_at_once() {
        let pool = Pool::start(1, 1).unwrap();
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let (started, running) = tokio::sync::oneshot::channel::<()>();
        let busy = {
            let pool = pool.clone();
            tokio::spawn(async move {
                pool.run(move || {
                    let _ = started.send(());
                    let _ = wait.recv();
                })
                .await
            })
        };
        running.await.unwrap();
        // The thread is busy: one job may wait, the next of the same organization is refused.
        assert!(
            pool.queue
                .try_send(fair::current(), Box::new(|| {}), 1)
                .is_ok()
        );
        assert!(matches!(
            pool.run(|| 3).await,
            Err(StoreError::Overloaded { .. })
        ));
        // Another organization, with nothing queued, still gets its turn.
        let other = {
            let pool = pool.clone();
            tokio::spawn(async move { fair::serve_for("other", |_| {}, pool.run(|| 4)).await })
        };
        tokio::task::yield_now().await;
        release.send(()).unwrap();
        assert!(busy.await.unwrap().is_ok());
        assert_eq!(other.await.unwrap().unwrap(), 4);
        assert_eq!(pool.run(|| 2).await.unwrap(), 2);
    }
}
