//! The noisy-neighbour benchmark (docs/architecture.md §10): while one org (the attacker) sends the worst
//! requests the limits allow, another org's (the victim's) `userName eq` lookup and
//! `POST /Users` must stay within 3× of their latency with no attacker, on SQLite and on
//! PostgreSQL. Runs a real `roster serve` process over loopback HTTP, like `benches/connector.rs`.
//!
//! ```sh
//! cargo bench --bench neighbour                          # both backends, about 2–3 minutes each
//! cargo bench --bench neighbour -- --backend sqlite --quick   # a smoke run, under 30 s
//! cargo bench --bench neighbour -- --attacker-users 100000 --attacker-clients 16
//! cargo bench --bench neighbour -- --rate-limit 0        # the attacker without a rate limit
//! ```
//!
//! For each backend: both orgs are seeded through the store; the victim's lookups and creates
//! (one closed-loop client each) are measured quiet, then again while the attacker's clients
//! send, in turn, the largest PATCH (`add` of as many `emails` values as the server's cap, or
//! else the body limit, allows), the costliest filter the parser accepts (as many terms as it
//! takes, none served by an index: `co`/`ew` up to its cap on those, then `eq` on `title`), creates with passwords, and `/Bulk` at `maxOperations` (read from
//! `/ServiceProviderConfig`). The attacker is held to roster's default per-org rate limit, as
//! every org of a deployment is (`--rate-limit` sets another, `0` none): a request refused with
//! 429 is sent again after [`RATE_LIMITED_PAUSE`], without regard to `Retry-After`, and is not
//! counted among the attacker's requests. The victim's org has its own limit raised, so that its
//! closed-loop clients measure the server, not the limiter; the cost table raises the
//! attacker's too.
//! It prints both, the ratio attacked/quiet per metric with a PASS or
//! FAIL against the 3× target, what the attacker's requests were answered (refusals and
//! timeouts counted, never fatal), and the cost of each attacker request alone at 1×, 10× and
//! 100× its input (a refused size is reported with its status). Every request goes to
//! 127.0.0.1, bounded in count and in time (client timeout, phase time). JSON lines go to
//! `target/bench/`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use roster::auth::{Role, Secret, Signer};
use roster::ids::{OrgId, UserId};
use roster::scim::filter::{MAX_FILTER_LENGTH, MAX_FILTER_SUBSTRING_TERMS, MAX_FILTER_TERMS};
use roster::store::{Store, import, orgs, users::UserData};
use serde_json::{Value, json};

const SECRET: &str = "benchmark-secret-at-least-32-bytes-long!";
const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const BULK_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
/// The issue's target: attacked p99 within this factor of quiet p99.
const TARGET_RATIO: f64 = 3.0;
/// How long an attacker client waits after a 429 before it asks again.
const RATE_LIMITED_PAUSE: Duration = Duration::from_millis(20);

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum BackendArg {
    Sqlite,
    Postgres,
    Both,
}

/// Command line of the benchmark.
#[derive(Debug, Parser)]
struct Args {
    #[arg(long, value_enum, default_value = "both")]
    backend: BackendArg,
    /// Server used to create the PostgreSQL benchmark database.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    postgres_url: String,
    /// Users in the attacker's org (its filters scan them).
    #[arg(long, default_value_t = 20_000)]
    attacker_users: usize,
    /// Users in the victim's org.
    #[arg(long, default_value_t = 2_000)]
    victim_users: usize,
    /// Concurrent attacker clients, spread over the four request kinds.
    #[arg(long, default_value_t = 8)]
    attacker_clients: usize,
    /// Most victim requests of each kind per phase.
    #[arg(long, default_value_t = 50_000)]
    victim_requests: usize,
    /// How long each measured phase (quiet, attacked) runs: the victim keeps sending for this
    /// long, so the attacked phase spans many of the attacker's slowest requests.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    phase_time: Duration,
    /// Client timeout of every request; a request that takes longer is counted as timed out.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    timeout: Duration,
    /// Most requests per attacker client, not counting those its rate limit refused (429).
    #[arg(long, default_value_t = 2_000)]
    attacker_requests: usize,
    /// Requests per size in the cost table (the median is shown).
    #[arg(long, default_value_t = 3)]
    cost_repeats: usize,
    /// `ROSTER_MAX_BODY_BYTES` of the server, which also sizes the PATCH when the server
    /// advertises no cap on multi-valued attributes.
    #[arg(long, default_value_t = 1024 * 1024)]
    max_body_bytes: usize,
    /// `ROSTER_RATE_LIMIT_PER_SECOND` of the server. Unset: roster's default per-org limit,
    /// what a deployment runs with (docs/limits.md, "Rate limits"); `0` turns the limit off, so
    /// that only the other limits bound the attacker.
    #[arg(long)]
    rate_limit: Option<u32>,
    /// A smoke run under 30 s: small orgs, short phases, two attacker clients.
    #[arg(long)]
    quick: bool,
    /// Accepted and ignored: `cargo bench` passes it to every bench target.
    #[arg(long, hide = true)]
    bench: bool,
}

