//! The delivery worker (docs/events.md): sends the outbox's events to their receivers as
//! Standard Webhooks or, for `set` subscriptions, as Security Event Tokens pushed per RFC 8935,
//! at least once and in order per subscription.
//!
//! It looks for work when this process commits an event (woken through [`Store::outbox`],
//! after the commit), when one of its subscription tasks ends, and every
//! `ROSTER_EVENTS_POLL_INTERVAL` (events committed by other nodes, retries coming due). It
//! leases the subscriptions whose oldest pending event is due (`store::events::claim`:
//! `SKIP LOCKED` on PostgreSQL, so nodes share the work without waiting on each other) and
//! delivers each in a task of its own, at most [`CONCURRENT`] at once, so a slow or dead
//! receiver holds back only its own subscription. A subscription's task reads its pending
//! events in batches and sends them strictly one after another, oldest first, recording the
//! answers in one write per batch (and at least every [`RECORD_EVERY`]); it keeps its lease
//! while events keep coming, and gives it back in its last write. A failure ends that
//! subscription's turn and schedules its head again (exponential backoff, full jitter,
//! `Retry-After` honoured). A subscription failing for longer than the retry window, or
//! answered `410 Gone`, is disabled, and keeps its undelivered events for when an admin
//! enables it again. A worker that dies holding a lease hands over when the lease expires; the
//! events it sent but had not recorded are sent again (at least once).
//!
//! It runs on a thread of its own at a lower CPU priority ([`Worker::spawn`]): request handlers
//! never wait for it, and while the cores are saturated they are served first and deliveries
//! catch up afterwards. When more subscriptions are due than it takes at once, those whose
//! head event has waited longest go first. Its database work is small statements: on SQLite
//! its writes queue in the same writer as requests' writes, one short savepoint per batch of
//! events.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderValue, RETRY_AFTER};

use super::events::is_public;
use crate::clock;
use crate::config::EventSettings;
use crate::events::set::{self, SetSigner};
use crate::events::{retry_delay, webhook};
use crate::store::events::{self, Attempt, DeliveryRow, SET, SubscriptionRow};
use crate::store::{Store, StoreError, write_tx};

/// Subscriptions one worker delivers at once, each in a task of its own: a slow or unreachable
/// receiver holds one of these, never the others.
const CONCURRENT: usize = 16;
/// Pending events of one subscription read at once; the next batch is read when this one is
/// sent.
const BATCH: i64 = 100;
/// Acknowledged attempts are recorded at least this often (and at a failure, and at the end
/// of each batch): each record renews the lease, which outlives one request.
const RECORD_EVERY: Duration = Duration::from_millis(500);
/// A woken worker looks for due subscriptions at most this often: a burst of commits costs a
/// look per interval, not one per commit.
const LOOK_SPACING: Duration = Duration::from_millis(10);
/// The longest wait between two attempts.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(3600);
/// How much of a response body is kept, for the deliveries API.
const EXCERPT_BYTES: usize = 256;
/// A lease outlives one attempt by this much, so a live worker never loses it mid-request.
const LEASE_MARGIN: Duration = Duration::from_secs(30);

/// The delivery worker of one process.
#[derive(Debug, Clone)]
pub struct Worker {
    store: Store,
    client: reqwest::Client,
    settings: EventSettings,
    /// Signs the SETs of `set` subscriptions.
    signer: Arc<SetSigner>,
    /// The `iss` of those SETs.
    issuer: String,
    /// This worker's name in `lease_owner`.
    owner: String,
    /// Set when the process shuts down ([`Stopper`]).
    stop: std::sync::Arc<tokio::sync::watch::Sender<bool>>,
}

