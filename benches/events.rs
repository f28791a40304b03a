//! The lifecycle-events benchmark (issue 15; docs/performance.md, "Lifecycle events"):
//! sustained SCIM creates against a real `roster serve` process, first without event
//! subscriptions, then with two (one `webhook`, one `set`) whose receivers are loopback HTTP
//! servers in this process, on SQLite and on PostgreSQL.
//!
//! ```sh
//! cargo bench --bench events                                  # both backends, 16 clients, 20 s runs
//! cargo bench --bench events -- --backends sqlite --run-time 60s
//! cargo bench --bench events -- --rate 25,100,400             # open loop, at each of three rates
//! ```
//!
//! Two modes of load:
//!
//! - **Closed loop** (the default, as in the connector benchmark's create phase): `--clients`
//!   clients each create users one after the other, as fast as roster answers. This measures
//!   the saturated write throughput, and with subscriptions the delivery work competes with the
//!   creates for the CPU, so the worker's backlog dominates the commit→receipt delays.
//! - **Open loop** (`--rate N`, creates per second; several rates comma-separated, each run in
//!   turn): creates are issued on a fixed schedule, the k-th at `start + k / N`, each on a task
//!   of its own, whatever the previous answers did: a slow answer never delays the next send.
//!   At most `--max-in-flight` creates are outstanding; a create whose slot comes while that
//!   many are outstanding is not sent and counts as a **miss**, and one sent more than 10 ms
//!   after its slot (the scheduler itself was starved of CPU) counts as **late**. A create's
//!   latency is taken from its slot, not from when it was sent, so lateness is not hidden
//!   (no coordinated omission). This measures the delays below saturation, at the write rate of
//!   an identity provider's connector (the target's "at the connector benchmark's write rate").
//!
//! Per run: the SCIM write throughput (creates answered 201, per second from the first send to
//! the last answer) and its p50/p99; with subscriptions, the events delivered per second (both
//! receivers together, from the first create to the last receipt) and the p50/p99 from commit
//! to receipt (and the largest delay), and each receiver's p99 apart. The commit time of a create is taken as the moment its request was sent, so the
//! figures are an upper bound (they include the request's own latency). Then, per backend (and
//! rate), the creates/s with subscriptions as a share of those without. Targets: p50 < 100 ms,
//! p99 < 1 s, write throughput within 10% of the run without subscriptions.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use clap::Parser;
use roster::auth::{Role, Secret, Signer};
use serde_json::{Value, json};

const SECRET: &str = "benchmark-secret-at-least-32-bytes-long!";

/// Command line of the benchmark.
#[derive(Debug, Parser)]
struct Args {
    /// Backends to run on, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "sqlite,postgres")]
    backends: Vec<String>,
    /// Concurrent clients creating users.
    #[arg(long, default_value_t = 16)]
    clients: usize,
    /// Open loop: creates per second, issued on a fixed schedule instead of by `--clients`
    /// closed-loop clients; several rates comma-separated run one after the other.
    #[arg(long, value_delimiter = ',')]
    rate: Vec<f64>,
    /// Open loop: creates outstanding at most; a create due while this many are outstanding
    /// is not sent, and counted as a miss.
    #[arg(long, default_value_t = 512)]
    max_in_flight: usize,
    /// How long each run creates users.
    #[arg(long, default_value = "20s", value_parser = humantime::parse_duration)]
    run_time: Duration,
    /// How long to wait, after the last create, for the last events.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    drain_time: Duration,
    /// Server used to create the PostgreSQL benchmark database.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    postgres_url: String,
    /// Accepted and ignored: `cargo bench` passes it to every bench target.
    #[arg(long, hide = true)]
    bench: bool,
}

fn main() {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run(args));
}

/// One event as a receiver got it.
#[derive(Clone)]
struct Receipt {
    /// The subscription's format: `webhook` or `set`.
    format: &'static str,
    /// The created user's id.
    id: String,
    at: Instant,
}

/// When each event reached a receiver.
#[derive(Clone, Default)]
struct Receipts(Arc<Mutex<Vec<Receipt>>>);

