//! The connector-workload benchmark: what Okta and Entra ID do to roster, replayed against a
//! real `roster serve` process over loopback HTTP, next to the HTTP ceiling of the same machine.
//!
//! ```sh
//! cargo bench --bench connector                                   # 10k users, SQLite, 1 and 16 clients
//! cargo bench --bench connector -- --users 1000000 --seed         # seed 1M through the store first
//! cargo bench --bench connector -- --backend postgres
//! cargo bench --bench connector -- --request-log both             # with and without the SCIM request log
//! ```
//!
//! Phases (each bounded in requests and time): create, `userName eq` lookups (3/4 hits), GET by
//! id, PATCH `active` false then true, walking `GET /Users?count=100`, two filters no index can
//! serve. The ceiling is a bare actix-web handler returning a fixed user, run as its own process
//! like roster, measured before and after the phases of each client count (ratios are to the
//! mean of the two). Per phase: req/s, p50, p99, the ratio to the ceiling, the server's CPU time per
//! request (steadier than req/s on a noisy machine) and its peak RSS; as a table on stdout and as
//! JSON lines in `target/bench/`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use roster::auth::{Role, Secret, Signer};
use roster::ids::{OrgId, UserId};
use roster::store::{Store, import, users::UserData};
use serde_json::{Value, json};

const SECRET: &str = "benchmark-secret-at-least-32-bytes-long!";

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum BackendArg {
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum RequestLogArg {
    On,
    Off,
    Both,
}

/// Command line of the benchmark.
#[derive(Debug, Parser)]
struct Args {
    /// Users in the organization.
    #[arg(long, default_value_t = 10_000)]
    users: usize,
    /// Concurrent clients per run, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,16")]
    clients: Vec<usize>,
    #[arg(long, value_enum, default_value = "sqlite")]
    backend: BackendArg,
    /// Server used to create the PostgreSQL benchmark database.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    postgres_url: String,
    /// Seed the users through the store (bulk insert) instead of creating them over HTTP; the
    /// create phase then adds `--creates` more.
    #[arg(long)]
    seed: bool,
    /// Users created over HTTP in the create phase when seeding.
    #[arg(long, default_value_t = 10_000)]
    creates: usize,
    /// Most requests per phase and client count.
    #[arg(long, default_value_t = 20_000)]
    requests: usize,
    /// Longest a phase may run.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    phase_time: Duration,
    /// Phases to run after create, comma-separated: floor (`/healthz`: roster's HTTP stack without
    /// auth or database), lookup, get, patch, page, page-ends, cursor, filters (all by default);
    /// useful to profile one.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "floor,lookup,get,patch,page,page-ends,cursor,filters"
    )]
    phases: Vec<String>,
    /// The SCIM request log (`ROSTER_REQUEST_LOG`): `on` (the server's default), `off`, or
    /// `both`: the whole run without it, then with it, and the two throughputs side by side.
    #[arg(long, value_enum, default_value = "on")]
    request_log: RequestLogArg,
    /// Run the ceiling server on this port (internal: the benchmark starts itself this way).
    #[arg(long, hide = true)]
    ceiling: Option<u16>,
    /// Accepted and ignored: `cargo bench` passes it to every bench target.
    #[arg(long, hide = true)]
    bench: bool,
}

