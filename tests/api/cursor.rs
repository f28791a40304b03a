//! Cursor-based pagination of `/Users` (RFC 9865).

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;

async fn page(app: &TestApp, query: &str) -> Value {
    let response = app
        .request(Method::GET, &format!("/Users?{query}"), None)
        .await;
    assert_eq!(response.status(), reqwest::StatusCode::OK, "{query}");
    response.json().await.unwrap()
}

both_backends! {
    async fn cursors_walk_every_user_once_in_id_order(app) {
        let mut created = Vec::new();
        for i in 0..7 {
            created.push(app.create_user(&format!("cursor{i}@example.com")).await["id"].as_str().unwrap().to_owned());
        }
        created.sort();
        let mut seen = Vec::new();
        let mut next = String::new();
        let mut pages = 0;
        loop {
            let body = page(&app, &format!("count=3&cursor={next}")).await;
            pages += 1;
            assert!(body.get("totalResults").is_none(), "no count per cursor page: {body}");
            for user in body["Resources"].as_array().unwrap() {
                seen.push(user["id"].as_str().unwrap().to_owned());
            }
            assert_eq!(body["itemsPerPage"], body["Resources"].as_array().unwrap().len());
            match body["nextCursor"].as_str() {
                Some(c) => next = c.to_owned(),
                None => break,
            }
        }
        assert_eq!(pages, 3);
        assert_eq!(seen, created, "every user once, in id order");

        // A filter is part of the query the cursor belongs to.
        let filtered = page(&app, "count=1&cursor=&filter=userName%20sw%20%22cursor1%22").await;
        assert_eq!(filtered["Resources"].as_array().unwrap().len(), 1);
        assert!(filtered.get("nextCursor").is_none());
        let all = page(&app, "count=2&cursor=").await;
        let cursor = all["nextCursor"].as_str().unwrap().to_owned();
        let elsewhere = app
            .request(Method::GET, &format!("/Users?count=2&cursor={cursor}&filter=userName%20pr"), None)
            .await;
        assert_scim_error(elsewhere, 400, Some("invalidCursor")).await;

        // SearchRequest bodies page the same way.
        let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "count": 2, "cursor": cursor});
        let searched: Value = app.request(Method::POST, "/Users/.search", Some(&body)).await.json().await.unwrap();
        let ids: Vec<&str> = searched["Resources"].as_array().unwrap().iter().map(|u| u["id"].as_str().unwrap()).collect();
        assert_eq!(ids, vec![created[2].as_str(), created[3].as_str()]);
    }

    async fn bad_cursors_are_refused(app) {
        app.create_user("one@example.com").await;
        app.create_user("two@example.com").await;
        let first = page(&app, "count=1&cursor=").await;
        let cursor = first["nextCursor"].as_str().unwrap().to_owned();
        let (payload, tag) = cursor.split_once('.').unwrap();
        let tampered = format!("{payload}A.{tag}");
        for bad in [tampered.as_str(), "not-a-cursor", "x.y"] {
            let response = app.request(Method::GET, &format!("/Users?count=1&cursor={bad}"), None).await;
            assert_scim_error(response, 400, Some("invalidCursor")).await;
        }
        let both = app.request(Method::GET, &format!("/Users?startIndex=2&cursor={cursor}"), None).await;
        assert_scim_error(both, 400, Some("invalidValue")).await;
        let sorted = app.request(Method::GET, "/Users?cursor=&sortBy=userName", None).await;
        assert_scim_error(sorted, 400, Some("invalidValue")).await;
        let zero = app.request(Method::GET, "/Users?cursor=&count=0", None).await;
        assert_scim_error(zero, 400, Some("invalidCount")).await;
        // Another organization cannot use this organization's cursor.
        app.create_org("other");
        let other = app.mint(roster::auth::Role::Provisioner, "other", None);
        let response = app.request_as(&other, Method::GET, &format!("/Users?count=1&cursor={cursor}"), None).await;
        assert_scim_error(response, 400, Some("invalidCursor")).await;
        // The configuration says cursors work.
        let config: Value = app.request(Method::GET, "/ServiceProviderConfig", None).await.json().await.unwrap();
        assert_eq!(config["pagination"]["cursor"], true);
        assert_eq!(config["pagination"]["index"], true);
    }
}
