//! No tenant can hurt another through its queries: filters are bounded in complexity, a query
//! that runs too long is stopped with a SCIM error, one organization's scans cannot take every
//! database thread and connection, an overloaded server answers 503 with `Retry-After`, and
//! cursors cannot be forged.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::*;

/// `GET /Users?filter=…` (the filter percent-encoded) with `token`.
async fn list_filtered(app: &TestApp, token: &str, filter: &str) -> reqwest::Response {
    app.client
        .get(app.url("/Users"))
        .query(&[("filter", filter)])
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

both_backends! {
    async fn a_filter_over_the_comparison_caps_is_too_many(app) {
        app.create_user("cap@example.com").await;
        let at_cap = vec![r#"userName eq "cap@example.com""#; 50].join(" or ");
        let ok = list_filtered(&app, &app.token, &at_cap).await;
        assert_eq!(ok.status(), StatusCode::OK);
        assert_eq!(ok.json::<Value>().await.unwrap()["totalResults"], 1);

        let over = vec![r#"userName eq "cap@example.com""#; 51].join(" or ");
        let body = assert_scim_error(list_filtered(&app, &app.token, &over).await, 400, Some("tooMany")).await;
        assert!(body["detail"].as_str().unwrap().contains("at most 50"), "{body}");

        let substrings = [r#"name.familyName co "a""#; 6].join(" or ");
        let body = assert_scim_error(list_filtered(&app, &app.token, &substrings).await, 400, Some("tooMany")).await;
        assert!(body["detail"].as_str().unwrap().contains("at most 5"), "{body}");
        // The same through POST /.search.
        let search = serde_json::json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "filter": over,
        });
        let response = app.request(Method::POST, "/Users/.search", Some(&search)).await;
        assert_scim_error(response, 400, Some("tooMany")).await;
    }

    async fn a_cursor_with_a_truncated_tag_is_refused(app) {
        for n in 0..3 {
            app.create_user(&format!("c{n}@example.com")).await;
        }
        let first: Value = app.request(Method::GET, "/Users?count=1&cursor=", None).await.json().await.unwrap();
        let cursor = first["nextCursor"].as_str().unwrap().to_owned();
        let (payload, tag) = cursor.split_once('.').unwrap();
        let tag = URL_SAFE_NO_PAD.decode(tag).unwrap();
        // The right first byte of the right tag is not the tag.
        let truncated = format!("{payload}.{}", URL_SAFE_NO_PAD.encode(&tag[..1]));
        let response = app.request(Method::GET, &format!("/Users?count=1&cursor={truncated}"), None).await;
        assert_scim_error(response, 400, Some("invalidCursor")).await;
        // Nor can a position be forged by trying every one-byte tag.
        let real = String::from_utf8(URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        let (print, _) = real.split_once(':').unwrap();
        let forged = URL_SAFE_NO_PAD.encode(format!("{print}:0"));
        for byte in 0..=u8::MAX {
            let candidate = format!("{forged}.{}", URL_SAFE_NO_PAD.encode([byte]));
            let response = app.request(Method::GET, &format!("/Users?count=1&cursor={candidate}"), None).await;
            assert_eq!(response.status(), StatusCode::BAD_REQUEST, "one-byte tag {byte} accepted");
        }
        // The whole cursor still works.
        let response = app.request(Method::GET, &format!("/Users?count=1&cursor={cursor}"), None).await;
        assert_eq!(response.status(), StatusCode::OK);
    }
}

/// Seeds `n` users into `org` straight through the store (fast, no audit events).
async fn seed(app: &TestApp, org: &str, n: usize) {
    let store = app.store.clone();
    let org = roster::ids::OrgId::parse(org).unwrap();
    tokio::task::spawn_blocking(move || {
        let mut conn = store.conn().unwrap();
        let batch: Vec<_> = (0..n)
            .map(|i| {
                let resource = okta_user(&format!("seeded{i}@example.com"));
                let resource = resource.as_object().unwrap().clone();
                (
                    roster::ids::UserId::generate(),
                    roster::store::users::UserData::from_resource(resource),
                )
            })
            .collect();
        roster::store::import::insert_users(&mut conn, &org, &batch, roster::clock::now()).unwrap();
    })
    .await
    .unwrap();
}

/// A filter within the caps that still makes the database work on every user: 45 comparisons
/// on attributes kept only in the JSON document, none of which matches.
fn costly_filter() -> String {
    let attrs = [
        "title",
        "nickName",
        "profileUrl",
        "userType",
        "preferredLanguage",
        "timezone",
        "name.middleName",
        "name.honorificPrefix",
        "name.honorificSuffix",
    ];
    let terms: Vec<String> = (0..45)
        .map(|i| format!(r#"{} eq "nobody{i}""#, attrs[i % attrs.len()]))
        .collect();
    terms.join(" or ")
}

/// Sends `n` copies of the costly listing (with `token`) at once; returns the responses.
async fn burst(app: &TestApp, token: &str, n: usize) -> Vec<reqwest::Response> {
    let filter = costly_filter();
    let handles: Vec<_> = (0..n)
        .map(|_| {
            let request = app
                .client
                .get(app.url("/Users"))
                .query(&[("filter", filter.as_str())])
                .bearer_auth(token);
            tokio::spawn(async move { request.send().await.unwrap() })
        })
        .collect();
    let mut responses = Vec::new();
    for handle in handles {
        responses.push(handle.await.unwrap());
    }
    responses
}

/// Asserts every response is 200 or 503 with `Retry-After`, and at least one is 503.
async fn some_overloaded(responses: Vec<reqwest::Response>) {
    let mut refused = 0;
    for response in responses {
        match response.status() {
            StatusCode::OK => {}
            StatusCode::SERVICE_UNAVAILABLE => {
                refused += 1;
                let retry = response
                    .headers()
                    .get("retry-after")
                    .map(|v| v.to_str().unwrap().to_owned());
                let secs: u32 = retry.expect("Retry-After on 503").parse().unwrap();
                assert!(secs >= 1);
                assert_scim_error(response, 503, None).await;
            }
            other => panic!("unexpected {other}: {}", response.text().await.unwrap()),
        }
    }
    assert!(refused > 0, "some requests were refused");
}

mod bounded {
    use super::*;

    async fn a_query_past_the_timeout_is_too_many_and_the_server_lives_on(backend: Backend) {
        let app = TestApp::spawn_with(backend, |s| {
            s.queries.query_timeout = std::time::Duration::from_millis(1)
        })
        .await;
        let user = app.create_user("alive@example.com").await;
        seed(&app, "default", 3000).await;
        let response = list_filtered(&app, &app.token, &costly_filter()).await;
        let body = assert_scim_error(response, 400, Some("tooMany")).await;
        assert!(
            body["detail"]
                .as_str()
                .unwrap()
                .contains("took longer than the 1ms"),
            "{body}"
        );
        // Still serving: point reads, and the same connections for the next query.
        let response = app.get_user(user["id"].as_str().unwrap()).await;
        assert_eq!(response.status(), StatusCode::OK);
        let response = list_filtered(&app, &app.token, r#"userName eq "alive@example.com""#).await;
        assert_eq!(response.json::<Value>().await.unwrap()["totalResults"], 1);
    }

    async fn one_orgs_scans_take_turns_and_other_orgs_lookups_do_not_wait(backend: Backend) {
        let app = TestApp::spawn_with(backend, |s| {
            s.queries.org_scans = 1;
            s.queries.scan_wait = std::time::Duration::ZERO;
        })
        .await;
        seed(&app, "default", 2000).await;
        app.create_org("other");
        let other = app.mint(roster::auth::Role::Provisioner, "other", None);
        let created = app
            .request_as(
                &other,
                Method::POST,
                "/Users",
                Some(&okta_user("b@other.example")),
            )
            .await;
        assert_eq!(created.status(), StatusCode::CREATED);

        let noisy = burst(&app, &app.token, 12);
        let quiet = async {
            let mut answered = Vec::new();
            for _ in 0..5 {
                let response =
                    list_filtered(&app, &other, r#"userName eq "b@other.example""#).await;
                answered.push(response.status());
            }
            answered
        };
        let (noisy, quiet) = tokio::join!(noisy, quiet);
        assert!(quiet.iter().all(|s| *s == StatusCode::OK), "{quiet:?}");
        some_overloaded(noisy).await;
        // The other organization's own scans have their own turn.
        let response = list_filtered(&app, &other, &costly_filter()).await;
        assert_eq!(response.status(), StatusCode::OK);
    }

    async fn a_full_task_queue_is_503_with_retry_after(backend: Backend) {
        let app = TestApp::spawn_with(backend, |s| {
            s.queries.db_queue = 1;
            s.queries.org_scans = 32;
        })
        .await;
        seed(&app, "default", 2000).await;
        some_overloaded(burst(&app, &app.token, 12).await).await;
        // Once the burst is over, the server answers again.
        let response = list_filtered(&app, &app.token, &costly_filter()).await;
        assert_eq!(response.status(), StatusCode::OK);
    }

    async fn the_admin_list_takes_its_turn_too(backend: Backend) {
        let app = TestApp::spawn_with(backend, |s| {
            s.queries.org_scans = 1;
            s.queries.scan_wait = std::time::Duration::ZERO;
        })
        .await;
        seed(&app, "default", 2000).await;
        let admin = app.mint(roster::auth::Role::Admin, "default", None);
        let handles: Vec<_> = (0..12)
            .map(|_| {
                let request = app
                    .client
                    .get(format!("{}/admin/v1/users?q=nobody&limit=100", app.address))
                    .bearer_auth(&admin);
                tokio::spawn(async move { request.send().await.unwrap() })
            })
            .collect();
        let mut refused = 0;
        for handle in handles {
            let response = handle.await.unwrap();
            match response.status() {
                StatusCode::OK => {}
                StatusCode::SERVICE_UNAVAILABLE => {
                    refused += 1;
                    assert!(response.headers().contains_key("retry-after"));
                    let body: Value = response.json().await.unwrap();
                    assert_eq!(body["error"], "unavailable", "{body}");
                }
                other => panic!("unexpected {other}"),
            }
        }
        assert!(refused > 0);
    }

    macro_rules! on_both {
        ($($name:ident),*) => {$(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name(crate::helpers::Backend::Sqlite).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name(crate::helpers::Backend::Postgres).await
                }
            }
        )*};
    }
    on_both!(
        a_query_past_the_timeout_is_too_many_and_the_server_lives_on,
        one_orgs_scans_take_turns_and_other_orgs_lookups_do_not_wait,
        a_full_task_queue_is_503_with_retry_after,
        the_admin_list_takes_its_turn_too
    );
}
