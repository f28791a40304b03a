//! Races: what connectors do at scale must still give one answer per request, never a 500.

use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;

both_backends! {
    async fn racing_creates_of_one_user_name_give_one_201_and_409s(app) {
        let names: Vec<String> = (0..16)
            .map(|i| {
                let base = "racer@example.com";
                // Mixed case: every request names the same user.
                base.chars()
                    .enumerate()
                    .map(|(j, c)| if (i >> (j % 4)) & 1 == 1 { c.to_ascii_uppercase() } else { c })
                    .collect()
            })
            .collect();
        let responses = join_all(names.iter().map(|n| {
            let mut body = okta_user(n);
            body["externalId"] = Value::Null;
            body.as_object_mut().unwrap().remove("password");
            let app = &app;
            async move { app.post_user(&body).await }
        }))
        .await;
        let mut created = 0;
        let mut conflicts = 0;
        for response in responses {
            match response.status() {
                StatusCode::CREATED => created += 1,
                StatusCode::CONFLICT => {
                    assert_scim_error(response, 409, Some("uniqueness")).await;
                    conflicts += 1;
                }
                other => panic!("unexpected {other}: {}", response.text().await.unwrap()),
            }
        }
        assert_eq!((created, conflicts), (1, 15));
    }
}

// Writes that arrive together share a transaction on SQLite (group commit); each must still
// succeed or fail alone. Creates, creates that clash on `userName`, renames that clash inside
// the UPDATE and deactivations all race; every outcome is the one the request would have had
// alone, and nothing of a failed request is left behind.
both_backends! {
    async fn racing_writes_succeed_or_fail_alone(app) {
        app.create_user("taken@example.com").await;
        let target = app.create_user("target@example.com").await["id"].as_str().unwrap().to_owned();
        let quick = |name: String| {
            let mut body = okta_user(&name);
            body.as_object_mut().unwrap().remove("password");
            body
        };
        let app = &app;
        let creates = (0..24).map(|i| {
            let body = quick(format!("new{i}@example.com"));
            async move { ("create", app.post_user(&body).await) }
        });
        let clashing_creates = (0..8).map(|i| {
            let mut body = quick("TAKEN@example.com".to_owned());
            body["externalId"] = Value::String(format!("clash-{i}"));
            async move { ("clashing create", app.post_user(&body).await) }
        });
        let target_ref = &target;
        let clashing_renames = (0..8).map(|_| async move {
            let ops = serde_json::json!([{"op": "replace", "path": "userName", "value": "taken@example.com"}]);
            ("clashing rename", app.patch_user(target_ref, ops).await)
        });
        let lifecycle = (0..8).map(|i| async move {
            let ops = serde_json::json!([{"op": "replace", "value": {"active": i % 2 == 1}}]);
            ("lifecycle", app.patch_user(target_ref, ops).await)
        });
        // A group with a member that does not exist is inserted, then refused while its
        // members are checked: only a savepoint of its own takes the insert back.
        let groups = (0..16).map(|i| async move {
            let member = if i % 2 == 0 { target_ref.clone() } else { "0190f3a0-0000-7000-8000-000000000000".to_owned() };
            let body = serde_json::json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": format!("group {i}"),
                "members": [{"value": member}],
            });
            let kind = if i % 2 == 0 { "group" } else { "group with a stranger" };
            (kind, app.request(reqwest::Method::POST, "/Groups", Some(&body)).await)
        });
        type Racer<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = (&'a str, reqwest::Response)> + 'a>>;
        let mut all: Vec<Racer<'_>> = Vec::new();
        all.extend(creates.map(|f| Box::pin(f) as _));
        all.extend(clashing_creates.map(|f| Box::pin(f) as _));
        all.extend(clashing_renames.map(|f| Box::pin(f) as _));
        all.extend(lifecycle.map(|f| Box::pin(f) as _));
        all.extend(groups.map(|f| Box::pin(f) as _));
        let mut outcomes = std::collections::BTreeMap::<(&str, u16), usize>::new();
        for (kind, response) in join_all(all).await {
            let status = response.status().as_u16();
            if status == 409 {
                assert_scim_error(response, 409, Some("uniqueness")).await;
            }
            *outcomes.entry((kind, status)).or_default() += 1;
        }
        let expected: std::collections::BTreeMap<(&str, u16), usize> = [
            (("create", 201), 24),
            (("clashing create", 409), 8),
            (("clashing rename", 409), 8),
            (("lifecycle", 200), 8),
            (("group", 201), 8),
            (("group with a stranger", 400), 8),
        ]
        .into_iter()
        .collect();
        assert_eq!(outcomes, expected);

        // Every create is there once; the clashing ones and the renames left nothing.
        let list: Value = app.request(reqwest::Method::GET, "/Users?count=0", None).await.json().await.unwrap();
        assert_eq!(list["totalResults"], 26);
        for i in 0..24 {
            let filter = format!("/Users?filter=userName%20eq%20%22new{i}@example.com%22");
            let found: Value = app.request(reqwest::Method::GET, &filter, None).await.json().await.unwrap();
            assert_eq!(found["totalResults"], 1, "new{i}");
        }
        let user: Value = app.get_user(&target).await.json().await.unwrap();
        assert_eq!(user["userName"], "target@example.com");
        let groups: Value = app.request(reqwest::Method::GET, "/Groups", None).await.json().await.unwrap();
        assert_eq!(groups["totalResults"], 8, "{groups:#}");
        assert!(groups["Resources"].as_array().unwrap().iter().all(|g| {
            let n: usize = g["displayName"].as_str().unwrap()["group ".len()..].parse().unwrap();
            n.is_multiple_of(2)
        }));

        // The audit trail of the target holds its creation and lifecycle changes only.
        let events = app.audit_events(&target).await;
        assert_eq!(events[0].action, "user.create");
        assert!(
            events[1..].iter().all(|e| e.action == "user.deactivate" || e.action == "user.reactivate"),
            "{:?}",
            events.iter().map(|e| e.action.as_str()).collect::<Vec<_>>()
        );
    }
}
