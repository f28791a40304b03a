//! Integrity the schema guarantees: a membership never outlives its member, whatever races a
//! delete and an add of the same user or group (foreign keys per kind of member, `ON DELETE
//! CASCADE`, and the delete locking its member first).

use diesel::prelude::*;
use diesel::sql_types::BigInt;
use futures::future::join;
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const ROUNDS: usize = 20;

async fn create_group(app: &TestApp, name: &str) -> String {
    let body = json!({"schemas": [GROUP_SCHEMA], "displayName": name});
    let response = app.request(Method::POST, "/Groups", Some(&body)).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let group: Value = response.json().await.unwrap();
    group["id"].as_str().unwrap().to_owned()
}

async fn add_member(app: &TestApp, group: &str, member: &str) -> Response {
    let body = json!({
        "schemas": [PATCH_SCHEMA],
        "Operations": [{"op": "add", "path": "members", "value": [{"value": member}]}],
    });
    app.request(Method::PATCH, &format!("/Groups/{group}"), Some(&body))
        .await
}

/// An add that lost the race answers exactly as an add of an id that never existed.
async fn assert_added_or_unknown(response: Response) {
    match response.status() {
        StatusCode::OK | StatusCode::NO_CONTENT => {}
        StatusCode::BAD_REQUEST => {
            let body = assert_scim_error(response, 400, Some("invalidValue")).await;
            let detail = body["detail"].as_str().unwrap();
            assert!(detail.contains("no User or Group with id"), "{detail}");
        }
        other => panic!("add: {other}: {}", response.text().await.unwrap()),
    }
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Membership rows whose member does not exist (in the same org).
fn dangling_memberships(app: &TestApp) -> i64 {
    let mut conn = app.store.conn().unwrap();
    diesel::sql_query(
        "SELECT count(*) AS n FROM group_members gm \
          WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = gm.member_id AND u.org_id = gm.org_id) \
            AND NOT EXISTS (SELECT 1 FROM groups g WHERE g.id = gm.member_id AND g.org_id = gm.org_id)",
    )
    .get_result::<Count>(&mut *conn)
    .unwrap()
    .n
}

/// Groups a `members.value eq` filter finds for `member`.
async fn groups_listing(app: &TestApp, member: &str) -> i64 {
    let filter = format!("members.value eq \"{member}\"");
    let response = app
        .client
        .get(app.url("/Groups"))
        .query(&[("filter", filter.as_str())])
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    body["totalResults"].as_i64().unwrap()
}

/// No `group.update` of `group` records `member` as added after `member`'s delete event.
async fn assert_no_add_after_delete(app: &TestApp, group: &str, member: &str, deleted: &str) {
    let deleted_at = app
        .audit_events(member)
        .await
        .into_iter()
        .find(|e| e.action == deleted)
        .map(|e| e.id)
        .unwrap_or_else(|| panic!("no {deleted} event for {member}"));
    for event in app.audit_events(group).await {
        let added = event
            .detail
            .as_ref()
            .and_then(|d| d.0.get("added"))
            .and_then(Value::as_array)
            .is_some_and(|ids| ids.iter().any(|id| id == member));
        assert!(
            !(added && event.id > deleted_at),
            "{member} recorded as added to {group} after its deletion"
        );
    }
}

both_backends! {
    async fn a_user_deleted_while_being_added_leaves_no_membership(app) {
        let group = create_group(&app, "racers").await;
        for round in 0..ROUNDS {
            let user = app.create_user(&format!("racer{round}@example.com")).await["id"]
                .as_str()
                .unwrap()
                .to_owned();
            let (added, deleted) = join(
                add_member(&app, &group, &user),
                app.request(Method::DELETE, &format!("/Users/{user}"), None),
            )
            .await;
            assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
            assert_added_or_unknown(added).await;
            assert_eq!(groups_listing(&app, &user).await, 0, "round {round}: phantom member");
            assert_no_add_after_delete(&app, &group, &user, "user.delete").await;
        }
        assert_eq!(dangling_memberships(&app), 0);
    }

    async fn a_group_deleted_while_being_added_leaves_no_membership(app) {
        let parent = create_group(&app, "parent").await;
        for round in 0..ROUNDS {
            let child = create_group(&app, &format!("child{round}")).await;
            let (added, deleted) = join(
                add_member(&app, &parent, &child),
                app.request(Method::DELETE, &format!("/Groups/{child}"), None),
            )
            .await;
            assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
            assert_added_or_unknown(added).await;
            assert_eq!(groups_listing(&app, &child).await, 0, "round {round}: phantom member");
            assert_no_add_after_delete(&app, &parent, &child, "group.delete").await;
        }
        assert_eq!(dangling_memberships(&app), 0);
    }

    async fn an_unknown_member_is_refused_as_before(app) {
        let group = create_group(&app, "plain").await;
        let response = add_member(&app, &group, "0190f3a0-0000-7000-8000-000000000000").await;
        assert_added_or_unknown(response).await;
        assert_eq!(dangling_memberships(&app), 0);
    }
}

/// Asserts 400 `invalidValue` whose detail names `attribute`.
async fn assert_invalid_value(response: Response, attribute: &str) {
    let body = assert_scim_error(response, 400, Some("invalidValue")).await;
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains(attribute),
        "detail does not name {attribute}: {detail}"
    );
}