/// A receiver on a loopback port: answers 204 (webhooks) or 202 (SETs) and notes the time.
fn receiver(receipts: Receipts) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = actix_web::HttpServer::new(move || {
        let receipts = receipts.clone();
        actix_web::App::new().default_service(actix_web::web::to(
            move |req: actix_web::HttpRequest, body: actix_web::web::Bytes| {
                let receipts = receipts.clone();
                async move {
                    let at = Instant::now();
                    let is_set = req
                        .headers()
                        .get("content-type")
                        .is_some_and(|v| v.as_bytes() == b"application/secevent+jwt");
                    let id = if is_set {
                        set_subject(&body)
                    } else {
                        serde_json::from_slice::<Value>(&body)
                            .ok()
                            .and_then(|e| e["data"]["id"].as_str().map(str::to_owned))
                    };
                    if let Some(id) = id {
                        let format = if is_set { "set" } else { "webhook" };
                        receipts.0.lock().unwrap().push(Receipt { format, id, at });
                    }
                    if is_set {
                        actix_web::HttpResponse::Accepted().finish()
                    } else {
                        actix_web::HttpResponse::NoContent().finish()
                    }
                }
            },
        ))
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    format!("http://127.0.0.1:{port}/events")
}

/// The `sub_id.id` of a SET (its signature is not checked here: the tests do that).
fn set_subject(body: &[u8]) -> Option<String> {
    let token = std::str::from_utf8(body).ok()?;
    let payload = token.split('.').nth(1)?;
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .ok()?,
    )
    .ok()?;
    claims["sub_id"]["id"].as_str().map(str::to_owned)
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A fresh database: a file in `dir`, or a new PostgreSQL database (dropped by the caller).
fn database(args: &Args, backend: &str, dir: &std::path::Path, run: usize) -> String {
    if backend == "sqlite" {
        return dir.join(format!("events-{run}.db")).display().to_string();
    }
    use diesel::{Connection as _, RunQueryDsl as _};
    let name = format!("roster_bench_events_{}_{run}", std::process::id());
    let mut admin = diesel::PgConnection::establish(&args.postgres_url).unwrap();
    diesel::sql_query(format!("DROP DATABASE IF EXISTS {name}"))
        .execute(&mut admin)
        .unwrap();
    diesel::sql_query(format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .unwrap();
    let base = args.postgres_url.rsplit_once('/').unwrap().0;
    format!("{base}/{name}")
}

fn drop_database(args: &Args, url: &str) {
    use diesel::{Connection as _, RunQueryDsl as _};
    if let Some((_, name)) = url.rsplit_once('/')
        && url.starts_with("postgres")
        && let Ok(mut admin) = diesel::PgConnection::establish(&args.postgres_url)
    {
        let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut admin);
    }
}

fn okta_user(i: usize) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": format!("user{i:07}@example.org"),
        "name": {"givenName": "Ada", "familyName": format!("Lovelace{i}")},
        "emails": [{"primary": true, "value": format!("user{i:07}@example.org"), "type": "work"}],
        "displayName": format!("Ada Lovelace{i}"),
        "externalId": format!("00u{i:07}"),
        "active": true,
    })
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted
        .get(((sorted.len() as f64 * p) as usize).min(sorted.len().saturating_sub(1)))
        .copied()
        .unwrap_or(f64::NAN)
}

/// What one run measured.
#[derive(Debug)]
struct Measured {
    backend: String,
    /// Open loop: the creates per second asked for; closed loop: `None`.
    rate: Option<f64>,
    subscriptions: usize,
    creates: usize,
    errors: usize,
    missed: usize,
    late: usize,
    creates_per_s: f64,
    create_p50_ms: f64,
    create_p99_ms: f64,
    delivered: usize,
    events_per_s: f64,
    event_p50_ms: f64,
    event_p99_ms: f64,
    event_max_ms: f64,
    /// Commit→receipt p99 of the `webhook` and of the `set` subscription, each alone.
    p99_by_format: Option<(f64, f64)>,
}

/// Where the creates go.
#[derive(Clone)]
struct Target {
    client: reqwest::Client,
    url: String,
    token: String,
}

impl Target {
    /// Creates user `i`; its id, or `None` if the answer was not a 201 with an id.
    async fn create(&self, i: usize) -> Option<String> {
        let response = self
            .client
            .post(&self.url)
            .bearer_auth(&self.token)
            .header("Content-Type", "application/scim+json")
            .body(okta_user(i).to_string())
            .send()
            .await
            .ok()?;
        if response.status() != 201 {
            return None;
        }
        let user: Value = response.json().await.ok()?;
        user["id"].as_str().map(str::to_owned)
    }
}

