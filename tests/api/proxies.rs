//! `Location` and `meta.location` without `ROSTER_BASE_URL`: forwarding headers believed only
//! from `ROSTER_TRUSTED_PROXIES`, and never a scheme other than http/https or an authority other
//! than `host[:port]` (docs/operations.md, "Proxies").

use reqwest::StatusCode;

use crate::helpers::{Backend, TestApp, okta_user};

/// Creates a user with `headers` on the request; its `Location` and `meta.location`, which
/// must agree.
async fn location_of_create(app: &TestApp, user_name: &str, headers: &[(&str, &str)]) -> String {
    let mut request = app
        .client
        .post(app.url("/Users"))
        .bearer_auth(&app.token)
        .header("Content-Type", "application/scim+json")
        .body(okta_user(user_name).to_string());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let user: serde_json::Value = response.json().await.unwrap();
    assert_eq!(user["meta"]["location"], location.as_str());
    let id = user["id"].as_str().unwrap();
    assert!(
        location.ends_with(&format!("/scim/v2/Users/{id}")),
        "{location}"
    );
    location
        .trim_end_matches(&format!("/Users/{id}"))
        .to_owned()
}

/// The base the app's own listener gives: `http://127.0.0.1:<port>/scim/v2`.
fn own_base(app: &TestApp) -> String {
    app.url("")
}

both_backends! {
    async fn forwarding_headers_from_an_untrusted_peer_are_ignored(app) {
        let base = location_of_create(&app, "fwd@example.com", &[
            ("X-Forwarded-Proto", "javascript"),
            ("X-Forwarded-Host", "evil.example"),
            ("Forwarded", "proto=javascript;host=evil.example"),
        ]).await;
        assert_eq!(base, own_base(&app));
    }

    async fn an_invalid_host_header_gives_way_to_the_listener_address(app) {
        for (i, host) in ["javascript:alert(1)", "user@evil.example", "evil.example/x", "evil.example:99999"]
            .into_iter()
            .enumerate()
        {
            let base = location_of_create(&app, &format!("h{i}@example.com"), &[("Host", host)]).await;
            assert_eq!(base, own_base(&app), "Host: {host}");
        }
        // A valid Host still names the host (which is why ROSTER_BASE_URL is required in
        // production), never another scheme.
        let base = location_of_create(&app, "valid@example.com", &[
            ("Host", "roster.example.com:8443"),
            ("X-Forwarded-Proto", "https"),
        ]).await;
        assert_eq!(base, "http://roster.example.com:8443/scim/v2");
    }
}

mod trusted_proxy {
    use super::*;

    async fn run(backend: Backend) {
        let app = TestApp::spawn_with(backend, |s| {
            s.operations.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()];
        })
        .await;
        let base = location_of_create(
            &app,
            "p1@example.com",
            &[
                ("X-Forwarded-Proto", "https"),
                ("X-Forwarded-Host", "roster.example.com"),
            ],
        )
        .await;
        assert_eq!(base, "https://roster.example.com/scim/v2");
        let base = location_of_create(
            &app,
            "p2@example.com",
            &[("Forwarded", "proto=https;host=\"id.example.com:8443\"")],
        )
        .await;
        assert_eq!(base, "https://id.example.com:8443/scim/v2");
        // Even a trusted proxy cannot name another scheme or an invalid authority.
        let base = location_of_create(
            &app,
            "p3@example.com",
            &[
                ("X-Forwarded-Proto", "javascript"),
                ("X-Forwarded-Host", "evil.example/path"),
            ],
        )
        .await;
        assert_eq!(base, own_base(&app));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        run(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        run(Backend::Postgres).await;
    }
}