impl Args {
    fn apply_quick(&mut self) {
        if self.quick {
            self.attacker_users = self.attacker_users.min(2_000);
            self.victim_users = self.victim_users.min(200);
            self.attacker_clients = self.attacker_clients.min(4);
            self.phase_time = self.phase_time.min(Duration::from_secs(3));
            self.timeout = self.timeout.min(Duration::from_secs(5));
            self.attacker_requests = self.attacker_requests.min(200);
            self.cost_repeats = 1;
        }
    }
}

fn main() {
    let mut args = Args::parse();
    args.apply_quick();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let backends: &[BackendArg] = match args.backend {
        BackendArg::Both => &[BackendArg::Sqlite, BackendArg::Postgres],
        BackendArg::Sqlite => &[BackendArg::Sqlite],
        BackendArg::Postgres => &[BackendArg::Postgres],
    };
    for &backend in backends {
        runtime.block_on(run(&args, backend));
    }
}

// ---------------------------------------------------------------------------------------------
// The server process
// ---------------------------------------------------------------------------------------------

/// `roster serve` as a child process, killed on drop.
struct Server {
    child: Child,
    base: String,
}

impl Server {
    fn start(database_url: &str, max_body_bytes: usize, rate_limit: Option<u32>) -> Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut command = Command::new(env!("CARGO_BIN_EXE_roster"));
        command
            .arg("serve")
            .env("ROSTER_BIND", format!("127.0.0.1:{port}"))
            .env("DATABASE_URL", database_url)
            .env("ROSTER_JWT_SECRET", SECRET)
            .env("ROSTER_MAX_BODY_BYTES", max_body_bytes.to_string())
            .env("RUST_LOG", "warn")
            .env_remove("ROSTER_RATE_LIMIT_PER_SECOND")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(rate) = rate_limit {
            command.env("ROSTER_RATE_LIMIT_PER_SECOND", rate.to_string());
        }
        let child = command.spawn().unwrap();
        Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    async fn wait_ready(&self, client: &reqwest::Client) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            let ready = client.get(format!("{}/readyz", self.base)).send().await;
            if ready.is_ok_and(|r| r.status().is_success()) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{} did not come up", self.base);
    }

    /// CPU seconds (user + system, all threads) the process has used: `utime` and `stime` of
    /// `/proc/<pid>/stat`, in ticks of 1/100 s.
    fn cpu_seconds(&self) -> f64 {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map_or("", |(_, rest)| rest)
            .split_whitespace()
            .collect();
        let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok());
        (ticks(11).unwrap_or(0.0) + ticks(12).unwrap_or(0.0)) / 100.0
    }
}

/// Waits until the server has finished what timed-out clients left behind (its CPU time stops
/// growing), at most `limit`, so the next measurement starts on an idle server; returns the
/// seconds waited.
async fn settle(server: &Server, limit: Duration) -> f64 {
    let started = Instant::now();
    let mut last = server.cpu_seconds();
    while started.elapsed() < limit {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let now = server.cpu_seconds();
        if now - last < 0.03 {
            break;
        }
        last = now;
    }
    started.elapsed().as_secs_f64()
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------------
// Requests and their outcomes
// ---------------------------------------------------------------------------------------------

/// How one request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// The expected 2xx.
    Ok(u16),
    /// Any other status.
    Status(u16),
    /// No answer within the client timeout.
    Timeout,
    /// Connection refused or reset, a body that did not arrive, ….
    Failed,
}

/// Latencies and outcomes of one kind of request in one phase.
#[derive(Debug, Default, Clone)]
struct Tally {
    latencies: Vec<Duration>,
    ok: usize,
    client_errors: usize,
    server_errors: usize,
    timeouts: usize,
    failed: usize,
    /// Refused by the organization's rate limit (429): an attacker's refused requests are not
    /// its latencies; it waits [`RATE_LIMITED_PAUSE`] and sends again.
    rate_limited: usize,
    /// The first statuses other than 2xx, for the report.
    statuses: Vec<u16>,
    /// The `detail` of the first error answer.
    detail: Option<String>,
}

impl Tally {
    fn record(&mut self, (outcome, body): (Outcome, Option<Value>), took: Duration) {
        self.latencies.push(took);
        if !matches!(outcome, Outcome::Ok(_)) && self.detail.is_none() {
            self.detail = body.and_then(|b| b["detail"].as_str().map(str::to_owned));
        }
        match outcome {
            Outcome::Ok(_) => self.ok += 1,
            Outcome::Status(s) => {
                if s >= 500 {
                    self.server_errors += 1;
                } else {
                    self.client_errors += 1;
                }
                if !self.statuses.contains(&s) && self.statuses.len() < 4 {
                    self.statuses.push(s);
                }
            }
            Outcome::Timeout => self.timeouts += 1,
            Outcome::Failed => self.failed += 1,
        }
    }