/// A [`Worker`] running on a thread of its own ([`Worker::spawn`]). Dropping it stops the
/// worker at once, as [`Running::stop`] does past its grace.
#[derive(Debug)]
pub struct Running {
    stopper: Stopper,
    /// Answered (or dropped) when the worker's thread is done.
    done: tokio::sync::oneshot::Receiver<()>,
    /// Sent (or dropped) to drop the worker mid-attempt.
    abort: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Running {
    /// Asks the worker to stop and waits up to `grace` for it to finish the attempt it is
    /// making; past that, drops it (the events it had not recorded are sent again by the next
    /// worker: at least once). Whether it stopped within `grace`.
    pub async fn stop(mut self, grace: Duration) -> bool {
        self.stopper.stop();
        let stopped = tokio::time::timeout(grace, &mut self.done).await.is_ok();
        if let Some(abort) = self.abort.take() {
            // Unheard when the worker has already stopped.
            let _ = abort.send(());
        }
        stopped
    }
}

/// Asks a running [`Worker`] to stop after the attempt it is making.
#[derive(Debug, Clone)]
pub struct Stopper(std::sync::Arc<tokio::sync::watch::Sender<bool>>);

impl Stopper {
    /// Stop: no new turn, no next event; the attempt under way is finished and recorded.
    pub fn stop(&self) {
        self.0.send_replace(true);
    }
}

impl Worker {
    /// A worker sending through its own HTTP client: no redirects followed, each request
    /// bounded by `settings.timeout`, and (unless insecure receivers are allowed) host names
    /// resolving only to public addresses, checked on every connection. `set` subscriptions'
    /// SETs are signed by `signer`, with `issuer` as their `iss`.
    pub fn new(
        store: Store,
        settings: EventSettings,
        signer: Arc<SetSigner>,
        issuer: String,
    ) -> Result<Worker, reqwest::Error> {
        let mut client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            .user_agent(concat!("roster/", env!("CARGO_PKG_VERSION")));
        if !settings.allow_insecure {
            client = client.dns_resolver(std::sync::Arc::new(PublicOnly));
        }
        Ok(Worker {
            store,
            client: client.build()?,
            settings,
            signer,
            issuer,
            owner: format!("worker-{}", uuid::Uuid::new_v4().simple()),
            stop: std::sync::Arc::new(tokio::sync::watch::Sender::new(false)),
        })
    }

    /// Runs the worker ([`Worker::run`]) on a thread of its own, on a single-threaded runtime
    /// of its own, at a lower CPU priority ([`crate::priority`]). Delivering is background work
    /// that no request waits on: while the cores are saturated the kernel gives them first to
    /// the requests, and deliveries fall behind (and catch up afterwards) instead of taking the
    /// requests' throughput; while they are not, the worker has all the CPU it needs
    /// (docs/events.md, "Latency").
    pub fn spawn(self) -> std::io::Result<Running> {
        let stopper = self.stopper();
        let (finished, done) = tokio::sync::oneshot::channel();
        let (abort, aborted) = tokio::sync::oneshot::channel::<()>();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        std::thread::Builder::new()
            .name("roster-events".to_owned())
            .spawn(move || {
                crate::priority::lower("the event delivery worker");
                runtime.block_on(async {
                    tokio::select! {
                        () = self.run() => {}
                        _ = aborted => {}
                    }
                });
                // Dropping the runtime first drops the subscription tasks that were cut short.
                drop(runtime);
                let _ = finished.send(());
            })?;
        Ok(Running {
            stopper,
            done,
            abort: Some(abort),
        })
    }

    /// What stops this worker.
    pub fn stopper(&self) -> Stopper {
        Stopper(self.stop.clone())
    }

    fn stopping(&self) -> bool {
        *self.stop.borrow()
    }

    /// Delivers until stopped ([`Worker::stopper`]) or the task is dropped. It looks for due
    /// subscriptions when this process commits an event ([`Store::outbox`]), when one of its
    /// subscription tasks ends, and every `poll_interval` (the events other nodes committed,
    /// retries coming due); it leases what it finds and delivers each subscription in a task
    /// of its own, at most [`CONCURRENT`] at once. Once stopped, it waits for those tasks to
    /// finish the attempt they are making.
    pub async fn run(self) {
        tracing::info!(owner = %self.owner, "event delivery worker started");
        let outbox = self.store.outbox();
        let mut stop = self.stop.subscribe();
        let mut running = tokio::task::JoinSet::new();
        let mut last_look: Option<tokio::time::Instant> = None;
        while !self.stopping() {
            let free = free(&mut running);
            if free > 0 {
                if let Some(at) = last_look {
                    tokio::time::sleep_until(at + LOOK_SPACING).await;
                }
                last_look = Some(tokio::time::Instant::now());
                match self.claim(free).await {
                    Ok(claimed) => {
                        for subscription in claimed {
                            let worker = self.clone();
                            running.spawn(async move { worker.drain(subscription).await });
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "looking for due events failed"),
                }
            }
            tokio::select! {
                () = outbox.notified() => {}
                Some(done) = running.join_next(), if !running.is_empty() => log_join(done),
                () = tokio::time::sleep(self.settings.poll_interval) => {}
                () = stopped(&mut stop) => {}
            }
        }
        while let Some(done) = running.join_next().await {
            log_join(done);
        }
        tracing::info!(owner = %self.owner, "event delivery worker stopped");
    }

    /// Leases up to `limit` subscriptions that have an event due and no live lease. A read
    /// first, so that looking costs no write when there is nothing to lease.
    async fn claim(&self, limit: usize) -> Result<Vec<SubscriptionRow>, StoreError> {
        let now = clock::now();
        if !self
            .store
            .run(move |conn| Ok::<_, StoreError>(events::any_due(conn, now)?))
            .await?
        {
            return Ok(Vec::new());
        }
        let owner = self.owner.clone();
        let until = self.lease_until(now);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.store
            .run_write(move |conn| {
                write_tx(conn, |conn| {
                    Ok::<_, StoreError>(events::claim(conn, &owner, now, until, limit)?)
                })
            })
            .await
    }

    fn lease_until(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let lease = self.settings.timeout.saturating_add(LEASE_MARGIN);
        now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX)
    }

