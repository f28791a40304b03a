//! Lifecycle depth (issue 19): an admin's hold that no IdP can lift; its refusals, audit and
//! events; release.

use reqwest::{Method, StatusCode};
use roster::auth::Role;
use serde_json::{Value, json};

use crate::helpers::*;

const BULK_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";

/// Creates a user and puts it on hold through the admin API; returns its id.
async fn held_user(app: &TestApp, user_name: &str, reason: &str) -> String {
    let id = app.create_user(user_name).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, user) = admin(
        app,
        Method::POST,
        &format!("/users/{id}/deactivate"),
        Some(json!({"reason": reason, "hold": true})),
    )
    .await;
    assert_eq!(status, 200, "{user}");
    assert_eq!(user["active"], false, "{user}");
    assert_eq!(user["held"], true, "{user}");
    assert_eq!(user["holdReason"], reason, "{user}");
    assert!(user["heldAt"].is_string(), "{user}");
    assert!(user["heldBy"].is_string(), "{user}");
    id
}

fn okta_activate() -> Value {
    json!([{"op": "replace", "value": {"active": true}}])
}

/// The actions of the user's audit events, oldest first.
async fn actions(app: &TestApp, id: &str) -> Vec<String> {
    app.audit_events(id)
        .await
        .into_iter()
        .map(|e| e.action)
        .collect()
}

