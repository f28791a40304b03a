//! The admin API's OpenAPI document (`GET /admin/v1/openapi.json`): it describes every route
//! registered under `/admin/v1`, and every admin endpoint's real responses, successes and
//! errors, validate against it (docs/architecture.md §11, "A new admin endpoint").

use std::collections::BTreeSet;

use reqwest::Method;
use roster::auth::Role;
use serde_json::{Value, json};

use crate::helpers::TestApp;

/// `(METHOD, /admin/v1/path)` of every route registered in `src/http/admin/`: each
/// `web::resource("…")` and the `web::get()`, `web::post()`, … of its `.route(…)`s.
fn registered_routes() -> BTreeSet<(String, String)> {
    let mut routes = BTreeSet::new();
    let mut dirs = vec![std::path::PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src/http/admin"
    ))];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for chunk in text.split("web::resource(\"").skip(1) {
                let (resource, rest) = chunk.split_once('"').unwrap();
                let end = [".service(", ".default_service(", "\n}"]
                    .iter()
                    .filter_map(|stop| rest.find(stop))
                    .min()
                    .unwrap_or(rest.len());
                for method in ["get", "post", "put", "patch", "delete"] {
                    if rest[..end].contains(&format!("web::{method}()")) {
                        routes.insert((method.to_uppercase(), format!("/admin/v1{resource}")));
                    }
                }
            }
        }
    }
    routes
}

