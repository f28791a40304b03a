//! Lifecycle events (docs/events.md): subscriptions over the admin API, and a real receiver on a
//! loopback port that verifies every delivery's Standard Webhooks signature with the
//! `standardwebhooks` crate (the specification's reference library, not roster's own code).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::{Method, Response, StatusCode};
use roster::auth::Role;
use roster::config::Settings;
use roster::startup::Application;
use serde_json::{Value, json};

use crate::helpers::*;

/// Settings for fast event tests: loopback receivers allowed, quick polls and retries.
fn fast(settings: &mut Settings) {
    settings.events.allow_insecure = true;
    settings.events.poll_interval = Duration::from_millis(25);
    settings.events.retry_base = Duration::from_millis(100);
}

/// `events_test! { async fn name(app) { … } }`: like `both_backends!`, on an app with [`fast`]
/// event settings, adjusted further by `async fn name(app, |s: &mut Settings| …)`.
macro_rules! events_test {
    ($(async fn $name:ident($app:ident $(, $adjust:expr)?) $body:block)*) => {
        $(
            mod $name {
                #[allow(unused_imports)]
                use super::*;
                async fn run($app: TestApp) $body

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    run(TestApp::spawn_with(Backend::Sqlite, |s| {
                        fast(s);
                        $(($adjust)(s);)?
                    }).await).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    run(TestApp::spawn_with(Backend::Postgres, |s| {
                        fast(s);
                        $(($adjust)(s);)?
                    }).await).await
                }
            }
        )*
    };
}

/// How long a stalling [`Receiver`] takes to answer.
const STALL: Duration = Duration::from_secs(5);

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

/// A webhook receiver on a loopback port. It answers 500 while `down`, 400 with an RFC 8935
/// error body while `reject`, else 204; while `stall`, it answers only after [`STALL`].
#[derive(Clone, Default)]
pub(crate) struct Receiver {
    received: Arc<Mutex<Vec<Received>>>,
    down: Arc<AtomicBool>,
    stall: Arc<AtomicBool>,
    reject: Arc<AtomicBool>,
    refused: Arc<AtomicUsize>,
    pub(crate) url: String,
}

impl Receiver {
    pub(crate) fn start() -> Receiver {
        Self::start_on(std::net::TcpListener::bind("127.0.0.1:0").unwrap())
    }