    fn merge(&mut self, other: Tally) {
        self.latencies.extend(other.latencies);
        self.ok += other.ok;
        self.client_errors += other.client_errors;
        self.rate_limited += other.rate_limited;
        self.server_errors += other.server_errors;
        self.timeouts += other.timeouts;
        self.failed += other.failed;
        self.detail = self.detail.take().or(other.detail);
        for s in other.statuses {
            if !self.statuses.contains(&s) {
                self.statuses.push(s);
            }
        }
    }

    fn errors(&self) -> usize {
        self.client_errors + self.server_errors + self.timeouts + self.failed
    }

    /// The `p`-quantile latency in milliseconds (a timed-out request counts with the time it
    /// took to time out).
    fn ms(&self, p: f64) -> f64 {
        let mut sorted = self.latencies.clone();
        sorted.sort();
        sorted
            .get(((sorted.len() as f64 * p) as usize).min(sorted.len().saturating_sub(1)))
            .map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0)
    }
}

/// Sends `request`, reads the whole answer, and says how it ended.
async fn send(request: reqwest::RequestBuilder) -> (Outcome, Option<Value>) {
    match request.send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            let body = response.bytes().await;
            match body {
                Ok(bytes) => {
                    let json = serde_json::from_slice(&bytes).ok();
                    if (200..300).contains(&status) {
                        (Outcome::Ok(status), json)
                    } else {
                        (Outcome::Status(status), json)
                    }
                }
                Err(e) if e.is_timeout() => (Outcome::Timeout, None),
                Err(_) => (Outcome::Failed, None),
            }
        }
        Err(e) if e.is_timeout() => (Outcome::Timeout, None),
        Err(_) => (Outcome::Failed, None),
    }
}

/// One org's view of the server.
#[derive(Clone)]
struct Client {
    http: reqwest::Client,
    base: String,
    token: Arc<str>,
}

impl Client {
    fn new(http: &reqwest::Client, base: &str, org: &str) -> Client {
        let token = Signer::new(&Secret::from_config(SECRET), "roster", "roster")
            .issue(
                org,
                Role::Provisioner,
                None,
                None,
                roster::clock::unix_now(),
            )
            .unwrap()
            .0;
        Client {
            http: http.clone(),
            base: format!("{base}/scim/v2"),
            token: token.into(),
        }
    }

    fn get(&self, path_and_query: &str) -> reqwest::RequestBuilder {
        self.http
            .get(format!("{}{path_and_query}", self.base))
            .bearer_auth(&*self.token)
    }

    fn send(&self, method: reqwest::Method, path: &str, body: String) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&*self.token)
            .header("Content-Type", "application/scim+json")
            .body(body)
    }
}

/// Gives `org` its own rate limit, the highest roster takes, so that its closed-loop clients
/// measure latency rather than the limiter: the victim is an org whose connector stays within
/// its limit, and only the attacker is held to roster's default (unless `--rate-limit`) while
/// the victim is measured; the cost table lifts the attacker's too.
async fn raise_rate_limit(http: &reqwest::Client, base: &str, org: &str) {
    let admin = Signer::new(&Secret::from_config(SECRET), "roster", "roster")
        .issue(org, Role::Admin, None, None, roster::clock::unix_now())
        .unwrap()
        .0;
    let response = http
        .put(format!("{base}/admin/v1/rate-limit"))
        .bearer_auth(admin)
        .json(&json!({"perSecond": 100_000, "burst": 1_000_000}))
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{:?}",
        response.text().await
    );
}

// ---------------------------------------------------------------------------------------------
// The attacker's requests
// ---------------------------------------------------------------------------------------------

/// What the server says its limits are.
#[derive(Debug, Clone)]
struct Limits {
    bulk_max_operations: usize,
    bulk_max_payload: usize,
    /// A cap on the values of a multi-valued attribute, when the server advertises one.
    max_values: Option<usize>,
}

