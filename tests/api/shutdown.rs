//! Graceful shutdown of the real binary (`roster serve`): a SIGTERM during a burst of creates
//! answers every request, keeps every 201 (read back after a restart), answers `/readyz` with
//! 503 once it starts, refuses new connections, and exits 0; a second signal exits at once.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use roster::auth::{Role, Secret, Signer};
use serde_json::Value;

use crate::helpers::{AUDIENCE, Backend, ISSUER, SECRET, TestDb, okta_user};

/// Creates in the burst; each hashes a password, so they queue behind one hashing thread and
/// many are in flight when the signal comes.
const BURST: usize = 120;

/// The `roster` binary with the test's settings.
fn roster(database_url: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_roster"));
    command
        .env("DATABASE_URL", database_url)
        .env("ROSTER_JWT_SECRET", SECRET)
        .env("ROSTER_JWT_ISSUER", ISSUER)
        .env("ROSTER_JWT_AUDIENCE", AUDIENCE)
        .env("ROSTER_BIND", "127.0.0.1:0")
        .env("ROSTER_BASE_URL", "http://roster.test/scim/v2")
        .env("ROSTER_LOG_FORMAT", "json")
        .env("ROSTER_WORKERS", "2")
        // The burst is one org's; it tests shutdown, not the org's share of the server.
        .env("ROSTER_ORG_REQUESTS", "1000")
        .env("ROSTER_RATE_LIMIT_PER_SECOND", "0")
        .env("ROSTER_DB_POOL_SIZE", "4")
        .env("ROSTER_HASH_THREADS", "1")
        .env("ROSTER_HASH_QUEUE", "1024")
        .env("ROSTER_SHUTDOWN_TIMEOUT", "60s")
        .env("RUST_LOG", "info");
    command
}

