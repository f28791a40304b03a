//! `/Groups` end to end, as Okta's group push and Entra's group provisioning drive it, plus the
//! membership rules (atomic, O(changed), cleaned up on delete) and the derived `groups` of a
//! user.

use reqwest::{Method, Response, StatusCode};
use roster::ids::{OrgId, UserId};
use roster::provisioning::groups::groups_of_users;
use serde_json::{Value, json};

use crate::helpers::*;

const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const ENTRA_GROUP_SCHEMA: &str =
    "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group";

async fn post_group(app: &TestApp, body: &Value) -> Response {
    app.request(Method::POST, "/Groups", Some(body)).await
}

async fn create_group(app: &TestApp, name: &str, members: &[&str]) -> Value {
    let members: Vec<Value> = members.iter().map(|m| json!({"value": m})).collect();
    let response = post_group(
        app,
        &json!({"schemas": [GROUP_SCHEMA], "displayName": name, "members": members}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json().await.unwrap()
}

async fn get_group(app: &TestApp, id: &str) -> Value {
    let response = app
        .request(Method::GET, &format!("/Groups/{id}"), None)
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

async fn patch_group(app: &TestApp, id: &str, operations: Value) -> Response {
    let body = json!({"schemas": [PATCH_SCHEMA], "Operations": operations});
    app.request(Method::PATCH, &format!("/Groups/{id}"), Some(&body))
        .await
}

async fn user_id(app: &TestApp, name: &str) -> String {
    app.create_user(name).await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The member ids of a rendered group, sorted.
fn member_ids(group: &Value) -> Vec<String> {
    let mut ids: Vec<String> = group["members"]
        .as_array()
        .map(|m| {
            m.iter()
                .map(|v| v["value"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

fn sorted(ids: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = ids.iter().map(|s| (*s).to_owned()).collect();
    v.sort();
    v
}

both_backends! {
    async fn okta_group_push(app) {
        let ada = user_id(&app, "ada@example.com").await;
        let bob = user_id(&app, "bob@example.com").await;
        let cy = user_id(&app, "cy@example.com").await;

        // Okta checks the credentials by listing groups.
        let listed = app.request(Method::GET, "/Groups?count=100&startIndex=1", None).await;
        assert_eq!(listed.status(), StatusCode::OK);
        assert_eq!(listed.json::<Value>().await.unwrap()["totalResults"], 0);

        // Create: {displayName, members: []}.
        let response = post_group(&app, &json!({"schemas": [GROUP_SCHEMA], "displayName": "Engineering", "members": []})).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let location = response.headers()["location"].to_str().unwrap().to_owned();
        assert_eq!(response.headers()["etag"], "W/\"1\"");
        let group: Value = response.json().await.unwrap();
        let id = group["id"].as_str().unwrap().to_owned();
        assert_eq!(location, app.url(&format!("/Groups/{id}")));
        assert_eq!(group["displayName"], "Engineering");
        assert_eq!(group["meta"]["resourceType"], "Group");
        assert_eq!(group["schemas"], json!([GROUP_SCHEMA]));
        assert!(group.get("members").is_none(), "an empty group has no members attribute");

        // Rename: path-less replace with {id, displayName}.
        let renamed = patch_group(&app, &id, json!([{"op": "replace", "value": {"id": id, "displayName": "Eng"}}])).await;
        assert_eq!(renamed.status(), StatusCode::NO_CONTENT);
        assert_eq!(renamed.headers()["etag"], "W/\"2\"");
        assert_eq!(get_group(&app, &id).await["displayName"], "Eng");

        // Add two members, then remove + add in one PATCH (with the rename Okta re-sends).
        let added = patch_group(&app, &id, json!([
            {"op": "add", "path": "members", "value": [{"value": ada, "display": "ada@example.com"}, {"value": bob, "display": "bob@example.com"}]},
        ])).await;
        assert_eq!(added.status(), StatusCode::NO_CONTENT);
        let swapped = patch_group(&app, &id, json!([
            {"op": "replace", "value": {"id": id, "displayName": "Eng"}},
            {"op": "remove", "path": format!("members[value eq \"{ada}\"]")},
            {"op": "add", "path": "members", "value": [{"value": cy, "display": "cy@example.com"}]},
        ])).await;
        assert_eq!(swapped.status(), StatusCode::NO_CONTENT);
        let group = get_group(&app, &id).await;
        assert_eq!(member_ids(&group), sorted(&[&bob, &cy]));
        let bob_member = group["members"].as_array().unwrap().iter().find(|m| m["value"] == bob.as_str()).unwrap();
        assert_eq!(bob_member["type"], "User");
        assert_eq!(bob_member["display"], "Ada Lovelace");
        assert_eq!(bob_member["$ref"], app.url(&format!("/Users/{bob}")));

        // Full push: replace members.
        let pushed = patch_group(&app, &id, json!([{"op": "replace", "path": "members", "value": [{"value": ada}, {"value": cy}]}])).await;
        assert_eq!(pushed.status(), StatusCode::NO_CONTENT);
        assert_eq!(member_ids(&get_group(&app, &id).await), sorted(&[&ada, &cy]));

        // A PATCH that asks for attributes gets the group back.
        let body = json!({"schemas": [PATCH_SCHEMA], "Operations": [{"op": "replace", "value": {"displayName": "Engineering"}}]});
        let shown = app.request(Method::PATCH, &format!("/Groups/{id}?excludedAttributes=members"), Some(&body)).await;
        assert_eq!(shown.status(), StatusCode::OK);
        let shown: Value = shown.json().await.unwrap();
        assert_eq!(shown["displayName"], "Engineering");
        assert!(shown.get("members").is_none());

        // Delete: 204, then 404 and gone from listings.
        let deleted = app.request(Method::DELETE, &format!("/Groups/{id}"), None).await;
        assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
        assert_scim_error(app.request(Method::GET, &format!("/Groups/{id}"), None).await, 404, None).await;
        let listed: Value = app.request(Method::GET, "/Groups", None).await.json().await.unwrap();
        assert_eq!(listed["totalResults"], 0);
        // The users are untouched.
        assert_eq!(app.get_user(&ada).await.status(), StatusCode::OK);
    }

    async fn entra_group_provisioning(app) {
        let u1 = user_id(&app, "u1@example.com").await;
        let u2 = user_id(&app, "u2@example.com").await;
        let u3 = user_id(&app, "u3@example.com").await;

        // Created empty, with Entra's schema URN and an externalId.
        let response = post_group(&app, &json!({
            "schemas": [ENTRA_GROUP_SCHEMA],
            "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
            "displayName": "Group1DisplayName",
            "meta": {"resourceType": "Group"},
        })).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let group: Value = response.json().await.unwrap();
        let id = group["id"].as_str().unwrap().to_owned();
        assert_eq!(group["externalId"], "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159");

        // Matching: GET by id and by displayName, without members.
        let one: Value = app
            .request(Method::GET, &format!("/Groups/{id}?excludedAttributes=members"), None)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(one["displayName"], "Group1DisplayName");
        let found = app
            .request(Method::GET, "/Groups?excludedAttributes=members&filter=displayName%20eq%20%22Group1DisplayName%22", None)
            .await;
        assert_eq!(found.status(), StatusCode::OK);
        let found: Value = found.json().await.unwrap();
        assert_eq!(found["totalResults"], 1);
        assert_eq!(found["Resources"][0]["id"], id.as_str());
        let by_external: Value = app
            .request(Method::GET, "/Groups?filter=externalId%20eq%20%228aa1a0c0-c4c3-4bc0-b4a5-2ef676900159%22", None)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(by_external["totalResults"], 1);

        // Add members with "$ref": null.
        let added = patch_group(&app, &id, json!([{"op": "Add", "path": "members", "value": [
            {"$ref": null, "value": u1}, {"$ref": null, "value": u2}, {"$ref": null, "value": u3},
        ]}])).await;
        assert_eq!(added.status(), StatusCode::NO_CONTENT);
        assert_eq!(member_ids(&get_group(&app, &id).await), sorted(&[&u1, &u2, &u3]));

        // Remove by value array (no filter), then by filter path.
        let removed = patch_group(&app, &id, json!([{"op": "Remove", "path": "members", "value": [{"$ref": null, "value": u1}]}])).await;
        assert_eq!(removed.status(), StatusCode::NO_CONTENT);
        assert_eq!(member_ids(&get_group(&app, &id).await), sorted(&[&u2, &u3]));
        let removed = patch_group(&app, &id, json!([{"op": "remove", "path": format!("members[value eq \"{u2}\"]")}])).await;
        assert_eq!(removed.status(), StatusCode::NO_CONTENT);
        assert_eq!(member_ids(&get_group(&app, &id).await), sorted(&[&u3]));

        // Replace displayName.
        let renamed = patch_group(&app, &id, json!([{"op": "Replace", "path": "displayName", "value": "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"}])).await;
        assert_eq!(renamed.status(), StatusCode::NO_CONTENT);
        let group = get_group(&app, &id).await;
        assert_eq!(group["displayName"], "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName");
        assert_eq!(member_ids(&group), sorted(&[&u3]));

        let deleted = app.request(Method::DELETE, &format!("/Groups/{id}"), None).await;
        assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    }

    async fn display_name_is_unique_ignoring_case(app) {
        create_group(&app, "Sales", &[]).await;
        let clash = post_group(&app, &json!({"displayName": "SALES"})).await;
        let body = assert_scim_error(clash, 409, Some("uniqueness")).await;
        assert!(body["detail"].as_str().unwrap().contains("SALES"));
        let other = create_group(&app, "Marketing", &[]).await;
        let id = other["id"].as_str().unwrap();
        let renamed = patch_group(&app, id, json!([{"op": "replace", "path": "displayName", "value": "sales"}])).await;
        assert_scim_error(renamed, 409, Some("uniqueness")).await;
        // externalId is not unique (RFC 7643 §3.1): a second group may share it.
        post_group(&app, &json!({"displayName": "A", "externalId": "x"})).await;
        let shared = post_group(&app, &json!({"displayName": "B", "externalId": "x"})).await;
        assert_eq!(shared.status(), StatusCode::CREATED);
        // displayName is required.
        assert_scim_error(post_group(&app, &json!({"members": []})).await, 400, Some("invalidValue")).await;
    }

    async fn unknown_or_foreign_members_change_nothing(app) {
        let ada = user_id(&app, "ada@example.com").await;
        let group = create_group(&app, "Team", &[&ada]).await;
        let id = group["id"].as_str().unwrap();

        // A user of another org is unknown here.
        app.create_org("other");
        let other_token = app.mint(roster::auth::Role::Provisioner, "other", None);
        let foreign: Value = app
            .request_as(&other_token, Method::POST, "/Users", Some(&okta_user("zed@example.com")))
            .await
            .json()
            .await
            .unwrap();
        let foreign = foreign["id"].as_str().unwrap();
        let bob = user_id(&app, "bob@example.com").await;
        for unknown in [foreign, "not-an-id", "01a21f1f-6d2e-7217-b3a5-f6aac407ee0a"] {
            let response = patch_group(&app, id, json!([
                {"op": "replace", "path": "displayName", "value": "Renamed"},
                {"op": "add", "path": "members", "value": [{"value": bob}, {"value": unknown}]},
            ])).await;
            let body = assert_scim_error(response, 400, Some("invalidValue")).await;
            assert!(body["detail"].as_str().unwrap().contains(unknown), "{body}");
        }
        let after = get_group(&app, id).await;
        assert_eq!(after["displayName"], "Team", "atomic: the rename was rolled back");
        assert_eq!(member_ids(&after), sorted(&[&ada]));
        assert_eq!(after["meta"]["version"], "W/\"1\"");

        // Creating with an unknown member creates nothing.
        let response = post_group(&app, &json!({"displayName": "Ghosts", "members": [{"value": foreign}]})).await;
        assert_scim_error(response, 400, Some("invalidValue")).await;
        let listed: Value = app.request(Method::GET, "/Groups", None).await.json().await.unwrap();
        assert_eq!(listed["totalResults"], 1);
        // A group cannot contain itself.
        let response = patch_group(&app, id, json!([{"op": "add", "path": "members", "value": [{"value": id}]}])).await;
        assert_scim_error(response, 400, Some("invalidValue")).await;
        // Members' sub-attributes cannot be patched.
        let response = patch_group(&app, id, json!([{"op": "replace", "path": format!("members[value eq \"{ada}\"].value"), "value": bob}])).await;
        assert_scim_error(response, 400, Some("mutability")).await;
    }

    async fn adding_an_existing_member_changes_nothing(app) {
        let ada = user_id(&app, "ada@example.com").await;
        let group = create_group(&app, "Team", &[&ada]).await;
        let id = group["id"].as_str().unwrap();
        let again = patch_group(&app, id, json!([
            {"op": "add", "path": "members", "value": [{"value": ada}]},
            {"op": "replace", "value": {"id": id, "displayName": "Team"}},
        ])).await;
        assert_eq!(again.status(), StatusCode::NO_CONTENT);
        assert_eq!(again.headers()["etag"], "W/\"1\"");
        // Removing someone who is not a member is a no-op too (idempotent retries).
        let bob = user_id(&app, "bob@example.com").await;
        let none = patch_group(&app, id, json!([{"op": "remove", "path": format!("members[value eq \"{bob}\"]")}])).await;
        assert_eq!(none.headers()["etag"], "W/\"1\"");
        // Remove then add the same member: no net change.
        let churn = patch_group(&app, id, json!([
            {"op": "remove", "path": format!("members[value eq \"{ada}\"]")},
            {"op": "add", "path": "members", "value": [{"value": ada}]},
        ])).await;
        assert_eq!(churn.headers()["etag"], "W/\"1\"");
        let updates: Vec<_> = app.audit_events(id).await.into_iter().filter(|e| e.action == "group.update").collect();
        assert!(updates.is_empty(), "{updates:?}");
    }

    async fn members_are_loaded_only_when_shown(app) {
        let ada = user_id(&app, "ada@example.com").await;
        let group = create_group(&app, "Team", &[&ada]).await;
        let id = group["id"].as_str().unwrap();
        assert_eq!(member_ids(&group), vec![ada.clone()]);
        for query in ["excludedAttributes=members", "attributes=displayName", "attributes=externalId"] {
            let one: Value = app.request(Method::GET, &format!("/Groups/{id}?{query}"), None).await.json().await.unwrap();
            assert!(one.get("members").is_none(), "{query}: {one}");
            assert_eq!(one["id"], id);
            let list: Value = app.request(Method::GET, &format!("/Groups?{query}"), None).await.json().await.unwrap();
            assert!(list["Resources"][0].get("members").is_none(), "{query}: {list}");
        }
        let only: Value = app.request(Method::GET, &format!("/Groups/{id}?attributes=members.value"), None).await.json().await.unwrap();
        assert_eq!(only["members"], json!([{"value": ada}]));
        assert!(only.get("displayName").is_none());
    }

    async fn put_replaces_members(app) {
        let ada = user_id(&app, "ada@example.com").await;
        let bob = user_id(&app, "bob@example.com").await;
        let group = create_group(&app, "Team", &[&ada]).await;
        let id = group["id"].as_str().unwrap();
        let body = json!({"schemas": [GROUP_SCHEMA], "displayName": "Team B", "members": [{"value": bob}]});
        let replaced = app.request(Method::PUT, &format!("/Groups/{id}"), Some(&body)).await;
        assert_eq!(replaced.status(), StatusCode::OK);
        let replaced: Value = replaced.json().await.unwrap();
        assert_eq!(replaced["displayName"], "Team B");
        assert_eq!(member_ids(&replaced), vec![bob.clone()]);
        assert_eq!(replaced["meta"]["version"], "W/\"2\"");
        // Without members, PUT empties the group.
        let emptied: Value = app
            .request(Method::PUT, &format!("/Groups/{id}"), Some(&json!({"displayName": "Team B"})))
            .await
            .json()
            .await
            .unwrap();
        assert!(emptied.get("members").is_none(), "{emptied}");
    }

    async fn etags_on_groups(app) {
        let group = create_group(&app, "Tagged", &[]).await;
        let id = group["id"].as_str().unwrap();
        let url = app.url(&format!("/Groups/{id}"));
        let not_modified = app.client.get(&url).bearer_auth(&app.token).header("If-None-Match", "W/\"1\"").send().await.unwrap();
        assert_eq!(not_modified.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(not_modified.headers()["etag"], "W/\"1\"");
        let body = json!({"schemas": [PATCH_SCHEMA], "Operations": [{"op": "replace", "path": "displayName", "value": "Tagged 2"}]});
        let stale = app.client.patch(&url).bearer_auth(&app.token)
            .header("Content-Type", "application/scim+json").header("If-Match", "W/\"7\"")
            .body(body.to_string()).send().await.unwrap();
        assert_scim_error(stale, 412, None).await;
        let fresh = app.client.patch(&url).bearer_auth(&app.token)
            .header("Content-Type", "application/scim+json").header("If-Match", "W/\"1\"")
            .body(body.to_string()).send().await.unwrap();
        assert_eq!(fresh.status(), StatusCode::NO_CONTENT);
        assert_eq!(fresh.headers()["etag"], "W/\"2\"");
        let stale_delete = app.client.delete(&url).bearer_auth(&app.token).header("If-Match", "W/\"1\"").send().await.unwrap();
        assert_scim_error(stale_delete, 412, None).await;
        let modified = app.client.get(&url).bearer_auth(&app.token).header("If-None-Match", "W/\"1\"").send().await.unwrap();
        assert_eq!(modified.status(), StatusCode::OK);
        assert_eq!(modified.headers()["etag"], "W/\"2\"");
    }

    async fn deleting_a_user_removes_its_memberships(app) {
        let ada = user_id(&app, "ada@example.com").await;
        let bob = user_id(&app, "bob@example.com").await;
        let one = create_group(&app, "One", &[&ada, &bob]).await;
        let two = create_group(&app, "Two", &[&ada]).await;
        let deleted = app.request(Method::DELETE, &format!("/Users/{ada}"), None).await;
        assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
        for (group, left) in [(&one, vec![bob.clone()]), (&two, vec![])] {
            let id = group["id"].as_str().unwrap();
            let after = get_group(&app, id).await;
            assert_eq!(member_ids(&after), left);
            assert_eq!(after["meta"]["version"], "W/\"2\"", "the group changed, so its version moved");
            let update = app.audit_events(id).await.into_iter().find(|e| e.action == "group.update").expect("audited");
            assert_eq!(update.target_type, "Group");
            assert_eq!(update.attributes.0, json!(["members"]));
            let detail = update.detail.unwrap().0;
            assert_eq!(detail["removed"], json!([ada]));
            assert_eq!(detail["reason"], "member deleted");
        }
        // A group listed as a member of another goes away with it too.
        let child = create_group(&app, "Child", &[&bob]).await;
        let child_id = child["id"].as_str().unwrap();
        let parent = create_group(&app, "Parent", &[child_id, &bob]).await;
        let parent_id = parent["id"].as_str().unwrap();
        let kinds: Vec<&str> = parent["members"].as_array().unwrap().iter().map(|m| m["type"].as_str().unwrap()).collect();
        assert!(kinds.contains(&"Group") && kinds.contains(&"User"), "{parent}");
        assert_eq!(app.request(Method::DELETE, &format!("/Groups/{child_id}"), None).await.status(), StatusCode::NO_CONTENT);
        assert_eq!(member_ids(&get_group(&app, parent_id).await), vec![bob.clone()]);
        let actions: Vec<String> = app.audit_events(child_id).await.into_iter().map(|e| e.action).collect();
        assert_eq!(actions, ["group.create", "group.delete"]);
    }

    async fn membership_changes_are_audited(app) {
        let ada = user_id(&app, "ada@example.com").await;
        let bob = user_id(&app, "bob@example.com").await;
        let group = create_group(&app, "Audited", &[&ada]).await;
        let id = group["id"].as_str().unwrap();
        patch_group(&app, id, json!([
            {"op": "add", "path": "members", "value": [{"value": bob}]},
            {"op": "remove", "path": format!("members[value eq \"{ada}\"]")},
            {"op": "replace", "path": "displayName", "value": "Audited 2"},
        ])).await;
        let events = app.audit_events(id).await;
        let actions: Vec<&str> = events.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(actions, ["group.create", "group.update"]);
        assert_eq!(events[0].attributes.0, json!(["displayName", "members"]));
        assert_eq!(events[1].attributes.0, json!(["displayName", "members"]));
        let detail = events[1].detail.clone().unwrap().0;
        assert_eq!(detail["membersAdded"], 1);
        assert_eq!(detail["membersRemoved"], 1);
        assert_eq!(detail["added"], json!([bob]));
        assert_eq!(detail["removed"], json!([ada]));
    }

    async fn list_pages_and_filters(app) {
        let ada = user_id(&app, "ada@example.com").await;
        for i in 0..5 {
            create_group(&app, &format!("Group {i}"), &[&ada]).await;
        }
        let page: Value = app.request(Method::GET, "/Groups?startIndex=2&count=2", None).await.json().await.unwrap();
        assert_eq!(page["totalResults"], 5);
        assert_eq!(page["itemsPerPage"], 2);
        assert_eq!(page["Resources"][0]["members"][0]["value"], ada.as_str());
        let found: Value = app.request(Method::GET, "/Groups?filter=displayName%20eq%20%22group%203%22", None).await.json().await.unwrap();
        assert_eq!(found["totalResults"], 1, "displayName eq ignores case");
        assert_eq!(found["Resources"][0]["displayName"], "Group 3");
        let bad = app.request(Method::GET, "/Groups?filter=nope%20eq%20%22x%22", None).await;
        assert_scim_error(bad, 400, Some("invalidFilter")).await;
        // Filter on membership.
        let with_ada: Value = app.request(Method::GET, &format!("/Groups?filter=members.value%20eq%20%22{ada}%22&count=0"), None).await.json().await.unwrap();
        assert_eq!(with_ada["totalResults"], 5);
        // Sorting.
        let sorted: Value = app.request(Method::GET, "/Groups?sortBy=displayName&sortOrder=descending&count=2", None).await.json().await.unwrap();
        assert_eq!(sorted["Resources"][0]["displayName"], "Group 4");
        assert_eq!(sorted["Resources"][1]["displayName"], "Group 3");
        // POST /Groups/.search keeps the filter out of the URL.
        let body = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "filter": "displayName eq \"Group 2\"",
            "excludedAttributes": ["members"],
        });
        let searched = app.request(Method::POST, "/Groups/.search", Some(&body)).await;
        assert_eq!(searched.status(), StatusCode::OK);
        let searched: Value = searched.json().await.unwrap();
        assert_eq!(searched["totalResults"], 1);
        assert_eq!(searched["Resources"][0]["displayName"], "Group 2");
        assert!(searched["Resources"][0].get("members").is_none());
    }

    async fn other_member_patch_forms(app) {
        let ada = user_id(&app, "ada@example.com").await;
        let bob = user_id(&app, "bob@example.com").await;
        let cy = user_id(&app, "cy@example.com").await;
        let group = create_group(&app, "Forms", &[&ada, &bob, &cy]).await;
        let id = group["id"].as_str().unwrap();
        // `or` of value comparisons.
        patch_group(&app, id, json!([{"op": "remove", "path": format!("members[value eq \"{ada}\" or value eq \"{bob}\"]")}])).await;
        assert_eq!(member_ids(&get_group(&app, id).await), vec![cy.clone()]);
        // A filter on another sub-attribute is evaluated on the members.
        patch_group(&app, id, json!([{"op": "remove", "path": "members[type eq \"User\"]"}])).await;
        assert!(get_group(&app, id).await.get("members").is_none());
        // Path-less replace and add carrying members.
        patch_group(&app, id, json!([{"op": "replace", "value": {"members": [{"value": ada}]}}])).await;
        patch_group(&app, id, json!([{"op": "add", "value": {"members": [{"value": bob}], "externalId": "forms"}}])).await;
        let after = get_group(&app, id).await;
        assert_eq!(member_ids(&after), sorted(&[&ada, &bob]));
        assert_eq!(after["externalId"], "forms");
        // remove without value or filter empties the group.
        patch_group(&app, id, json!([{"op": "remove", "path": "members"}])).await;
        assert!(get_group(&app, id).await.get("members").is_none());
        // A bad path is still a SCIM error.
        let bad = patch_group(&app, id, json!([{"op": "remove", "path": "members[nope eq \"x\"]"}])).await;
        assert_scim_error(bad, 400, Some("invalidPath")).await;
    }

    async fn a_users_groups_are_direct_and_indirect(app) {
        let ada = user_id(&app, "ada@example.com").await;
        let bob = user_id(&app, "bob@example.com").await;
        let loner = user_id(&app, "loner@example.com").await;
        let inner = create_group(&app, "Inner", &[&ada]).await;
        let inner_id = inner["id"].as_str().unwrap().to_owned();
        let outer = create_group(&app, "Outer", &[&inner_id, &bob]).await;
        let outer_id = outer["id"].as_str().unwrap().to_owned();
        // A cycle ends at the depth bound.
        patch_group(&app, &inner_id, json!([{"op": "add", "path": "members", "value": [{"value": outer_id}]}])).await;

        let org = OrgId::parse("default").unwrap();
        let ids: Vec<UserId> = [&ada, &bob, &loner].iter().map(|i| UserId::parse(i).unwrap()).collect();
        let base = "https://roster.example/scim/v2";
        let groups = groups_of_users(&app.store, &org, &ids, base).await.unwrap();
        assert_eq!(groups[&ids[0]], json!([
            {"value": inner_id, "$ref": format!("{base}/Groups/{inner_id}"), "display": "Inner", "type": "direct"},
            {"value": outer_id, "$ref": format!("{base}/Groups/{outer_id}"), "display": "Outer", "type": "indirect"},
        ]).as_array().unwrap().clone());
        assert_eq!(groups[&ids[1]], json!([
            {"value": outer_id, "$ref": format!("{base}/Groups/{outer_id}"), "display": "Outer", "type": "direct"},
            {"value": inner_id, "$ref": format!("{base}/Groups/{inner_id}"), "display": "Inner", "type": "indirect"},
        ]).as_array().unwrap().clone());
        assert_eq!(groups[&ids[2]], Vec::<Value>::new());
    }
}
