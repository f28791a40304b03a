//! PATCH end to end (RFC 7644 §3.5.2) on both backends: concurrent PATCHes never lose an
//! update, the RFC's operation forms work over HTTP, and PATCH refuses what PUT refuses.

use futures::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

both_backends! {
    async fn twenty_concurrent_email_adds_all_land(app) {
        let user = app.create_user("busy@example.com").await;
        let id = user["id"].as_str().unwrap().to_owned();
        let responses = join_all((0..20).map(|i| {
            let (app, id) = (&app, id.clone());
            async move {
                app.patch_user(&id, json!([{
                    "op": "add",
                    "path": "emails",
                    "value": [{"value": format!("busy{i}@example.com"), "type": "other"}]
                }]))
                .await
            }
        }))
        .await;
        for response in responses {
            assert_eq!(response.status(), StatusCode::OK, "{}", response.text().await.unwrap());
        }
        let user: Value = app.get_user(&id).await.json().await.unwrap();
        let emails: Vec<&str> = user["emails"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["value"].as_str().unwrap())
            .collect();
        for i in 0..20 {
            let email = format!("busy{i}@example.com");
            assert!(emails.contains(&email.as_str()), "{email} lost: {emails:?}");
        }
        assert_eq!(emails.len(), 21);
        // Every PATCH made one version; the mirrored child table followed.
        assert_eq!(user["meta"]["version"], "W/\"21\"");
        let found: Value = app
            .client
            .get(app.url("/Users"))
            .bearer_auth(&app.token)
            .query(&[("filter", "emails.value eq \"busy13@example.com\"")])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(found["totalResults"], 1);
    }

    async fn rfc_7644_patch_forms_work_over_http(app) {
        let user = app.create_user("forms@example.com").await;
        let id = user["id"].as_str().unwrap().to_owned();
        let patch = |ops: Value| {
            let (app, id) = (&app, id.clone());
            async move {
                let response = app.patch_user(&id, ops).await;
                let status = response.status();
                let body: Value = response.json().await.unwrap();
                assert_eq!(status, StatusCode::OK, "{body}");
                body
            }
        };

        // add, no path: singular values replaced, multi-valued appended, complex merged.
        let u = patch(json!([{"op": "add", "value": {
            "nickName": "Babs",
            "emails": [{"value": "babs@jensen.org", "type": "home"}],
            "name": {"middleName": "J"}
        }}])).await;
        assert_eq!(u["nickName"], "Babs");
        assert_eq!(u["emails"].as_array().unwrap().len(), 2);
        assert_eq!(u["name"], json!({"givenName": "Ada", "familyName": "Lovelace", "middleName": "J"}));

        // add with a simple and a sub-attribute path.
        let u = patch(json!([
            {"op": "add", "path": "title", "value": "Countess"},
            {"op": "add", "path": "name.honorificPrefix", "value": "Lady"}
        ])).await;
        assert_eq!((u["title"].clone(), u["name"]["honorificPrefix"].clone()), (json!("Countess"), json!("Lady")));

        // replace through a value filter, Entra style, and with a URN-qualified path.
        let u = patch(json!([
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "ada@work.example.com"},
            {"op": "replace", "path": format!("{ENTERPRISE}:employeeNumber"), "value": "42"}
        ])).await;
        let work: Vec<&Value> = u["emails"].as_array().unwrap().iter().filter(|e| e["type"] == "work").collect();
        assert_eq!(work[0]["value"], "ada@work.example.com");
        assert_eq!(u[ENTERPRISE]["employeeNumber"], "42");

        // Entra's path-less replace with dotted and URN-prefixed keys.
        let u = patch(json!([{"op": "replace", "value": {
            "name.givenName": "Augusta",
            format!("{ENTERPRISE}:department"): "Analytics"
        }}])).await;
        assert_eq!(u["name"]["givenName"], "Augusta");
        assert_eq!(u[ENTERPRISE]["department"], "Analytics");

        // Add through a value filter that matches nothing creates the value.
        let u = patch(json!([{"op": "Add", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "555-0100"}])).await;
        assert_eq!(u["phoneNumbers"], json!([{"type": "mobile", "value": "555-0100"}]));

        // remove by value filter, then a whole attribute.
        let u = patch(json!([{"op": "remove", "path": "emails[type eq \"home\"]"}])).await;
        assert!(u["emails"].as_array().unwrap().iter().all(|e| e["type"] != "home"));
        let u = patch(json!([{"op": "remove", "path": "nickName"}])).await;
        assert!(u.get("nickName").is_none());

        // Okta's deactivation: path-less replace of active; Entra's "False" string.
        let u = patch(json!([{"op": "replace", "value": {"active": false}}])).await;
        assert_eq!(u["active"], false);
        let u = patch(json!([{"op": "Replace", "path": "active", "value": "True"}])).await;
        assert_eq!(u["active"], true);

        // Atomic: a failing second operation leaves the first one unapplied.
        let response = app.patch_user(&id, json!([
            {"op": "replace", "path": "title", "value": "Never stored"},
            {"op": "replace", "path": "meta.created", "value": "2020-01-01T00:00:00Z"}
        ])).await;
        assert_scim_error(response, 400, Some("mutability")).await;
        let response = app.patch_user(&id, json!([{"op": "remove"}])).await;
        assert_scim_error(response, 400, Some("noTarget")).await;
        let response = app.patch_user(&id, json!([{"op": "add", "path": "nosuch[", "value": 1}])).await;
        assert_scim_error(response, 400, Some("invalidPath")).await;
        let response = app.patch_user(&id, json!([{"op": "replace", "path": "id", "value": "x"}])).await;
        assert_scim_error(response, 400, Some("mutability")).await;
        let u: Value = app.get_user(&id).await.json().await.unwrap();
        assert_eq!(u["title"], "Countess");

        // The child tables follow PATCHes: the new work email is found by filter.
        let found: Value = app
            .client
            .get(app.url("/Users"))
            .bearer_auth(&app.token)
            .query(&[("filter", "emails[type eq \"work\"].value eq \"ADA@work.example.com\"")])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(found["totalResults"], 1);
    }

    async fn patch_refuses_what_put_refuses(app) {
        let user = app.create_user("strict@example.com").await;
        let id = user["id"].as_str().unwrap().to_owned();
        let cases = [
            // A blank required userName.
            (json!({"op": "replace", "path": "userName", "value": ""}), "userName", json!("")),
            // A wrong type.
            (json!({"op": "replace", "path": "active", "value": "maybe"}), "active", json!("maybe")),
            (json!({"op": "replace", "path": "title", "value": 12}), "title", json!(12)),
        ];
        for (op, attr, value) in cases {
            let patched = app.patch_user(&id, json!([op])).await;
            let patch_status = patched.status();
            let patch_body: Value = patched.json().await.unwrap();
            let mut body = okta_user("strict@example.com");
            body[attr] = value;
            let put = app.request(Method::PUT, &format!("/Users/{id}"), Some(&body)).await;
            let put_status = put.status();
            let put_body: Value = put.json().await.unwrap();
            assert_eq!(patch_status, StatusCode::BAD_REQUEST, "PATCH {op}: {patch_body}");
            assert_eq!(put_status, StatusCode::BAD_REQUEST, "PUT {attr}: {put_body}");
            assert_eq!(patch_body["scimType"], put_body["scimType"], "{op}: {patch_body} vs {put_body}");
        }
        let u: Value = app.get_user(&id).await.json().await.unwrap();
        assert_eq!(u["meta"]["version"], "W/\"1\"", "nothing was stored");
    }
}