    /// Sends `subscription`'s due events in order, batch after batch, until one fails, none is
    /// left, or the worker stops; then gives the lease back (in the last batch's write, or on
    /// its own). Events committed meanwhile are in the next batch, without a new lease.
    async fn drain(&self, subscription: SubscriptionRow) {
        let mut failing_since = subscription.failing_since.map(|t| t.and_utc());
        let released = loop {
            match self.send_batch(&subscription, &mut failing_since).await {
                Ok(Batch::More) => {}
                Ok(Batch::Released) => break true,
                Ok(Batch::Done) => break false,
                Err(e) => {
                    tracing::warn!(subscription = %subscription.id, error = %e, "event delivery interrupted");
                    break false;
                }
            }
        };
        if released {
            return;
        }
        let (id, owner) = (subscription.id.clone(), self.owner.clone());
        let released = self
            .store
            .run_write(move |conn| {
                write_tx(conn, |conn| {
                    Ok::<_, StoreError>(events::release(conn, &id, &owner)?)
                })
            })
            .await;
        if let Err(e) = released {
            // The lease expires by itself.
            tracing::warn!(subscription = %subscription.id, error = %e, "could not release a lease");
        }
    }

    /// Sends the subscription's oldest pending events (at most [`BATCH`]), each only after the
    /// one before it was acknowledged. Attempts are recorded in batches (every
    /// [`RECORD_EVERY`], at a failure, and at the end), each write renewing the lease: an
    /// acknowledged event costs its request, not a database write of its own. A crash before a
    /// batch is recorded sends its events again (at least once). A failure ends the turn, with
    /// the head scheduled again; a batch shorter than [`BATCH`] gives the lease back in its
    /// last write.
    async fn send_batch(
        &self,
        subscription: &SubscriptionRow,
        failing_since: &mut Option<DateTime<Utc>>,
    ) -> Result<Batch, StoreError> {
        let id = subscription.id.clone();
        let batch = self
            .store
            .run(move |conn| Ok::<_, StoreError>(events::pending(conn, &id, BATCH)?))
            .await?;
        let Some(head) = batch.first() else {
            return Ok(Batch::Done);
        };
        // Only the head waits for its retry; the events behind it wait for the head.
        if head.next_attempt_at.and_utc() > clock::now() {
            return Ok(Batch::Done);
        }
        let last_of_all = batch.len() < usize::try_from(BATCH).unwrap_or(usize::MAX);
        let mut attempts: Vec<Recorded> = Vec::new();
        let mut last_record = std::time::Instant::now();
        for (n, head) in batch.iter().enumerate() {
            if self.stopping() {
                break;
            }
            let outcome = self.send(subscription, head).await;
            let at = clock::now();
            let failed = outcome.error.is_some();
            let attempt = if failed { "failed" } else { "delivered" };
            metrics::counter!(crate::monitoring::DELIVERY_ATTEMPTS, "outcome" => attempt)
                .increment(1);
            *failing_since = match (&outcome.error, *failing_since) {
                (None, _) => None,
                (Some(_), Some(since)) => Some(since),
                (Some(_), None) => Some(at),
            };
            let disable = match (&outcome.error, *failing_since) {
                (Some(error), _) if outcome.status == Some(410) => {
                    Some(format!("the receiver answered 410 Gone: {error}"))
                }
                (Some(error), Some(since))
                    if at.signed_duration_since(since).to_std().unwrap_or_default()
                        >= self.settings.retry_window =>
                {
                    Some(format!(
                        "deliveries failed without a success since {}: {error}",
                        since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                    ))
                }
                _ => None,
            };
            let delay = retry_delay(
                u32::try_from(head.attempts.saturating_add(1)).unwrap_or(u32::MAX),
                self.settings.retry_base,
                MAX_RETRY_DELAY,
                outcome.retry_after,
                random_unit(),
            );
            if let Some(reason) = &disable {
                metrics::counter!(crate::monitoring::SUBSCRIPTIONS_DISABLED).increment(1);
                tracing::warn!(subscription = %subscription.id, %reason, "event subscription disabled");
            } else if let Some(error) = &outcome.error {
                tracing::info!(subscription = %subscription.id, event = %head.event_id, attempts = head.attempts + 1, retry_in = ?delay, %error, "event delivery failed; will retry");
            }
            attempts.push(Recorded {
                delivery: head.id,
                at,
                status: outcome.status.map(i32::from),
                error: outcome.error,
                response_excerpt: outcome.excerpt,
                retry_at: at
                    + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::zero()),
            });
            let last = n + 1 == batch.len();
            if failed || last || last_record.elapsed() >= RECORD_EVERY {
                // Given back with the record when this turn ends here.
                let release = failed || (last && last_of_all);
                let standing = Standing {
                    failing_since: *failing_since,
                    disable: disable.map(|reason| (reason, at)),
                    lease_until: (!release).then(|| self.lease_until(at)),
                };
                let held = self
                    .record(subscription, std::mem::take(&mut attempts), standing)
                    .await?;
                last_record = std::time::Instant::now();
                if !held {
                    // Another worker took over: nothing of ours to give back.
                    return Ok(Batch::Released);
                }
                if release {
                    return Ok(Batch::Released);
                }
            }
        }
        if attempts.is_empty() {
            // Stopped after a record, or the batch was recorded to its end.
            return Ok(if self.stopping() {
                Batch::Done
            } else {
                Batch::More
            });
        }
        // Stopped mid-batch: record what was sent, and give the lease back.
        let standing = Standing {
            failing_since: *failing_since,
            disable: None,
            lease_until: None,
        };
        self.record(subscription, attempts, standing).await?;
        Ok(Batch::Released)
    }