fn main() {
    let args = Args::parse();
    if let Some(port) = args.ceiling {
        return serve_ceiling(port);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let runs: &[bool] = match args.request_log {
        RequestLogArg::On => &[true],
        RequestLogArg::Off => &[false],
        RequestLogArg::Both => &[false, true],
    };
    let results: Vec<(bool, Vec<Measured>)> = runs
        .iter()
        .map(|&log| (log, runtime.block_on(run(&args, log))))
        .collect();
    if let [(false, off), (true, on)] = results.as_slice() {
        compare_request_log(off, on);
    }
}

/// The throughput of each phase without and with the SCIM request log.
fn compare_request_log(off: &[Measured], on: &[Measured]) {
    println!("\nSCIM request log: the same phases without and with it\n");
    println!(
        "| phase | clients | req/s without | req/s with | change | server CPU µs/req without | with |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for m in off.iter().filter(|m| !m.phase.starts_with("ceiling")) {
        let Some(w) = on
            .iter()
            .find(|w| w.phase == m.phase && w.clients == m.clients)
        else {
            continue;
        };
        let cpu = |x: f64| {
            if x.is_finite() {
                format!("{x:.0}")
            } else {
                "–".to_owned()
            }
        };
        println!(
            "| {} | {} | {:.0} | {:.0} | {:+.1}% | {} | {} |",
            m.phase,
            m.clients,
            m.rate(),
            w.rate(),
            100.0 * (w.rate() / m.rate() - 1.0),
            cpu(m.cpu_us),
            cpu(w.cpu_us)
        );
    }
}

/// A fixed user, the size of what roster renders.
fn fixed_user() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": "01a21f23-e618-71da-9100-d196f9684676",
        "userName": "user000042@example.org",
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        "displayName": "Ada Lovelace",
        "active": true,
        "emails": [{"value": "user000042@example.org", "type": "work", "primary": true}],
        "meta": {"resourceType": "User", "created": "2026-11-27T22:28:02.990618Z",
                 "lastModified": "2026-11-27T22:28:02.990618Z",
                 "location": "http://127.0.0.1:8080/scim/v2/Users/01a21f23-e618-71da-9100-d196f9684676",
                 "version": "W/\"1\""}
    })
}

fn serve_ceiling(port: u16) {
    let body = fixed_user().to_string();
    actix_web::rt::System::new().block_on(async move {
        actix_web::HttpServer::new(move || {
            let body = body.clone();
            actix_web::App::new().default_service(actix_web::web::to(move || {
                let body = body.clone();
                async move {
                    actix_web::HttpResponse::Ok()
                        .content_type("application/scim+json")
                        .body(body)
                }
            }))
        })
        .bind(("127.0.0.1", port))
        .unwrap()
        .run()
        .await
        .unwrap();
    });
}

/// A child process serving HTTP, killed on drop.
struct Server {
    child: Child,
    base: String,
    /// The process's CPU seconds when the last phase against it ended (see [`Server::record`]).
    cpu_mark: std::cell::Cell<f64>,
}

impl Server {
    fn start(mut command: Command, port: u16, path: &str) -> Server {
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Server {
            child,
            base: format!("http://127.0.0.1:{port}{path}"),
            cpu_mark: std::cell::Cell::new(0.0),
        }
    }

    async fn wait_ready(&self, client: &reqwest::Client, url: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if client
                .get(url)
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{url} did not come up");
    }