    /// A receiver on `listener`.
    pub(crate) fn start_on(listener: std::net::TcpListener) -> Receiver {
        let port = listener.local_addr().unwrap().port();
        let receiver = Receiver {
            url: format!("http://127.0.0.1:{port}/hook"),
            ..Receiver::default()
        };
        let state = receiver.clone();
        let server = actix_web::HttpServer::new(move || {
            let state = state.clone();
            actix_web::App::new().default_service(actix_web::web::to(
                move |req: actix_web::HttpRequest, body: actix_web::web::Bytes| {
                    let state = state.clone();
                    async move {
                        if state.stall.load(Ordering::SeqCst) {
                            tokio::time::sleep(STALL).await;
                        }
                        if state.reject.load(Ordering::SeqCst) {
                            state.refused.fetch_add(1, Ordering::SeqCst);
                            return actix_web::HttpResponse::BadRequest()
                                .content_type("application/json")
                                .body(r#"{"err":"invalid_audience","description":"not for us"}"#);
                        }
                        if state.down.load(Ordering::SeqCst) {
                            state.refused.fetch_add(1, Ordering::SeqCst);
                            return actix_web::HttpResponse::InternalServerError()
                                .body("receiver down");
                        }
                        let mut headers = reqwest::header::HeaderMap::new();
                        for (name, value) in req.headers() {
                            headers.append(
                                reqwest::header::HeaderName::from_bytes(name.as_str().as_bytes())
                                    .unwrap(),
                                reqwest::header::HeaderValue::from_bytes(value.as_bytes()).unwrap(),
                            );
                        }
                        state.received.lock().unwrap().push(Received {
                            headers,
                            body: body.to_vec(),
                        });
                        actix_web::HttpResponse::NoContent().finish()
                    }
                },
            ))
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
        tokio::spawn(server);
        receiver
    }

    /// The events received so far, each one's signature verified against `secret`: (the
    /// `webhook-id`, the body).
    pub(crate) fn verified(&self, secret: &str) -> Vec<(String, Value)> {
        let webhook = standardwebhooks::Webhook::new(secret).unwrap();
        self.received
            .lock()
            .unwrap()
            .iter()
            .map(|r| {
                webhook
                    .verify(&r.body, &r.headers)
                    .unwrap_or_else(|e| panic!("bad signature ({e}) on {r:?}"));
                assert_eq!(r.headers["content-type"], "application/json");
                let id = r.headers["webhook-id"].to_str().unwrap().to_owned();
                (id, serde_json::from_slice(&r.body).unwrap())
            })
            .collect()
    }

    /// The SETs received so far, each one's ES256 signature verified with the key of its `kid`
    /// in `app`'s `/.well-known/jwks.json` (fetched without a token), its `iss` and `aud`
    /// checked and its `Content-Type` the one of RFC 8935: (the JOSE header, the claims).
    pub(crate) async fn verified_sets(
        &self,
        address: &str,
        issuer: &str,
        audience: &str,
    ) -> Vec<(Value, Value)> {
        let response = reqwest::get(format!("{address}/.well-known/jwks.json"))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let jwks: jsonwebtoken::jwk::JwkSet = response.json().await.unwrap();
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        // A SET has no `exp` (RFC 8417 §2.2).
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        self.received
            .lock()
            .unwrap()
            .iter()
            .map(|r| {
                assert_eq!(r.headers["content-type"], "application/secevent+jwt");
                assert_eq!(r.headers["accept"], "application/json");
                let token = std::str::from_utf8(&r.body).unwrap();
                let header = jsonwebtoken::decode_header(token).unwrap();
                assert_eq!(header.typ.as_deref(), Some("secevent+jwt"));
                let kid = header.kid.clone().unwrap();
                let jwk = jwks
                    .find(&kid)
                    .unwrap_or_else(|| panic!("no key {kid} in the JWKS"));
                let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
                let claims = jsonwebtoken::decode::<Value>(token, &key, &validation)
                    .unwrap_or_else(|e| panic!("bad SET ({e}): {token}"))
                    .claims;
                (serde_json::to_value(&header).unwrap(), claims)
            })
            .collect()
    }

    /// Waits until `count` requests have been accepted (at most 20 s).
    pub(crate) async fn wait_count(&self, count: usize) {
        for _ in 0..400 {
            if self.received.lock().unwrap().len() >= count {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let got = self.received.lock().unwrap().len();
        panic!("expected {count} deliveries, got {got}");
    }

    /// How many requests were accepted so far.
    fn count(&self) -> usize {
        self.received.lock().unwrap().len()
    }

    /// Waits until `count` requests have been accepted; how long that took, `None` when it did
    /// not happen within `limit`.
    async fn within(&self, count: usize, limit: Duration) -> Option<Duration> {
        let started = std::time::Instant::now();
        while started.elapsed() < limit {
            if self.count() >= count {
                return Some(started.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        None
    }

    /// Waits until `count` events have arrived (at most 20 s), then returns them verified.
    pub(crate) async fn wait_for(&self, secret: &str, count: usize) -> Vec<(String, Value)> {
        for _ in 0..400 {
            if self.received.lock().unwrap().len() >= count {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let events = self.verified(secret);
        assert!(
            events.len() >= count,
            "expected {count} events, got {}: {events:?}",
            events.len()
        );
        events
    }
}

fn types(events: &[(String, Value)]) -> Vec<String> {
    events
        .iter()
        .map(|(_, e)| e["type"].as_str().unwrap().to_owned())
        .collect()
}

async fn admin(
    app: &TestApp,
    org: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Response {
    let token = app.mint(Role::Admin, org, None);
    let mut request = app
        .client
        .request(method, format!("{}/admin/v1{path}", app.address))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

/// Subscribes `url` in the `default` org; returns (id, secret).
pub(crate) async fn subscribe(
    app: &TestApp,
    url: &str,
    events: Option<Vec<&str>>,
) -> (String, String) {
    let mut body = json!({"url": url, "format": "webhook", "description": "test receiver"});
    if let Some(events) = events {
        body["events"] = json!(events);
    }
    let response = admin(
        app,
        "default",
        Method::POST,
        "/event-subscriptions",
        Some(body),
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let created: Value = response.json().await.unwrap();
    assert_eq!(created["status"], "active");
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{created}");
    (created["id"].as_str().unwrap().to_owned(), secret)
}

async fn set_active(app: &TestApp, id: &str, active: bool) {
    let action = if active { "activate" } else { "deactivate" };
    let response = admin(
        app,
        "default",
        Method::POST,
        &format!("/users/{id}/{action}"),
        None,
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
}

async fn deliveries(app: &TestApp, subscription: &str) -> Vec<Value> {
    let response = admin(
        app,
        "default",
        Method::GET,
        &format!("/event-subscriptions/{subscription}/deliveries"),
        None,
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    body["deliveries"].as_array().unwrap().clone()
}

async fn assert_admin_error(response: Response, status: u16, code: &str) {
    assert_eq!(response.status().as_u16(), status);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], code, "{body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
}

/// Starts another roster on `app`'s database, its settings adjusted by `adjust`.
fn another_node(app: &TestApp, adjust: impl FnOnce(&mut Settings)) -> String {
    let mut settings = app.settings.clone();
    adjust(&mut settings);
    let node = Application::build(&settings).unwrap();
    let address = format!("http://127.0.0.1:{}", node.port());
    tokio::spawn(node.run_until_stopped());
    address
}

events_test! {
    async fn every_event_type_arrives_signed_with_its_payload(app) {
        let receiver = Receiver::start();
        let (_, secret) = subscribe(&app, &receiver.url, None).await;

        let user = app.create_user("ada@example.com").await;
        let id = user["id"].as_str().unwrap();
        let patched = app
            .patch_user(id, json!([{"op": "replace", "path": "displayName", "value": "Ada L."}]))
            .await;
        assert_eq!(patched.status(), StatusCode::OK);
        set_active(&app, id, false).await;
        set_active(&app, id, true).await;
        let group = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "Engineering",
            "externalId": "okta-eng",
        });
        let response = app.request(Method::POST, "/Groups", Some(&group)).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let group_id = response.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
        let add = json!({
            "schemas": [PATCH_SCHEMA],
            "Operations": [{"op": "add", "path": "members", "value": [{"value": id}]}],
        });
        let response = app.request(Method::PATCH, &format!("/Groups/{group_id}"), Some(&add)).await;
        assert!(response.status().is_success());
        let response = app.request(Method::DELETE, &format!("/Users/{id}"), None).await;
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        let response = app.request(Method::DELETE, &format!("/Groups/{group_id}"), None).await;
        assert_eq!(response.status(), StatusCode::NO_CONTENT);

        let events = receiver.wait_for(&secret, 9).await;
        assert_eq!(
            types(&events),
            [
                "user.created",
                "user.updated",
                "user.deactivated",
                "user.reactivated",
                "group.created",
                "group.updated",
                // The deletion removes the user from its group first: a membership change.
                "group.updated",
                "user.deleted",
                "group.deleted",
            ]
        );
        let ids: std::collections::HashSet<&String> = events.iter().map(|(id, _)| id).collect();
        assert_eq!(ids.len(), events.len(), "one webhook-id per event");
        let data = |i: usize| events[i].1["data"].clone();
        let actor = json!({"id": data(0)["actor"]["id"], "channel": "scim"});
        assert_eq!(
            data(0),
            json!({
                "org": "default",
                "resourceType": "User",
                "id": id,
                "externalId": "okta-ada@example.com",
                "userName": "ada@example.com",
                "active": true,
                "actor": actor,
            }),
            "identifiers only: no name, email or password"
        );
        assert!(events[0].1["timestamp"].as_str().unwrap().ends_with('Z'));
        assert_eq!(data(1)["changedAttributes"], json!(["displayName"]));
        assert_eq!(data(2)["active"], false);
        assert_eq!(data(2)["actor"]["channel"], "admin");
        assert_eq!(data(3)["active"], true);
        assert_eq!(
            data(4),
            json!({
                "org": "default",
                "resourceType": "Group",
                "id": group_id,
                "externalId": "okta-eng",
                "displayName": "Engineering",
                "actor": actor,
            })
        );
        assert_eq!(data(5)["membersAdded"], 1);
        assert_eq!(data(5)["added"], json!([id]));
        assert_eq!(data(6)["membersRemoved"], 1);
        assert_eq!(data(7)["userName"], "ada@example.com", "a deleted user is still named");
        assert_eq!(data(7)["id"], id);
        assert_eq!(data(8)["displayName"], "Engineering");
    }

    async fn deactivations_and_reactivations_arrive_in_commit_order(app) {
        let receiver = Receiver::start();
        let (_, secret) = subscribe(
            &app,
            &receiver.url,
            Some(vec!["user.deactivated", "user.reactivated"]),
        )
        .await;
        let user = app.create_user("grace@example.com").await;
        let id = user["id"].as_str().unwrap();
        for _ in 0..5 {
            set_active(&app, id, false).await;
            set_active(&app, id, true).await;
        }
        let events = receiver.wait_for(&secret, 10).await;
        let expected: Vec<&str> = ["user.deactivated", "user.reactivated"].repeat(5);
        assert_eq!(types(&events), expected, "only the types asked for, in order");
    }

    async fn holds_and_releases_reach_subscriptions_and_refusals_do_not(app) {
        let receiver = Receiver::start();
        let (_, secret) = subscribe(&app, &receiver.url, None).await;
        let id = app.create_user("held@example.com").await["id"].as_str().unwrap().to_owned();
        let response = admin(
            &app,
            "default",
            Method::POST,
            &format!("/users/{id}/deactivate"),
            Some(json!({"reason": "compromised", "hold": true})),
        )
        .await;
        assert_eq!(response.status(), StatusCode::OK);
        let refused = app
            .patch_user(&id, json!([{"op": "replace", "value": {"active": true}}]))
            .await;
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
        set_active(&app, &id, true).await;
        let events = receiver.wait_for(&secret, 5).await;
        assert_eq!(
            types(&events),
            ["user.created", "user.deactivated", "user.held", "user.released", "user.reactivated"]
        );
        let held = &events[2].1["data"];
        assert_eq!((held["id"].as_str(), held["active"].as_bool()), (Some(id.as_str()), Some(false)));
        assert_eq!(held["actor"]["channel"], "admin");
    }

    async fn a_failing_receiver_gets_every_event_in_order_once_it_recovers(app) {
        let receiver = Receiver::start();
        receiver.down.store(true, Ordering::SeqCst);
        let (subscription, secret) = subscribe(&app, &receiver.url, None).await;
        let user = app.create_user("linus@example.com").await;
        let id = user["id"].as_str().unwrap();
        set_active(&app, id, false).await;
        set_active(&app, id, true).await;
        for _ in 0..200 {
            if receiver.refused.load(Ordering::SeqCst) >= 3 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        assert!(receiver.refused.load(Ordering::SeqCst) >= 3, "retried");
        let pending = deliveries(&app, &subscription).await;
        let head = pending.iter().find(|d| d["type"] == "user.created").unwrap();
        assert_eq!(head["status"], "pending");
        assert_eq!(head["lastStatus"], 500);
        assert_eq!(head["responseExcerpt"], "receiver down");
        assert!(head["attempts"].as_i64().unwrap() >= 2);
        assert!(head["nextAttemptAt"].is_string());
        assert!(
            pending.iter().filter(|d| d["type"] != "user.created").all(|d| d["attempts"] == 0),
            "nothing behind a failing head is sent: {pending:?}"
        );

        receiver.down.store(false, Ordering::SeqCst);
        let events = receiver.wait_for(&secret, 3).await;
        assert_eq!(
            types(&events),
            ["user.created", "user.deactivated", "user.reactivated"]
        );
        // The receiver has the last event a moment before the worker records its answer.
        let mut delivered = Vec::new();
        for _ in 0..100 {
            delivered = deliveries(&app, &subscription).await;
            if delivered.iter().all(|d| d["status"] == "delivered") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        assert!(delivered.iter().all(|d| d["status"] == "delivered"), "{delivered:?}");
        let created = delivered.iter().find(|d| d["type"] == "user.created").unwrap();
        assert_eq!(created["eventId"], events[0].0, "the same webhook-id on every attempt");
    }

    async fn a_subscription_failing_past_the_window_is_disabled_and_can_be_enabled(
        app,
        |s: &mut Settings| s.events.retry_window = Duration::from_millis(300)
    ) {
        let receiver = Receiver::start();
        receiver.down.store(true, Ordering::SeqCst);
        let (subscription, secret) = subscribe(&app, &receiver.url, None).await;
        app.create_user("ken@example.com").await;
        let path = format!("/event-subscriptions/{subscription}");
        let mut shown = Value::Null;
        for _ in 0..400 {
            shown = admin(&app, "default", Method::GET, &path, None).await.json().await.unwrap();
            if shown["status"] == "disabled" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        assert_eq!(shown["status"], "disabled", "{shown}");
        assert!(
            shown["disabledReason"].as_str().unwrap().contains("500"),
            "the reason names the failure: {shown}"
        );
        assert!(shown.get("secret").is_none(), "the secret is shown once");
        app.create_user("dennis@example.com").await;

        receiver.down.store(false, Ordering::SeqCst);
        let enabled = admin(&app, "default", Method::POST, &format!("{path}/enable"), None).await;
        assert_eq!(enabled.status(), StatusCode::OK);
        let enabled: Value = enabled.json().await.unwrap();
        assert_eq!(enabled["status"], "active");
        assert_eq!(enabled["disabledReason"], Value::Null);
        let events = receiver.wait_for(&secret, 2).await;
        let names: Vec<&Value> = events.iter().map(|(_, e)| &e["data"]["userName"]).collect();
        assert_eq!(
            names,
            [&json!("ken@example.com"), &json!("dennis@example.com")],
            "events of the disabled time are kept and delivered in order"
        );
    }

    async fn a_test_ping_is_delivered(app) {
        let receiver = Receiver::start();
        let (subscription, secret) =
            subscribe(&app, &receiver.url, Some(vec!["group.deleted"])).await;
        let response = admin(
            &app,
            "default",
            Method::POST,
            &format!("/event-subscriptions/{subscription}/test"),
            None,
        )
        .await;
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        let queued: Value = response.json().await.unwrap();
        assert_eq!(queued["type"], "ping");
        let events = receiver.wait_for(&secret, 1).await;
        assert_eq!(events[0].1["type"], "ping");
        assert_eq!(events[0].0, queued["eventId"].as_str().unwrap());
    }

    async fn a_change_that_fails_queues_no_event(app) {
        let receiver = Receiver::start();
        let (subscription, _) = subscribe(&app, &receiver.url, None).await;
        app.create_user("ada@example.com").await;
        let clash = app.post_user(&okta_user("ada@example.com")).await;
        assert_eq!(clash.status(), StatusCode::CONFLICT);
        let all = deliveries(&app, &subscription).await;
        assert_eq!(all.len(), 1, "only the committed creation: {all:?}");
    }

    async fn subscriptions_belong_to_their_org(app) {
        app.create_org("acme");
        let receiver = Receiver::start();
        let (subscription, _) = subscribe(&app, &receiver.url, None).await;
        let listed: Value = admin(&app, "acme", Method::GET, "/event-subscriptions", None)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(listed["subscriptions"], json!([]));
        for (method, suffix) in [
            (Method::GET, ""),
            (Method::GET, "/deliveries"),
            (Method::POST, "/test"),
            (Method::POST, "/enable"),
            (Method::DELETE, ""),
        ] {
            let path = format!("/event-subscriptions/{subscription}{suffix}");
            assert_admin_error(admin(&app, "acme", method, &path, None).await, 404, "not_found")
                .await;
        }
        // acme's changes are not delivered to default's subscription.
        let acme = app.mint(Role::Provisioner, "acme", None);
        let created = app
            .request_as(&acme, Method::POST, "/Users", Some(&okta_user("x@acme.test")))
            .await;
        assert_eq!(created.status(), StatusCode::CREATED);
        assert!(deliveries(&app, &subscription).await.is_empty());
        let listed: Value = admin(&app, "default", Method::GET, "/event-subscriptions", None)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(listed["subscriptions"][0]["id"], subscription.as_str());
        let path = format!("/event-subscriptions/{subscription}");
        let deleted = admin(&app, "default", Method::DELETE, &path, None).await;
        assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
        assert_admin_error(admin(&app, "default", Method::GET, &path, None).await, 404, "not_found")
            .await;
    }

    async fn events_committed_while_no_worker_ran_are_delivered_by_the_next(app) {
        // A node without a worker commits, as a process that crashed right after its commit
        // would have; the worker of another process on the database delivers the event.
        let receiver = Receiver::start();
        let (_, secret) = subscribe(&app, &receiver.url, None).await;
        let node = another_node(&app, |s| s.events.worker = false);
        let token = app.mint(Role::Provisioner, "default", None);
        let created = app
            .client
            .post(format!("{node}/scim/v2/Users"))
            .bearer_auth(token)
            .header("Content-Type", "application/scim+json")
            .body(okta_user("margaret@example.com").to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), StatusCode::CREATED);
        let events = receiver.wait_for(&secret, 1).await;
        assert_eq!(events[0].1["data"]["userName"], "margaret@example.com");
    }

    async fn set_subscriptions_receive_rfc_9967_sets_signed_with_the_served_key(
        app,
        |s: &mut Settings| s.events.issuer = Some("https://roster.test".to_owned())
    ) {
        use roster::events::set::{ACTIVATE, CREATE_NOTICE, DEACTIVATE, DELETE, VERIFICATION};
        let receiver = Receiver::start();
        receiver.reject.store(true, Ordering::SeqCst);
        let body = json!({
            "url": receiver.url,
            "format": "set",
            "audience": "https://app.test",
            "events": ["user.created", "user.deactivated", "user.reactivated", "user.deleted"],
        });
        let created = admin(&app, "default", Method::POST, "/event-subscriptions", Some(body)).await;
        assert_eq!(created.status(), StatusCode::CREATED);
        let created: Value = created.json().await.unwrap();
        assert_eq!(created["format"], "set");
        assert_eq!(created["audience"], "https://app.test");
        assert!(created.get("secret").is_none(), "SETs are signed with roster's key: {created}");
        let subscription = created["id"].as_str().unwrap().to_owned();

        let user = app.create_user("ada@example.com").await;
        let id = user["id"].as_str().unwrap().to_owned();
        // The receiver refuses with an RFC 8935 error body: recorded, and retried.
        let mut head = Value::Null;
        for _ in 0..400 {
            head = deliveries(&app, &subscription).await[0].clone();
            if head["attempts"].as_i64().unwrap() >= 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        assert_eq!(head["lastStatus"], 400, "{head}");
        assert!(
            head["lastError"].as_str().unwrap().contains("invalid_audience: not for us"),
            "{head}"
        );
        receiver.reject.store(false, Ordering::SeqCst);
        set_active(&app, &id, false).await;
        set_active(&app, &id, true).await;
        let response = app.request(Method::DELETE, &format!("/Users/{id}"), None).await;
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        let ping = admin(
            &app,
            "default",
            Method::POST,
            &format!("/event-subscriptions/{subscription}/test"),
            None,
        )
        .await;
        assert_eq!(ping.status(), StatusCode::ACCEPTED);

        receiver.wait_count(5).await;
        let sets = receiver
            .verified_sets(&app.address, "https://roster.test", "https://app.test")
            .await;
        let uris: Vec<String> = sets
            .iter()
            .map(|(_, claims)| {
                let events = claims["events"].as_object().unwrap();
                assert_eq!(events.len(), 1, "one event per SET: {claims}");
                events.keys().next().unwrap().clone()
            })
            .collect();
        assert_eq!(uris, [CREATE_NOTICE, DEACTIVATE, ACTIVATE, DELETE, VERIFICATION]);
        let subject = json!({
            "format": "scim",
            "uri": format!("/Users/{id}"),
            "id": id,
            "externalId": "okta-ada@example.com",
        });
        for (_, claims) in &sets[..4] {
            assert_eq!(claims["sub_id"], subject, "{claims}");
            assert!(claims.get("sub").is_none(), "RFC 9967: sub_id, never sub");
            assert!(claims["iat"].is_i64() && claims["toe"].is_i64(), "{claims}");
            assert!(claims["txn"].is_string(), "{claims}");
        }
        let attributes = sets[0].1["events"][CREATE_NOTICE]["attributes"].as_array().unwrap();
        assert!(attributes.contains(&json!("userName")), "{attributes:?}");
        assert!(
            !sets[0].1.to_string().contains("\"ada@example.com\""),
            "names of attributes, not their values"
        );
        assert_eq!(sets[1].1["events"][DEACTIVATE], json!({}));
        let jtis: std::collections::HashSet<&str> =
            sets.iter().map(|(_, c)| c["jti"].as_str().unwrap()).collect();
        assert_eq!(jtis.len(), 5, "one jti per SET");
        let all = deliveries(&app, &subscription).await;
        let first = all.iter().find(|d| d["type"] == "user.created").unwrap();
        assert!(first["attempts"].as_i64().unwrap() >= 3, "{first}");
        assert_eq!(first["eventId"], sets[0].1["jti"], "the same jti on every attempt");
        assert_eq!(sets[4].1["sub_id"], json!({"format": "opaque", "id": subscription}));

        // RFC 9967 §4 in /ServiceProviderConfig.
        let spc: Value = app
            .request(Method::GET, "/ServiceProviderConfig", None)
            .await
            .json()
            .await
            .unwrap();
        // Not advertised by default: strict SCIM clients refuse an unknown ServiceProviderConfig
        // attribute (docs/events.md, "ServiceProviderConfig").
        assert!(spc.get("securityEvents").is_none(), "{spc}");
        // ROSTER_EVENTS_ADVERTISE=true: advertised, with the URIs roster sends.
        let advertising = another_node(&app, |s| s.events.advertise = true);
        let spc: Value = app
            .client
            .get(format!("{advertising}/scim/v2/ServiceProviderConfig"))
            .bearer_auth(&app.token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(spc["securityEvents"]["asyncRequest"], "none", "{spc}");
        let uris = spc["securityEvents"]["eventUris"].as_array().unwrap();
        assert!(uris.contains(&json!("urn:ietf:params:scim:event:prov:deactivate")), "{spc}");
        assert_eq!(uris.len(), 5, "{spc}");
    }

    async fn two_nodes_deliver_every_event_once(app) {
        let receiver = Receiver::start();
        let (_, secret) = subscribe(&app, &receiver.url, None).await;
        another_node(&app, |_| {});
        for i in 0..20 {
            app.create_user(&format!("user{i}@example.com")).await;
        }
        receiver.wait_for(&secret, 20).await;
        // Give a duplicate the time to arrive.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let events = receiver.verified(&secret).into_iter().map(|(_, e)| e).collect::<Vec<_>>();
        let names: Vec<String> = events
            .iter()
            .map(|e| e["data"]["userName"].as_str().unwrap().to_owned())
            .collect();
        let expected: Vec<String> = (0..20).map(|i| format!("user{i}@example.com")).collect();
        assert_eq!(names, expected, "each event once, in order");
    }
}

events_test! {
    async fn a_commit_wakes_the_worker_without_waiting_for_its_poll(app, |s: &mut Settings| {
        // Polling alone would deliver a minute late.
        s.events.poll_interval = Duration::from_secs(60);
    }) {
        let receiver = Receiver::start();
        let (_, secret) = subscribe(&app, &receiver.url, Some(vec!["user.created"])).await;
        // Let the worker's first look (at start) pass, so it sleeps for its poll interval.
        tokio::time::sleep(Duration::from_millis(200)).await;
        for i in 0..3 {
            app.create_user(&format!("woken{i}@example.com")).await;
            let took = receiver.within(i + 1, Duration::from_secs(5)).await;
            assert!(took.is_some(), "event {i} not delivered within 5 s of its commit");
        }
        let names: Vec<Value> = receiver.verified(&secret).into_iter().map(|(_, e)| e["data"]["userName"].clone()).collect();
        assert_eq!(names, vec![json!("woken0@example.com"), json!("woken1@example.com"), json!("woken2@example.com")]);
    }

    async fn a_stalling_receiver_does_not_hold_back_another_subscription(app) {
        let (slow, fast) = (Receiver::start(), Receiver::start());
        subscribe(&app, &slow.url, Some(vec!["user.created"])).await;
        let (_, secret) = subscribe(&app, &fast.url, Some(vec!["user.created"])).await;
        slow.stall.store(true, Ordering::SeqCst);
        app.create_user("first@example.com").await;
        assert!(fast.within(1, Duration::from_secs(5)).await.is_some());
        // The slow receiver is now answering the first event (for STALL): the fast one gets
        // the next events meanwhile, each well within that time.
        for i in 0..3 {
            app.create_user(&format!("next{i}@example.com")).await;
            let took = fast.within(i + 2, STALL / 2).await;
            assert!(took.is_some(), "event {i} waited for the stalling receiver");
        }
        assert_eq!(slow.count(), 0, "the slow receiver answered too early for this test to mean anything");
        assert_eq!(fast.verified(&secret).len(), 4);
        // Once it answers, the slow receiver gets every event too, in order.
        slow.stall.store(false, Ordering::SeqCst);
        slow.wait_count(4).await;
    }
}

both_backends! {
    async fn receivers_must_be_https_unless_insecure_is_allowed(app) {
        let create = |body: Value| admin(&app, "default", Method::POST, "/event-subscriptions", Some(body));
        assert_admin_error(create(json!({"url": "http://hooks.example.com/"})).await, 400, "insecure_url").await;
        assert_admin_error(create(json!({"url": "https://127.0.0.1:9/"})).await, 400, "insecure_url").await;
        assert_admin_error(create(json!({"url": "https://169.254.169.254/latest"})).await, 400, "insecure_url").await;
        assert_admin_error(create(json!({"url": "not a url"})).await, 400, "invalid_url").await;
        assert_admin_error(
            create(json!({"url": "https://hooks.example.com/", "events": ["user.disabled"]})).await,
            400,
            "unknown_event_type",
        )
        .await;
        assert_admin_error(
            create(json!({"url": "https://hooks.example.com/", "format": "jwt"})).await,
            400,
            "unsupported_format",
        )
        .await;
        assert_admin_error(
            create(json!({"url": "https://hooks.example.com/", "audience": "x"})).await,
            400,
            "invalid_audience",
        )
        .await;
        assert_admin_error(create(json!({"uri": "https://hooks.example.com/"})).await, 400, "invalid_request").await;

        let created = create(json!({"url": "https://hooks.example.com/roster", "events": ["user.deactivated"]})).await;
        assert_eq!(created.status(), StatusCode::CREATED);
        let created: Value = created.json().await.unwrap();
        assert_eq!(created["format"], "webhook");
        assert_eq!(created["events"], json!(["user.deactivated"]));
        assert!(created["secret"].as_str().unwrap().starts_with("whsec_"));

        let provisioner = app
            .client
            .get(format!("{}/admin/v1/event-subscriptions", app.address))
            .bearer_auth(&app.token)
            .send()
            .await
            .unwrap();
        assert_admin_error(provisioner, 403, "forbidden").await;
    }
}