    /// Records `attempts` and the subscription's `standing` in one transaction, if this worker
    /// still holds the lease. Whether it did.
    async fn record(
        &self,
        subscription: &SubscriptionRow,
        attempts: Vec<Recorded>,
        standing: Standing,
    ) -> Result<bool, StoreError> {
        let (id, owner) = (subscription.id.clone(), self.owner.clone());
        self.store
            .run_write(move |conn| {
                write_tx(conn, |conn| {
                    let attempts: Vec<Attempt<'_>> = attempts
                        .iter()
                        .map(|recorded| Attempt {
                            delivery: recorded.delivery,
                            at: recorded.at,
                            status: recorded.status,
                            error: recorded.error.as_deref(),
                            response_excerpt: recorded.response_excerpt.as_deref(),
                            retry_at: recorded.retry_at,
                        })
                        .collect();
                    let standing = events::Standing {
                        failing_since: standing.failing_since,
                        disable: standing
                            .disable
                            .as_ref()
                            .map(|(reason, at)| (reason.as_str(), *at)),
                        lease_until: standing.lease_until,
                    };
                    Ok::<_, StoreError>(events::record(conn, &id, &owner, &attempts, &standing)?)
                })
            })
            .await
    }

    /// One attempt: POST the stored body, signed for this attempt's timestamp (webhooks), or
    /// the SET made of the stored claims (`set`).
    async fn send(&self, subscription: &SubscriptionRow, head: &DeliveryRow) -> Outcome {
        let is_set = subscription.format == SET;
        let request = if is_set {
            let token = match self.signer.sign(
                &head.body,
                &head.event_id,
                &self.issuer,
                subscription.set_audience(),
            ) {
                Ok(token) => token,
                Err(e) => return Outcome::failed(None, e.to_string()),
            };
            self.client
                .post(&subscription.url)
                .header(CONTENT_TYPE, HeaderValue::from_static(set::MEDIA_TYPE))
                .header(ACCEPT, HeaderValue::from_static("application/json"))
                .body(token)
        } else {
            let timestamp = clock::unix_now();
            let signature = match webhook::sign(
                &subscription.secret,
                &head.event_id,
                timestamp,
                head.body.as_bytes(),
            ) {
                Ok(signature) => signature,
                Err(e) => return Outcome::failed(None, format!("cannot sign: {e}")),
            };
            self.client
                .post(&subscription.url)
                .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
                .header("webhook-id", &head.event_id)
                .header("webhook-timestamp", timestamp.to_string())
                .header("webhook-signature", signature)
                .body(head.body.clone())
        };
        let mut response = match request.send().await {
            Ok(response) => response,
            Err(e) => return Outcome::failed(None, describe(&e)),
        };
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let mut excerpt = Vec::new();
        while excerpt.len() < EXCERPT_BYTES {
            match response.chunk().await {
                Ok(Some(chunk)) => excerpt.extend_from_slice(&chunk),
                Ok(None) | Err(_) => break,
            }
        }
        excerpt.truncate(EXCERPT_BYTES);
        let error = (!status.is_success()).then(|| {
            if status.is_redirection() {
                format!("the receiver answered {status}; redirects are not followed")
            } else if let Some(refusal) =
                is_set.then(|| set::describe_error_body(&excerpt)).flatten()
            {
                // RFC 8935 §2.3: {"err": "…", "description": "…"}.
                format!("the receiver answered {status}: {refusal}")
            } else {
                format!("the receiver answered {status}")
            }
        });
        let excerpt = (!excerpt.is_empty()).then(|| String::from_utf8_lossy(&excerpt).into_owned());
        Outcome {
            status: Some(status.as_u16()),
            error,
            excerpt,
            retry_after,
        }
    }
}