/// `(METHOD, path)` of every operation the document describes.
fn documented_operations(doc: &Value) -> BTreeSet<(String, String)> {
    let mut operations = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in ["get", "post", "put", "patch", "delete"] {
            if item.get(method).is_some() {
                operations.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    operations
}

async fn document(app: &TestApp) -> Value {
    let response = app
        .client
        .get(format!("{}/admin/v1/openapi.json", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    response.json().await.unwrap()
}

/// Checks one real response against the document: its status is described for the operation
/// (or the operation's `default` response covers it), and its body validates against that
/// response's schema (or is empty when the response has none).
fn check(doc: &Value, method: &Method, template: &str, status: u16, body: &str) {
    let operation = &doc["paths"][template][method.as_str().to_lowercase()];
    assert!(
        operation.is_object(),
        "{method} {template} is not in the document"
    );
    let responses = &operation["responses"];
    let response = responses
        .get(status.to_string())
        .or_else(|| responses.get("default"))
        .unwrap_or_else(|| panic!("{method} {template}: status {status} is not described"));
    match response["content"]["application/json"].get("schema") {
        None => assert!(
            body.is_empty(),
            "{method} {template} {status}: no body described, got {body}"
        ),
        Some(schema) => {
            let instance: Value = serde_json::from_str(body)
                .unwrap_or_else(|e| panic!("{method} {template} {status}: not JSON ({e}): {body}"));
            // The response schema, with the document as its root so that its
            // `#/components/schemas/…` references resolve.
            let mut root = doc.clone();
            root["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
            root["allOf"] = json!([schema]);
            let validator = jsonschema::validator_for(&root).unwrap();
            let errors: Vec<String> = validator
                .iter_errors(&instance)
                .map(|e| format!("{} at {}", e, e.instance_path()))
                .collect();
            assert!(
                errors.is_empty(),
                "{method} {template} {status}: {errors:?} in {instance}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_registered_admin_route_is_in_the_document() {
    let app = TestApp::spawn(crate::helpers::Backend::Sqlite).await;
    let doc = document(&app).await;
    assert_eq!(doc["openapi"].as_str().map(|v| &v[..4]), Some("3.1."));
    let registered = registered_routes();
    assert!(registered.len() >= 13, "{registered:?}");
    let documented = documented_operations(&doc);
    let missing: Vec<_> = registered.difference(&documented).collect();
    assert!(
        missing.is_empty(),
        "admin routes not in the OpenAPI document (annotate their handlers and list them in \
         src/http/admin/openapi.rs): {missing:?}"
    );
    let stale: Vec<_> = documented.difference(&registered).collect();
    assert!(stale.is_empty(), "documented but not registered: {stale:?}");
}

mod every_admin_endpoint_answers_as_the_document_says {
    use super::*;
    use crate::helpers::Backend;

    async fn run(backend: Backend) {
        let app = TestApp::spawn_with(backend, |s| {
            // A receiver on loopback, never called: no worker.
            s.events.allow_insecure = true;
            s.events.worker = false;
        })
        .await;
        let doc = document(&app).await;
        let admin = app.mint(Role::Admin, "default", None);
        let id = app.create_user("openapi@example.com").await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let covered = std::cell::RefCell::new(BTreeSet::new());
        covered
            .borrow_mut()
            .insert(("GET".to_owned(), "/admin/v1/openapi.json".to_owned()));
        check(
            &doc,
            &Method::GET,
            "/admin/v1/openapi.json",
            200,
            &serde_json::to_string(&doc).unwrap(),
        );

        // One call: (method, template, concrete path, body, token, expected status).
        let call = async |method: Method,
                          template: &str,
                          path: &str,
                          body: Option<Value>,
                          token: Option<&str>,
                          expected: u16|
               -> Value {
            let mut request = app
                .client
                .request(method.clone(), format!("{}/admin/v1{path}", app.address));
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            if let Some(body) = body {
                request = request.json(&body);
            }
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let text = response.text().await.unwrap();
            assert_eq!(status, expected, "{method} {path}: {text}");
            check(
                &doc,
                &method,
                &format!("/admin/v1{template}"),
                status,
                &text,
            );
            covered
                .borrow_mut()
                .insert((method.as_str().to_owned(), format!("/admin/v1{template}")));
            serde_json::from_str(&text).unwrap_or(Value::Null)
        };
        let admin = Some(admin.as_str());
        let unknown = uuid::Uuid::new_v4().to_string();

        call(Method::GET, "/users", "/users", None, admin, 200).await;
        call(
            Method::GET,
            "/users",
            "/users?limit=1&status=active",
            None,
            admin,
            200,
        )
        .await;
        call(
            Method::GET,
            "/users",
            "/users?status=bogus",
            None,
            admin,
            400,
        )
        .await;
        call(Method::GET, "/users", "/users", None, None, 401).await;
        call(
            Method::GET,
            "/users",
            "/users",
            None,
            Some(app.token.as_str()),
            403,
        )
        .await;
        call(
            Method::GET,
            "/users/{id}",
            &format!("/users/{id}"),
            None,
            admin,
            200,
        )
        .await;
        call(
            Method::GET,
            "/users/{id}",
            &format!("/users/{unknown}"),
            None,
            admin,
            404,
        )
        .await;
        call(
            Method::POST,
            "/users/{id}/deactivate",
            &format!("/users/{id}/deactivate"),
            Some(json!({"reason": "left"})),
            admin,
            200,
        )
        .await;
        call(
            Method::POST,
            "/users/{id}/deactivate",
            &format!("/users/{id}/deactivate"),
            Some(json!({"why": 1})),
            admin,
            400,
        )
        .await;
        let held = call(
            Method::POST,
            "/users/{id}/deactivate",
            &format!("/users/{id}/deactivate"),
            Some(json!({"reason": "compromised", "hold": true})),
            admin,
            200,
        )
        .await;
        assert_eq!(held["held"], true, "{held}");
        let released = call(
            Method::POST,
            "/users/{id}/release",
            &format!("/users/{id}/release"),
            None,
            admin,
            200,
        )
        .await;
        assert_eq!(released["held"], false, "{released}");
        call(
            Method::POST,
            "/users/{id}/release",
            &format!("/users/{unknown}/release"),
            None,
            admin,
            404,
        )
        .await;
        let gone = app.create_user("deleted-then-restored@example.com").await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(
            app.request(Method::DELETE, &format!("/Users/{gone}"), None)
                .await
                .status(),
            reqwest::StatusCode::NO_CONTENT
        );
        let deleted = call(
            Method::GET,
            "/users",
            "/users?status=deleted",
            None,
            admin,
            200,
        )
        .await;
        assert_eq!(deleted["users"][0]["id"], gone.as_str(), "{deleted}");
        let restored = call(
            Method::POST,
            "/users/{id}/restore",
            &format!("/users/{gone}/restore"),
            None,
            admin,
            200,
        )
        .await;
        assert_eq!(restored["id"], gone.as_str(), "{restored}");
        call(
            Method::POST,
            "/users/{id}/restore",
            &format!("/users/{gone}/restore"),
            None,
            admin,
            404,
        )
        .await;
        call(
            Method::POST,
            "/users/{id}/activate",
            &format!("/users/{id}/activate"),
            None,
            admin,
            200,
        )
        .await;
        call(
            Method::GET,
            "/audit-events",
            "/audit-events",
            None,
            admin,
            200,
        )
        .await;
        call(
            Method::GET,
            "/audit-events",
            "/audit-events?after=x",
            None,
            admin,
            400,
        )
        .await;
        let created = call(
            Method::POST,
            "/event-subscriptions",
            "/event-subscriptions",
            Some(json!({"url": "http://127.0.0.1:9/hook", "description": "openapi"})),
            admin,
            201,
        )
        .await;
        let sid = created["id"].as_str().unwrap().to_owned();
        call(
            Method::POST,
            "/event-subscriptions",
            "/event-subscriptions",
            Some(json!({"url": "ftp://x"})),
            admin,
            400,
        )
        .await;
        call(
            Method::GET,
            "/event-subscriptions",
            "/event-subscriptions",
            None,
            admin,
            200,
        )
        .await;
        call(
            Method::GET,
            "/event-subscriptions/{id}",
            &format!("/event-subscriptions/{sid}"),
            None,
            admin,
            200,
        )
        .await;
        call(
            Method::GET,
            "/event-subscriptions/{id}",
            &format!("/event-subscriptions/{unknown}"),
            None,
            admin,
            404,
        )
        .await;
        call(
            Method::POST,
            "/event-subscriptions/{id}/test",
            &format!("/event-subscriptions/{sid}/test"),
            None,
            admin,
            202,
        )
        .await;
        call(
            Method::GET,
            "/event-subscriptions/{id}/deliveries",
            &format!("/event-subscriptions/{sid}/deliveries"),
            None,
            admin,
            200,
        )
        .await;
        call(
            Method::POST,
            "/event-subscriptions/{id}/enable",
            &format!("/event-subscriptions/{sid}/enable"),
            None,
            admin,
            200,
        )
        .await;
        call(
            Method::DELETE,
            "/event-subscriptions/{id}",
            &format!("/event-subscriptions/{sid}"),
            None,
            admin,
            204,
        )
        .await;
        call(
            Method::DELETE,
            "/event-subscriptions/{id}",
            &format!("/event-subscriptions/{sid}"),
            None,
            admin,
            404,
        )
        .await;

        // Many users at once: each user's outcome, a failure with the admin error body.
        let many = call(
            Method::POST,
            "/users/deactivate",
            "/users/deactivate",
            Some(json!({"ids": [id, unknown], "reason": "left"})),
            admin,
            200,
        )
        .await;
        assert_eq!(many["results"][0]["outcome"], "deactivated", "{many}");
        assert_eq!(many["results"][1]["outcome"], "failed", "{many}");
        assert_eq!(many["results"][1]["error"]["error"], "not_found", "{many}");
        call(
            Method::POST,
            "/users/deactivate",
            "/users/deactivate",
            Some(json!({"ids": []})),
            admin,
            400,
        )
        .await;
        let many = call(
            Method::POST,
            "/users/activate",
            "/users/activate",
            Some(json!({"ids": [id]})),
            admin,
            200,
        )
        .await;
        assert_eq!(many["results"][0]["outcome"], "activated", "{many}");
        call(
            Method::POST,
            "/users/activate",
            "/users/activate",
            Some(json!({"ids": "not a list"})),
            admin,
            400,
        )
        .await;

        // Tokens: mint, list, rotate, revoke.
        let minted = call(
            Method::POST,
            "/tokens",
            "/tokens",
            Some(json!({"name": "Okta", "role": "provisioner", "ttl": "90d"})),
            admin,
            201,
        )
        .await;
        assert!(minted["token"].is_string(), "{minted}");
        let jti = minted["jti"].as_str().unwrap().to_owned();
        call(
            Method::POST,
            "/tokens",
            "/tokens",
            Some(json!({"name": "Okta", "role": "root"})),
            admin,
            400,
        )
        .await;
        let tokens = call(Method::GET, "/tokens", "/tokens", None, admin, 200).await;
        assert!(
            tokens["tokens"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t["jti"] == jti.as_str() && t.get("token").is_none()),
            "{tokens}"
        );
        let rotated = call(
            Method::POST,
            "/tokens/{jti}/rotate",
            &format!("/tokens/{jti}/rotate"),
            Some(json!({"overlap": "1h"})),
            admin,
            201,
        )
        .await;
        assert!(rotated["token"].is_string(), "{rotated}");
        assert_eq!(rotated["replaces"]["jti"], jti.as_str(), "{rotated}");
        assert_eq!(rotated["replaces"]["status"], "retiring", "{rotated}");
        let new_jti = rotated["jti"].as_str().unwrap().to_owned();
        call(
            Method::POST,
            "/tokens/{jti}/rotate",
            &format!("/tokens/{unknown}/rotate"),
            None,
            admin,
            404,
        )
        .await;
        let revoked = call(
            Method::DELETE,
            "/tokens/{jti}",
            &format!("/tokens/{new_jti}"),
            None,
            admin,
            200,
        )
        .await;
        assert_eq!(revoked["status"], "revoked", "{revoked}");
        call(
            Method::DELETE,
            "/tokens/{jti}",
            &format!("/tokens/{unknown}"),
            None,
            admin,
            404,
        )
        .await;

        // The org's rate limit: the server's default, then its own (high enough to limit
        // nothing here).
        let limit = call(Method::GET, "/rate-limit", "/rate-limit", None, admin, 200).await;
        assert_eq!(limit["source"], "default", "{limit}");
        let limit = call(
            Method::PUT,
            "/rate-limit",
            "/rate-limit",
            Some(json!({"perSecond": 100000, "burst": 1000000})),
            admin,
            200,
        )
        .await;
        assert_eq!(limit["source"], "org", "{limit}");
        call(
            Method::PUT,
            "/rate-limit",
            "/rate-limit",
            Some(json!({"perSecond": 0, "burst": 1})),
            admin,
            400,
        )
        .await;

        // The org's retention of deleted users: the default, then its own; 0 refused.
        let retention = call(
            Method::GET,
            "/deleted-user-retention",
            "/deleted-user-retention",
            None,
            admin,
            200,
        )
        .await;
        assert_eq!(retention["source"], "default", "{retention}");
        let retention = call(
            Method::PUT,
            "/deleted-user-retention",
            "/deleted-user-retention",
            Some(json!({"days": 45})),
            admin,
            200,
        )
        .await;
        assert_eq!(retention["days"], 45, "{retention}");
        call(
            Method::PUT,
            "/deleted-user-retention",
            "/deleted-user-retention",
            Some(json!({"days": 0})),
            admin,
            400,
        )
        .await;

        // The org's own extension schemas: register, list, read, a bad one, remove.
        let urn = "urn:ietf:params:scim:schemas:extension:acme:2.0:User";
        let definition = json!({
            "id": urn,
            "resourceType": "User",
            "attributes": [{"name": "costCode", "type": "string"}]
        });
        let created = call(
            Method::POST,
            "/schema-extensions",
            "/schema-extensions",
            Some(definition.clone()),
            admin,
            201,
        )
        .await;
        assert_eq!(created["definition"]["id"], urn, "{created}");
        call(
            Method::POST,
            "/schema-extensions",
            "/schema-extensions",
            Some(definition),
            admin,
            409,
        )
        .await;
        call(
            Method::POST,
            "/schema-extensions",
            "/schema-extensions",
            Some(json!({"id": "acme", "resourceType": "User"})),
            admin,
            400,
        )
        .await;
        let list = call(
            Method::GET,
            "/schema-extensions",
            "/schema-extensions",
            None,
            admin,
            200,
        )
        .await;
        assert_eq!(
            list["extensions"].as_array().map(Vec::len),
            Some(1),
            "{list}"
        );
        call(
            Method::GET,
            "/schema-extensions/{urn}",
            &format!("/schema-extensions/{urn}"),
            None,
            admin,
            200,
        )
        .await;
        call(
            Method::DELETE,
            "/schema-extensions/{urn}",
            &format!("/schema-extensions/{urn}"),
            None,
            admin,
            204,
        )
        .await;
        call(
            Method::GET,
            "/schema-extensions/{urn}",
            &format!("/schema-extensions/{urn}"),
            None,
            admin,
            404,
        )
        .await;

        // The SCIM request log: the user's creation is recorded (soon), with a real record.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let page = call(
                Method::GET,
                "/scim-requests",
                &format!("/scim-requests?resource_id={id}"),
                None,
                admin,
                200,
            )
            .await;
            if !page["requests"].as_array().unwrap().is_empty() {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the user's creation is not in the request log: {page}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        call(
            Method::GET,
            "/scim-requests",
            "/scim-requests?status=2xx",
            None,
            admin,
            400,
        )
        .await;
        call(
            Method::GET,
            "/scim-requests",
            "/scim-requests?after=x",
            None,
            admin,
            400,
        )
        .await;

        // A documented operation this test does not call fails it: add a call above.
        let documented = documented_operations(&doc);
        let covered = covered.into_inner();
        let untested: Vec<_> = documented.difference(&covered).collect();
        assert!(
            untested.is_empty(),
            "admin operations not exercised here: {untested:?}"
        );
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