impl Limits {
    /// Reads `/ServiceProviderConfig` (RFC 7643 §5) for the Bulk limits, and the cap on the
    /// values of a multi-valued attribute where the server advertises it: roster in the
    /// `description` of the User schema's `emails` attribute in `/Schemas` ("At most N
    /// values.", RFC 7643 §7 having no characteristic for it); else under any key of
    /// `/ServiceProviderConfig` that names one (`maxValues`, `maxMultiValued…`).
    async fn discover(client: &Client) -> Limits {
        let (_, doc) = send(client.get("/ServiceProviderConfig")).await;
        let doc = doc.unwrap_or_default();
        let (_, schemas) = send(client.get("/Schemas")).await;
        let number = |v: &Value| v.as_u64().map(|n| n as usize);
        fn find_cap(v: &Value) -> Option<usize> {
            match v {
                Value::Object(map) => map.iter().find_map(|(k, v)| {
                    let k = k.to_ascii_lowercase();
                    let names_cap =
                        k.starts_with("max") && (k.contains("values") || k.contains("multivalued"));
                    if names_cap {
                        v.as_u64().map(|n| n as usize)
                    } else {
                        find_cap(v)
                    }
                }),
                Value::Array(items) => items.iter().find_map(find_cap),
                _ => None,
            }
        }
        Limits {
            bulk_max_operations: number(&doc["bulk"]["maxOperations"])
                .filter(|&n| n > 0)
                .unwrap_or(1),
            bulk_max_payload: number(&doc["bulk"]["maxPayloadSize"]).unwrap_or(1024 * 1024),
            max_values: schemas
                .as_ref()
                .and_then(emails_cap)
                .or_else(|| find_cap(&doc)),
        }
    }
}

/// The "At most N values" of the `emails` attribute of the User schema in a `/Schemas`
/// ListResponse.
fn emails_cap(schemas: &Value) -> Option<usize> {
    let user = schemas["Resources"]
        .as_array()?
        .iter()
        .find(|s| s["id"] == USER_SCHEMA)?;
    let emails = user["attributes"]
        .as_array()?
        .iter()
        .find(|a| a["name"] == "emails")?;
    let description = emails["description"].as_str()?;
    let (_, after) = description.split_once("At most ")?;
    let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
    after[digits.len()..]
        .trim_start()
        .starts_with("values")
        .then(|| digits.parse().ok())
        .flatten()
}

/// The four kinds of attacker request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Patch,
    Filter,
    PasswordCreate,
    Bulk,
}

const KINDS: [Kind; 4] = [Kind::Patch, Kind::Filter, Kind::PasswordCreate, Kind::Bulk];

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Patch => "PATCH add emails",
            Kind::Filter => "filter of unindexed terms",
            Kind::PasswordCreate => "POST /Users with password",
            Kind::Bulk => "Bulk of POST /Users",
        }
    }
}

/// `n` `emails` values in one PATCH `add`: the duplicate check of the PATCH engine is what
/// this loads.
fn patch_body(n: usize) -> String {
    let values: Vec<Value> = (0..n)
        .map(|i| json!({"value": format!("v{i}@e.io")}))
        .collect();
    json!({"schemas": [PATCH_SCHEMA],
           "Operations": [{"op": "add", "path": "emails", "value": values}]})
    .to_string()
}

/// The most `emails` values a PATCH may carry: the server's cap, else what fits the body limit.
fn largest_patch(limits: &Limits, max_body: usize) -> usize {
    if let Some(cap) = limits.max_values {
        // Each seeded user already has one e-mail address.
        return cap.saturating_sub(1).max(1);
    }
    let (mut lo, mut hi) = (1, max_body);
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        if patch_body(mid).len() <= max_body {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    lo
}

/// `n` terms no index serves, none of which matches, so that each scans the whole org: `co`
/// and `ew` on JSON attributes, as many as the parser takes
/// ([`MAX_FILTER_SUBSTRING_TERMS`]), then `eq` on one (`title`). The query string for
/// `GET /Users`.
fn filter_text(n: usize) -> String {
    (0..n)
        .map(|i| {
            if i >= MAX_FILTER_SUBSTRING_TERMS {
                format!("title eq \"q{i}\"")
            } else if i % 2 == 0 {
                format!("title co \"q{i}\"")
            } else {
                format!("name.familyName ew \"q{i}\"")
            }
        })
        .collect::<Vec<_>>()
        .join(" or ")
}

/// The costliest filter the parser accepts: as many terms as it takes ([`MAX_FILTER_TERMS`])
/// within its length limit.
fn largest_filter() -> usize {
    (1..=MAX_FILTER_TERMS)
        .take_while(|&n| filter_text(n).len() <= MAX_FILTER_LENGTH)
        .last()
        .unwrap_or(1)
}

fn filter_query(n: usize) -> String {
    let mut query = String::from("/Users?count=1&filter=");
    for b in filter_text(n).bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            query.push(b as char);
        } else {
            query.push_str(&format!("%{b:02X}"));
        }
    }
    query
}

/// A user body; with a password of `password_len` characters when given.
fn user_body(name: &str, password_len: Option<usize>) -> Value {
    let mut user = json!({
        "schemas": [USER_SCHEMA],
        "userName": name,
        "name": {"givenName": "Mallory", "familyName": "Noisy"},
        "emails": [{"value": name, "type": "work", "primary": true}],
        "displayName": "Mallory Noisy",
        "active": true
    });
    if let Some(len) = password_len {
        user["password"] = json!("p".repeat(len.max(1)));
    }
    user
}

