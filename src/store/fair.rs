//! Fair queueing across organizations (docs/limits.md, "Sharing the server between
//! organizations").
//!
//! The queues that every organization's work passes through — the SQLite writer's
//! ([`super::writer`]) and the compute pool's ([`super::compute`]) — hand out their jobs in turns:
//! one job of each organization that has jobs queued, then the next round. Within an
//! organization, jobs keep their arrival order. So an organization's backlog waits behind its own
//! jobs, not in front of another's: a job of an organization with nothing queued is at most one
//! round (one job per other organization) from the head, however many jobs the others queued.
//! Alone, an organization has the queue to itself (the queue never idles while it holds a job).
//!
//! Which organization a job belongs to is the one the request is served for: the HTTP layer runs
//! each request's handler inside [`serve_for`], and the queues read it with [`current`] when the
//! job is queued. Work outside a request (the event delivery worker, start-up) belongs to no
//! organization and shares one turn of its own.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

tokio::task_local! {
    /// The request being served: its organization, and what its work has cost so far.
    static SERVING: Serving;
}

/// What [`serve_for`] puts in scope.
#[derive(Debug, Clone)]
struct Serving {
    org: Arc<str>,
    meter: Arc<Meter>,
}

/// The turn of work done for no organization (background workers, start-up).
const NO_ORG: &str = "";

/// The time one request's work has occupied the server's shared resources: a pooled database
/// connection (the statements of a read or a PostgreSQL write), the SQLite writer (a write's own
/// statements, inside its batch) and the compute pool (a password hash). Waiting for any of them
/// is not counted, only the work itself.
///
/// The work takes the meter along to the thread it runs on, and the meter is read when the last
/// of them lets go of it: when the request has been answered and its work has all ended, even
/// work that goes on after its client has gone. The HTTP layer charges it to the organization's
/// rate limit then (docs/limits.md, "Rate limits").
pub struct Meter {
    nanos: AtomicU64,
    /// Called with the time counted, once, when the meter is dropped.
    done: Option<Done>,
}

type Done = Box<dyn FnOnce(Duration) + Send + Sync>;

impl std::fmt::Debug for Meter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Meter")
            .field("spent", &self.spent())
            .finish_non_exhaustive()
    }
}

impl Meter {
    /// Adds `spent` to the request's cost.
    pub fn add(&self, spent: Duration) {
        let nanos = u64::try_from(spent.as_nanos()).unwrap_or(u64::MAX);
        self.nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// The time counted so far.
    pub fn spent(&self) -> Duration {
        Duration::from_nanos(self.nanos.load(Ordering::Relaxed))
    }
}

impl Drop for Meter {
    fn drop(&mut self) {
        if let Some(done) = self.done.take() {
            done(self.spent());
        }
    }
}

/// Runs `work` (a request's handler) as work for `org`: the jobs it queues take `org`'s turns,
/// and the time they take is counted ([`Meter`]) and handed to `done` once all of it has ended.
pub async fn serve_for<F: Future>(
    org: &str,
    done: impl FnOnce(Duration) + Send + Sync + 'static,
    work: F,
) -> F::Output {
    let serving = Serving {
        org: Arc::from(org),
        meter: Arc::new(Meter {
            nanos: AtomicU64::new(0),
            done: Some(Box::new(done)),
        }),
    };
    SERVING.scope(serving, work).await
}

/// The organization the current request is served for; the shared turn of background work
/// outside one.
pub fn current() -> Arc<str> {
    SERVING
        .try_with(|serving| Arc::clone(&serving.org))
        .unwrap_or_else(|_| Arc::from(NO_ORG))
}

/// The current request's meter, to be taken along to the thread that does its work; `None`
/// outside a request.
pub fn meter() -> Option<Arc<Meter>> {
    SERVING.try_with(|serving| Arc::clone(&serving.meter)).ok()
}

/// Runs `work`, counting its time on `meter` when there is one.
pub fn timed<T>(meter: Option<&Meter>, work: impl FnOnce() -> T) -> T {
    let Some(meter) = meter else {
        return work();
    };
    let started = Instant::now();
    let output = work();
    meter.add(started.elapsed());
    output
}

/// Jobs queued per organization, handed out round-robin across organizations.
#[derive(Debug)]
pub struct FairQueue<T> {
    queues: HashMap<Arc<str>, VecDeque<T>>,
    /// The organizations with queued jobs, in the order of their next turn.
    turns: VecDeque<Arc<str>>,
    len: usize,
}

impl<T> Default for FairQueue<T> {
    fn default() -> Self {
        FairQueue {
            queues: HashMap::new(),
            turns: VecDeque::new(),
            len: 0,
        }
    }
}

impl<T> FairQueue<T> {
    /// Queues `job` behind `org`'s other jobs; an organization with none queued takes the last
    /// turn of the current round.
    pub fn push(&mut self, org: Arc<str>, job: T) {
        let queue = self.queues.entry(Arc::clone(&org)).or_default();
        if queue.is_empty() {
            self.turns.push_back(org);
        }
        queue.push_back(job);
        self.len += 1;
    }

