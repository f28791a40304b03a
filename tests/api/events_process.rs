//! Lifecycle events across real roster processes (docs/events.md, "Delivery semantics"): the
//! `roster serve` binary killed with SIGKILL between the commit of a change and the delivery of
//! its event, then started again; and two processes on one PostgreSQL database.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use roster::auth::Role;
use serde_json::Value;

use crate::events::{Receiver, subscribe};
use crate::helpers::*;

/// A `roster serve` process on `app`'s database, with its own delivery worker.
struct Process {
    child: Child,
    address: String,
}

impl Process {
    async fn start(app: &TestApp) -> Process {
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_roster"))
            .arg("serve")
            .env("ROSTER_BIND", format!("127.0.0.1:{port}"))
            .env("DATABASE_URL", &app.settings.database_url)
            .env("ROSTER_JWT_SECRET", SECRET)
            .env("ROSTER_JWT_ISSUER", ISSUER)
            .env("ROSTER_JWT_AUDIENCE", AUDIENCE)
            .env("ROSTER_EVENTS_ALLOW_INSECURE", "true")
            .env("ROSTER_EVENTS_POLL_INTERVAL", "50ms")
            .env("ROSTER_EVENTS_RETRY_BASE", "200ms")
            .env("ROSTER_EVENTS_TIMEOUT", "5s")
            .env("ROSTER_WORKERS", "1")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start roster serve");
        // Owned at once, so that a panic below kills and reaps it (`Drop`).
        let process = Process {
            child,
            address: format!("http://127.0.0.1:{port}"),
        };
        for _ in 0..200 {
            if reqwest::get(format!("{}/readyz", process.address))
                .await
                .is_ok_and(|r| r.status() == StatusCode::OK)
            {
                return process;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("roster serve did not become ready on {}", process.address);
    }

    /// Creates a user through this process; returns its id.
    async fn create_user(&self, app: &TestApp, user_name: &str) -> String {
        let token = app.mint(Role::Provisioner, "default", None);
        let created = app
            .client
            .post(format!("{}/scim/v2/Users", self.address))
            .bearer_auth(token)
            .header("Content-Type", "application/scim+json")
            .body(okta_user(user_name).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), StatusCode::CREATED);
        let user: Value = created.json().await.unwrap();
        user["id"].as_str().unwrap().to_owned()
    }

    /// SIGKILL: no shutdown, no lease given back.
    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The in-process app owns the database and answers the admin API; it runs no worker, so
/// every delivery is made by a `roster serve` process.
async fn app_without_worker(backend: Backend) -> TestApp {
    TestApp::spawn_with(backend, |s| {
        s.events.worker = false;
        s.events.allow_insecure = true;
    })
    .await
}

async fn an_event_committed_before_kill_9_is_delivered_after_restart(backend: Backend) {
    let app = app_without_worker(backend).await;
    // The receiver's port is reserved but nobody listens yet: every attempt is refused.
    let port = free_port();
    let (_, secret) = subscribe(&app, &format!("http://127.0.0.1:{port}/hook"), None).await;
    let first = Process::start(&app).await;
    let id = first.create_user(&app, "ada@example.com").await;
    // The worker of the first process tried (the delivery records at least one attempt).
    let store = app.store.clone();
    let mut attempts = 0;
    for _ in 0..200 {
        let store = store.clone();
        attempts = tokio::task::spawn_blocking(move || {
            use diesel::prelude::*;
            use roster::store::schema::event_deliveries;
            event_deliveries::table
                .select(diesel::dsl::max(event_deliveries::attempts))
                .first::<Option<i32>>(&mut *store.conn().unwrap())
                .unwrap()
                .unwrap_or(0)
        })
        .await
        .unwrap();
        if attempts > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(attempts > 0, "the first process tried to deliver");
    first.kill();

    let receiver = Receiver::start_on(TcpListener::bind(("127.0.0.1", port)).unwrap());
    let second = Process::start(&app).await;
    // Usually within the next retry's wait; at worst (killed mid-attempt, holding the lease)
    // once the lease has expired: ROSTER_EVENTS_TIMEOUT + 30 s.
    for _ in 0..900 {
        if !receiver.verified(&secret).is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let events = receiver.wait_for(&secret, 1).await;
    assert_eq!(events[0].1["type"], "user.created");
    assert_eq!(events[0].1["data"]["id"], id.as_str());
    assert_eq!(events[0].1["data"]["userName"], "ada@example.com");
    drop(second);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_between_commit_and_delivery_sqlite() {
    an_event_committed_before_kill_9_is_delivered_after_restart(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_between_commit_and_delivery_postgres() {
    an_event_committed_before_kill_9_is_delivered_after_restart(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_one_postgres_deliver_every_event_once_in_order() {
    let app = app_without_worker(Backend::Postgres).await;
    let receiver = Receiver::start();
    let (_, secret) = subscribe(&app, &receiver.url, None).await;
    let nodes = [Process::start(&app).await, Process::start(&app).await];
    for i in 0..20 {
        nodes[i % 2]
            .create_user(&app, &format!("user{i}@example.com"))
            .await;
    }
    receiver.wait_for(&secret, 20).await;
    // Give a duplicate the time to arrive.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let names: Vec<String> = receiver
        .verified(&secret)
        .into_iter()
        .map(|(_, e)| e["data"]["userName"].as_str().unwrap().to_owned())
        .collect();
    let expected: Vec<String> = (0..20).map(|i| format!("user{i}@example.com")).collect();
    assert_eq!(names, expected, "each event once, in commit order");
}

/// When more subscriptions are due than a worker takes at once, the one whose head event has
/// waited longest is leased first, whatever its id: a worker short of room never starves the
/// subscriptions that sort last (the `set` subscription of the events benchmark waited up to
/// 2 s this way).
async fn the_subscription_waiting_longest_is_leased_first(backend: Backend) {
    let app = app_without_worker(backend).await;
    let receiver = Receiver::start();
    let (a, _) = subscribe(&app, &receiver.url, None).await;
    let (b, _) = subscribe(&app, &receiver.url, None).await;
    app.create_user("waiting@example.com").await;
    // The subscription that sorts last has waited longest.
    let (first, last) = if a < b { (a, b) } else { (b, a) };
    let (store, waited) = (app.store.clone(), last.clone());
    let leased = tokio::task::spawn_blocking(move || {
        use diesel::RunQueryDsl as _;
        let mut conn = store.conn().unwrap();
        diesel::sql_query(format!(
            "UPDATE event_deliveries SET next_attempt_at = '2026-01-01 00:00:00' \
             WHERE subscription_id = '{waited}'"
        ))
        .execute(&mut *conn)
        .unwrap();
        let now = roster::clock::now();
        let until = now + chrono::Duration::minutes(1);
        let mut turn = || -> Vec<String> {
            roster::store::events::claim(&mut conn, "test-worker", now, until, 1)
                .unwrap()
                .into_iter()
                .map(|s| s.id)
                .collect()
        };
        [turn(), turn()]
    })
    .await
    .unwrap();
    assert_eq!(leased, [vec![last], vec![first]]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_subscription_waiting_longest_is_leased_first_sqlite() {
    the_subscription_waiting_longest_is_leased_first(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_subscription_waiting_longest_is_leased_first_postgres() {
    the_subscription_waiting_longest_is_leased_first(Backend::Postgres).await;
}