/// An attempt to record.
#[derive(Debug)]
struct Recorded {
    delivery: i64,
    at: DateTime<Utc>,
    status: Option<i32>,
    error: Option<String>,
    response_excerpt: Option<String>,
    retry_at: DateTime<Utc>,
}

/// A subscription's standing to record with a batch of attempts ([`events::Standing`]).
#[derive(Debug)]
struct Standing {
    failing_since: Option<DateTime<Utc>>,
    disable: Option<(String, DateTime<Utc>)>,
    /// `None`: give the lease back.
    lease_until: Option<DateTime<Utc>>,
}

/// How a batch of a subscription's events went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Batch {
    /// Sent and recorded to its end, the lease still held: read the next one.
    More,
    /// The turn is over and the lease no longer held (given back, or taken over).
    Released,
    /// The turn is over and the lease still held: give it back.
    Done,
}

/// How many more subscription turns may start: every turn that has ended is reaped first.
/// The worker's `select!` takes at most one ended turn per wake-up; a turn still counted after
/// it ended would shrink the next claim, until only the subscription leased first got turns.
fn free(running: &mut tokio::task::JoinSet<()>) -> usize {
    while let Some(done) = running.try_join_next() {
        log_join(done);
    }
    CONCURRENT.saturating_sub(running.len())
}

/// Returns once the worker is asked to stop.
async fn stopped(stop: &mut tokio::sync::watch::Receiver<bool>) {
    drop(stop.wait_for(|s| *s).await);
}

/// Logs a subscription task that panicked or was cancelled.
fn log_join(done: Result<(), tokio::task::JoinError>) {
    if let Err(e) = done {
        tracing::error!(error = %e, "a subscription's delivery turn failed");
    }
}

/// What one attempt came to.
#[derive(Debug)]
struct Outcome {
    status: Option<u16>,
    /// `None`: acknowledged (2xx).
    error: Option<String>,
    excerpt: Option<String>,
    retry_after: Option<Duration>,
}

impl Outcome {
    fn failed(status: Option<u16>, error: String) -> Outcome {
        Outcome {
            status,
            error: Some(error),
            excerpt: None,
            retry_after: None,
        }
    }
}

/// A transport failure in words an admin can act on.
fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "the receiver did not answer in time".to_owned()
    } else if e.is_connect() {
        format!("could not connect to the receiver: {}", root_cause(e))
    } else {
        format!("the request failed: {}", root_cause(e))
    }
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// A uniform random number in `[0, 1)`, for jitter. Without randomness, the full delay.
fn random_unit() -> f64 {
    getrandom::u64().map_or(1.0, |x| (x >> 11) as f64 / (1u64 << 53) as f64)
}

/// Resolves receiver host names to their public addresses only, so a name that points at a
/// loopback, private or link-local address (or is re-pointed there after the subscription was
/// checked) is never connected to. reqwest connects to the addresses returned here.
#[derive(Debug)]
struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let resolved = tokio::net::lookup_host((host.as_str(), 0)).await?;
            let public: Vec<SocketAddr> = resolved.filter(|a| is_public(a.ip())).collect();
            if public.is_empty() {
                return Err(format!("{host} resolves to no public address").into());
            }
            Ok(Box::new(public.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn turns_that_ended_leave_room_for_the_next_claim() {
        let mut running = tokio::task::JoinSet::new();
        for _ in 0..CONCURRENT {
            running.spawn(async {});
        }
        // Every turn runs to its end; none has been joined yet.
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(free(&mut running), CONCURRENT);
        running.spawn(std::future::pending());
        assert_eq!(free(&mut running), CONCURRENT - 1);
    }
}