    /// The oldest job of the organization whose turn it is; that organization's next job (if
    /// any) waits for its next turn.
    pub fn pop(&mut self) -> Option<T> {
        let org = self.turns.pop_front()?;
        let queue = self.queues.get_mut(&org)?;
        let job = queue.pop_front();
        if queue.is_empty() {
            self.queues.remove(&org);
        } else {
            self.turns.push_back(org);
        }
        if job.is_some() {
            self.len -= 1;
        }
        job
    }

    /// Jobs queued, all organizations together.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no job is queued.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Jobs `org` has queued.
    pub fn queued(&self, org: &str) -> usize {
        self.queues.get(org).map_or(0, VecDeque::len)
    }
}

/// A [`FairQueue`] shared between threads: senders queue jobs, receivers block until one is
/// queued or every sender is gone.
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            queue: FairQueue::default(),
            closed: false,
            served: true,
        }),
        ready: Condvar::new(),
    });
    let sender = Sender {
        _open: Arc::new(Open(Arc::clone(&shared))),
        shared: Arc::clone(&shared),
    };
    (sender, Receiver { shared })
}

#[derive(Debug)]
struct Shared<T> {
    state: Mutex<State<T>>,
    ready: Condvar,
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // A job is moved in or out under the lock and never runs under it: a poisoned lock
        // still guards a consistent queue.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[derive(Debug)]
struct State<T> {
    queue: FairQueue<T>,
    /// Every sender is gone.
    closed: bool,
    /// The receiver is still there.
    served: bool,
}

/// Closes the channel when the last [`Sender`] is dropped.
#[derive(Debug)]
struct Open<T>(Arc<Shared<T>>);

impl<T> Drop for Open<T> {
    fn drop(&mut self) {
        self.0.lock().closed = true;
        self.0.ready.notify_all();
    }
}

/// Queues jobs into a [`channel`]; cheap to clone.
#[derive(Debug)]
pub struct Sender<T> {
    shared: Arc<Shared<T>>,
    _open: Arc<Open<T>>,
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        Sender {
            shared: Arc::clone(&self.shared),
            _open: Arc::clone(&self._open),
        }
    }
}

impl<T> Sender<T> {
    /// Queues `job` for `org`; gives it back when the receiver is gone.
    pub fn send(&self, org: Arc<str>, job: T) -> Result<(), T> {
        let mut state = self.shared.lock();
        if !state.served {
            return Err(job);
        }
        state.queue.push(org, job);
        drop(state);
        self.shared.ready.notify_one();
        Ok(())
    }

    /// Queues `job` for `org` unless `capacity` jobs are queued already and `org` has one of
    /// them: an organization with nothing queued always gets in, so a full queue holds no
    /// newcomer out. Gives `job` back when refused ([`Full::Full`]) or when the receiver is gone
    /// ([`Full::Gone`]).
    pub fn try_send(&self, org: Arc<str>, job: T, capacity: usize) -> Result<(), Full<T>> {
        let mut state = self.shared.lock();
        if !state.served {
            return Err(Full::Gone(job));
        }
        if state.queue.len() >= capacity && state.queue.queued(&org) > 0 {
            return Err(Full::Full(job));
        }
        state.queue.push(org, job);
        drop(state);
        self.shared.ready.notify_one();
        Ok(())
    }
}