    /// The CPU time (user and system, all threads) the process has used, in seconds:
    /// `utime` and `stime` of `/proc/<pid>/stat`, in clock ticks of 1/100 s (Linux's
    /// `USER_HZ`, fixed at 100 for user space).
    fn cpu_seconds(&self) -> f64 {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        // Fields after the command name (which may hold spaces, so split after its `)`):
        // state is field 3, utime 14, stime 15.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map_or("", |(_, rest)| rest)
            .split_whitespace()
            .collect();
        let ticks = |i: usize| {
            fields
                .get(i)
                .and_then(|f| f.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        (ticks(11) + ticks(12)) / 100.0
    }

    /// Starts the CPU count of the next phase here (work done between phases is not its own).
    fn mark(&self) {
        self.cpu_mark.set(self.cpu_seconds());
    }

    /// The CPU time per request, in microseconds, the process used for `requests` requests
    /// since the last [`Server::mark`] (which this moves to now).
    fn cpu_us_per_request(&self, requests: usize) -> f64 {
        let now = self.cpu_seconds();
        let used = now - self.cpu_mark.replace(now);
        if requests == 0 {
            f64::NAN
        } else {
            used * 1e6 / requests as f64
        }
    }

    /// Records what the process used during the phase `m` that just ended: its CPU time per
    /// request and its peak RSS.
    fn record(&self, m: &mut Measured) {
        m.cpu_us = self.cpu_us_per_request(m.requests);
        m.rss_mib = self.peak_rss_mib();
    }

    /// Peak resident set size (VmHWM) of the process, in MiB.
    fn peak_rss_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// What one phase measured.
#[derive(Debug, Clone)]
struct Measured {
    phase: String,
    clients: usize,
    requests: usize,
    errors: usize,
    seconds: f64,
    p50_ms: f64,
    p99_ms: f64,
    rss_mib: f64,
    /// The server's CPU time per request, in microseconds (user and system; a figure the
    /// machine's noise moves less than req/s). `NaN` when not measured.
    cpu_us: f64,
}

impl Measured {
    fn rate(&self) -> f64 {
        self.requests as f64 / self.seconds
    }
}

/// Runs `total` requests over `clients` closed-loop clients, stopping early at `limit`.
/// `request(i)` performs request number `i` and says whether it met expectations.
async fn phase<F, Fut>(
    name: &str,
    clients: usize,
    total: usize,
    limit: Duration,
    request: F,
) -> Measured
where
    F: Fn(usize) -> Fut + Clone + 'static,
    Fut: std::future::Future<Output = bool> + 'static,
{
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let deadline = started + limit;
    let mut tasks = Vec::new();
    let local = tokio::task::LocalSet::new();
    for _ in 0..clients {
        let next = next.clone();
        let request = request.clone();
        tasks.push(local.spawn_local(async move {
            let mut latencies = Vec::new();
            let mut errors = 0;
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= total || Instant::now() >= deadline {
                    break;
                }
                let t = Instant::now();
                if !request(i).await {
                    errors += 1;
                }
                latencies.push(t.elapsed());
            }
            (latencies, errors)
        }));
    }
    let results = local
        .run_until(async { futures::future::join_all(tasks).await })
        .await;
    let seconds = started.elapsed().as_secs_f64();
    let mut latencies = Vec::new();
    let mut errors = 0;
    for r in results {
        let (l, e) = r.unwrap();
        latencies.extend(l);
        errors += e;
    }
    latencies.sort();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    Measured {
        phase: name.to_owned(),
        clients,
        requests: latencies.len(),
        errors,
        seconds,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        rss_mib: 0.0,
        cpu_us: f64::NAN,
    }
}

fn user_name(i: usize) -> String {
    format!("user{i:07}@example.org")
}

/// The body Okta sends on assignment (docs/idp-behaviour.md, "Okta", "Create"), without a password: hashing one is
/// deliberately slow (argon2id) and would measure the hash, not roster.
fn okta_user(i: usize) -> Value {
    let family = ["Lovelace", "Hopper", "Xu", "Turing", "Noether", "Curie"][i % 6];
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name(i),
        "name": {"givenName": format!("Given{i}"), "familyName": family},
        "emails": [{"primary": true, "value": user_name(i), "type": "work"}],
        "displayName": format!("Given{i} {family}"),
        "locale": "en-US",
        "externalId": format!("00u{i:07}"),
        "groups": [],
        "active": true
    })
}

fn user_data(i: usize) -> UserData {
    let Value::Object(mut resource) = okta_user(i) else {
        unreachable!()
    };
    resource.remove("groups");
    UserData::from_resource(resource)
}

struct Target {
    client: reqwest::Client,
    base: String,
    token: String,
}

impl Target {
    fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.client
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
    }
    fn send(&self, method: reqwest::Method, path: &str, body: &Value) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .header("Content-Type", "application/scim+json")
            .body(body.to_string())
    }
}

