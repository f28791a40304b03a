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
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

tokio::task_local! {
    /// The organization the running request is served for.
    static ORG: Arc<str>;
}

/// The turn of work done for no organization (background workers, start-up).
const NO_ORG: &str = "";

/// Runs `work` (a request's handler) as work for `org`: the jobs it queues take `org`'s turns.
pub async fn serve_for<F: Future>(org: &str, work: F) -> F::Output {
    ORG.scope(Arc::from(org), work).await
}

/// The organization the current request is served for; the shared turn of background work
/// outside one.
pub fn current() -> Arc<str> {
    ORG.try_with(Arc::clone)
        .unwrap_or_else(|_| Arc::from(NO_ORG))
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
        let seen = serve_for("acme", async { current() }).await;
        assert_eq!(&*seen, "acme");
    }
}