both_backends! {
    async fn a_hold_refuses_okta_reactivation_until_released(app) {
        let id = held_user(&app, "leaver@example.com", "left the company").await;
        let token = app.mint(Role::Provisioner, "default", Some(&id));
        assert_scim_error(app.request_as(&token, Method::GET, "/Me", None).await, 401, None).await;

        // Okta's path-less replace, as its next sync sends it.
        let refused = assert_scim_error(
            app.patch_user(&id, okta_activate()).await,
            400,
            Some("mutability"),
        )
        .await;
        let detail = refused["detail"].as_str().unwrap();
        assert!(detail.contains("hold"), "{detail}");
        assert!(detail.contains("\"left the company\""), "the reason: {detail}");
        assert!(detail.contains(&format!("/admin/v1/users/{id}/release")), "how to lift it: {detail}");
        let held: Value = app.get_user(&id).await.json().await.unwrap();
        assert_eq!(held["active"], false, "{held}");
        // Still refused access.
        assert_scim_error(app.request_as(&token, Method::GET, "/Me", None).await, 401, None).await;

        // The refusal is in the audit log, though the write was rolled back.
        let events = app.audit_events(&id).await;
        let refusal = events
            .iter()
            .find(|e| e.action == "user.reactivate_refused")
            .expect("the refusal is audited");
        assert_eq!(refusal.channel, "scim");
        let detail = refusal.detail.as_ref().unwrap().0.clone();
        assert_eq!(detail["hold"]["holdReason"], "left the company", "{detail}");
        assert_eq!(
            events.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
            ["user.create", "user.deactivate", "user.hold", "user.reactivate_refused"]
        );

        // The admin list finds it by held=true, and not by held=false.
        let (status, page) = admin(&app, Method::GET, "/users?held=true", None).await;
        assert_eq!(status, 200);
        let listed: Vec<&str> = page["users"].as_array().unwrap().iter().map(|u| u["id"].as_str().unwrap()).collect();
        assert_eq!(listed, [id.as_str()]);
        let (_, page) = admin(&app, Method::GET, "/users?held=false", None).await;
        assert!(page["users"].as_array().unwrap().is_empty(), "{page}");

        // Release: the user stays deactivated, the same PATCH then reactivates.
        let (status, released) = admin(&app, Method::POST, &format!("/users/{id}/release"), None).await;
        assert_eq!(status, 200, "{released}");
        assert_eq!(released["held"], false);
        assert_eq!(released["active"], false);
        assert!(released["holdReason"].is_null());
        let (status, again) = admin(&app, Method::POST, &format!("/users/{id}/release"), None).await;
        assert_eq!((status, again["version"].clone()), (200, released["version"].clone()), "idempotent");

        let response = app.patch_user(&id, okta_activate()).await;
        assert_eq!(response.status(), StatusCode::OK);
        let user: Value = response.json().await.unwrap();
        assert_eq!(user["active"], true);
        assert_eq!(app.request_as(&token, Method::GET, "/Me", None).await.status(), StatusCode::OK);
        assert_eq!(
            actions(&app, &id).await[4..],
            ["user.release", "user.reactivate"]
        );
    }

    async fn a_hold_refuses_every_dialect_as_a_whole(app) {
        let id = held_user(&app, "compromised@example.com", "credentials leaked").await;
        let before: Value = app.get_user(&id).await.json().await.unwrap();

        // Entra: the string "True", with another change in the same request.
        let entra = json!([
            {"op": "Replace", "path": "displayName", "value": "Renamed"},
            {"op": "Replace", "path": "active", "value": "True"}
        ]);
        assert_scim_error(app.patch_user(&id, entra).await, 400, Some("mutability")).await;
        // A PATCH that removes `active` (unassigned reads as active).
        assert_scim_error(
            app.patch_user(&id, json!([{"op": "remove", "path": "active"}])).await,
            400,
            Some("mutability"),
        )
        .await;
        // PUT.
        let mut put = okta_user("compromised@example.com");
        put["displayName"] = json!("Renamed by PUT");
        put.as_object_mut().unwrap().remove("password");
        assert_scim_error(
            app.request(Method::PUT, &format!("/Users/{id}"), Some(&put)).await,
            400,
            Some("mutability"),
        )
        .await;
        // Bulk: the operation fails with the same error; the others are untouched.
        let bulk = json!({"schemas": [BULK_REQUEST], "Operations": [{
            "method": "PATCH", "path": format!("/Users/{id}"),
            "data": {"schemas": [PATCH_SCHEMA], "Operations": okta_activate()}
        }]});
        let response = app.request(Method::POST, "/Bulk", Some(&bulk)).await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        let result = &body["Operations"][0];
        assert_eq!(result["status"], "400", "{body}");
        assert_eq!(result["response"]["scimType"], "mutability", "{body}");
        assert!(result["response"]["detail"].as_str().unwrap().contains("credentials leaked"), "{body}");

        // Nothing of any of them was applied.
        let after: Value = app.get_user(&id).await.json().await.unwrap();
        assert_eq!(after, before);
        let refusals = actions(&app, &id).await.into_iter().filter(|a| a == "user.reactivate_refused").count();
        assert_eq!(refusals, 4, "each refused request is audited");

        // A change that does not reactivate goes through: the hold guards `active` only.
        let response = app.patch_user(&id, json!([{"op": "replace", "path": "displayName", "value": "Still held"}])).await;
        assert_eq!(response.status(), StatusCode::OK);
        let user: Value = response.json().await.unwrap();
        assert_eq!((user["displayName"].clone(), user["active"].clone()), (json!("Still held"), json!(false)));
    }

    async fn an_admin_activation_lifts_the_hold(app) {
        let id = held_user(&app, "returning@example.com", "on leave").await;
        let (status, user) = admin(&app, Method::POST, &format!("/users/{id}/activate"), None).await;
        assert_eq!(status, 200, "{user}");
        assert_eq!((user["active"].clone(), user["held"].clone()), (json!(true), json!(false)));
        assert_eq!(
            actions(&app, &id).await[3..],
            ["user.release", "user.reactivate"]
        );
        // No hold any more: the IdP decides again (last writer wins).
        assert_eq!(app.patch_user(&id, json!([{"op": "replace", "value": {"active": false}}])).await.status(), StatusCode::OK);
        assert_eq!(app.patch_user(&id, okta_activate()).await.status(), StatusCode::OK);
    }

    async fn hold_is_refused_where_it_makes_no_sense(app) {
        let id = app.create_user("plain@example.com").await["id"].as_str().unwrap().to_owned();
        let (status, body) = admin(&app, Method::POST, "/users/activate", Some(json!({"ids": [id], "hold": true}))).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["error"], "invalid_request", "{body}");
        let (status, body) = admin(&app, Method::POST, &format!("/users/{id}/deactivate"), Some(json!({"hold": "yes"}))).await;
        assert_eq!(status, 400, "{body}");
        let (status, body) = admin(&app, Method::GET, "/users?held=maybe", None).await;
        assert_eq!(status, 400, "{body}");
        // A deactivation without a hold leaves the IdP in charge.
        let (_, user) = admin(&app, Method::POST, &format!("/users/{id}/deactivate"), None).await;
        assert_eq!(user["held"], false);
        assert_eq!(app.patch_user(&id, okta_activate()).await.status(), StatusCode::OK);
    }

    async fn bulk_deactivation_with_a_hold_holds_each(app) {
        let a = app.create_user("a@example.com").await["id"].as_str().unwrap().to_owned();
        let b = app.create_user("b@example.com").await["id"].as_str().unwrap().to_owned();
        // b is already deactivated (by the IdP): the hold still applies to it.
        assert_eq!(app.patch_user(&b, json!([{"op": "replace", "value": {"active": false}}])).await.status(), StatusCode::OK);
        let (status, body) = admin(&app, Method::POST, "/users/deactivate", Some(json!({"ids": [a, b], "hold": true, "reason": "audit"}))).await;
        assert_eq!(status, 200, "{body}");
        let outcomes: Vec<(&str, bool)> = body["results"].as_array().unwrap().iter()
            .map(|r| (r["outcome"].as_str().unwrap(), r["user"]["held"].as_bool().unwrap()))
            .collect();
        assert_eq!(outcomes, [("deactivated", true), ("deactivated", true)], "{body}");
        for id in [&a, &b] {
            assert_scim_error(app.patch_user(id, okta_activate()).await, 400, Some("mutability")).await;
        }
        // Asked again: unchanged, nothing recorded.
        let (_, body) = admin(&app, Method::POST, "/users/deactivate", Some(json!({"ids": [a], "hold": true}))).await;
        assert_eq!(body["results"][0]["outcome"], "unchanged", "{body}");
    }
}