async fn run(args: &Args, request_log: bool) -> Vec<Measured> {
    let workdir = tempfile::tempdir().unwrap();
    let (database_url, pg_name) = match args.backend {
        BackendArg::Sqlite => (workdir.path().join("bench.db").display().to_string(), None),
        BackendArg::Postgres => {
            use diesel::{Connection as _, RunQueryDsl as _};
            let name = format!("roster_bench_{}", std::process::id());
            let mut admin = diesel::PgConnection::establish(&args.postgres_url).unwrap();
            diesel::sql_query(format!("DROP DATABASE IF EXISTS {name}"))
                .execute(&mut admin)
                .unwrap();
            diesel::sql_query(format!("CREATE DATABASE {name}"))
                .execute(&mut admin)
                .unwrap();
            let base = args.postgres_url.rsplit_once('/').unwrap().0;
            (format!("{base}/{name}"), Some(name))
        }
    };

    // Migrate, and seed through the store when asked.
    let store = Store::open(&database_url, 2, Duration::from_secs(10)).unwrap();
    store.migrate().unwrap();
    let org = OrgId::parse("default").unwrap();
    let mut ids: Vec<String> = Vec::new();
    if args.seed {
        let started = Instant::now();
        let mut conn = store.conn().unwrap();
        for start in (0..args.users).step_by(5_000) {
            let batch: Vec<(UserId, UserData)> = (start..(start + 5_000).min(args.users))
                .map(|i| (UserId::generate(), user_data(i)))
                .collect();
            ids.extend(batch.iter().map(|(id, _)| id.to_string()));
            import::insert_users(&mut conn, &org, &batch, roster::clock::now()).unwrap();
        }
        eprintln!(
            "seeded {} users through the store in {:.1}s",
            args.users,
            started.elapsed().as_secs_f64()
        );
    }
    drop(store);

    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()
        .unwrap();
    let ceiling_port = free_port();
    let ceiling = Server::start(
        {
            let mut c = Command::new(std::env::current_exe().unwrap());
            c.args(["--ceiling", &ceiling_port.to_string()]);
            c
        },
        ceiling_port,
        "",
    );
    ceiling
        .wait_ready(&client, &format!("{}/ready", ceiling.base))
        .await;

    let port = free_port();
    let roster = Server::start(
        {
            let mut c = Command::new(env!("CARGO_BIN_EXE_roster"));
            c.arg("serve")
                .env("ROSTER_BIND", format!("127.0.0.1:{port}"))
                .env("DATABASE_URL", &database_url)
                .env("ROSTER_JWT_SECRET", SECRET)
                // Throughput is what is measured: no per-org rate limit.
                .env("ROSTER_RATE_LIMIT_PER_SECOND", "0")
                .env("ROSTER_REQUEST_LOG", request_log.to_string())
                .env("RUST_LOG", "warn");
            c
        },
        port,
        "/scim/v2",
    );
    roster
        .wait_ready(&client, &format!("http://127.0.0.1:{port}/readyz"))
        .await;
    let token = Signer::new(&Secret::from_config(SECRET), "roster", "roster")
        .issue(
            "default",
            Role::Provisioner,
            None,
            None,
            roster::clock::unix_now(),
        )
        .unwrap()
        .0;
    let target = Arc::new(Target {
        client: client.clone(),
        base: roster.base.clone(),
        token,
    });

    let limit = args.phase_time;
    let mut results: Vec<Measured> = Vec::new();
    let mut ceilings: Vec<(usize, f64)> = Vec::new();
    let users_at_start = if args.seed { args.users } else { 0 };
    let mut created = users_at_start;
    for &clients in &args.clients {
        // The ceiling at this concurrency.
        let ceiling_base = ceiling.base.clone();
        let c2 = client.clone();
        let measure_ceiling = |name: &'static str| {
            let ceiling_base = ceiling_base.clone();
            let c2 = c2.clone();
            let ceiling = &ceiling;
            async move {
                ceiling.mark();
                let mut m = phase(name, clients, args.requests, limit, move |_| {
                    let req = c2.get(format!("{ceiling_base}/Users/x"));
                    async move { req.send().await.is_ok_and(|r| r.status().is_success()) }
                })
                .await;
                m.cpu_us = ceiling.cpu_us_per_request(m.requests);
                m
            }
        };
        let before = measure_ceiling("ceiling").await;
        let ceiling_at = results.len();
        results.push(before);
        roster.mark();

        // Create.
        let count = if args.seed || clients != args.clients[0] {
            args.creates.min(args.requests)
        } else {
            args.users
        };
        let first = created;
        let t = target.clone();
        let created_ids = Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = created_ids.clone();
        let mut m = phase("create", clients, count, limit, move |i| {
            let req = t.send(reqwest::Method::POST, "/Users", &okta_user(first + i));
            let sink = sink.clone();
            async move {
                match req.send().await {
                    Ok(r) if r.status() == 201 => {
                        let user: Value = r.json().await.unwrap_or_default();
                        if let Some(id) = user["id"].as_str() {
                            sink.lock().unwrap().push(id.to_owned());
                        }
                        true
                    }
                    _ => false,
                }
            }
        })
        .await;
        created += m.requests;
        ids.extend(created_ids.lock().unwrap().drain(..));
        roster.record(&mut m);
        results.push(m);
        let population = created;
        let ids_now = Arc::new(ids.clone());

        let wanted = |p: &str| args.phases.iter().any(|w| w == p);

        // roster's own floor: `/healthz` goes through the same HTTP stack, middleware and
        // request log as every SCIM request, without a token or the database.
        if wanted("floor") {
            let t = target.clone();
            let health = t.base.replace("/scim/v2", "/healthz");
            let mut m = phase(
                "floor: /healthz",
                clients,
                args.requests,
                limit,
                move |_| {
                    let req = t.client.get(&health);
                    async move { req.send().await.is_ok_and(|r| r.status() == 200) }
                },
            )
            .await;
            roster.record(&mut m);
            results.push(m);
        }

        // userName eq: three hits, then a miss.
        if wanted("lookup") {
            let t = target.clone();
            let mut m = phase(
                "lookup userName eq",
                clients,
                args.requests,
                limit,
                move |i| {
                    let hit = i % 4 != 3;
                    let name = if hit {
                        user_name(i.wrapping_mul(7919) % population)
                    } else {
                        format!("missing{i}@example.org")
                    };
                    let req = t.get(&format!("/Users?filter=userName%20eq%20%22{name}%22"));
                    async move {
                        match req.send().await {
                            Ok(r) if r.status() == 200 => {
                                let list: Value = r.json().await.unwrap_or_default();
                                list["totalResults"] == json!(usize::from(hit))
                            }
                            _ => false,
                        }
                    }
                },
            )
            .await;
            roster.record(&mut m);
            results.push(m);
        }

        // GET by id.
        if wanted("get") {
            let t = target.clone();
            let pool = ids_now.clone();
            let mut m = phase("GET by id", clients, args.requests, limit, move |i| {
                let id = &pool[i.wrapping_mul(104_729) % pool.len()];
                let req = t.get(&format!("/Users/{id}"));
                async move { req.send().await.is_ok_and(|r| r.status() == 200) }
            })
            .await;
            roster.record(&mut m);
            results.push(m);
        }

        // PATCH active false, then true, on the same user.
        if wanted("patch") {
            let t = target.clone();
            let pool = ids_now.clone();
            let mut m = phase("PATCH active", clients, args.requests, limit, move |i| {
                let id = &pool[(i / 2).wrapping_mul(15_485_863) % pool.len()];
                let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                              "Operations": [{"op": "replace", "value": {"active": i % 2 == 1}}]});
                let req = t.send(reqwest::Method::PATCH, &format!("/Users/{id}"), &body);
                async move { req.send().await.is_ok_and(|r| r.status() == 200) }
            })
            .await;
            roster.record(&mut m);
            results.push(m);
        }

        // Walk the pages, Okta's import.
        if wanted("page") {
            let pages = population.div_ceil(100);
            let t = target.clone();
            let mut m = phase(
                "page count=100",
                clients,
                pages.min(args.requests),
                limit,
                move |i| {
                    let req = t.get(&format!("/Users?startIndex={}&count=100", i * 100 + 1));
                    async move {
                        match req.send().await {
                            Ok(r) if r.status() == 200 => {
                                let list: Value = r.json().await.unwrap_or_default();
                                list["Resources"].as_array().is_some_and(|r| !r.is_empty())
                            }
                            _ => false,
                        }
                    }
                },
            )
            .await;
            roster.record(&mut m);
            results.push(m);
        }

        // The first and the last page: `startIndex` skips through the index, so the last page
        // should cost about what the first does.
        if wanted("page-ends") {
            for (name, start) in [
                ("first page", 1),
                ("last page", population.saturating_sub(99).max(1)),
            ] {
                let t = target.clone();
                let mut m = phase(name, clients, 200, limit, move |_| {
                    let req = t.get(&format!("/Users?startIndex={start}&count=100"));
                    async move { req.send().await.is_ok_and(|r| r.status() == 200) }
                })
                .await;
                roster.record(&mut m);
                results.push(m);
            }
        }

        // RFC 9865 cursors: walk from the first page as far as the phase time allows, one
        // client (a cursor walk is sequential), and compare the early pages with the late ones.
        if wanted("cursor") && clients == args.clients[0] {
            let started = Instant::now();
            let mut latencies = Vec::new();
            let mut cursor = String::new();
            let mut seen = 0_usize;
            let mut errors = 0;
            while started.elapsed() < limit && latencies.len() < args.requests {
                let t = Instant::now();
                let response = target
                    .get(&format!(
                        "/Users?count=1000&attributes=userName&cursor={cursor}"
                    ))
                    .send()
                    .await;
                let body: Value = match response {
                    Ok(r) if r.status() == 200 => r.json().await.unwrap_or_default(),
                    _ => {
                        errors += 1;
                        break;
                    }
                };
                latencies.push(t.elapsed());
                seen += body["Resources"].as_array().map_or(0, Vec::len);
                match body["nextCursor"].as_str() {
                    Some(next) => cursor = next.to_owned(),
                    None => break,
                }
            }
            let window = latencies.len().min(20);
            for (name, slice) in [
                ("cursor pages, first 20", &latencies[..window]),
                (
                    "cursor pages, last 20",
                    &latencies[latencies.len() - window..],
                ),
            ] {
                let mut sorted = slice.to_vec();
                sorted.sort();
                let ms = |p: f64| {
                    sorted
                        .get(
                            ((sorted.len() as f64 * p) as usize)
                                .min(sorted.len().saturating_sub(1)),
                        )
                        .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
                };
                results.push(Measured {
                    phase: name.to_owned(),
                    clients: 1,
                    requests: sorted.len(),
                    errors,
                    seconds: sorted.iter().map(Duration::as_secs_f64).sum(),
                    p50_ms: ms(0.5),
                    p99_ms: ms(0.99),
                    rss_mib: roster.peak_rss_mib(),
                    cpu_us: f64::NAN,
                });
            }
            eprintln!(
                "cursor walk: {} pages of 1000, {seen} users, in {:.1}s",
                latencies.len(),
                started.elapsed().as_secs_f64()
            );
        }
        roster.mark();

        // Filters no index serves; every user matches the first, one in six the second.
        if wanted("filters") {
            let t = target.clone();
            let expect_all = population;
            let expect_x = (0..population).filter(|i| i % 6 == 2).count();
            let mut m = phase("emails[type, co] filter", clients, 50, limit, move |_| {
            let req = t.get("/Users?count=10&filter=emails%5Btype%20eq%20%22work%22%20and%20value%20co%20%22example.org%22%5D");
            async move {
                match req.send().await {
                    Ok(r) if r.status() == 200 => {
                        let list: Value = r.json().await.unwrap_or_default();
                        list["totalResults"] == json!(expect_all)
                    }
                    _ => false,
                }
            }
        })
        .await;
            roster.record(&mut m);
            results.push(m);
            let t = target.clone();
            let mut m = phase("name.familyName sw filter", clients, 50, limit, move |_| {
                let req = t.get("/Users?count=10&filter=name.familyName%20sw%20%22X%22");
                async move {
                    match req.send().await {
                        Ok(r) if r.status() == 200 => {
                            let list: Value = r.json().await.unwrap_or_default();
                            list["totalResults"] == json!(expect_x)
                        }
                        _ => false,
                    }
                }
            })
            .await;
            roster.record(&mut m);
            results.push(m);
        }

        // The ceiling again: this machine's speed drifts over a run, so every ratio of this
        // client count is to the mean of the ceiling before and after its phases.
        let after = measure_ceiling("ceiling, after the phases").await;
        ceilings.push((clients, (results[ceiling_at].rate() + after.rate()) / 2.0));
        results.push(after);
    }

    eprintln!(
        "SCIM request log: {}",
        if request_log { "on" } else { "off" }
    );
    report(args, &results, &ceilings, created);
    drop(roster);
    if let Some(name) = pg_name {
        use diesel::{Connection as _, RunQueryDsl as _};
        if let Ok(mut admin) = diesel::PgConnection::establish(&args.postgres_url) {
            let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut admin);
        }
    }
    results
}