/// What the creates of one run did.
#[derive(Default)]
struct Load {
    /// When each created user's request was sent, by id (the upper bound of its commit time).
    sent: HashMap<String, Instant>,
    /// Latency of each successful create, ms.
    latencies: Vec<f64>,
    /// Creates sent whose answer was not a 201 with an id.
    errors: usize,
    /// Open loop: creates not sent because `--max-in-flight` were outstanding at their slot.
    missed: usize,
    /// Open loop: creates sent more than [`LATE`] after their slot.
    late: usize,
}

/// Open loop: a create sent later than this after its slot counts as late.
const LATE: Duration = Duration::from_millis(10);

/// `clients` clients creating users one after the other until `stop`.
async fn closed_loop(target: &Target, clients: usize, stop: Instant) -> Load {
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (target, next) = (target.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut load = Load::default();
            while Instant::now() < stop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let t = Instant::now();
                match target.create(i).await {
                    Some(id) => {
                        load.latencies.push(t.elapsed().as_secs_f64() * 1000.0);
                        load.sent.insert(id, t);
                    }
                    None => load.errors += 1,
                }
            }
            load
        }));
    }
    let mut load = Load::default();
    for task in tasks {
        let part = task.await.unwrap();
        load.sent.extend(part.sent);
        load.latencies.extend(part.latencies);
        load.errors += part.errors;
    }
    load
}

/// Creates at `rate` per second from `started` until `stop`, the k-th due at
/// `started + k / rate` and sent on a task of its own, at most `max_in_flight` outstanding;
/// then waits for every answer.
async fn open_loop(
    target: &Target,
    rate: f64,
    max_in_flight: usize,
    started: Instant,
    stop: Instant,
) -> Load {
    let slots = Arc::new(tokio::sync::Semaphore::new(max_in_flight));
    let mut tasks = Vec::new();
    let mut load = Load::default();
    for k in 0usize.. {
        let due = started + Duration::from_secs_f64(k as f64 / rate);
        if due >= stop {
            break;
        }
        tokio::time::sleep_until(due.into()).await;
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            load.missed += 1;
            continue;
        };
        let target = target.clone();
        tasks.push(tokio::spawn(async move {
            let t = Instant::now();
            let id = target.create(k).await;
            drop(slot);
            (id, t, t.duration_since(due) > LATE, due.elapsed())
        }));
    }
    for task in tasks {
        let (id, t, late, latency) = task.await.unwrap();
        load.late += usize::from(late);
        match id {
            Some(id) => {
                load.latencies.push(latency.as_secs_f64() * 1000.0);
                load.sent.insert(id, t);
            }
            None => load.errors += 1,
        }
    }
    load
}