fn bulk_body(prefix: &str, ops: usize) -> String {
    let operations: Vec<Value> = (0..ops)
        .map(|i| {
            json!({"method": "POST", "path": "/Users", "bulkId": format!("b{i}"),
                   "data": user_body(&format!("{prefix}-{i}@bulk.example"), None)})
        })
        .collect();
    // No `failOnErrors`: the server goes through every operation.
    json!({"schemas": [BULK_SCHEMA], "Operations": operations}).to_string()
}

/// Builds the attacker's requests; names are unique per request so creates do not collide.
struct Attack {
    client: Client,
    /// Ids of the attacker's seeded users: each PATCH goes to a fresh one, so no user grows
    /// across requests.
    targets: Arc<Vec<String>>,
    next: Arc<AtomicUsize>,
    run: String,
}

impl Attack {
    fn request(&self, kind: Kind, size: usize) -> reqwest::RequestBuilder {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        match kind {
            Kind::Patch => {
                let id = &self.targets[n % self.targets.len()];
                self.client.send(
                    reqwest::Method::PATCH,
                    &format!("/Users/{id}"),
                    patch_body(size),
                )
            }
            Kind::Filter => self.client.get(&filter_query(size)),
            Kind::PasswordCreate => self.client.send(
                reqwest::Method::POST,
                "/Users",
                user_body(&format!("{}-{n}@pw.example", self.run), Some(size)).to_string(),
            ),
            Kind::Bulk => self.client.send(
                reqwest::Method::POST,
                "/Bulk",
                bulk_body(&format!("{}-{n}", self.run), size),
            ),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------------

fn seed_user(org: &str, i: usize) -> UserData {
    let name = format!("{org}{i:06}@example.org");
    let family = ["Lovelace", "Hopper", "Xu", "Turing", "Noether", "Curie"][i % 6];
    let Value::Object(resource) = json!({
        "schemas": [USER_SCHEMA],
        "userName": name,
        "name": {"givenName": format!("Given{i}"), "familyName": family},
        "emails": [{"primary": true, "value": name, "type": "work"}],
        "displayName": format!("Given{i} {family}"),
        "title": "Engineer",
        "externalId": format!("{org}-{i:06}"),
        "active": true
    }) else {
        unreachable!()
    };
    UserData::from_resource(resource)
}

/// Creates the org and its users through the store; returns the users' ids.
fn seed(store: &Store, slug: &str, count: usize) -> Vec<String> {
    let org = OrgId::parse(slug).unwrap();
    let mut conn = store.conn().unwrap();
    orgs::create(&mut conn, &org, slug, roster::clock::now()).unwrap();
    let mut ids = Vec::with_capacity(count);
    for start in (0..count).step_by(5_000) {
        let batch: Vec<(UserId, UserData)> = (start..(start + 5_000).min(count))
            .map(|i| (UserId::generate(), seed_user(slug, i)))
            .collect();
        ids.extend(batch.iter().map(|(id, _)| id.to_string()));
        import::insert_users(&mut conn, &org, &batch, roster::clock::now()).unwrap();
    }
    ids
}

/// The victim's two metrics over one phase.
struct VictimRun {
    lookup: Tally,
    create: Tally,
}

/// The victim: one client looking users up by `userName` (3 in 4 exist), one creating users,
/// each closed-loop, until `requests` each or `limit`. Each client runs on a thread and runtime
/// of its own, with its own connection: what it measures is the server, not this process's
/// attacker tasks (building and sending their large bodies) delaying it on a shared runtime.
async fn victim(
    base: &str,
    timeout: Duration,
    users: usize,
    requests: usize,
    limit: Duration,
    run: &str,
) -> VictimRun {
    let deadline = Instant::now() + limit;
    let lookups = on_own_thread(base, timeout, move |c| async move {
        let mut tally = Tally::default();
        for i in 0..requests {
            if Instant::now() >= deadline {
                break;
            }
            let name = if i % 4 == 3 {
                format!("missing{i}@example.org")
            } else {
                format!(
                    "victim{:06}@example.org",
                    i.wrapping_mul(7919) % users.max(1)
                )
            };
            let started = Instant::now();
            let answer = send(c.get(&format!("/Users?filter=userName%20eq%20%22{name}%22"))).await;
            tally.record(answer, started.elapsed());
        }
        tally
    });
    let run = run.to_owned();
    let creates = on_own_thread(base, timeout, move |c| async move {
        let mut tally = Tally::default();
        for i in 0..requests {
            if Instant::now() >= deadline {
                break;
            }
            let body = user_body(&format!("{run}-v{i}@victim.example"), None).to_string();
            let started = Instant::now();
            let answer = send(c.send(reqwest::Method::POST, "/Users", body)).await;
            tally.record(answer, started.elapsed());
        }
        tally
    });
    VictimRun {
        lookup: lookups.await.unwrap(),
        create: creates.await.unwrap(),
    }
}

/// Runs `client` (a victim client of org `victim`) on a new thread with a single-threaded
/// runtime and an HTTP client of its own; its result arrives through the returned channel.
fn on_own_thread<F, Fut>(
    base: &str,
    timeout: Duration,
    client: F,
) -> tokio::sync::oneshot::Receiver<Tally>
where
    F: FnOnce(Client) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Tally>,
{
    let (reply, answer) = tokio::sync::oneshot::channel();
    let base = base.to_owned();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let tally = runtime.block_on(async move {
            let http = reqwest::Client::builder().timeout(timeout).build().unwrap();
            client(Client::new(&http, &base, "victim")).await
        });
        let _ = reply.send(tally);
    });
    answer
}

/// A row of the cost table.
struct Cost {
    kind: Kind,
    scale: usize,
    size: usize,
    unit: &'static str,
    bytes: usize,
    tally: Tally,
    cpu_ms: f64,
}

async fn run(args: &Args, backend: BackendArg) {
    let backend_name = format!("{backend:?}").to_lowercase();
    let workdir = tempfile::tempdir().unwrap();
    let (database_url, pg_name) = match backend {
        BackendArg::Postgres => {
            use diesel::{Connection as _, RunQueryDsl as _};
            let name = format!("roster_neighbour_{}", std::process::id());
            let mut admin = diesel::PgConnection::establish(&args.postgres_url).unwrap();
            diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut admin)
                .unwrap();
            diesel::sql_query(format!("CREATE DATABASE {name}"))
                .execute(&mut admin)
                .unwrap();
            let base = args.postgres_url.rsplit_once('/').unwrap().0;
            (format!("{base}/{name}"), Some(name))
        }
        _ => (
            workdir.path().join("neighbour.db").display().to_string(),
            None,
        ),
    };