/// The ids of a SCIM list response's resources.
async fn listed_ids(app: &TestApp, path: &str) -> Vec<String> {
    let response = app.request(Method::GET, path, None).await;
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    let body: Value = response.json().await.unwrap();
    body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

both_backends! {
    async fn a_deleted_user_is_gone_everywhere_and_restorable(app) {
        let user = app.create_user("mistake@example.com").await;
        let id = user["id"].as_str().unwrap().to_owned();
        let token = app.mint(Role::Provisioner, "default", Some(&id));
        let group = app
            .request(Method::POST, "/Groups", Some(&json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": "Engineering",
                "members": [{"value": id}]
            })))
            .await;
        assert_eq!(group.status(), StatusCode::CREATED);
        let group_id = group.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
        let before: Value = app.get_user(&id).await.json().await.unwrap();

        let response = app.request(Method::DELETE, &format!("/Users/{id}"), None).await;
        assert_eq!(response.status(), StatusCode::NO_CONTENT);

        // Gone for SCIM: 404, not listed, not matched by a filter, not a member, token refused.
        assert_scim_error(app.get_user(&id).await, 404, None).await;
        assert_scim_error(app.request(Method::DELETE, &format!("/Users/{id}"), None).await, 404, None).await;
        assert!(!listed_ids(&app, "/Users").await.contains(&id));
        assert!(listed_ids(&app, "/Users?filter=userName%20eq%20%22mistake@example.com%22").await.is_empty());
        assert!(listed_ids(&app, "/Users?filter=externalId%20eq%20%22okta-mistake@example.com%22").await.is_empty());
        let group: Value = app.request(Method::GET, &format!("/Groups/{group_id}"), None).await.json().await.unwrap();
        assert!(group.get("members").is_none_or(|m| m.as_array().unwrap().is_empty()), "{group}");
        assert_scim_error(app.request_as(&token, Method::GET, "/Me", None).await, 401, None).await;
        let (_, page) = admin(&app, Method::GET, "/users", None).await;
        assert!(page["users"].as_array().unwrap().is_empty(), "{page}");

        // Listed as deleted, with the groups it lost.
        let (status, page) = admin(&app, Method::GET, "/users?status=deleted", None).await;
        assert_eq!(status, 200, "{page}");
        let deleted = &page["users"][0];
        assert_eq!(deleted["id"], id.as_str(), "{page}");
        assert_eq!(deleted["userName"], "mistake@example.com");
        assert_eq!(deleted["deletedVia"], "scim");
        assert_eq!(deleted["removedFromGroups"], json!([group_id]));
        let delete_event = app.audit_events(&id).await.into_iter().find(|e| e.action == "user.delete").unwrap();
        assert_eq!(delete_event.detail.unwrap().0["removedFromGroups"], json!([group_id]));

        // Its userName is free at once; while taken, the restore is refused naming the holder.
        let again = app.create_user("Mistake@Example.com").await;
        let holder = again["id"].as_str().unwrap().to_owned();
        assert_ne!(holder, id);
        let (status, refused) = admin(&app, Method::POST, &format!("/users/{id}/restore"), None).await;
        assert_eq!(status, 409, "{refused}");
        assert_eq!(refused["error"], "user_name_taken", "{refused}");
        assert!(refused["message"].as_str().unwrap().contains(&holder), "names the holder: {refused}");
        let (_, page) = admin(&app, Method::GET, "/users?status=deleted", None).await;
        assert_eq!(page["users"].as_array().unwrap().len(), 1, "a refused restore changes nothing");

        // Once free again, the restore brings back the same id and attributes, a new version.
        assert_eq!(app.request(Method::DELETE, &format!("/Users/{holder}"), None).await.status(), StatusCode::NO_CONTENT);
        let (status, restored) = admin(&app, Method::POST, &format!("/users/{id}/restore"), None).await;
        assert_eq!(status, 200, "{restored}");
        assert_eq!(restored["id"], id.as_str());
        let after: Value = app.get_user(&id).await.json().await.unwrap();
        for key in ["userName", "name", "emails", "displayName", "externalId", "active", "locale"] {
            assert_eq!(after[key], before[key], "{key}");
        }
        assert_eq!(after["meta"]["created"], before["meta"]["created"]);
        assert_ne!(after["meta"]["version"], before["meta"]["version"]);
        assert!(after.get("groups").is_none_or(|g| g.as_array().unwrap().is_empty()), "memberships are not re-added: {after}");
        assert_eq!(app.request_as(&token, Method::GET, "/Me", None).await.status(), StatusCode::OK);
        assert_eq!(listed_ids(&app, "/Users?filter=userName%20eq%20%22mistake@example.com%22").await, vec![id.clone()]);
        let events = app.audit_events(&id).await;
        let restore = events.iter().find(|e| e.action == "user.restore").expect("audited");
        assert_eq!(restore.detail.as_ref().unwrap().0["removedFromGroups"], json!([group_id]));
        let (_, page) = admin(&app, Method::GET, "/users?status=deleted", None).await;
        assert_eq!(page["users"].as_array().unwrap().len(), 1, "only the holder, deleted since: {page}");
        assert_eq!(page["users"][0]["id"], holder.as_str());

        // An id that is not deleted: 404.
        let (status, body) = admin(&app, Method::POST, &format!("/users/{id}/restore"), None).await;
        assert_eq!((status, body["error"].as_str()), (404, Some("not_found")), "{body}");
    }
}