/// A running `roster serve`, its port, and the log lines it has written so far.
struct Server {
    child: Child,
    port: u16,
    log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    fn start(database_url: &str) -> Server {
        let mut child = roster(database_url)
            .arg("serve")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start roster");
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (port_tx, port_rx) = std::sync::mpsc::channel();
        let lines = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("roster is listening")
                    && let Ok(v) = serde_json::from_str::<Value>(&line)
                    && let Some(port) = v["port"].as_u64()
                {
                    let _ = port_tx.send(port as u16);
                }
                lines.lock().unwrap().push(line);
            }
        });
        let port = port_rx
            .recv_timeout(Duration::from_secs(120))
            .unwrap_or_else(|_| panic!("roster did not start: {:?}", log.lock().unwrap()));
        Server { child, port, log }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the process to exit, at most `limit`.
    fn wait(&mut self, limit: Duration) -> ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if started.elapsed() > limit {
                let _ = self.child.kill();
                panic!(
                    "roster did not exit within {limit:?}: {:?}",
                    self.log.lock().unwrap()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn logged(&self, message: &str) -> bool {
        self.log.lock().unwrap().iter().any(|l| l.contains(message))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn token() -> String {
    Signer::new(&Secret::from_config(SECRET), ISSUER, AUDIENCE)
        .issue(
            "default",
            Role::Provisioner,
            None,
            None,
            roster::clock::unix_now(),
        )
        .unwrap()
        .0
}

/// A fresh database (with its `default` org), migrated by the binary's own command.
fn database(backend: Backend) -> (TestDb, String) {
    let (db, url) = TestDb::create(backend);
    let status = roster(&url)
        .arg("migrate")
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "roster migrate");
    (db, url)
}

/// One create of the burst: its status and body, or the error that took its answer.
type Answer = tokio::task::JoinHandle<Result<(u16, Value), reqwest::Error>>;

/// Starts `BURST` creates at once, each on a connection of its own; returns their handles and
/// the count of those answered so far.
fn burst(server: &Server, token: &str) -> (Vec<Answer>, Arc<AtomicUsize>) {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap();
    let answered = Arc::new(AtomicUsize::new(0));
    let tasks = (0..BURST)
        .map(|i| {
            let request = client
                .post(server.url("/scim/v2/Users"))
                .bearer_auth(token)
                .header("Content-Type", "application/scim+json")
                .body(okta_user(&format!("burst{i}@example.com")).to_string());
            let answered = answered.clone();
            tokio::spawn(async move {
                let response = request.send().await?;
                let status = response.status().as_u16();
                let body = response.json::<Value>().await.unwrap_or(Value::Null);
                answered.fetch_add(1, Ordering::SeqCst);
                Ok((status, body))
            })
        })
        .collect();
    (tasks, answered)
}

async fn until(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn sigterm_during_a_burst(backend: Backend) {
    let (_db, url) = database(backend);
    let mut server = Server::start(&url);
    let token = token();

    // A load balancer's health check on a kept-alive connection, every 10 ms, until the
    // connection is closed.
    let probe = reqwest::Client::new();
    let readyz = server.url("/readyz");
    assert_eq!(probe.get(&readyz).send().await.unwrap().status(), 200);
    let probing = tokio::spawn(async move {
        let mut seen = Vec::new();
        while let Ok(response) = probe.get(&readyz).send().await {
            seen.push(response.status().as_u16());
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        seen
    });

    let (tasks, answered) = burst(&server, &token);
    until("the first answers", || answered.load(Ordering::SeqCst) >= 3).await;
    server.signal("TERM");
    let at_signal = answered.load(Ordering::SeqCst);
    until("the shutdown to start", || server.logged("shutting down")).await;

    // New connections are refused once shutdown has started.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let late = reqwest::Client::new()
        .get(server.url("/healthz"))
        .send()
        .await;
    assert!(
        late.as_ref().is_err_and(reqwest::Error::is_connect),
        "a connection after shutdown started: {late:?}"
    );

    let mut created = Vec::new();
    for task in tasks {
        let (status, body) = task
            .await
            .unwrap()
            .expect("every request of the burst gets an answer");
        assert_eq!(status, 201, "{body}");
        created.push(body["id"].as_str().unwrap().to_owned());
    }
    assert!(
        at_signal < BURST,
        "the signal came after the whole burst was answered ({at_signal})"
    );
    let status = server.wait(Duration::from_secs(60));
    assert_eq!(status.code(), Some(0), "{:?}", server.log.lock().unwrap());
    // The health check's kept-alive connection did not hold the shutdown back; it saw only
    // "ready" or, if it asked during the shutdown, 503 (src/http/mod.rs tests the 503).
    let seen = probing.await.unwrap();
    assert!(seen.iter().all(|s| [200, 503].contains(s)), "{seen:?}");
    assert!(server.logged("roster stopped"));
    drop(server);

    // Every 201 is in the database after a restart.
    let server = Server::start(&url);
    let client = reqwest::Client::new();
    for id in &created {
        let response = client
            .get(server.url(&format!("/scim/v2/Users/{id}")))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            200,
            "user {id} answered 201 before the shutdown"
        );
    }
    assert_eq!(created.len(), BURST);
}

mod sigterm_during_a_burst_of_creates {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        sigterm_during_a_burst(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        sigterm_during_a_burst(Backend::Postgres).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_signal_exits_at_once() {
    let (_db, url) = database(Backend::Sqlite);
    let mut server = Server::start(&url);
    let (tasks, answered) = burst(&server, &token());
    until("the first answer", || answered.load(Ordering::SeqCst) >= 1).await;
    server.signal("TERM");
    until("the shutdown to start", || server.logged("shutting down")).await;
    let signalled = Instant::now();
    server.signal("INT");
    let status = server.wait(Duration::from_secs(10));
    assert_eq!(status.code(), Some(1));
    assert!(signalled.elapsed() < Duration::from_secs(5));
    assert!(
        answered.load(Ordering::SeqCst) < BURST,
        "the burst was over before the second signal"
    );
    for task in tasks {
        task.abort();
    }
}