    let started = Instant::now();
    let store = Store::open(&database_url, 2, Duration::from_secs(10)).unwrap();
    store.migrate().unwrap();
    let attacker_ids = Arc::new(seed(&store, "attacker", args.attacker_users));
    seed(&store, "victim", args.victim_users);
    // As a load from another system ends: statistics for the new rows, as autovacuum would
    // collect (it is off on some servers, the benchmark machine's among them).
    import::analyze(&mut store.conn().unwrap()).unwrap();
    drop(store);
    eprintln!(
        "{backend_name}: seeded {} attacker and {} victim users in {:.1}s",
        args.attacker_users,
        args.victim_users,
        started.elapsed().as_secs_f64()
    );

    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .timeout(args.timeout)
        .build()
        .unwrap();
    let server = Server::start(&database_url, args.max_body_bytes, args.rate_limit);
    server.wait_ready(&http).await;
    raise_rate_limit(&http, &server.base, "victim").await;
    let attack = Arc::new(Attack {
        client: Client::new(&http, &server.base, "attacker"),
        targets: attacker_ids,
        next: Arc::new(AtomicUsize::new(0)),
        run: format!("r{}", std::process::id()),
    });
    let limits = Limits::discover(&attack.client).await;
    // `--quick` sends a tenth of the largest PATCH and Bulk: a smoke run, not a measurement.
    let tenth = |n: usize| if args.quick { (n / 10).max(1) } else { n };
    let worst = |kind: Kind| match kind {
        Kind::Patch => tenth(largest_patch(&limits, args.max_body_bytes)),
        Kind::Filter => largest_filter(),
        Kind::PasswordCreate => 64,
        Kind::Bulk => {
            let mut ops = limits.bulk_max_operations;
            while ops > 1 && bulk_body("r0000000-0000000", ops).len() > limits.bulk_max_payload {
                ops -= 1;
            }
            tenth(ops)
        }
    };

    // Quiet.
    let quiet = victim(
        &server.base,
        args.timeout,
        args.victim_users,
        args.victim_requests,
        args.phase_time,
        "quiet",
    )
    .await;

