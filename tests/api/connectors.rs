//! Connectors an org admin runs alone (docs/admin-api.md): tokens minted, listed, rotated and
//! revoked over the admin API; per-org rate limits; the SCIM request log.

use std::time::{Duration, Instant};

use reqwest::{Method, Response, StatusCode};
use roster::auth::Role;
use roster::config::Settings;
use roster::startup::Application;
use serde_json::{Value, json};

use crate::helpers::*;

/// Another roster node on the same database.
fn another_node(app: &TestApp, adjust: impl FnOnce(&mut Settings)) -> String {
    let mut settings = app.settings.clone();
    adjust(&mut settings);
    let node = Application::build(&settings).unwrap();
    let address = format!("http://127.0.0.1:{}", node.port());
    tokio::spawn(node.run_until_stopped());
    address
}

async fn admin(
    app: &TestApp,
    admin: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Response {
    let mut request = app
        .client
        .request(method, format!("{}/admin/v1{path}", app.address))
        .bearer_auth(admin);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

/// `GET /scim/v2/Users` on `node` with `token`: its status.
async fn scim_status(app: &TestApp, node: &str, token: &str) -> StatusCode {
    app.client
        .get(format!("{node}/scim/v2/Users?count=1"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
}

/// Gives the `default` org its own rate limit through the admin API, beside an org `quiet` that
/// has none of its own: the `default` admin's token, a provisioner token of `quiet`, and the
/// answer to the `PUT` (200).
async fn limited_beside_a_quiet_org(
    app: &TestApp,
    per_second: u32,
    burst: u32,
) -> (String, String, Response) {
    app.create_org("quiet");
    let admin_token = app.mint(Role::Admin, "default", None);
    let quiet = app.mint(Role::Provisioner, "quiet", None);
    let response = admin(
        app,
        &admin_token,
        Method::PUT,
        "/rate-limit",
        Some(json!({"perSecond": per_second, "burst": burst})),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    (admin_token, quiet, response)
}

async fn mint(app: &TestApp, admin_token: &str, name: &str) -> (String, String) {
    let response = admin(
        app,
        admin_token,
        Method::POST,
        "/tokens",
        Some(json!({"name": name, "role": "provisioner"})),
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    (
        body["token"].as_str().unwrap().to_owned(),
        body["jti"].as_str().unwrap().to_owned(),
    )
}

async fn listed(app: &TestApp, admin_token: &str) -> Vec<Value> {
    let response = admin(app, admin_token, Method::GET, "/tokens", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    body["tokens"].as_array().unwrap().clone()
}

/// `both_backends!` on apps that write last-used marks every 200 ms.
macro_rules! quick_last_used {
    ($(async fn $name:ident($app:ident) $body:block)*) => {
        $(
            mod $name {
                #[allow(unused_imports)]
                use super::*;
                async fn run($app: TestApp) $body

                fn quick(settings: &mut Settings) {
                    settings.connectors.token_last_used_flush = Duration::from_millis(200);
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    run(TestApp::spawn_with(Backend::Sqlite, quick).await).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    run(TestApp::spawn_with(Backend::Postgres, quick).await).await
                }
            }
        )*
    };
}

quick_last_used! {
    async fn a_token_is_created_used_listed_rotated_and_revoked_on_every_node(app) {
        let admin_token = app.mint(Role::Admin, "default", None);
        let response = admin(
            &app,
            &admin_token,
            Method::POST,
            "/tokens",
            Some(json!({"name": "Okta production", "role": "provisioner", "ttl": "90d"})),
        )
        .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let created: Value = response.json().await.unwrap();
        let token = created["token"].as_str().unwrap().to_owned();
        let jti = created["jti"].as_str().unwrap().to_owned();
        assert_eq!(created["name"], "Okta production");
        assert_eq!(created["role"], "provisioner");
        assert!(created["expiresAt"].is_string());

        // Used: the SCIM API takes it, and the listing learns when, to the minute.
        assert_eq!(scim_status(&app, &app.address, &token).await, StatusCode::OK);
        let deadline = Instant::now() + Duration::from_secs(10);
        let entry = loop {
            let tokens = listed(&app, &admin_token).await;
            let entry = tokens.into_iter().find(|t| t["jti"] == jti.as_str()).unwrap();
            if entry["lastUsedAt"].is_string() || Instant::now() > deadline {
                break entry;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert!(entry["lastUsedAt"].as_str().unwrap().ends_with(":00Z"), "to the minute: {entry}");
        assert_eq!(entry["name"], "Okta production");
        assert_eq!(entry["status"], "active");
        assert_eq!(entry["revoked"], false);
        assert!(entry["createdBy"].is_string() && entry["createdAt"].is_string());
        assert!(entry.get("token").is_none(), "the token is shown once");

        // Rotated with a short overlap: both work during it, the old one is refused after.
        let response = admin(
            &app,
            &admin_token,
            Method::POST,
            &format!("/tokens/{jti}/rotate"),
            Some(json!({"overlap": "2s"})),
        )
        .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let rotated: Value = response.json().await.unwrap();
        let new_token = rotated["token"].as_str().unwrap().to_owned();
        let new_jti = rotated["jti"].as_str().unwrap().to_owned();
        assert_ne!(new_jti, jti);
        assert_eq!(rotated["name"], "Okta production");
        assert_eq!(rotated["replaces"]["jti"], jti.as_str());
        assert_eq!(rotated["replaces"]["status"], "retiring");
        let rotated_at = Instant::now();
        assert_eq!(scim_status(&app, &app.address, &token).await, StatusCode::OK);
        assert_eq!(scim_status(&app, &app.address, &new_token).await, StatusCode::OK);
        assert!(rotated_at.elapsed() < Duration::from_secs(2), "checked within the overlap");
        tokio::time::sleep(Duration::from_millis(2500).saturating_sub(rotated_at.elapsed())).await;
        assert_eq!(scim_status(&app, &app.address, &token).await, StatusCode::UNAUTHORIZED);
        assert_eq!(scim_status(&app, &app.address, &new_token).await, StatusCode::OK);
        let again = admin(&app, &admin_token, Method::POST, &format!("/tokens/{jti}/rotate"), None).await;
        assert_eq!(again.status(), StatusCode::CONFLICT, "a retired token is not rotated again");

        // Revoked on this node: refused on a second node on its next request.
        let node = another_node(&app, |_| {});
        assert_eq!(scim_status(&app, &node, &new_token).await, StatusCode::OK);
        let response = admin(&app, &admin_token, Method::DELETE, &format!("/tokens/{new_jti}"), None).await;
        assert_eq!(response.status(), StatusCode::OK);
        let revoked: Value = response.json().await.unwrap();
        assert_eq!(revoked["revoked"], true);
        assert_eq!(revoked["status"], "revoked");
        assert_eq!(scim_status(&app, &node, &new_token).await, StatusCode::UNAUTHORIZED);
        assert_eq!(scim_status(&app, &app.address, &new_token).await, StatusCode::UNAUTHORIZED);

        // Every change is audited.
        let actions = |events: Vec<roster::store::audit::EventRow>| {
            events.into_iter().map(|e| e.action).collect::<Vec<_>>()
        };
        assert_eq!(actions(app.audit_events(&jti).await), ["token.create", "token.rotate"]);
        assert_eq!(actions(app.audit_events(&new_jti).await), ["token.create", "token.revoke"]);
    }
}

both_backends! {

    async fn an_admin_sees_and_revokes_only_the_tokens_of_their_org(app) {
        app.create_org("other");
        let ours = app.mint(Role::Admin, "default", None);
        let theirs = app.mint(Role::Admin, "other", None);
        let (their_token, their_jti) = mint(&app, &theirs, "Entra").await;
        let (_, our_jti) = mint(&app, &ours, "Okta").await;

        let jtis: Vec<Value> = listed(&app, &ours).await.into_iter().map(|t| t["jti"].clone()).collect();
        assert_eq!(jtis, [json!(our_jti)]);
        for (method, path) in [
            (Method::DELETE, format!("/tokens/{their_jti}")),
            (Method::POST, format!("/tokens/{their_jti}/rotate")),
        ] {
            let response = admin(&app, &ours, method, &path, None).await;
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
            assert_eq!(response.json::<Value>().await.unwrap()["error"], "not_found");
        }
        assert_eq!(scim_status(&app, &app.address, &their_token).await, StatusCode::OK);

        // Connectors cannot manage tokens; names and roles are checked.
        let response = admin(&app, &app.token, Method::GET, "/tokens", None).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        for body in [
            json!({"name": "", "role": "provisioner"}),
            json!({"name": "x", "role": "root"}),
            json!({"name": "x", "role": "admin", "ttl": "soon"}),
            json!({"name": "x\u{0}", "role": "admin"}),
        ] {
            let response = admin(&app, &ours, Method::POST, "/tokens", Some(body.clone())).await;
            assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
        }
    }

    async fn a_burst_beyond_the_limit_gets_429_while_another_org_is_served(app) {
        let (admin_token, quiet, response) = limited_beside_a_quiet_org(&app, 1, 3).await;
        let limit: Value = response.json().await.unwrap();
        assert_eq!(limit, json!({"perSecond": 1, "burst": 3, "source": "org",
            "updatedAt": limit["updatedAt"], "updatedBy": limit["updatedBy"]}));

        let mut refused = None;
        for _ in 0..6 {
            let response = app.request(Method::GET, "/Users", None).await;
            if response.status() == StatusCode::TOO_MANY_REQUESTS {
                refused = Some(response);
                break;
            }
            assert_eq!(response.status(), StatusCode::OK);
        }
        let refused = refused.expect("a burst beyond 3 is refused");
        let retry_after: u64 = refused.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=2).contains(&retry_after), "Retry-After {retry_after}");
        assert_scim_error(refused, 429, None).await;

        // Another org is unaffected; health, readiness and the admin API are never limited.
        assert_eq!(scim_status(&app, &app.address, &quiet).await, StatusCode::OK);
        for path in ["/healthz", "/readyz"] {
            let response = app.client.get(format!("{}{path}", app.address)).send().await.unwrap();
            assert_eq!(response.status(), StatusCode::OK, "{path}");
        }
        let response = admin(&app, &admin_token, Method::GET, "/rate-limit", None).await;
        assert_eq!(response.status(), StatusCode::OK);

        // A second node reads the org's limit within ROSTER_RATE_LIMIT_REFRESH.
        let node = another_node(&app, |_| {});
        tokio::time::sleep(Duration::from_millis(1200)).await;
        let mut statuses = Vec::new();
        for _ in 0..6 {
            statuses.push(scim_status(&app, &node, &app.token).await);
        }
        assert!(statuses.contains(&StatusCode::TOO_MANY_REQUESTS), "{statuses:?}");

        for body in [json!({"perSecond": 0, "burst": 1}), json!({"perSecond": 1}), json!({"perSecond": 1, "burst": -1})] {
            let response = admin(&app, &admin_token, Method::PUT, "/rate-limit", Some(body.clone())).await;
            assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
        }
    }

    async fn a_failed_okta_request_is_in_the_request_log_without_its_values(app) {
        let admin_token = app.mint(Role::Admin, "default", None);
        let (okta, okta_jti) = mint(&app, &admin_token, "Okta").await;
        let create = |body: Value| {
            let (client, url, okta) = (app.client.clone(), app.url("/Users"), okta.clone());
            async move {
                client
                    .post(url)
                    .bearer_auth(okta)
                    .header("Content-Type", "application/scim+json")
                    .body(body.to_string())
                    .send()
                    .await
                    .unwrap()
            }
        };
        let created = create(okta_user("alice@example.com")).await;
        assert_eq!(created.status(), StatusCode::CREATED);
        let id = created.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
        // Okta pushes the same user again: 409 uniqueness.
        let again = create(okta_user("alice@example.com")).await;
        assert_scim_error(again, 409, Some("uniqueness")).await;
        // A read that succeeds is not recorded.
        assert_eq!(scim_status(&app, &app.address, &okta).await, StatusCode::OK);

        let deadline = Instant::now() + Duration::from_secs(10);
        let (failures, text) = loop {
            let response = admin(&app, &admin_token, Method::GET, "/scim-requests?status=4xx", None).await;
            assert_eq!(response.status(), StatusCode::OK);
            let text = response.text().await.unwrap();
            let body: Value = serde_json::from_str(&text).unwrap();
            let failures = body["requests"].as_array().unwrap().clone();
            if !failures.is_empty() || Instant::now() > deadline {
                break (failures, text);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert_eq!(failures.len(), 1, "{text}");
        let failure = &failures[0];
        assert_eq!(failure["status"], 409);
        assert_eq!(failure["scimType"], "uniqueness");
        assert_eq!(failure["method"], "POST");
        assert_eq!(failure["path"], "/scim/v2/Users");
        assert_eq!(failure["token"], json!({"jti": okta_jti, "name": "Okta"}));
        let attributes = failure["bodyAttributes"].as_array().unwrap();
        for name in ["userName", "password", "name.givenName", "emails"] {
            assert!(attributes.contains(&json!(name)), "{name} in {attributes:?}");
        }
        assert!(failure["durationMs"].as_f64().unwrap() >= 0.0);
        assert!(failure["time"].is_string());
        for secret in ["correct horse", "alice@", "Lovelace", "okta-alice"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }

        // The change is recorded too, with the resource it created; reads are not.
        let response = admin(&app, &admin_token, Method::GET, &format!("/scim-requests?resource_id={id}"), None).await;
        let all: Value = response.json().await.unwrap();
        let records = all["requests"].as_array().unwrap();
        assert_eq!(records.len(), 1, "{all}");
        assert_eq!(records[0]["status"], 201);
        let response = admin(&app, &admin_token, Method::GET, "/scim-requests?token=Okta", None).await;
        let by_token: Value = response.json().await.unwrap();
        assert_eq!(by_token["requests"].as_array().unwrap().len(), 2, "{by_token}");
        let response = admin(&app, &admin_token, Method::GET, "/scim-requests?status=5xx", None).await;
        let none: Value = response.json().await.unwrap();
        assert_eq!(none["requests"], json!([]));
        let response = admin(&app, &admin_token, Method::GET, "/scim-requests?status=2xx", None).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    }
}

/// An organization's rate limit charges a request for its work, not only for itself: here one
/// more request for every nanosecond of database time (`ROSTER_RATE_LIMIT_WORK`), and no
/// default limit, so that only the organization given one is limited.
mod a_costly_request_pays_for_its_work_and_only_its_organization_waits {
    use super::*;

    fn costly(settings: &mut Settings) {
        settings.connectors.rate_limit_per_second = 0;
        settings.connectors.rate_limit_work = Duration::from_nanos(1);
    }

    async fn run(app: TestApp) {
        let (_, quiet, _) = limited_beside_a_quiet_org(&app, 1, 5).await;

        // The bucket holds five requests: the first is admitted.
        assert_eq!(
            scim_status(&app, &app.address, &app.token).await,
            StatusCode::OK
        );
        // Its token check and listing took far more than 60 ns of database time, which is 60
        // requests' worth at one a second: the organization owes the most it can
        // (rate_limits::MAX_DEBT, 60 s beyond an empty bucket), so the next request is
        // refused for about a minute, where counting requests alone would have let four more in.
        let refused = app
            .client
            .get(format!("{}/scim/v2/Users?count=1", app.address))
            .bearer_auth(&app.token)
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
        let retry_after: u64 = refused.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(
            (55..=61).contains(&retry_after),
            "Retry-After {retry_after}"
        );
        assert_scim_error(refused, 429, None).await;

        // Another organization pays nothing for it.
        for _ in 0..3 {
            assert_eq!(
                scim_status(&app, &app.address, &quiet).await,
                StatusCode::OK
            );
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        run(TestApp::spawn_with(Backend::Sqlite, costly).await).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        run(TestApp::spawn_with(Backend::Postgres, costly).await).await
    }
}
