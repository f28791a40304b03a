//! One tenant never sees another.

use reqwest::Method;
use roster::auth::Role;
use serde_json::Value;

use crate::helpers::*;

both_backends! {
    async fn another_orgs_user_is_not_found(app) {
        let user = app.create_user("tenant-a@example.com").await;
        let id = user["id"].as_str().unwrap();
        app.create_org("org-b");
        let other = app.mint(Role::Provisioner, "org-b", None);

        let body = assert_scim_error(app.request_as(&other, Method::GET, &format!("/Users/{id}"), None).await, 404, None).await;
        // Exactly as an id that never existed.
        let never = assert_scim_error(
            app.request_as(&other, Method::GET, "/Users/01a21f1f-6d2e-7217-b3a5-f6aac407ee0a", None).await,
            404,
            None,
        )
        .await;
        assert_eq!(body["detail"].as_str().unwrap().replace(id, "X"), never["detail"].as_str().unwrap().replace("01a21f1f-6d2e-7217-b3a5-f6aac407ee0a", "X"));

        for method in [Method::PUT, Method::PATCH, Method::DELETE] {
            let body = serde_json::json!({"schemas": [PATCH_SCHEMA, USER_SCHEMA], "userName": "x", "Operations": [{"op": "replace", "value": {"active": false}}]});
            let response = app.request_as(&other, method.clone(), &format!("/Users/{id}"), Some(&body)).await;
            assert_scim_error(response, 404, None).await;
        }
        let list: Value = app.request_as(&other, Method::GET, "/Users", None).await.json().await.unwrap();
        assert_eq!(list["totalResults"], 0);

        // The same userName may exist in both orgs.
        let created = app.request_as(&other, Method::POST, "/Users", Some(&okta_user("tenant-a@example.com"))).await;
        assert_eq!(created.status(), reqwest::StatusCode::CREATED);
        // And org A's user is untouched.
        let still: Value = app.get_user(id).await.json().await.unwrap();
        assert_eq!(still["active"], true);
    }
}
