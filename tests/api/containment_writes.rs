//! No tenant's writes hold up another's (docs/limits.md, "Write requests"): request sizes are capped and refused early,
//! the work of a write is done before it takes the write lock, the write queue and the password
//! hashing queue are bounded (503 with `Retry-After` when full), and the CLI waits for a running
//! server's write lock instead of failing.

use std::sync::mpsc;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use reqwest::{Method, StatusCode};
use roster::auth::{Role, Secret, Signer};
use roster::config::Settings;
use serde_json::{Value, json};

use crate::helpers::*;

/// `both_backends!` for apps spawned with settings adjusted by `$adjust`.
macro_rules! both_backends_with {
    ($adjust:expr, $(async fn $name:ident($app:ident) $body:block)*) => {
        $(
            mod $name {
                #[allow(unused_imports)]
                use super::*;
                async fn run($app: TestApp) $body

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    run(TestApp::spawn_with(Backend::Sqlite, $adjust).await).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    run(TestApp::spawn_with(Backend::Postgres, $adjust).await).await
                }
            }
        )*
    };
}

/// Bodies of a few MiB, so that the caps, not the body limit, are what refuse them.
fn large_bodies(settings: &mut Settings) {
    settings.max_body_bytes = 4 * 1024 * 1024;
}

fn emails(range: std::ops::Range<usize>) -> Value {
    Value::Array(
        range
            .map(|i| json!({"value": format!("mail{i}@example.com"), "type": "other"}))
            .collect(),
    )
}

/// The write lock of the database, held by a connection of the test until dropped: SQLite's
/// file lock (`BEGIN IMMEDIATE`), or on PostgreSQL an `EXCLUSIVE` lock on `tables` (which lets
/// plain reads through, as SQLite's lock does).
struct WriteLock {
    release: Option<mpsc::Sender<()>>,
    holder: Option<std::thread::JoinHandle<()>>,
}

impl WriteLock {
    fn take(app: &TestApp, tables: &[&str]) -> WriteLock {
        let mut conn = app.store.conn().unwrap();
        let begin = match app.backend {
            Backend::Sqlite => "BEGIN IMMEDIATE".to_owned(),
            Backend::Postgres => {
                format!("BEGIN; LOCK TABLE {} IN EXCLUSIVE MODE", tables.join(", "))
            }
        };
        conn.batch_execute(&begin).unwrap();
        let (release, released) = mpsc::channel::<()>();
        let holder = std::thread::spawn(move || {
            let _ = released.recv();
            conn.batch_execute("COMMIT").unwrap();
        });
        WriteLock {
            release: Some(release),
            holder: Some(holder),
        }
    }

    fn release(mut self) {
        self.end();
    }

    fn end(&mut self) {
        drop(self.release.take());
        if let Some(holder) = self.holder.take() {
            holder.join().unwrap();
        }
    }
}

impl Drop for WriteLock {
    fn drop(&mut self) {
        self.end();
    }
}

async fn emails_of(app: &TestApp, id: &str) -> usize {
    let user: Value = app.get_user(id).await.json().await.unwrap();
    user["emails"].as_array().map_or(0, Vec::len)
}

