//! `/Users` end to end, as Okta and Entra ID drive it.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

both_backends! {
    async fn create_returns_the_user_with_location_and_etag(app) {
        let response = app.post_user(&okta_user("ada@example.com")).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let location = response.headers()["location"].to_str().unwrap().to_owned();
        let etag = response.headers()["etag"].to_str().unwrap().to_owned();
        let user: Value = response.json().await.unwrap();
        let id = user["id"].as_str().unwrap();
        assert_eq!(location, app.url(&format!("/Users/{id}")));
        assert_eq!(etag, "W/\"1\"");
        assert_eq!(user["meta"]["version"], etag);
        assert_eq!(user["meta"]["location"], location);
        assert_eq!(user["meta"]["resourceType"], "User");
        assert_eq!(user["userName"], "ada@example.com");
        assert_eq!(user["active"], true);
        assert_eq!(user["name"]["givenName"], "Ada");
        assert_eq!(user["emails"][0]["value"], "ada@example.com");
        assert!(user.get("password").is_none(), "password is never returned");
    }

    async fn a_user_created_without_active_is_active(app) {
        let user = app
            .post_user(&json!({"schemas": [USER_SCHEMA], "userName": "plain"}))
            .await
            .json::<Value>()
            .await
            .unwrap();
        assert_eq!(user["active"], true);
    }

    async fn the_whole_okta_lifecycle(app) {
        // Okta looks the user up first: no match is an empty ListResponse.
        let lookup = app
            .request(Method::GET, "/Users?filter=userName%20eq%20%22grace%40example.com%22&startIndex=1&count=100", None)
            .await;
        assert_eq!(lookup.status(), StatusCode::OK);
        let lookup: Value = lookup.json().await.unwrap();
        assert_eq!(lookup["totalResults"], 0);
        assert_eq!(lookup["Resources"], json!([]));

        let user = app.create_user("grace@example.com").await;
        let id = user["id"].as_str().unwrap().to_owned();

        // Read, and find by userName in another case.
        let read: Value = app.get_user(&id).await.json().await.unwrap();
        assert_eq!(read, user);
        let found: Value = app
            .request(Method::GET, "/Users?filter=userName%20eq%20%22GRACE%40Example.COM%22", None)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(found["totalResults"], 1);
        assert_eq!(found["Resources"][0]["id"], id.as_str());

        // Replace (PUT): omitted attributes are cleared, the version moves on.
        let mut replacement = okta_user("grace@example.com");
        replacement["name"] = json!({"givenName": "Grace", "familyName": "Hopper"});
        replacement.as_object_mut().unwrap().remove("locale");
        let replaced = app.request(Method::PUT, &format!("/Users/{id}"), Some(&replacement)).await;
        assert_eq!(replaced.status(), StatusCode::OK);
        let replaced: Value = replaced.json().await.unwrap();
        assert_eq!(replaced["name"]["familyName"], "Hopper");
        assert!(replaced.get("locale").is_none());
        assert_eq!(replaced["meta"]["version"], "W/\"2\"");

        // Deactivate the way Okta does: a path-less replace.
        let deactivated = app
            .patch_user(&id, json!([{"op": "replace", "value": {"active": false}}]))
            .await;
        assert_eq!(deactivated.status(), StatusCode::OK);
        let deactivated: Value = deactivated.json().await.unwrap();
        assert_eq!(deactivated["active"], false);
        // Deactivated users stay readable (Okta and Entra require it).
        let read: Value = app.get_user(&id).await.json().await.unwrap();
        assert_eq!(read["active"], false);

        // Reactivate.
        let reactivated: Value = app
            .patch_user(&id, json!([{"op": "replace", "value": {"active": true}}]))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(reactivated["active"], true);

        // Delete: 204, then 404 and gone from listings.
        let deleted = app.request(Method::DELETE, &format!("/Users/{id}"), None).await;
        assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
        assert_scim_error(app.get_user(&id).await, 404, None).await;
        let after: Value = app.request(Method::GET, "/Users", None).await.json().await.unwrap();
        assert_eq!(after["totalResults"], 0);
    }

    async fn every_deactivation_dialect_works(app) {
        let id = app.create_user("dialects@example.com").await["id"].as_str().unwrap().to_owned();
        let forms = [
            (json!([{"op": "replace", "path": "active", "value": false}]), false),
            (json!([{"op": "replace", "path": "active", "value": true}]), true),
            (json!([{"op": "Replace", "path": "active", "value": "False"}]), false),
            (json!([{"op": "Replace", "path": "active", "value": "True"}]), true),
            (json!([{"op": "replace", "value": {"active": false}}]), false),
            (json!([{"op": "Replace", "value": {"Active": "True"}}]), true),
        ];
        for (operations, expected) in forms {
            let response = app.patch_user(&id, operations.clone()).await;
            assert_eq!(response.status(), StatusCode::OK, "{operations}");
            let user: Value = response.json().await.unwrap();
            assert_eq!(user["active"], expected, "{operations}");
        }
    }

    async fn same_state_changes_nothing(app) {
        let id = app.create_user("idem@example.com").await["id"].as_str().unwrap().to_owned();
        let user: Value = app
            .patch_user(&id, json!([{"op": "replace", "value": {"active": true}}]))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(user["meta"]["version"], "W/\"1\"", "no write for the state the user has");
    }

    async fn list_pages_and_counts(app) {
        for i in 0..5 {
            app.create_user(&format!("user{i}@example.com")).await;
        }
        let page: Value = app
            .request(Method::GET, "/Users?startIndex=2&count=2", None)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(page["totalResults"], 5);
        assert_eq!(page["itemsPerPage"], 2);
        assert_eq!(page["startIndex"], 2);
        assert_eq!(page["Resources"].as_array().unwrap().len(), 2);
        let none: Value = app.request(Method::GET, "/Users?count=0", None).await.json().await.unwrap();
        assert_eq!(none["totalResults"], 5);
        assert_eq!(none["Resources"], json!([]));
        // Out-of-range values are clamped, not refused (RFC 7644 §3.4.2.4).
        let clamped = app.request(Method::GET, "/Users?startIndex=-3&count=-1", None).await;
        assert_eq!(clamped.status(), StatusCode::OK);
    }

    async fn lookup_by_external_id_and_id(app) {
        let user = app.create_user("ext@example.com").await;
        let id = user["id"].as_str().unwrap();
        for filter in [
            "externalId%20eq%20%22okta-ext%40example.com%22".to_owned(),
            format!("id%20eq%20%22{id}%22"),
        ] {
            let found: Value = app
                .request(Method::GET, &format!("/Users?filter={filter}"), None)
                .await
                .json()
                .await
                .unwrap();
            assert_eq!(found["totalResults"], 1, "{filter}");
            assert_eq!(found["Resources"][0]["id"], id);
        }
        // externalId is caseExact.
        let missed: Value = app
            .request(Method::GET, "/Users?filter=externalId%20eq%20%22OKTA-EXT%40example.com%22", None)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(missed["totalResults"], 0);
    }

    async fn enterprise_extension_is_stored_and_returned(app) {
        let mut body = okta_user("ent@example.com");
        body["schemas"] = json!([USER_SCHEMA, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]);
        body["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"] =
            json!({"employeeNumber": "701984", "department": "Tour Operations", "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d"}});
        let user: Value = app.post_user(&body).await.json().await.unwrap();
        let id = user["id"].as_str().unwrap();
        let read: Value = app.get_user(id).await.json().await.unwrap();
        let ext = &read["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"];
        assert_eq!(ext["employeeNumber"], "701984");
        assert_eq!(ext["manager"]["value"], "26118915-6090-4610-87e4-49d8ca9f808d");
        assert!(read["schemas"].as_array().unwrap().iter().any(|s| s == "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"));
    }

    async fn password_is_hashed_with_argon2_and_never_returned(app) {
        let user = app.create_user("pw@example.com").await;
        let id = user["id"].as_str().unwrap().to_owned();
        let store = app.store.clone();
        let hash: Option<String> = tokio::task::spawn_blocking(move || {
            use diesel::prelude::*;
            use roster::store::schema::users;
            let mut conn = store.conn().unwrap();
            users::table.filter(users::id.eq(id)).select(users::password_hash).first(&mut conn).unwrap()
        })
        .await
        .unwrap();
        let hash = hash.expect("a hash is stored");
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(!hash.contains("correct horse"));
    }

    async fn if_match_and_if_none_match(app) {
        let user = app.create_user("etag@example.com").await;
        let id = user["id"].as_str().unwrap();
        let stale = app
            .client
            .patch(app.url(&format!("/Users/{id}")))
            .bearer_auth(&app.token)
            .header("If-Match", "W/\"7\"")
            .header("Content-Type", "application/scim+json")
            .body(json!({"schemas": [PATCH_SCHEMA], "Operations": [{"op": "replace", "path": "displayName", "value": "X"}]}).to_string())
            .send()
            .await
            .unwrap();
        assert_scim_error(stale, 412, None).await;
        let fresh = app
            .client
            .get(app.url(&format!("/Users/{id}")))
            .bearer_auth(&app.token)
            .header("If-None-Match", "W/\"1\"")
            .send()
            .await
            .unwrap();
        assert_eq!(fresh.status(), StatusCode::NOT_MODIFIED);
    }

    async fn user_name_is_unique_ignoring_case_for_all_of_unicode(app) {
        app.create_user("Übel@example.com").await;
        assert_scim_error(app.post_user(&okta_user("übel@EXAMPLE.com")).await, 409, Some("uniqueness")).await;
        // A rename onto a taken name is refused the same way.
        let other = app.create_user("other@example.com").await;
        let id = other["id"].as_str().unwrap();
        let clash = app
            .patch_user(id, json!([{"op": "replace", "path": "userName", "value": "ÜBEL@example.com"}]))
            .await;
        assert_scim_error(clash, 409, Some("uniqueness")).await;
    }
}