async fn list_users(app: &TestApp, filter: &str) -> Response {
    app.client
        .get(app.url("/Users"))
        .query(&[("filter", filter)])
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap()
}

// A NUL character, in any string of any request, is the same 400 on both backends (PostgreSQL
// cannot store one, and answered 500).
both_backends! {
    async fn a_nul_character_is_invalid_value_everywhere(app) {
        let mut body = okta_user("nul\u{0}@example.com");
        body["emails"] = json!([]);
        body["externalId"] = json!("nul");
        assert_invalid_value(app.post_user(&body).await, "userName").await;

        let mut body = okta_user("plain@example.com");
        body["title"] = json!("boss\u{0}");
        assert_invalid_value(app.post_user(&body).await, "title").await;

        let mut body = okta_user("plain@example.com");
        body["name"]["givenName"] = json!("A\u{0}da");
        assert_invalid_value(app.post_user(&body).await, "name.givenName").await;

        let user = app.create_user("plain@example.com").await["id"].as_str().unwrap().to_owned();
        let put = json!({"schemas": [USER_SCHEMA], "userName": "plain@example.com", "displayName": "x\u{0}"});
        let response = app.request(Method::PUT, &format!("/Users/{user}"), Some(&put)).await;
        assert_invalid_value(response, "displayName").await;

        let ops = json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "a\u{0}@x"}]);
        assert_invalid_value(app.patch_user(&user, ops).await, "emails").await;
        let ops = json!([{"op": "replace", "value": {"nickName": "\u{0}"}}]);
        assert_invalid_value(app.patch_user(&user, ops).await, "nickName").await;

        // In a filter, NUL is written as the JSON escape `\u0000`; a raw control character is
        // not a JSON string at all (invalidFilter).
        assert_invalid_value(list_users(&app, r#"userName eq "a\u0000b""#).await, "userName").await;
        assert_invalid_value(list_users(&app, r#"emails[type eq "work"].value eq "\u0000""#).await, "emails.value").await;
        assert_invalid_value(list_users(&app, r#"title co "\u0000""#).await, "title").await;
        assert_scim_error(list_users(&app, "userName eq \"a\u{0}b\"").await, 400, Some("invalidFilter")).await;

        let group = create_group(&app, "nul").await;
        assert_invalid_value(add_member(&app, &group, "\u{0}").await, "members.value").await;
        let body = json!({"schemas": [GROUP_SCHEMA], "displayName": "g\u{0}"});
        let response = app.request(Method::POST, "/Groups", Some(&body)).await;
        assert_invalid_value(response, "displayName").await;
    }
}

// Indexed attributes hold at most 1024 bytes, every other string 16 KiB: over that, the same
// 400 on both backends (PostgreSQL answered 500 past ~2.7 KB in a btree index).
both_backends! {
    async fn values_over_their_limit_are_invalid_value(app) {
        let long_name = format!("{}@example.com", "a".repeat(3000));
        let mut body = okta_user(&long_name);
        body["emails"] = json!([]);
        body["externalId"] = json!("long");
        assert_invalid_value(app.post_user(&body).await, "userName").await;

        let mut body = okta_user("limits@example.com");
        body["externalId"] = json!("e".repeat(1025));
        assert_invalid_value(app.post_user(&body).await, "externalId").await;

        let mut body = okta_user("limits@example.com");
        body["emails"] = json!([{"value": long_name, "type": "home"}]);
        assert_invalid_value(app.post_user(&body).await, "emails[0].value").await;

        // 300 bytes as sent, 3300 in the caseless key PostgreSQL indexes.
        let mut body = okta_user("limits@example.com");
        body["userName"] = json!("\u{FDFA}".repeat(100));
        assert_invalid_value(app.post_user(&body).await, "userName").await;
        let body = json!({"schemas": [GROUP_SCHEMA], "displayName": "\u{FDFA}".repeat(100)});
        let response = app.request(Method::POST, "/Groups", Some(&body)).await;
        assert_invalid_value(response, "displayName").await;

        let mut body = okta_user("limits@example.com");
        body["title"] = json!("t".repeat(16 * 1024 + 1));
        assert_invalid_value(app.post_user(&body).await, "title").await;

        // At the limits, accepted.
        let mut body = okta_user(&format!("{}@x.io", "b".repeat(1024 - 5)));
        body["externalId"] = json!("e".repeat(1024));
        body["displayName"] = json!("d".repeat(1024));
        body["title"] = json!("t".repeat(16 * 1024));
        let response = app.post_user(&body).await;
        assert_eq!(response.status(), StatusCode::CREATED, "{}", response.text().await.unwrap());

        let user = app.create_user("limits@example.com").await["id"].as_str().unwrap().to_owned();
        let ops = json!([{"op": "replace", "path": "displayName", "value": "d".repeat(3000)}]);
        assert_invalid_value(app.patch_user(&user, ops).await, "displayName").await;

        let filter = format!("userName eq \"{}\"", "a".repeat(3000));
        assert_invalid_value(list_users(&app, &filter).await, "userName").await;

        let group = create_group(&app, "limits").await;
        let ops = json!([{"op": "replace", "path": "displayName", "value": "g".repeat(3000)}]);
        let body = json!({"schemas": [PATCH_SCHEMA], "Operations": ops});
        let response = app.request(Method::PATCH, &format!("/Groups/{group}"), Some(&body)).await;
        assert_invalid_value(response, "displayName").await;
    }
}

// A group PATCH result is validated as a PUT body is: `replace displayName ""` is refused, as
// PUT refuses it, and nothing is stored.
both_backends! {
    async fn a_group_patch_is_validated_as_put_is(app) {
        let group = create_group(&app, "keep me").await;
        let put = json!({"schemas": [GROUP_SCHEMA], "displayName": ""});
        let response = app.request(Method::PUT, &format!("/Groups/{group}"), Some(&put)).await;
        assert_invalid_value(response, "displayName").await;

        let body = json!({
            "schemas": [PATCH_SCHEMA],
            "Operations": [{"op": "replace", "path": "displayName", "value": ""}],
        });
        let response = app.request(Method::PATCH, &format!("/Groups/{group}"), Some(&body)).await;
        assert_invalid_value(response, "displayName").await;

        let response = app.request(Method::GET, &format!("/Groups/{group}"), None).await;
        let stored: Value = response.json().await.unwrap();
        assert_eq!(stored["displayName"], "keep me");
    }
}