async fn one_run(
    args: &Args,
    backend: &str,
    rate: Option<f64>,
    subscriptions: usize,
    dir: &std::path::Path,
    n: usize,
) -> Measured {
    let database_url = database(args, backend, dir, n);
    let port = free_port();
    let server = Server(
        Command::new(env!("CARGO_BIN_EXE_roster"))
            .arg("serve")
            .env("ROSTER_BIND", format!("127.0.0.1:{port}"))
            .env("DATABASE_URL", &database_url)
            .env("ROSTER_JWT_SECRET", SECRET)
            // Measured without the per-org rate limit (docs/limits.md): it would cap the load.
            .env("ROSTER_RATE_LIMIT_PER_SECOND", "0")
            .env("ROSTER_EVENTS_ALLOW_INSECURE", "true")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !client
        .get(format!("{base}/readyz"))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(Instant::now() < deadline, "roster did not come up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mint = |role| {
        Signer::new(&Secret::from_config(SECRET), "roster", "roster")
            .issue("default", role, None, None, roster::clock::unix_now())
            .unwrap()
            .0
    };
    let (admin, provisioner) = (mint(Role::Admin), mint(Role::Provisioner));
    let receipts = Receipts::default();
    for format in ["webhook", "set"].into_iter().take(subscriptions) {
        let url = receiver(receipts.clone());
        let created = client
            .post(format!("{base}/admin/v1/event-subscriptions"))
            .bearer_auth(&admin)
            .json(&json!({"url": url, "format": format, "events": ["user.created"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 201, "{:?}", created.text().await);
    }

    let target = Target {
        client: client.clone(),
        url: format!("{base}/scim/v2/Users"),
        token: provisioner,
    };
    let started = Instant::now();
    let load = match rate {
        None => closed_loop(&target, args.clients, started + args.run_time).await,
        Some(rate) => {
            open_loop(
                &target,
                rate,
                args.max_in_flight,
                started,
                started + args.run_time,
            )
            .await
        }
    };
    let Load {
        sent,
        mut latencies,
        errors,
        missed,
        late,
    } = load;
    let write_seconds = started.elapsed().as_secs_f64();
    latencies.sort_by(f64::total_cmp);
    let creates = latencies.len();

    // Wait for every event (one per create and subscription), at most `drain_time`.
    let expected = creates * subscriptions;
    let drain_deadline = Instant::now() + args.drain_time;
    while receipts.0.lock().unwrap().len() < expected && Instant::now() < drain_deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let received = receipts.0.lock().unwrap().clone();
    let delays_of = |format: Option<&str>| -> Vec<f64> {
        let mut delays: Vec<f64> = received
            .iter()
            .filter(|r| format.is_none_or(|format| r.format == format))
            .filter_map(|r| {
                sent.get(&r.id)
                    .map(|t| r.at.duration_since(*t).as_secs_f64() * 1000.0)
            })
            .collect();
        delays.sort_by(f64::total_cmp);
        delays
    };
    let delays = delays_of(None);
    // Each receiver's p99 apart: one subscription held back shows here.
    let by_format = (subscriptions > 0).then(|| {
        let p99 = |format| percentile(&delays_of(Some(format)), 0.99);
        (p99("webhook"), p99("set"))
    });
    let last = received.iter().map(|r| r.at).max();
    let events_per_s = last.map_or(0.0, |last| {
        received.len() as f64 / last.duration_since(started).as_secs_f64()
    });
    drop(server);
    drop_database(args, &database_url);
    Measured {
        backend: backend.to_owned(),
        rate,
        subscriptions,
        creates,
        errors,
        missed,
        late,
        creates_per_s: creates as f64 / write_seconds,
        create_p50_ms: percentile(&latencies, 0.50),
        create_p99_ms: percentile(&latencies, 0.99),
        delivered: received.len(),
        events_per_s,
        event_p50_ms: percentile(&delays, 0.50),
        event_p99_ms: percentile(&delays, 0.99),
        event_max_ms: delays.last().copied().unwrap_or(f64::NAN),
        p99_by_format: by_format,
    }
}

async fn run(args: Args) {
    let dir = tempfile::tempdir().unwrap();
    let rates: Vec<Option<f64>> = if args.rate.is_empty() {
        vec![None]
    } else {
        args.rate.iter().copied().map(Some).collect()
    };
    let mut results = Vec::new();
    let mut n = 0;
    for backend in &args.backends {
        for &rate in &rates {
            for subscriptions in [0, 2] {
                n += 1;
                let m = one_run(&args, backend, rate, subscriptions, dir.path(), n).await;
                eprintln!("{m:?}");
                results.push(m);
            }
        }
    }
    let load = |m: &Measured| {
        m.rate
            .map_or_else(|| format!("{} clients", args.clients), |r| format!("{r}/s"))
    };
    println!(
        "\n| backend | load | subscriptions | creates | errors | missed | late | creates/s | create p50 ms | create p99 ms | events delivered | events/s | commit→receipt p50 ms | p99 ms | max ms | p99 webhook / set ms |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for m in &results {
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {:.0} | {:.2} | {:.2} | {} / {} | {:.0} | {:.1} | {:.1} | {:.1} | {} |",
            m.backend,
            load(m),
            m.subscriptions,
            m.creates,
            m.errors,
            m.missed,
            m.late,
            m.creates_per_s,
            m.create_p50_ms,
            m.create_p99_ms,
            m.delivered,
            m.creates * m.subscriptions,
            m.events_per_s,
            m.event_p50_ms,
            m.event_p99_ms,
            m.event_max_ms,
            m.p99_by_format
                .map_or("–".to_owned(), |(w, s)| format!("{w:.1} / {s:.1}")),
        );
    }
    for pair in results.chunks(2) {
        if let [without, with] = pair {
            println!(
                "{} at {}: creates/s with two subscriptions {:.0} / without {:.0} = {:.1}% (target ≥ 90%); commit→receipt p50 {:.1} ms (target < 100), p99 {:.1} ms (target < 1000)",
                with.backend,
                load(with),
                with.creates_per_s,
                without.creates_per_s,
                100.0 * with.creates_per_s / without.creates_per_s,
                with.event_p50_ms,
                with.event_p99_ms,
            );
        }
    }
}