both_backends_with! {
    large_bodies,

    async fn a_patch_of_52000_emails_is_refused_by_the_cap(app) {
        let id = app.create_user("many@example.com").await["id"].as_str().unwrap().to_owned();
        let response = app
            .patch_user(&id, json!([{"op": "add", "path": "emails", "value": emails(0..52_000)}]))
            .await;
        let body = assert_scim_error(response, 400, Some("invalidValue")).await;
        assert_eq!(
            body["detail"],
            "'emails' may hold at most 100 values; this request gives it 52000"
        );
        assert_eq!(emails_of(&app, &id).await, 1, "nothing was written");
    }

    async fn multi_valued_attributes_are_held_to_100_values_by_every_write(app) {
        let id = app.create_user("cap@example.com").await["id"].as_str().unwrap().to_owned();
        // At the cap: the stored one and 99 more.
        let response = app
            .patch_user(&id, json!([{"op": "add", "path": "emails", "value": emails(1..100)}]))
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(emails_of(&app, &id).await, 100);
        // One more, by PATCH, PUT or POST, is refused.
        let response = app
            .patch_user(&id, json!([{"op": "add", "path": "emails", "value": [{"value": "x@example.com"}]}]))
            .await;
        let body = assert_scim_error(response, 400, Some("invalidValue")).await;
        assert_eq!(body["detail"], "'emails' may hold at most 100 values; this request gives it 101");
        let mut put = okta_user("cap@example.com");
        put["emails"] = emails(0..101);
        let response = app.request(Method::PUT, &format!("/Users/{id}"), Some(&put)).await;
        assert_scim_error(response, 400, Some("invalidValue")).await;
        let mut post = okta_user("other@example.com");
        post["phoneNumbers"] = Value::Array((0..101).map(|i| json!({"value": format!("+1 555 {i:04}")})).collect());
        let body = assert_scim_error(app.post_user(&post).await, 400, Some("invalidValue")).await;
        assert_eq!(body["detail"], "'phoneNumbers' may hold at most 100 values; this request gives it 101");
        assert_eq!(emails_of(&app, &id).await, 100);
    }

    // A group may have any number of members, added at most 1000 a request.
    async fn a_request_names_at_most_1000_members(app) {
        let ids = |n: usize| -> Value {
            Value::Array((0..n).map(|i| json!({"value": format!("00000000-0000-4000-8000-{i:012}")})).collect())
        };
        let group = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Big", "members": ids(1001)});
        let body = assert_scim_error(app.request(Method::POST, "/Groups", Some(&group)).await, 400, Some("invalidValue")).await;
        assert_eq!(
            body["detail"],
            "'members': a request may name at most 1000 members; this one names 1001: add or remove them in several requests"
        );
        let created: Value = app
            .request(Method::POST, "/Groups", Some(&json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Big"})))
            .await
            .json()
            .await
            .unwrap();
        let path = format!("/Groups/{}", created["id"].as_str().unwrap());
        let patch = |ops: Value| json!({"schemas": [PATCH_SCHEMA], "Operations": ops});
        // Counted over every operation of the request, whatever its form.
        let too_many = patch(json!([
            {"op": "add", "path": "members", "value": ids(600)},
            {"op": "add", "value": {"members": ids(401)}}
        ]));
        let body = assert_scim_error(app.request(Method::PATCH, &path, Some(&too_many)).await, 400, Some("invalidValue")).await;
        assert!(body["detail"].as_str().unwrap().contains("names 1001"), "{body}");
        let mut put = group.clone();
        put["members"] = ids(1001);
        assert_scim_error(app.request(Method::PUT, &path, Some(&put)).await, 400, Some("invalidValue")).await;
        // 1000 pass the cap (and are then checked one by one: these ids name no one).
        let at_cap = patch(json!([{"op": "add", "path": "members", "value": ids(1000)}]));
        let body = assert_scim_error(app.request(Method::PATCH, &path, Some(&at_cap)).await, 400, Some("invalidValue")).await;
        assert!(body["detail"].as_str().unwrap().starts_with("no User or Group with id"), "{body}");
    }

    // The caps are advertised where SCIM has room for them: the attributes' descriptions.
    async fn the_schemas_advertise_the_caps(app) {
        let schema: Value = app.request(Method::GET, &format!("/Schemas/{USER_SCHEMA}"), None).await.json().await.unwrap();
        let described = |schema: &Value, name: &str| -> String {
            schema["attributes"].as_array().unwrap().iter().find(|a| a["name"] == name).unwrap()["description"]
                .as_str().unwrap().to_owned()
        };
        assert!(described(&schema, "emails").ends_with("At most 100 values."), "{}", described(&schema, "emails"));
        assert!(described(&schema, "phoneNumbers").ends_with("At most 100 values."));
        let schema: Value = app
            .request(Method::GET, "/Schemas/urn:ietf:params:scim:schemas:core:2.0:Group", None)
            .await
            .json()
            .await
            .unwrap();
        assert!(described(&schema, "members").ends_with("a request names at most 1000 member values."));
    }

    async fn a_patch_of_too_many_operations_is_refused(app) {
        let id = app.create_user("ops@example.com").await["id"].as_str().unwrap().to_owned();
        let ops: Vec<Value> = (0..1001)
            .map(|i| json!({"op": "replace", "path": "nickName", "value": format!("n{i}")}))
            .collect();
        let body = assert_scim_error(app.patch_user(&id, Value::Array(ops)).await, 400, Some("invalidValue")).await;
        assert!(body["detail"].as_str().unwrap().contains("at most 1000"), "{body}");
    }

    // Compute first, then write: the patch engine and validation run before the write lock is
    // asked for, so a PATCH they refuse is answered while another connection holds the lock
    // (it used to wait for the lock, inside the SQLite writer, and hold up every write behind
    // it); an accepted one waits only for its own statements.
    async fn a_patch_is_computed_before_it_takes_the_write_lock(app) {
        let id = app.create_user("early@example.com").await["id"].as_str().unwrap().to_owned();
        let lock = WriteLock::take(&app, &["users", "user_emails", "audit_events"]);
        let refused = app
            .patch_user(&id, json!([{"op": "add", "path": "emails", "value": emails(0..52_000)}]))
            .await;
        assert_scim_error(refused, 400, Some("invalidValue")).await;
        let stale = app
            .client
            .patch(app.url(&format!("/Users/{id}")))
            .bearer_auth(&app.token)
            .header("Content-Type", "application/scim+json")
            .header("If-Match", "W/\"999\"")
            .body(json!({"schemas": [PATCH_SCHEMA], "Operations": [{"op": "replace", "path": "nickName", "value": "x"}]}).to_string())
            .send()
            .await
            .unwrap();
        assert_scim_error(stale, 412, None).await;
        // An accepted PATCH waits for the lock, and is written once it is free.
        let accepted = {
            let (client, url, token) = (app.client.clone(), app.url(&format!("/Users/{id}")), app.token.clone());
            tokio::spawn(async move {
                client
                    .patch(url)
                    .bearer_auth(token)
                    .header("Content-Type", "application/scim+json")
                    .body(json!({"schemas": [PATCH_SCHEMA], "Operations": [{"op": "add", "path": "emails", "value": emails(1..100)}]}).to_string())
                    .send()
                    .await
                    .unwrap()
                    .status()
            })
        };
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!accepted.is_finished(), "the write waits for the lock");
        lock.release();
        assert_eq!(accepted.await.unwrap(), StatusCode::OK);
        assert_eq!(emails_of(&app, &id).await, 100);
    }

    // Concurrent PATCHes of one user are still serialised by version: every one is applied
    // once, none is lost, each in its own version.
    async fn racing_patches_of_one_user_each_apply_once(app) {
        let id = app.create_user("race@example.com").await["id"].as_str().unwrap().to_owned();
        let app = &app;
        let responses = futures::future::join_all((1..20).map(|i| {
            let id = id.clone();
            async move {
                app.patch_user(&id, json!([{"op": "add", "path": "emails", "value": [{"value": format!("r{i}@example.com")}]}]))
                    .await
                    .status()
            }
        }))
        .await;
        assert!(responses.iter().all(|s| *s == StatusCode::OK), "{responses:?}");
        let user: Value = app.get_user(&id).await.json().await.unwrap();
        assert_eq!(user["emails"].as_array().unwrap().len(), 20);
        assert_eq!(user["meta"]["version"], "W/\"20\"");
    }
}

fn tiny_write_queue(settings: &mut Settings) {
    settings.write_queue = 1;
}

both_backends_with! {
    tiny_write_queue,

    // A write beyond the admitted ones is answered at once, 503 with `Retry-After` and a SCIM
    // body, instead of waiting in an unbounded queue.
    async fn a_full_write_queue_answers_503_with_retry_after(app) {
        let lock = WriteLock::take(&app, &["users"]);
        let send = |name: &str| {
            let (client, url, token) = (app.client.clone(), app.url("/Users"), app.token.clone());
            let mut body = okta_user(name);
            body.as_object_mut().unwrap().remove("password");
            tokio::spawn(async move {
                client
                    .post(url)
                    .bearer_auth(token)
                    .header("Content-Type", "application/scim+json")
                    .body(body.to_string())
                    .send()
                    .await
                    .unwrap()
            })
        };
        let first = send("first@example.com");
        let second = send("second@example.com");
        // One of them is admitted and waits for the lock; the other is refused.
        let refused = loop {
            if first.is_finished() {
                break first.await.unwrap();
            }
            if second.is_finished() {
                break second.await.unwrap();
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        assert_eq!(
            refused.headers().get("retry-after").and_then(|v| v.to_str().ok()),
            Some("1")
        );
        let body = assert_scim_error(refused, 503, None).await;
        assert!(body["detail"].as_str().unwrap().contains("at capacity"), "{body}");
        lock.release();
        let list: Value = app.request(Method::GET, "/Users", None).await.json().await.unwrap();
        // The admitted one was written once the lock was free.
        let mut written = 0;
        for _ in 0..100 {
            let list: Value = app.request(Method::GET, "/Users", None).await.json().await.unwrap();
            written = list["totalResults"].as_u64().unwrap();
            if written == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(written, 1, "{list}");
    }
}

fn short_write_deadline(settings: &mut Settings) {
    settings.write_deadline = Duration::from_millis(100);
}

both_backends_with! {
    short_write_deadline,

    // SQLite: a write that waited for the writer past its deadline is not run but answered 503
    // (PostgreSQL has no writer queue: its writes wait for their locks and are written).
    async fn a_write_queued_past_its_deadline_answers_503(app) {
        let lock = WriteLock::take(&app, &["users"]);
        let sends: Vec<_> = (0..3)
            .map(|i| {
                let (client, url, token) = (app.client.clone(), app.url("/Users"), app.token.clone());
                let mut body = okta_user(&format!("late{i}@example.com"));
                body.as_object_mut().unwrap().remove("password");
                tokio::spawn(async move {
                    client
                        .post(url)
                        .bearer_auth(token)
                        .header("Content-Type", "application/scim+json")
                        .body(body.to_string())
                        .send()
                        .await
                        .unwrap()
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(500)).await;
        lock.release();
        let mut statuses = Vec::new();
        for send in sends {
            let response = send.await.unwrap();
            let status = response.status();
            if status == StatusCode::SERVICE_UNAVAILABLE {
                assert_eq!(response.headers().get("retry-after").and_then(|v| v.to_str().ok()), Some("1"));
                assert_scim_error(response, 503, None).await;
            }
            statuses.push(status);
        }
        let created = statuses.iter().filter(|s| **s == StatusCode::CREATED).count();
        let expired = statuses.iter().filter(|s| **s == StatusCode::SERVICE_UNAVAILABLE).count();
        match app.backend {
            // The writer took one and waited for the lock with it; the others expired in the
            // queue meanwhile.
            Backend::Sqlite => assert_eq!((created, expired), (1, 2), "{statuses:?}"),
            Backend::Postgres => assert_eq!((created, expired), (3, 0), "{statuses:?}"),
        }
    }
}

fn one_slow_hasher(settings: &mut Settings) {
    settings.hash_threads = 1;
    settings.hash_queue = 2;
}

both_backends_with! {
    one_slow_hasher,

    // Password hashing has its own bounded pool: a flood of creates with passwords fills it
    // and is refused (503, `Retry-After`) beyond its queue, while reads are answered; the
    // hashes that are computed are stored and verify.
    async fn password_hashing_is_bounded_and_leaves_reads_alone(app) {
        use argon2::{PasswordHash, PasswordVerifier};

        let reader = app.create_user("reader@example.com").await["id"].as_str().unwrap().to_owned();
        let creates: Vec<_> = (0..12)
            .map(|i| {
                let (client, url, token) = (app.client.clone(), app.url("/Users"), app.token.clone());
                let body = okta_user(&format!("pw{i}@example.com"));
                tokio::spawn(async move {
                    let response = client
                        .post(url)
                        .bearer_auth(token)
                        .header("Content-Type", "application/scim+json")
                        .body(body.to_string())
                        .send()
                        .await
                        .unwrap();
                    let retry = response.headers().get("retry-after").is_some();
                    (response.status(), retry, response.json::<Value>().await.unwrap())
                })
            })
            .collect();
        // While hashes are queued, a read is answered.
        assert_eq!(app.get_user(&reader).await.status(), StatusCode::OK);
        let mut created = Vec::new();
        let mut refused = 0;
        for create in creates {
            let (status, retry, body) = create.await.unwrap();
            match status {
                StatusCode::CREATED => created.push(body["id"].as_str().unwrap().to_owned()),
                StatusCode::SERVICE_UNAVAILABLE => {
                    assert!(retry, "503 carries Retry-After");
                    refused += 1;
                }
                other => panic!("unexpected {other}: {body}"),
            }
        }
        assert!(refused > 0, "a queue of 2 does not take 12 passwords at once");
        assert!(!created.is_empty());
        let store = app.store.clone();
        let id = created.remove(0);
        let hash: Option<String> = tokio::task::spawn_blocking(move || {
            use diesel::prelude::*;
            use roster::store::schema::users;
            let mut conn = store.conn().unwrap();
            users::table.filter(users::id.eq(id)).select(users::password_hash).first(&mut conn).unwrap()
        })
        .await
        .unwrap();
        let hash = hash.expect("a hash is stored");
        let parsed = PasswordHash::new(&hash).unwrap();
        assert!(argon2::Argon2::default().verify_password(b"correct horse battery staple", &parsed).is_ok());
    }
}

both_backends_with! {
    large_bodies,

    // `roster token revoke` waits for a running server's write lock instead of failing with
    // "database is locked", even while the server is busy with the largest writes it allows.
    async fn a_cli_revoke_waits_for_the_servers_write_lock(app) {
        let (token, claims) = Signer::new(&Secret::from_config(SECRET), ISSUER, AUDIENCE)
            .issue("default", Role::Provisioner, None, None, roster::clock::unix_now())
            .unwrap();
        let id = app.create_user("busy@example.com").await["id"].as_str().unwrap().to_owned();
        if app.backend == Backend::Sqlite {
            let store = roster::cli::open_store(&app.settings).unwrap();
            let mut conn = store.conn().unwrap();
            #[derive(diesel::QueryableByName)]
            struct Timeout {
                #[diesel(sql_type = diesel::sql_types::BigInt)]
                timeout: i64,
            }
            use diesel::RunQueryDsl;
            let t: Timeout = diesel::sql_query("PRAGMA busy_timeout").get_result(&mut conn).unwrap();
            assert_eq!(t.timeout, 120_000, "the CLI waits ROSTER_CLI_LOCK_WAIT for the lock");
        }
        // The server writes the largest PATCHes it allows, over and over.
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writer = {
            let (client, url, token, stop) = (app.client.clone(), app.url(&format!("/Users/{id}")), app.token.clone(), stop.clone());
            tokio::spawn(async move {
                let mut n = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let range = if n % 2 == 0 { 0..100 } else { 100..200 };
                    let status = client
                        .patch(&url)
                        .bearer_auth(&token)
                        .header("Content-Type", "application/scim+json")
                        .body(json!({"schemas": [PATCH_SCHEMA], "Operations": [{"op": "replace", "path": "emails", "value": emails(range)}]}).to_string())
                        .send()
                        .await
                        .unwrap()
                        .status();
                    assert_eq!(status, StatusCode::OK);
                    n += 1;
                }
                n
            })
        };
        // And a connection holds the write lock a while, as a long batch would.
        let lock = WriteLock::take(&app, &["revoked_tokens"]);
        let revoke = {
            let settings = app.settings.clone();
            let jti = claims.jti.clone();
            tokio::task::spawn_blocking(move || roster::cli::revoke_token(&settings, "default", &jti))
        };
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!revoke.is_finished(), "the revocation waits for the lock");
        lock.release();
        assert!(revoke.await.unwrap().unwrap(), "revoked");
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        assert!(writer.await.unwrap() > 0);
        let refused = app.request_as(&token, Method::GET, "/Users", None).await;
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    }
}