/// Why [`Sender::try_send`] gave a job back.
#[derive(Debug, PartialEq, Eq)]
pub enum Full<T> {
    /// The queue is at capacity and the organization has jobs in it.
    Full(T),
    /// The receiver is gone.
    Gone(T),
}

/// Takes jobs from a [`channel`], in the organizations' turns; shared by reference between the
/// threads that serve it.
#[derive(Debug)]
pub struct Receiver<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Receiver<T> {
    /// The next job, waiting for one; `None` once every sender is gone and nothing is queued.
    pub fn recv(&self) -> Option<T> {
        let mut state = self.shared.lock();
        loop {
            if let Some(job) = state.queue.pop() {
                return Some(job);
            }
            if state.closed {
                return None;
            }
            state = self
                .shared
                .ready
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// The next job if one is queued now.
    pub fn try_recv(&self) -> Option<T> {
        self.shared.lock().queue.pop()
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.shared.lock().served = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn organizations_take_turns_and_keep_their_order() {
        let mut queue = FairQueue::default();
        for i in 0..5 {
            queue.push(Arc::from("noisy"), format!("noisy{i}"));
        }
        queue.push(Arc::from("quiet"), "quiet0".to_owned());
        queue.push(Arc::from("quiet"), "quiet1".to_owned());
        let order: Vec<String> = std::iter::from_fn(|| queue.pop()).collect();
        assert_eq!(
            order,
            [
                "noisy0", "quiet0", "noisy1", "quiet1", "noisy2", "noisy3", "noisy4"
            ]
        );
        assert!(queue.is_empty());
    }

    #[test]
    fn a_full_queue_still_takes_an_organization_with_nothing_queued() {
        let (sender, receiver) = channel();
        assert!(sender.try_send(Arc::from("noisy"), 1, 2).is_ok());
        assert!(sender.try_send(Arc::from("noisy"), 2, 2).is_ok());
        assert_eq!(
            sender.try_send(Arc::from("noisy"), 3, 2),
            Err(Full::Full(3))
        );
        assert!(sender.try_send(Arc::from("quiet"), 4, 2).is_ok());
        assert_eq!(
            sender.try_send(Arc::from("quiet"), 5, 2),
            Err(Full::Full(5))
        );
        assert_eq!(receiver.try_recv(), Some(1));
        assert_eq!(receiver.try_recv(), Some(4));
        assert_eq!(receiver.try_recv(), Some(2));
        let other = sender.clone();
        drop(sender);
        assert!(other.send(Arc::from("quiet"), 6).is_ok());
        drop(other);
        assert_eq!(receiver.recv(), Some(6));
        assert_eq!(receiver.recv(), None);
        let (sender, receiver) = channel();
        drop(receiver);
        assert_eq!(sender.send(Arc::from("quiet"), 7), Err(7));
    }

    #[tokio::test]
    async fn jobs_take_the_turn_of_the_request_they_serve() {
        assert_eq!(&*current(), NO_ORG);
        let seen = serve_for("acme", |_| {}, async { current() }).await;
        assert_eq!(&*seen, "acme");
    }

    #[tokio::test]
    async fn a_request_is_charged_the_time_its_work_took_once_all_of_it_has_ended() {
        assert!(meter().is_none());
        assert_eq!(timed(meter().as_deref(), || 5), 5);
        let (charged, charge) = std::sync::mpsc::channel();
        let (release, released) = std::sync::mpsc::channel::<()>();
        let left = serve_for("acme", move |spent| charged.send(spent).unwrap(), async {
            let meter = meter().expect("in a request");
            // Waiting is not work (long beside the work below, so that a slow machine's
            // oversleeping cannot be mistaken for it).
            tokio::time::sleep(Duration::from_millis(200)).await;
            // Work on another thread counts through the meter taken along, even when it
            // outlives the request (a client that went away).
            std::thread::spawn(move || {
                released.recv().unwrap();
                timed(Some(&meter), || {
                    std::thread::sleep(Duration::from_millis(20))
                });
            })
        })
        .await;
        assert!(charge.try_recv().is_err(), "charged before its work ended");
        release.send(()).unwrap();
        left.join().unwrap();
        let spent = charge.recv().unwrap();
        assert!(spent >= Duration::from_millis(20), "{spent:?}");
        assert!(spent < Duration::from_millis(150), "{spent:?}");
    }
}