/// Runs `roster <args…>` against the app's database, as an operator on the server would.
async fn roster_cli(app: &TestApp, args: &[&str]) -> anyhow::Result<()> {
    use clap::Parser;
    let mut cli =
        roster::cli::Cli::try_parse_from(std::iter::once("roster").chain(args.iter().copied()))?;
    cli.settings = app.settings.clone();
    tokio::task::spawn_blocking(move || roster::cli::run(cli))
        .await
        .unwrap()
}

/// The bodies of the deliveries of subscription `id` in the `default` org.
async fn delivery_bodies(app: &TestApp, subscription: &str) -> Vec<String> {
    let store = app.store.clone();
    let subscription = subscription.to_owned();
    tokio::task::spawn_blocking(move || {
        let org = roster::ids::OrgId::parse("default").unwrap();
        roster::store::events::deliveries(&mut store.conn().unwrap(), &org, &subscription, 1000)
            .unwrap()
            .into_iter()
            .map(|d| d.body)
            .collect()
    })
    .await
    .unwrap()
}

/// Purge after the retention, driven by the clock given to the use case, not by waiting.
async fn purge_after_retention(app: TestApp) {
    let receiver = crate::events::Receiver::start();
    let (subscription, _) = crate::events::subscribe(&app, &receiver.url, None).await;
    let id = held_user(&app, "erase.me@example.com", "Erase Me asked to leave").await;
    let keep = app.create_user("keep@example.com").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for user in [&id, &keep] {
        let response = app
            .request(Method::DELETE, &format!("/Users/{user}"), None)
            .await;
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
    }
    let bodies = delivery_bodies(&app, &subscription).await;
    assert!(
        bodies
            .iter()
            .any(|b| b.contains(&id) && b.contains("erase.me@example.com"))
    );

    // Within the retention (30 days by default) the job purges nothing: both can be restored.
    roster_cli(&app, &["purge", "--org", "default"])
        .await
        .unwrap();
    let (_, page) = admin(&app, Method::GET, "/users?status=deleted", None).await;
    assert_eq!(page["users"].as_array().unwrap().len(), 2, "{page}");

    // 31 days later, by the use case's clock.
    let later = roster::clock::now() + chrono::Duration::days(31);
    let org = roster::ids::OrgId::parse("default").unwrap();
    let store = app.store.clone();
    let purged = tokio::task::spawn_blocking(move || {
        roster::provisioning::operator::purge_deleted_users(
            &store,
            &org,
            &roster::provisioning::operator::PurgeScope::OlderThan(chrono::Duration::days(30)),
            later,
        )
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(purged.len(), 2);
    assert!(purged.contains(&id));

    // The personal data is gone: not restorable, not listed, names out of the kept deliveries.
    let (status, _) = admin(&app, Method::POST, &format!("/users/{id}/restore"), None).await;
    assert_eq!(status, 404);
    let (_, page) = admin(&app, Method::GET, "/users?status=deleted", None).await;
    assert!(page["users"].as_array().unwrap().is_empty(), "{page}");
    let bodies = delivery_bodies(&app, &subscription).await;
    assert!(
        bodies.iter().any(|b| b.contains(&id)),
        "the deliveries stay, by id"
    );
    for body in &bodies {
        assert!(!body.contains("erase.me@example.com"), "{body}");
        assert!(!body.contains("okta-erase.me"), "{body}");
    }

    // The audit trail stays, by id, without the free text about the person.
    let events = app.audit_events(&id).await;
    let actions: Vec<&str> = events.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "user.create",
            "user.deactivate",
            "user.hold",
            "user.delete",
            "user.purge"
        ]
    );
    for event in &events {
        assert_eq!(event.target_id, id);
        let detail = event
            .detail
            .as_ref()
            .map(|d| d.0.to_string())
            .unwrap_or_default();
        assert!(!detail.contains("Erase Me"), "{detail}");
    }
    assert_eq!(events[4].channel, "cli");

    // A right-to-erasure request for one user, deleted a moment ago: --user, at once.
    let now_gone = app.create_user("now@example.com").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.request(Method::DELETE, &format!("/Users/{now_gone}"), None)
        .await;
    roster_cli(&app, &["purge", "--org", "default", "--user", &now_gone])
        .await
        .unwrap();
    let (status, _) = admin(
        &app,
        Method::POST,
        &format!("/users/{now_gone}/restore"),
        None,
    )
    .await;
    assert_eq!(status, 404);
    let refused = roster_cli(&app, &["purge", "--org", "default", "--user", &now_gone]).await;
    assert!(refused.unwrap_err().to_string().contains("no deleted user"));
    let refused = roster_cli(&app, &["purge", "--org", "nowhere", "--now"]).await;
    assert!(refused.unwrap_err().to_string().contains("does not exist"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_after_retention_sqlite() {
    purge_after_retention(
        TestApp::spawn_with(Backend::Sqlite, |s| s.events.allow_insecure = true).await,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_after_retention_postgres() {
    purge_after_retention(
        TestApp::spawn_with(Backend::Postgres, |s| s.events.allow_insecure = true).await,
    )
    .await;
}

/// Creates a user in `org` over SCIM and deletes it; returns its id.
async fn deleted_user_of(app: &TestApp, org: &str, user_name: &str) -> String {
    let token = app.mint(Role::Provisioner, org, None);
    let response = app
        .client
        .post(app.url("/Users"))
        .bearer_auth(&token)
        .json(&okta_user(user_name))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let id = response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let response = app
        .client
        .delete(app.url(&format!("/Users/{id}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    id
}

/// The purge job's round at `now`, as the server runs it.
async fn purge_job(app: &TestApp, now: chrono::DateTime<chrono::Utc>) -> Vec<String> {
    roster::provisioning::retention::purge_expired(&app.store, now)
        .await
        .unwrap()
        .into_iter()
        .map(|(org, id)| format!("{org}/{id}"))
        .collect()
}

/// The operator's `roster purge --org default` (no `--retention-days`) at `now`.
async fn purge_cli_at(app: &TestApp, now: chrono::DateTime<chrono::Utc>) -> Vec<String> {
    let store = app.store.clone();
    tokio::task::spawn_blocking(move || {
        roster::provisioning::operator::purge_deleted_users(
            &store,
            &roster::ids::OrgId::parse("default").unwrap(),
            &roster::provisioning::operator::PurgeScope::OrgRetention,
            now,
        )
    })
    .await
    .unwrap()
    .unwrap()
}

// The org's retention: its setting (validated, audited, per org) and the purge job that
// applies it, driven by the clock given to it.
both_backends! {
    async fn retention_and_purge_job(app) {
        app.create_org("other");
        let (status, retention) = admin(&app, Method::GET, "/deleted-user-retention", None).await;
        assert_eq!(status, 200, "{retention}");
        assert_eq!(retention["days"], 30, "{retention}");
        assert_eq!(retention["source"], "default", "{retention}");

        // Refused: 0, beyond ten years, not a number, a missing or an unknown field.
        let (status, error) =
            admin(&app, Method::PUT, "/deleted-user-retention", Some(json!({"days": 0}))).await;
        assert_eq!(status, 400, "{error}");
        assert_eq!(error["error"], "invalid_request", "{error}");
        let message = error["message"].as_str().unwrap();
        assert!(message.contains("between 1 and 3650"), "{message}");
        assert!(message.contains("roster purge --now"), "{message}");
        for body in [
            json!({"days": 3651}),
            json!({"days": -1}),
            json!({"days": "7"}),
            json!({}),
            json!({"days": 7, "hours": 1}),
        ] {
            let (status, error) =
                admin(&app, Method::PUT, "/deleted-user-retention", Some(body.clone())).await;
            assert_eq!(status, 400, "{body}: {error}");
            assert_eq!(error["error"], "invalid_request", "{body}: {error}");
        }
        let (_, retention) = admin(&app, Method::GET, "/deleted-user-retention", None).await;
        assert_eq!(retention["source"], "default", "nothing refused was stored: {retention}");

        // 7 days in the default org, audited on the admin channel.
        let (status, retention) =
            admin(&app, Method::PUT, "/deleted-user-retention", Some(json!({"days": 7}))).await;
        assert_eq!(status, 200, "{retention}");
        assert_eq!(retention["days"], 7, "{retention}");
        assert_eq!(retention["source"], "org", "{retention}");
        assert!(retention["updatedAt"].is_string(), "{retention}");
        let events = app.audit_events("default").await;
        let set = events
            .iter()
            .find(|e| e.action == "org.deleted_user_retention")
            .expect("audited");
        assert_eq!(set.channel, "admin");
        assert_eq!(set.detail.as_ref().unwrap().0["days"], 7);

        // The other org's admin sets its own, and changes nothing of the default org's.
        let (status, other) = admin_of(
            &app,
            "other",
            Method::PUT,
            "/deleted-user-retention",
            Some(json!({"days": 90})),
        )
        .await;
        assert_eq!(status, 200, "{other}");
        assert_eq!(other["days"], 90, "{other}");
        let (_, retention) = admin(&app, Method::GET, "/deleted-user-retention", None).await;
        assert_eq!(retention["days"], 7, "{retention}");
        let (_, other) =
            admin_of(&app, "other", Method::GET, "/deleted-user-retention", None).await;
        assert_eq!(other["days"], 90, "{other}");

        // A user deleted in each org; the job 6 days later purges nothing, 8 days later the
        // default org's user (7 days) and not the other's (90 days).
        let id = deleted_user_of(&app, "default", "retained@example.com").await;
        let other_id = deleted_user_of(&app, "other", "retained@example.com").await;
        let now = roster::clock::now();
        assert!(purge_job(&app, now + chrono::Duration::days(6)).await.is_empty());
        let (_, page) = admin(&app, Method::GET, "/users?status=deleted", None).await;
        assert_eq!(page["users"].as_array().unwrap().len(), 1, "{page}");
        if app.backend == Backend::Postgres {
            // While another node holds the job's lock, this node's round purges nothing.
            use diesel::RunQueryDsl;
            let lock = roster::store::deleted_users::PURGE_LOCK;
            let mut other_node = app.store.conn().unwrap();
            diesel::sql_query(format!("SELECT pg_advisory_lock({lock})"))
                .execute(&mut *other_node)
                .unwrap();
            assert!(purge_job(&app, now + chrono::Duration::days(8)).await.is_empty());
            diesel::sql_query(format!("SELECT pg_advisory_unlock({lock})"))
                .execute(&mut *other_node)
                .unwrap();
        }
        assert_eq!(
            purge_job(&app, now + chrono::Duration::days(8)).await,
            [format!("default/{id}")]
        );
        let (status, _) = admin(&app, Method::POST, &format!("/users/{id}/restore"), None).await;
        assert_eq!(status, 404);
        let events = app.audit_events(&id).await;
        let purge = events.last().unwrap();
        assert_eq!(purge.action, "user.purge");
        assert_eq!(purge.channel, "system");
        assert_eq!(purge.actor, "retention");
        let (_, page) = admin_of(&app, "other", Method::GET, "/users?status=deleted", None).await;
        assert_eq!(page["users"][0]["id"], other_id.as_str(), "{page}");
        // A second round finds nothing more to do.
        assert!(purge_job(&app, now + chrono::Duration::days(8)).await.is_empty());

        // `roster purge --org default` without --retention-days applies the org's 7 days too.
        let id = deleted_user_of(&app, "default", "cli.retained@example.com").await;
        let now = roster::clock::now();
        assert!(purge_cli_at(&app, now + chrono::Duration::days(6)).await.is_empty());
        assert_eq!(purge_cli_at(&app, now + chrono::Duration::days(8)).await, std::slice::from_ref(&id));
        let events = app.audit_events(&id).await;
        assert_eq!(events.last().unwrap().channel, "cli");
    }
}