    // Attacked: the attacker's clients start first and keep sending until the victim is done.
    let stop = Arc::new(AtomicBool::new(false));
    let mut attackers = Vec::new();
    for c in 0..args.attacker_clients.max(1) {
        let kind = KINDS[c % KINDS.len()];
        let size = worst(kind);
        let attack = attack.clone();
        let stop = stop.clone();
        let most = args.attacker_requests;
        attackers.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            let mut admitted = 0;
            let mut request = attack.request(kind, size);
            while admitted < most && !stop.load(Ordering::Relaxed) {
                let attempt = request.try_clone().expect("a body held in memory");
                let started = Instant::now();
                let answer = send(attempt).await;
                if matches!(answer.0, Outcome::Status(429)) {
                    // Over the rate limit: what the limits allow is the next admitted request,
                    // so the attacker keeps asking, a little apart, with the same request (its
                    // refusals cost roster a token check each, and building a new body each
                    // time would cost this process the CPU the victim is measured on).
                    tally.rate_limited += 1;
                    tokio::time::sleep(RATE_LIMITED_PAUSE).await;
                    continue;
                }
                admitted += 1;
                tally.record(answer, started.elapsed());
                request = attack.request(kind, size);
            }
            (kind, tally)
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let cpu_before = server.cpu_seconds();
    let attacked_started = Instant::now();
    let attacked = victim(
        &server.base,
        args.timeout,
        args.victim_users,
        args.victim_requests,
        args.phase_time,
        "attacked",
    )
    .await;
    let attacked_seconds = attacked_started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let mut attacker_tallies: Vec<(Kind, Tally)> =
        KINDS.iter().map(|&k| (k, Tally::default())).collect();
    for task in attackers {
        // Each attacker finishes the request it is in, bounded by the client timeout.
        let (kind, tally) = task.await.unwrap();
        if let Some((_, t)) = attacker_tallies.iter_mut().find(|(k, _)| *k == kind) {
            t.merge(tally);
        }
    }
    let attack_cpu = server.cpu_seconds() - cpu_before;
    let busy_after = settle(&server, args.timeout * 2).await;

    // Cost against input size, each request alone: the attacker's rate limit, and what it owes
    // for the attacked phase's work, would refuse some of them, and this measures their cost.
    raise_rate_limit(&http, &server.base, "attacker").await;
    let mut costs = Vec::new();
    for kind in KINDS {
        // 100× is the largest request the limits allow (a tenth of it with `--quick`).
        let (base, unit) = match kind {
            Kind::Patch => ((worst(kind) / 100).max(1), "values"),
            Kind::Filter => ((worst(kind) / 100).max(1), "terms"),
            Kind::PasswordCreate => (16, "password chars"),
            Kind::Bulk => ((worst(kind) / 100).max(1), "operations"),
        };
        for scale in [1, 10, 100] {
            let size = base * scale;
            let bytes = match kind {
                Kind::Patch => patch_body(size).len(),
                Kind::Filter => filter_text(size).len(),
                Kind::PasswordCreate => user_body("x", Some(size)).to_string().len(),
                Kind::Bulk => bulk_body("r0000000-0000000", size).len(),
            };
            let mut tally = Tally::default();
            let cpu = server.cpu_seconds();
            for _ in 0..args.cost_repeats.max(1) {
                let request = attack.request(kind, size);
                let started = Instant::now();
                let answer = send(request).await;
                tally.record(answer, started.elapsed());
            }
            let cpu_ms = (server.cpu_seconds() - cpu) * 1000.0 / args.cost_repeats.max(1) as f64;
            if tally.timeouts > 0 {
                settle(&server, args.timeout * 2).await;
            }
            costs.push(Cost {
                kind,
                scale,
                size,
                unit,
                bytes,
                tally,
                cpu_ms,
            });
        }
    }

    report(
        args,
        &backend_name,
        &limits,
        &worst,
        &quiet,
        &attacked,
        (attacked_seconds, attack_cpu, busy_after),
        &attacker_tallies,
        &costs,
    );

    drop(server);
    if let Some(name) = pg_name {
        use diesel::{Connection as _, RunQueryDsl as _};
        if let Ok(mut admin) = diesel::PgConnection::establish(&args.postgres_url) {
            let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut admin);
        }
    }
}

