//! Every failure under `/scim/v2` is an RFC 7644 §3.12 error body with the right status and
//! `scimType`, served as `application/scim+json`: bad bodies, ids, paths, methods, media types,
//! PATCH operations and filters. None of them changes anything or brings the server down.

use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

/// A request to `/scim/v2{path}` with the default token and `body` sent verbatim.
async fn send_raw(
    app: &TestApp,
    method: Method,
    path: &str,
    content_type: Option<&str>,
    body: impl Into<reqwest::Body>,
) -> Response {
    let mut request = app
        .client
        .request(method, app.url(path))
        .bearer_auth(&app.token)
        .body(body);
    if let Some(content_type) = content_type {
        request = request.header("Content-Type", content_type);
    }
    request.send().await.expect("request")
}

fn content_type(response: &Response) -> String {
    response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

async fn create_id(app: &TestApp, user_name: &str) -> String {
    app.create_user(user_name).await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// `GET /Users?filter=…` with `filter` percent-encoded.
async fn list_filtered(app: &TestApp, filter: &str) -> Response {
    app.client
        .get(app.url("/Users"))
        .bearer_auth(&app.token)
        .query(&[("filter", filter)])
        .send()
        .await
        .expect("request")
}

/// Asserts that the user reads back exactly as `before` (same attributes, same version).
async fn assert_unchanged(app: &TestApp, before: &Value) {
    let id = before["id"].as_str().unwrap();
    let now: Value = app.get_user(id).await.json().await.unwrap();
    assert_eq!(&now, before, "the user changed");
}

both_backends! {
    async fn malformed_json_is_invalid_syntax(app) {
        let id = create_id(&app, "syntax@example.com").await;
        let broken = r#"{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "#;
        let users = format!("/Users/{id}");
        for (method, path) in [(Method::POST, "/Users"), (Method::PUT, users.as_str()), (Method::PATCH, users.as_str())] {
            let response = send_raw(&app, method.clone(), path, Some("application/scim+json"), broken).await;
            assert_scim_error(response, 400, Some("invalidSyntax")).await;
        }
        // Not JSON at all, and an empty body.
        let response = send_raw(&app, Method::POST, "/Users", Some("application/scim+json"), "userName=x").await;
        assert_scim_error(response, 400, Some("invalidSyntax")).await;
        let response = send_raw(&app, Method::POST, "/Users", Some("application/scim+json"), "").await;
        assert_scim_error(response, 400, Some("invalidSyntax")).await;
        // Bytes that are not UTF-8.
        let response = send_raw(&app, Method::POST, "/Users", Some("application/scim+json"), vec![b'{', 0xff, 0xfe, b'}']).await;
        assert_scim_error(response, 400, Some("invalidSyntax")).await;
    }

    async fn a_json_array_or_scalar_body_is_invalid_syntax(app) {
        let response = app.post_user(&json!([okta_user("array@example.com")])).await;
        assert_scim_error(response, 400, Some("invalidSyntax")).await;
        let response = app.post_user(&json!("ada@example.com")).await;
        assert_scim_error(response, 400, Some("invalidSyntax")).await;
        let id = create_id(&app, "array@example.com").await;
        let response = app.request(Method::PATCH, &format!("/Users/{id}"), Some(&json!([]))).await;
        assert_scim_error(response, 400, Some("invalidSyntax")).await;
    }

    async fn deeply_nested_json_is_refused_not_a_crash(app) {
        let depth = 20_000; // 40 KB: under the body limit, far over serde_json's recursion limit
        let body = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let response = send_raw(&app, Method::POST, "/Users", Some("application/scim+json"), body).await;
        assert_scim_error(response, 400, Some("invalidSyntax")).await;
        assert_eq!(app.request(Method::GET, "/Users", None).await.status(), StatusCode::OK);
    }

    async fn invalid_user_values_are_invalid_value(app) {
        let mut missing = okta_user("missing@example.com");
        missing.as_object_mut().unwrap().remove("userName");
        let mut number = okta_user("number@example.com");
        number["userName"] = json!(42);
        let mut blank = okta_user("blank@example.com");
        blank["userName"] = json!("   ");
        let mut maybe = okta_user("maybe@example.com");
        maybe["active"] = json!("maybe");
        let mut two_primaries = okta_user("primaries@example.com");
        two_primaries["emails"] = json!([
            {"value": "a@example.com", "type": "work", "primary": true},
            {"value": "b@example.com", "type": "home", "primary": true}
        ]);
        let mut bad_name = okta_user("badname@example.com");
        bad_name["name"] = json!("Ada Lovelace");
        for (body, needle) in [
            (missing, "userName"),
            (number, "userName"),
            (blank, "userName"),
            (maybe, "active"),
            (two_primaries, "primary"),
            (bad_name, "name"),
        ] {
            let error = assert_scim_error(app.post_user(&body).await, 400, Some("invalidValue")).await;
            assert!(error["detail"].as_str().unwrap().contains(needle), "{error}");
        }
        // None of them was created.
        let list: Value = app.request(Method::GET, "/Users", None).await.json().await.unwrap();
        assert_eq!(list["totalResults"], 0);
    }

    async fn unknown_and_unparseable_ids_are_not_found(app) {
        let id = create_id(&app, "known@example.com").await;
        let patch = json!({"schemas": [PATCH_SCHEMA], "Operations": [{"op": "replace", "value": {"active": false}}]});
        for missing in [
            "01a21f1f-6d2e-7217-b3a5-f6aac407ee0a".to_owned(),
            "not-a-uuid".to_owned(),
            "%27%20OR%201=1".to_owned(),
            // ids are caseExact: the upper-case spelling names no user.
            id.to_uppercase(),
        ] {
            let path = format!("/Users/{missing}");
            assert_scim_error(app.request(Method::GET, &path, None).await, 404, None).await;
            assert_scim_error(app.request(Method::PUT, &path, Some(&okta_user("known@example.com"))).await, 404, None).await;
            assert_scim_error(app.request(Method::PATCH, &path, Some(&patch)).await, 404, None).await;
            assert_scim_error(app.request(Method::DELETE, &path, None).await, 404, None).await;
        }
        assert_eq!(app.get_user(&id).await.status(), StatusCode::OK);
    }

    async fn a_body_over_the_limit_is_413(app) {
        assert_eq!(app.settings.max_body_bytes, 64 * 1024);
        let mut body = okta_user("large@example.com");
        body["displayName"] = json!("x".repeat(100 * 1024));
        let response = app.post_user(&body).await;
        assert_scim_error(response, 413, None).await;
        let list: Value = app.request(Method::GET, "/Users", None).await.json().await.unwrap();
        assert_eq!(list["totalResults"], 0);
    }

    async fn unsupported_methods_are_405(app) {
        let id = create_id(&app, "methods@example.com").await;
        let cases = [
            (Method::DELETE, "/Users".to_owned()),
            (Method::PUT, "/Users".to_owned()),
            (Method::PATCH, "/Users".to_owned()),
            (Method::POST, format!("/Users/{id}")),
            (Method::PUT, "/ServiceProviderConfig".to_owned()),
        ];
        for (method, path) in cases {
            let response = app.request(method.clone(), &path, Some(&okta_user("methods@example.com"))).await;
            let body = assert_scim_error(response, 405, None).await;
            assert!(body["detail"].as_str().unwrap().contains(method.as_str()), "{method} {path}: {body}");
        }
        // DELETE /Users deleted nobody.
        assert_eq!(app.get_user(&id).await.status(), StatusCode::OK);
    }

    async fn unknown_endpoints_are_404(app) {
        for path in ["/Nope", "/Groupz", "/Groups/a/b", "/Users/a/b", "/users-x"] {
            let body = assert_scim_error(app.request(Method::GET, path, None).await, 404, None).await;
            assert!(body["detail"].as_str().unwrap().contains("no SCIM endpoint"), "{path}: {body}");
        }
        let response = app.request(Method::POST, "/Nope", Some(&json!({}))).await;
        assert_scim_error(response, 404, None).await;
    }

    async fn json_media_types_are_accepted(app) {
        let response = send_raw(&app, Method::POST, "/Users", Some("application/json"), okta_user("json@example.com").to_string()).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let response = send_raw(&app, Method::POST, "/Users", Some("application/scim+json; charset=utf-8"), okta_user("charset@example.com").to_string()).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let response = send_raw(&app, Method::POST, "/Users", Some("application/json; charset=utf-8"), okta_user("charset2@example.com").to_string()).await;
        assert_eq!(response.status(), StatusCode::CREATED);

        // A GET that names a body type but carries none is fine.
        let response = app
            .client
            .get(app.url("/Users"))
            .bearer_auth(&app.token)
            .header("Content-Type", "application/scim+json")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }

    async fn other_media_types_are_415(app) {
        // BUG: `content_type_required(false)` in src/startup.rs turns off actix's media-type
        // check altogether (actix-web 4.17 `JsonBody::new`: `(false, _) => true`), so the
        // `content_type` predicate never runs and `JsonPayloadError::ContentType` never
        // happens: a `text/plain` body is parsed as JSON and the user is created (201).
        // Expected, per src/http/error.rs `json_error` and STYLE.md item 4: 415 SCIM error.
        for refused in ["text/plain", "application/x-www-form-urlencoded", "application/xml"] {
            let response = send_raw(&app, Method::POST, "/Users", Some(refused), okta_user("plain@example.com").to_string()).await;
            assert_scim_error(response, 415, None).await;
        }
        let list: Value = app.request(Method::GET, "/Users", None).await.json().await.unwrap();
        assert_eq!(list["totalResults"], 0, "nothing is created from a refused body");
    }

    async fn responses_are_scim_json(app) {
        let created = app.post_user(&okta_user("media@example.com")).await;
        assert_eq!(created.status(), StatusCode::CREATED);
        assert_eq!(content_type(&created), "application/scim+json");
        let id = created.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
        let patch = json!([{"op": "replace", "path": "displayName", "value": "A"}]);
        let responses = [
            app.request(Method::GET, "/Users", None).await,
            app.get_user(&id).await,
            app.request(Method::PUT, &format!("/Users/{id}"), Some(&okta_user("media@example.com"))).await,
            app.patch_user(&id, patch).await,
            app.request(Method::GET, "/ServiceProviderConfig", None).await,
            app.request(Method::GET, "/ResourceTypes", None).await,
            app.request(Method::GET, "/Schemas", None).await,
        ];
        for response in responses {
            assert_eq!(response.status(), StatusCode::OK, "{}", response.url());
            assert_eq!(content_type(&response), "application/scim+json", "{}", response.url());
        }
        // Errors too (assert_scim_error checks the media type).
        assert_scim_error(app.request(Method::GET, "/Users?filter=bogus", None).await, 400, Some("invalidFilter")).await;
    }

    async fn patch_errors_name_the_rfc_scim_type(app) {
        let user = app.create_user("patch@example.com").await;
        let id = user["id"].as_str().unwrap();
        let cases = [
            // src/scim/patch/request.rs documents: empty Operations → invalidValue, unknown op →
            // invalidSyntax.
            (json!([]), "invalidValue"),
            (json!([{"op": "merge", "path": "displayName", "value": "X"}]), "invalidSyntax"),
            (json!([{"path": "displayName", "value": "X"}]), "invalidSyntax"),
            (json!(["replace"]), "invalidSyntax"),
            (json!([{"op": "replace", "path": "displayName"}]), "invalidValue"),
            (json!([{"op": "remove"}]), "noTarget"),
            (json!([{"op": "remove", "path": ""}]), "noTarget"),
            (json!([{"op": "replace", "path": "nosuch", "value": "X"}]), "invalidPath"),
            (json!([{"op": "replace", "path": "name.nosuch", "value": "X"}]), "invalidPath"),
            (json!([{"op": "replace", "path": "emails[type eq", "value": "X"}]), "invalidPath"),
            (json!([{"op": "replace", "path": "emails[nosuch eq \"work\"].value", "value": "X"}]), "invalidPath"),
            (json!([{"op": "replace", "path": "id", "value": "01a21f1f-6d2e-7217-b3a5-f6aac407ee0a"}]), "mutability"),
            (json!([{"op": "replace", "path": "meta", "value": {"version": "W/\"9\""}}]), "mutability"),
            (json!([{"op": "replace", "path": "meta.version", "value": "W/\"9\""}]), "mutability"),
            (json!([{"op": "remove", "path": "userName"}]), "mutability"),
            (json!([{"op": "replace", "path": "userName", "value": null}]), "mutability"),
            (json!([{"op": "replace", "path": "active", "value": "maybe"}]), "invalidValue"),
            (json!([{"op": "replace", "path": "userName", "value": 42}]), "invalidValue"),
        ];
        for (operations, scim_type) in cases {
            let response = app.patch_user(id, operations.clone()).await;
            assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{operations}");
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["scimType"], scim_type, "{operations}: {body}");
            assert_eq!(body["schemas"], json!([ERROR_SCHEMA]));
        }
        // The media type and detail of one of them, the rest share the mapping.
        assert_scim_error(app.patch_user(id, json!([{"op": "remove"}])).await, 400, Some("noTarget")).await;
        // A body whose schemas is not PatchOp.
        let wrong = json!({"schemas": [USER_SCHEMA], "Operations": [{"op": "replace", "path": "displayName", "value": "X"}]});
        let response = app.request(Method::PATCH, &format!("/Users/{id}"), Some(&wrong)).await;
        assert_scim_error(response, 400, Some("invalidSyntax")).await;
        assert_unchanged(&app, &user).await;
    }

    async fn a_failing_patch_changes_nothing(app) {
        let user = app.create_user("atomic@example.com").await;
        let id = user["id"].as_str().unwrap();
        let cases = [
            (json!([
                {"op": "replace", "path": "displayName", "value": "Changed"},
                {"op": "replace", "path": "nosuch", "value": "X"}
            ]), "invalidPath"),
            (json!([
                {"op": "replace", "value": {"active": false, "displayName": "Changed"}},
                {"op": "remove", "path": "userName"}
            ]), "mutability"),
            (json!([
                {"op": "add", "path": "emails", "value": [{"value": "second@example.com", "type": "home"}]},
                {"op": "replace", "path": "active", "value": "maybe"}
            ]), "invalidValue"),
        ];
        for (operations, scim_type) in cases {
            let response = app.patch_user(id, operations.clone()).await;
            assert_scim_error(response, 400, Some(scim_type)).await;
            assert_unchanged(&app, &user).await;
        }
        assert_eq!(user["meta"]["version"], "W/\"1\"");
        assert_eq!(user["active"], true);
    }

    async fn bad_filters_are_invalid_filter(app) {
        app.create_user("filter@example.com").await;
        for filter in [
            "userName eq",
            "userName",
            "userName eq \"unterminated",
            "userName zz \"a\"",
            "nosuch eq \"a\"",
            "name.nosuch eq \"a\"",
            "active gt true",
            "active lt false",
            "emails[type eq \"work\"",
            "(userName eq \"a\"",
            "userName eq \"a\")",
            "userName eq \"a\" and",
            "password eq \"x\"",
        ] {
            let response = list_filtered(&app, filter).await;
            assert_scim_error(response, 400, Some("invalidFilter")).await;
        }
    }

    async fn a_500_deep_filter_is_refused_and_the_server_lives_on(app) {
        app.create_user("deep@example.com").await;
        let deep = format!("{}userName eq \"deep@example.com\"{}", "(".repeat(500), ")".repeat(500));
        assert_scim_error(list_filtered(&app, &deep).await, 400, Some("invalidFilter")).await;
        let deep_not = format!("{}userName eq \"x\"{}", "not (".repeat(500), ")".repeat(500));
        assert_scim_error(list_filtered(&app, &deep_not).await, 400, Some("invalidFilter")).await;
        let many_ands = vec!["userName eq \"x\""; 1000].join(" and ");
        assert_scim_error(list_filtered(&app, &many_ands).await, 400, Some("invalidFilter")).await;
        // Still serving, and a shallow grouping works.
        let ok = list_filtered(&app, "((userName eq \"deep@example.com\"))").await;
        assert_eq!(ok.status(), StatusCode::OK);
        assert_eq!(ok.json::<Value>().await.unwrap()["totalResults"], 1);
    }

    async fn bad_query_parameters_are_invalid_value(app) {
        for query in [
            "count=abc",
            "startIndex=abc",
            "count=1.5",
            "startIndex=1e3",
            "count=1&count=2",
            "excludedAttributes=name..givenName",
        ] {
            let response = app.request(Method::GET, &format!("/Users?{query}"), None).await;
            assert_scim_error(response, 400, Some("invalidValue")).await;
        }
        // A bracket opens a value filter (docs/scim.md): malformed, it is a bad filter.
        let response = app.request(Method::GET, "/Users?attributes=emails%5B", None).await;
        assert_scim_error(response, 400, Some("invalidFilter")).await;
    }

    async fn put_that_changes_nothing_writes_nothing(app) {
        let created = app.create_user("put@example.com").await;
        let id = created["id"].as_str().unwrap();
        // What an OIN app does: GET, then PUT what it read.
        let read: Value = app.get_user(id).await.json().await.unwrap();
        let response = app.request(Method::PUT, &format!("/Users/{id}"), Some(&read)).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["etag"], "W/\"1\"");
        let put: Value = response.json().await.unwrap();
        assert_eq!(put["meta"]["version"], "W/\"1\"");
        assert_eq!(put["meta"]["lastModified"], read["meta"]["lastModified"]);
        assert_unchanged(&app, &read).await;
    }

    async fn put_ignores_a_different_id_in_the_body(app) {
        let created = app.create_user("put-id@example.com").await;
        let id = created["id"].as_str().unwrap();
        let mut body: Value = app.get_user(id).await.json().await.unwrap();
        body["id"] = json!("01a21f1f-6d2e-7217-b3a5-f6aac407ee0a");
        body["meta"]["version"] = json!("W/\"42\"");
        let response = app.request(Method::PUT, &format!("/Users/{id}"), Some(&body)).await;
        assert_eq!(response.status(), StatusCode::OK);
        let put: Value = response.json().await.unwrap();
        assert_eq!(put["id"], id);
        assert_eq!(put["meta"]["version"], "W/\"1\"", "readOnly input changes nothing");
        assert_scim_error(app.get_user("01a21f1f-6d2e-7217-b3a5-f6aac407ee0a").await, 404, None).await;
        assert_unchanged(&app, &created).await;
    }

    async fn put_without_user_name_is_invalid_value(app) {
        let created = app.create_user("put-missing@example.com").await;
        let id = created["id"].as_str().unwrap();
        let mut body = okta_user("put-missing@example.com");
        body.as_object_mut().unwrap().remove("userName");
        let response = app.request(Method::PUT, &format!("/Users/{id}"), Some(&body)).await;
        let error = assert_scim_error(response, 400, Some("invalidValue")).await;
        assert!(error["detail"].as_str().unwrap().contains("userName"), "{error}");
        let mut body = okta_user("put-missing@example.com");
        body["userName"] = json!(["put-missing@example.com"]);
        let response = app.request(Method::PUT, &format!("/Users/{id}"), Some(&body)).await;
        assert_scim_error(response, 400, Some("invalidValue")).await;
        assert_unchanged(&app, &created).await;
    }
}