both_backends! {
    async fn every_change_is_audited_once(app) {
        let id = app.create_user("audited@example.com").await["id"].as_str().unwrap().to_owned();
        let deactivate = json!([{"op": "replace", "value": {"active": false}}]);
        let reactivate = json!([{"op": "Replace", "path": "active", "value": "True"}]);
        for ops in [&deactivate, &deactivate, &reactivate, &reactivate] {
            assert_eq!(app.patch_user(&id, ops.clone()).await.status(), StatusCode::OK);
        }
        let rename = json!([{"op": "replace", "path": "displayName", "value": "Renamed"}]);
        assert_eq!(app.patch_user(&id, rename).await.status(), StatusCode::OK);
        assert_eq!(
            app.request(Method::DELETE, &format!("/Users/{id}"), None).await.status(),
            StatusCode::NO_CONTENT
        );

        let events = app.audit_events(&id).await;
        let seen: Vec<(&str, &str, Value)> = events
            .iter()
            .map(|e| (e.action.as_str(), e.channel.as_str(), e.attributes.0.clone()))
            .collect();
        assert_eq!(
            seen,
            vec![
                ("user.create", "scim", json!(["schemas", "externalId", "userName", "name", "displayName", "locale", "active", "emails", "password"])),
                ("user.deactivate", "scim", json!(["active"])),
                ("user.reactivate", "scim", json!(["active"])),
                ("user.update", "scim", json!(["displayName"])),
                ("user.delete", "scim", json!([])),
            ]
        );
        // The actor is the token (no `sub`): its jti.
        assert!(events.iter().all(|e| !e.actor.is_empty()));
    }
}
