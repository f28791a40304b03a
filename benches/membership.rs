//! Adding one member to a group of 10 and to a group of 100,000 through the real HTTP PATCH
//! (the app in-process on a temporary SQLite file): the times should be about the same, since a
//! membership change touches only the rows it names (docs/architecture.md §7.2).
//!
//! `cargo bench --bench membership`. Prints the median of 50 adds to each group and their
//! ratio; it asserts nothing about time. Seeding goes through the store (users one by one in a
//! few transactions, memberships with multi-row inserts), not the API, so it takes seconds.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use clap::Parser;
use roster::auth::{Role, Secret, Signer};
use roster::config::Settings;
use roster::ids::{OrgId, UserId};
use roster::startup::Application;
use roster::store::groups::{self, GroupData, GroupId, MemberType};
use roster::store::users::{self, Deactivation, UserData};
use roster::store::{Store, write_tx};
use serde_json::{Map, Value, json};

const SECRET: &str = "bench-secret-that-is-at-least-32-bytes-long";
const LARGE: usize = 100_000;
const SMALL: usize = 10;
const ADDS: usize = 50;
const WARMUP: usize = 5;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    settings: Settings,
}

fn main() {
    // `cargo test --all-targets` runs bench binaries without `--bench`: do nothing then.
    if !std::env::args().any(|a| a == "--bench") {
        println!("membership: run with `cargo bench --bench membership`");
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(run());
}

async fn run() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = dir.path().join("roster.db").display().to_string();
    let settings = Cli::try_parse_from([
        "bench",
        "--bind",
        "127.0.0.1:0",
        "--database-url",
        &url,
        "--jwt-secret",
        SECRET,
        "--workers",
        "2",
        "--log-format",
        "json",
    ])
    .expect("settings")
    .settings;
    let app = Application::build(&settings).expect("build app");
    let base = format!("http://127.0.0.1:{}/scim/v2", app.port());
    tokio::spawn(app.run_until_stopped());
    let store = Store::open(&url, 2, Duration::from_secs(10)).expect("open store");
    let org = OrgId::parse("default").expect("org");

    let started = Instant::now();
    let user_ids = seed_users(&store, &org, LARGE + SMALL + 2 * (ADDS + WARMUP));
    let (members_large, rest) = user_ids.split_at(LARGE);
    let (members_small, to_add) = rest.split_at(SMALL);
    let large = seed_group(&store, &org, "large", members_large);
    let small = seed_group(&store, &org, "small", members_small);
    println!(
        "seeded {} users, a group of {SMALL} and a group of {LARGE} in {:.1?}",
        user_ids.len(),
        started.elapsed()
    );

    let token = Signer::new(&Secret::from_config(SECRET), "roster", "roster")
        .issue(
            "default",
            Role::Provisioner,
            None,
            None,
            roster::clock::unix_now(),
        )
        .expect("token")
        .0;
    let client = reqwest::Client::new();
    let add = |group: GroupId, member: UserId| {
        let client = client.clone();
        let url = format!("{base}/Groups/{group}");
        let token = token.clone();
        async move {
            let body = json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "add", "path": "members", "value": [{"value": member.as_str()}]}],
            });
            let started = Instant::now();
            let response = client
                .patch(&url)
                .bearer_auth(&token)
                .header("Content-Type", "application/scim+json")
                .body(body.to_string())
                .send()
                .await
                .expect("request");
            let elapsed = started.elapsed();
            assert_eq!(
                response.status().as_u16(),
                204,
                "{}",
                response.text().await.unwrap_or_default()
            );
            elapsed
        }
    };
    // Alternate between the groups so that both see the same state of caches and WAL.
    let mut times_small = Vec::new();
    let mut times_large = Vec::new();
    for (i, pair) in to_add.chunks(2).enumerate() {
        let t_small = add(small.clone(), pair[0].clone()).await;
        let t_large = add(large.clone(), pair[1].clone()).await;
        if i >= WARMUP {
            times_small.push(t_small);
            times_large.push(t_large);
        }
    }
    let median_small = median(&mut times_small);
    let median_large = median(&mut times_large);
    let ratio = median_large.as_secs_f64() / median_small.as_secs_f64();
    println!("add one member to a group of {SMALL:>7}: median {median_small:?} over {ADDS} adds");
    println!("add one member to a group of {LARGE:>7}: median {median_large:?} over {ADDS} adds");
    println!("ratio (large / small): {ratio:.2} (target: < 3)");
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn seed_users(store: &Store, org: &OrgId, n: usize) -> Vec<UserId> {
    let mut conn = store.conn().expect("conn");
    let now = roster::clock::now();
    let ids: Vec<UserId> = (0..n).map(|_| UserId::generate()).collect();
    for chunk in ids.chunks(10_000) {
        write_tx(&mut conn, |conn| {
            for id in chunk {
                let name = format!("{id}@example.com");
                let mut resource = Map::new();
                resource.insert(
                    "schemas".to_owned(),
                    json!([roster::scim::schema::USER_SCHEMA]),
                );
                resource.insert("userName".to_owned(), Value::String(name.clone()));
                resource.insert("active".to_owned(), Value::Bool(true));
                let data = UserData::from_resource(resource);
                users::insert(conn, org, id, &data, None, &Deactivation::default(), now)?;
            }
            Ok::<_, diesel::result::Error>(())
        })
        .expect("seed users");
    }
    ids
}

fn seed_group(store: &Store, org: &OrgId, name: &str, members: &[UserId]) -> GroupId {
    let mut conn = store.conn().expect("conn");
    let id = GroupId::generate();
    let mut resource = Map::new();
    resource.insert(
        "schemas".to_owned(),
        json!([roster::scim::schema::GROUP_SCHEMA]),
    );
    resource.insert("displayName".to_owned(), Value::String(name.to_owned()));
    let rows: Vec<(String, MemberType)> = members
        .iter()
        .map(|m| (m.as_str().to_owned(), MemberType::User))
        .collect();
    write_tx(&mut conn, |conn| {
        groups::insert(
            conn,
            org,
            &id,
            &GroupData::from_resource(resource),
            roster::clock::now(),
        )?;
        groups::insert_members_batched(conn, org, &id, &rows)
    })
    .expect("seed group");
    id
}
