//! The admin API's bounds (docs/limits.md, Admin API): every body and field has a limit, and
//! input it cannot use (too long, NUL or other control characters) is a 400 or 413 in the admin
//! error format on both backends, never a 500 and never stored.

use reqwest::{Method, Response};
use roster::auth::Role;
use serde_json::{Value, json};

use crate::helpers::*;

/// A request to `/admin/v1{path}` with an admin token; `query` is percent-encoded by the client.
async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    query: &[(&str, &str)],
    body: Option<String>,
) -> Response {
    let token = app.mint(Role::Admin, "default", None);
    let mut req = app
        .client
        .request(method, format!("{}/admin/v1{path}", app.address))
        .bearer_auth(token)
        .query(query);
    if let Some(body) = body {
        req = req.header("Content-Type", "application/json").body(body);
    }
    req.send().await.unwrap()
}

async fn deactivate(app: &TestApp, id: &str, reason: &str) -> Response {
    call(
        app,
        Method::POST,
        &format!("/users/{id}/deactivate"),
        &[],
        Some(json!({ "reason": reason }).to_string()),
    )
    .await
}

/// Asserts an admin error: status, stable code, a message; returns the message.
async fn assert_refused(response: Response, status: u16, code: &str) -> String {
    let got = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert_eq!(got, status, "{body}");
    assert_eq!(body["error"], code, "{body}");
    body["message"].as_str().unwrap_or_default().to_owned()
}

/// The user is still active and nothing was written to its audit trail beyond its creation.
async fn assert_untouched(app: &TestApp, id: &str) {
    let user: Value = app.get_user(id).await.json().await.unwrap();
    assert_eq!(user["active"], true);
    let actions: Vec<String> = app
        .audit_events(id)
        .await
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(actions, ["user.create"]);
}

both_backends! {
    async fn a_reason_over_the_body_limit_is_refused_and_not_stored(app) {
        let id = app.create_user("big-reason@example.com").await["id"].as_str().unwrap().to_owned();
        let message = assert_refused(deactivate(&app, &id, &"x".repeat(200_000)).await, 413, "payload_too_large").await;
        assert!(message.contains("16384"), "{message}");
        assert_untouched(&app, &id).await;
    }

    async fn a_reason_is_at_most_1000_characters(app) {
        let id = app.create_user("long-reason@example.com").await["id"].as_str().unwrap().to_owned();
        // Characters, not bytes: 1,001 two-byte letters fit the body limit.
        let message = assert_refused(deactivate(&app, &id, &"é".repeat(1001)).await, 400, "invalid_request").await;
        assert!(message.contains("reason") && message.contains("1000"), "{message}");
        assert_untouched(&app, &id).await;
        let response = deactivate(&app, &id, &"é".repeat(1000)).await;
        assert_eq!(response.status().as_u16(), 200);
    }

    async fn control_characters_in_a_reason_are_refused(app) {
        let id = app.create_user("nul-reason@example.com").await["id"].as_str().unwrap().to_owned();
        for reason in ["a\u{0}b", "bell\u{7}", "esc\u{1b}[31m", "c1\u{85}"] {
            let message = assert_refused(deactivate(&app, &id, reason).await, 400, "invalid_request").await;
            assert!(message.contains("reason"), "{message}");
        }
        assert_untouched(&app, &id).await;
        // Line breaks and tabs are text.
        let response = deactivate(&app, &id, "left\n\tthe company").await;
        assert_eq!(response.status().as_u16(), 200);
    }

    async fn control_characters_and_long_text_in_q_are_refused(app) {
        app.create_user("q@example.com").await;
        for q in ["a\u{0}b", "\u{0}", "tab\there", &"q".repeat(257)] {
            let response = call(&app, Method::GET, "/users", &[("q", q)], None).await;
            let message = assert_refused(response, 400, "invalid_request").await;
            assert!(message.contains("'q'"), "{message}");
        }
        let response = call(&app, Method::GET, "/users", &[("q", &"q".repeat(256))], None).await;
        assert_eq!(response.status().as_u16(), 200);
        let found: Value = call(&app, Method::GET, "/users", &[("q", "Q@EXAMPLE")], None).await.json().await.unwrap();
        assert_eq!(found["users"].as_array().unwrap().len(), 1);
    }

    async fn control_characters_and_long_ids_in_user_id_are_refused(app) {
        for user_id in ["a\u{0}b", "\u{0}", "\u{7f}", &"u".repeat(65)] {
            let response = call(&app, Method::GET, "/audit-events", &[("user_id", user_id)], None).await;
            let message = assert_refused(response, 400, "invalid_request").await;
            assert!(message.contains("user_id"), "{message}");
        }
        let response = call(&app, Method::GET, "/audit-events", &[("user_id", "not-a-user")], None).await;
        assert_eq!(response.status().as_u16(), 200, "an unknown id has no events");
    }

    async fn control_characters_and_long_ids_in_paths_are_refused(app) {
        let long = "u".repeat(65);
        for id in ["a%00b", "%00", "%07", long.as_str()] {
            for (method, path) in [
                (Method::GET, format!("/users/{id}")),
                (Method::POST, format!("/users/{id}/deactivate")),
                (Method::POST, format!("/users/{id}/activate")),
            ] {
                let response = call(&app, method, &path, &[], None).await;
                let message = assert_refused(response, 400, "invalid_request").await;
                assert!(message.contains("id"), "{path}: {message}");
            }
        }
        // An id of the right shape that names no user is still a 404.
        let response = call(&app, Method::GET, "/users/not-a-user", &[], None).await;
        assert_refused(response, 404, "not_found").await;
    }

    async fn limits_are_bounded(app) {
        for (path, max) in [("/users", "500"), ("/audit-events", "1000")] {
            for limit in ["0", "-1", "abc", "99999999999999999999999", "1e3"] {
                let response = call(&app, Method::GET, path, &[("limit", limit)], None).await;
                assert_refused(response, 400, "invalid_request").await;
            }
            let too_many = (max.parse::<i64>().unwrap() + 1).to_string();
            let response = call(&app, Method::GET, path, &[("limit", &too_many)], None).await;
            let message = assert_refused(response, 400, "invalid_request").await;
            assert!(message.contains(max), "{message}");
            let response = call(&app, Method::GET, path, &[("limit", max)], None).await;
            assert_eq!(response.status().as_u16(), 200, "{path}");
        }
    }

    async fn control_characters_in_cursors_and_status_are_refused(app) {
        let response = call(&app, Method::GET, "/users", &[("cursor", "a\u{0}b")], None).await;
        assert_refused(response, 400, "invalid_cursor").await;
        let response = call(&app, Method::GET, "/audit-events", &[("after", "1\u{0}")], None).await;
        assert_refused(response, 400, "invalid_cursor").await;
        let response = call(&app, Method::GET, "/users", &[("status", "active\u{0}")], None).await;
        let message = assert_refused(response, 400, "invalid_request").await;
        assert!(!message.contains('\u{0}'), "the refused value is not echoed: {message:?}");
    }

    async fn a_deactivate_body_that_is_not_the_documented_json_is_refused(app) {
        let id = app.create_user("bad-body@example.com").await["id"].as_str().unwrap().to_owned();
        for body in ["{\"reason\": 5}", "{\"why\": \"x\"}", "not json", "{\"reason\": \"a\\u0000b\"}"] {
            let response = call(&app, Method::POST, &format!("/users/{id}/deactivate"), &[], Some(body.to_owned())).await;
            assert_refused(response, 400, "invalid_request").await;
        }
        assert_untouched(&app, &id).await;
    }
}