fn outcomes(t: &Tally) -> String {
    let mut parts = vec![format!("{} ok", t.ok)];
    if t.rate_limited > 0 {
        parts.push(format!(
            "{} refused by the rate limit (429)",
            t.rate_limited
        ));
    }
    if t.client_errors + t.server_errors > 0 {
        parts.push(format!(
            "{} 4xx, {} 5xx ({})",
            t.client_errors,
            t.server_errors,
            t.statuses
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if t.timeouts > 0 {
        parts.push(format!("{} timed out", t.timeouts));
    }
    if t.failed > 0 {
        parts.push(format!("{} failed", t.failed));
    }
    if let Some(detail) = &t.detail {
        let short: String = detail.chars().take(70).collect();
        let more = if short.len() < detail.len() {
            "…"
        } else {
            ""
        };
        parts.push(format!("\"{}{more}\"", short.replace('|', "/")));
    }
    parts.join(", ")
}

fn human_bytes(n: usize) -> String {
    if n >= 1024 * 1024 {
        format!("{:.1} MiB", n as f64 / (1024.0 * 1024.0))
    } else if n >= 1024 {
        format!("{:.1} KiB", n as f64 / 1024.0)
    } else {
        format!("{n} B")
    }
}

#[allow(clippy::too_many_arguments)]
fn report(
    args: &Args,
    backend: &str,
    limits: &Limits,
    worst: &dyn Fn(Kind) -> usize,
    quiet: &VictimRun,
    attacked: &VictimRun,
    (attacked_seconds, attack_cpu, busy_after): (f64, f64, f64),
    attackers: &[(Kind, Tally)],
    costs: &[Cost],
) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("neighbour-{backend}.jsonl"));
    let mut jsonl = std::fs::File::create(&path).unwrap();

    println!(
        "\n## roster noisy-neighbour benchmark: {backend}{}\n",
        if args.quick { " (--quick)" } else { "" }
    );
    println!(
        "attacker org: {} users, {} clients; victim org: {} users; {} cores; server limits: \
         bulk.maxOperations {}, bulk.maxPayloadSize {}, multi-valued cap {}, filter ≤ {} bytes, \
         per-org rate limit {}; client timeout {:?}\n",
        args.attacker_users,
        args.attacker_clients,
        args.victim_users,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        limits.bulk_max_operations,
        human_bytes(limits.bulk_max_payload),
        limits
            .max_values
            .map_or("not advertised".to_owned(), |n| n.to_string()),
        MAX_FILTER_LENGTH,
        match args.rate_limit {
            None => "roster's default".to_owned(),
            Some(0) => "off".to_owned(),
            Some(n) => format!("{n}/s"),
        },
        args.timeout,
    );
    println!(
        "| victim request | quiet p50 ms | quiet p99 ms | attacked p50 ms | attacked p99 ms | p99 ratio | target | verdict | quiet answers | attacked answers |"
    );
    println!("|---|---:|---:|---:|---:|---:|---|---|---|---|");
    for (name, q, a) in [
        ("`userName eq` lookup", &quiet.lookup, &attacked.lookup),
        ("`POST /Users`", &quiet.create, &attacked.create),
    ] {
        let ratio = a.ms(0.99) / q.ms(0.99);
        let pass = ratio.is_finite() && ratio <= TARGET_RATIO && a.errors() == 0;
        println!(
            "| {name} | {:.2} | {:.2} | {:.2} | {:.2} | {:.1}× | ≤ {TARGET_RATIO}× | {} | {} | {} |",
            q.ms(0.5),
            q.ms(0.99),
            a.ms(0.5),
            a.ms(0.99),
            ratio,
            if pass { "PASS" } else { "FAIL" },
            outcomes(q),
            outcomes(a),
        );
        writeln!(
            jsonl,
            "{}",
            json!({"backend": backend, "table": "victim", "request": name,
                   "quiet_p50_ms": q.ms(0.5), "quiet_p99_ms": q.ms(0.99),
                   "attacked_p50_ms": a.ms(0.5), "attacked_p99_ms": a.ms(0.99),
                   "p99_ratio": ratio.is_finite().then_some(ratio), "pass": pass,
                   "quiet_requests": q.latencies.len(), "attacked_requests": a.latencies.len(),
                   "attacked_errors": a.errors()})
        )
        .unwrap();
    }

    println!(
        "\nThe attacker's traffic during the attacked phase ({attacked_seconds:.1}s, server CPU \
         {attack_cpu:.1}s; the server was still busy {busy_after:.1}s after it ended):\n"
    );
    println!("| attacker request | input | sent | answers | p50 ms | p99 ms |");
    println!("|---|---|---:|---|---:|---:|");
    for (kind, t) in attackers {
        let size = worst(*kind);
        let input = match kind {
            Kind::Patch => format!("{size} values, {}", human_bytes(patch_body(size).len())),
            Kind::Filter => format!("{size} terms, {}", human_bytes(filter_text(size).len())),
            Kind::PasswordCreate => "64-char password".to_owned(),
            Kind::Bulk => format!(
                "{size} operations, {}",
                human_bytes(bulk_body("r0000000-0000000", size).len())
            ),
        };
        println!(
            "| {} | {input} | {} | {} | {:.1} | {:.1} |",
            kind.label(),
            t.latencies.len(),
            outcomes(t),
            t.ms(0.5),
            t.ms(0.99)
        );
    }

    println!("\nCost of each attacker request alone, against its input size:\n");
    println!("| attacker request | scale | input | body | answers | median ms | server CPU ms |");
    println!("|---|---:|---|---:|---|---:|---:|");
    for c in costs {
        println!(
            "| {} | {}× | {} {} | {} | {} | {:.1} | {:.1} |",
            c.kind.label(),
            c.scale,
            c.size,
            c.unit,
            human_bytes(c.bytes),
            outcomes(&c.tally),
            c.tally.ms(0.5),
            c.cpu_ms
        );
        writeln!(
            jsonl,
            "{}",
            json!({"backend": backend, "table": "cost", "request": c.kind.label(),
                   "scale": c.scale, "size": c.size, "unit": c.unit, "bytes": c.bytes,
                   "ok": c.tally.ok, "errors": c.tally.errors(), "rate_limited": c.tally.rate_limited, "statuses": c.tally.statuses,
                   "median_ms": c.tally.ms(0.5), "server_cpu_ms": c.cpu_ms})
        )
        .unwrap();
    }
    println!("\nJSON lines: {}", path.display());
}
