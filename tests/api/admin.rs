//! The admin API (`/admin/v1`): "Manage users → Deactivate / Activate user", admins only.

use reqwest::{Method, Response, StatusCode};
use roster::auth::Role;
use serde_json::{Value, json};

use crate::helpers::*;

async fn admin_call(
    app: &TestApp,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Response {
    let mut req = app
        .client
        .request(method, format!("{}/admin/v1{path}", app.address))
        .bearer_auth(token);
    if let Some(body) = body {
        req = req.json(&body);
    }
    req.send().await.unwrap()
}

async fn admin_json(app: &TestApp, method: Method, path: &str, body: Option<Value>) -> Value {
    let token = app.mint(Role::Admin, "default", None);
    let response = admin_call(app, &token, method, path, body).await;
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    response.json().await.unwrap()
}

async fn assert_admin_error(response: Response, status: u16, code: &str) -> Value {
    assert_eq!(response.status().as_u16(), status);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], code, "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    body
}

both_backends! {
    async fn deactivate_and_activate_are_idempotent_and_return_the_user(app) {
        let id = app.create_user("admin-target@example.com").await["id"].as_str().unwrap().to_owned();
        let user = admin_json(&app, Method::POST, &format!("/users/{id}/deactivate"), Some(json!({"reason": "left the company"}))).await;
        assert_eq!(user["active"], false);
        assert_eq!(user["deactivatedVia"], "admin");
        assert!(user["deactivatedAt"].is_string());
        let again = admin_json(&app, Method::POST, &format!("/users/{id}/deactivate"), None).await;
        assert_eq!(again["version"], user["version"], "the same state again writes nothing");

        // SCIM sees it, and the audit log says who.
        let scim: Value = app.get_user(&id).await.json().await.unwrap();
        assert_eq!(scim["active"], false);
        let events = admin_json(&app, Method::GET, &format!("/audit-events?user_id={id}"), None).await;
        let actions: Vec<(&str, &str)> = events["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["action"].as_str().unwrap(), e["channel"].as_str().unwrap()))
            .collect();
        assert_eq!(actions, vec![("user.create", "scim"), ("user.deactivate", "admin")]);
        assert_eq!(events["events"][1]["detail"]["reason"], "left the company");

        let user = admin_json(&app, Method::POST, &format!("/users/{id}/activate"), None).await;
        assert_eq!(user["active"], true);
        assert_eq!(user["deactivatedAt"], Value::Null);
        let user = admin_json(&app, Method::POST, &format!("/users/{id}/activate"), None).await;
        assert_eq!(user["active"], true);
        let events = admin_json(&app, Method::GET, &format!("/audit-events?user_id={id}"), None).await;
        assert_eq!(events["events"].as_array().unwrap().len(), 3, "one event per state change: {events}");
    }

    async fn okta_deactivation_shows_in_the_admin_list(app) {
        let active = app.create_user("stays@example.com").await["id"].as_str().unwrap().to_owned();
        let gone = app.create_user("leaves@example.com").await["id"].as_str().unwrap().to_owned();
        let patched = app.patch_user(&gone, json!([{"op": "replace", "value": {"active": false}}])).await;
        assert_eq!(patched.status(), StatusCode::OK);

        let list = admin_json(&app, Method::GET, "/users?status=deactivated", None).await;
        let users = list["users"].as_array().unwrap();
        assert_eq!(users.len(), 1);
        assert_eq!(users[0]["id"], gone.as_str());
        assert_eq!(users[0]["userName"], "leaves@example.com");
        assert_eq!(users[0]["deactivatedVia"], "scim");
        assert!(users[0]["deactivatedBy"].as_str().is_some_and(|b| !b.is_empty()));
        assert_eq!(users[0]["emails"], json!(["leaves@example.com"]));

        let list = admin_json(&app, Method::GET, "/users?status=active", None).await;
        let ids: Vec<&str> = list["users"].as_array().unwrap().iter().map(|u| u["id"].as_str().unwrap()).collect();
        assert_eq!(ids, vec![active.as_str()]);
    }

    async fn list_searches_text_and_pages_by_cursor(app) {
        for i in 0..5 {
            app.create_user(&format!("page{i}@example.com")).await;
        }
        app.create_user("someone.else@other.org").await;
        let found = admin_json(&app, Method::GET, "/users?q=OTHER.ORG", None).await;
        assert_eq!(found["users"].as_array().unwrap().len(), 1);
        assert_eq!(found["users"][0]["userName"], "someone.else@other.org");

        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("/users?q=page&limit=2&cursor={c}"),
                None => "/users?q=page&limit=2".to_owned(),
            };
            let page = admin_json(&app, Method::GET, &path, None).await;
            for u in page["users"].as_array().unwrap() {
                seen.push(u["userName"].as_str().unwrap().to_owned());
            }
            match page["nextCursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => break,
            }
        }
        let expected: Vec<String> = (0..5).map(|i| format!("page{i}@example.com")).collect();
        assert_eq!(seen, expected);

        let token = app.mint(Role::Admin, "default", None);
        assert_admin_error(admin_call(&app, &token, Method::GET, "/users?cursor=nonsense", None).await, 400, "invalid_cursor").await;
        assert_admin_error(admin_call(&app, &token, Method::GET, "/users?status=gone", None).await, 400, "invalid_request").await;
        assert_admin_error(admin_call(&app, &token, Method::GET, "/users?limit=0", None).await, 400, "invalid_request").await;
    }

    async fn only_admins_of_the_same_org(app) {
        let id = app.create_user("guarded@example.com").await["id"].as_str().unwrap().to_owned();
        // A provisioner token is not enough.
        let response = admin_call(&app, &app.token, Method::POST, &format!("/users/{id}/deactivate"), None).await;
        assert_admin_error(response, 403, "forbidden").await;
        // Nor is no token.
        let response = app.client.get(format!("{}/admin/v1/users", app.address)).send().await.unwrap();
        assert!(response.headers().contains_key("www-authenticate"));
        assert_admin_error(response, 401, "unauthorized").await;
        // Another org's admin sees 404, as for an id that never existed.
        app.create_org("elsewhere");
        let other = app.mint(Role::Admin, "elsewhere", None);
        for path in [format!("/users/{id}"), format!("/users/{id}/deactivate")] {
            let method = if path.ends_with("deactivate") { Method::POST } else { Method::GET };
            assert_admin_error(admin_call(&app, &other, method, &path, None).await, 404, "not_found").await;
        }
        let user: Value = app.get_user(&id).await.json().await.unwrap();
        assert_eq!(user["active"], true, "nothing changed");
        // A bad body is refused, not ignored.
        let token = app.mint(Role::Admin, "default", None);
        let response = app
            .client
            .post(format!("{}/admin/v1/users/{id}/deactivate", app.address))
            .bearer_auth(&token)
            .body("{\"reason\": 5}")
            .send()
            .await
            .unwrap();
        assert_admin_error(response, 400, "invalid_request").await;
        assert_admin_error(admin_call(&app, &token, Method::GET, "/nothing-here", None).await, 404, "not_found").await;
    }
}