fn report(args: &Args, results: &[Measured], ceilings: &[(usize, f64)], users: usize) {
    let backend = format!("{:?}", args.backend).to_lowercase();
    println!(
        "\nroster connector benchmark: {backend}, {users} users, {} cores\n",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "| phase | clients | requests | errors | req/s | % of ceiling | p50 ms | p99 ms | server CPU µs/req | server peak RSS MiB |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("connector-{backend}-{users}.jsonl"));
    let mut jsonl = std::fs::File::create(&path).unwrap();
    for m in results {
        let ceiling = ceilings
            .iter()
            .find(|(c, _)| *c == m.clients)
            .map_or(f64::NAN, |(_, r)| *r);
        let ratio = 100.0 * m.rate() / ceiling;
        println!(
            "| {} | {} | {} | {} | {:.0} | {} | {:.2} | {:.2} | {} | {} |",
            m.phase,
            m.clients,
            m.requests,
            m.errors,
            m.rate(),
            if ratio.is_finite() {
                format!("{ratio:.0}%")
            } else {
                "–".to_owned()
            },
            m.p50_ms,
            m.p99_ms,
            if m.cpu_us.is_finite() {
                format!("{:.0}", m.cpu_us)
            } else {
                "–".to_owned()
            },
            if m.rss_mib > 0.0 {
                format!("{:.0}", m.rss_mib)
            } else {
                "–".to_owned()
            }
        );
        writeln!(
            jsonl,
            "{}",
            json!({"backend": backend, "users": users, "phase": m.phase, "clients": m.clients,
                   "requests": m.requests, "errors": m.errors, "seconds": m.seconds,
                   "req_per_s": m.rate(), "ceiling_ratio": ratio / 100.0,
                   "p50_ms": m.p50_ms, "p99_ms": m.p99_ms,
                   "server_cpu_us_per_req": m.cpu_us.is_finite().then_some(m.cpu_us),
                   "server_peak_rss_mib": m.rss_mib})
        )
        .unwrap();
    }
    println!("\nJSON lines: {}", path.display());
}
