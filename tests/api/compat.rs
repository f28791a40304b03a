//! IdP compatibility, round 2 (issue 13): `externalId` is not unique (RFC 7643 §3.1), and a
//! trailing slash names the same endpoint as the path without it.

use reqwest::{Method, StatusCode};
use roster::auth::Role;
use serde_json::{Value, json};

use crate::helpers::*;

const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const BULK_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";

/// `GET path`, asserting 200; the body.
async fn get_ok(app: &TestApp, path: &str) -> Value {
    let response = app.request(Method::GET, path, None).await;
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    response.json().await.unwrap()
}

/// POST `body` to `path`, asserting 201; the created resource's id.
async fn created(app: &TestApp, path: &str, body: &Value) -> String {
    let response = app.request(Method::POST, path, Some(body)).await;
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "POST {path}: {body}");
    body["id"].as_str().unwrap().to_owned()
}

fn user(user_name: &str, external_id: &str) -> Value {
    let mut body = okta_user(user_name);
    body["externalId"] = json!(external_id);
    body
}

fn group(display_name: &str, external_id: &str) -> Value {
    json!({"schemas": [GROUP_SCHEMA], "displayName": display_name, "externalId": external_id})
}

/// The ids of a ListResponse's resources, sorted.
fn ids(list: &Value) -> Vec<String> {
    let mut ids: Vec<String> = list["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

const EXTERNAL_X: &str = "externalId%20eq%20%22x%22";

both_backends! {
    async fn users_share_an_external_id_through_post_put_patch_and_bulk(app) {
        // POST: Microsoft's collection creates several users with one externalId.
        let a = created(&app, "/Users", &user("a@example.com", "x")).await;
        let b = created(&app, "/Users", &user("b@example.com", "x")).await;
        let list = get_ok(&app, &format!("/Users?filter={EXTERNAL_X}")).await;
        assert_eq!(list["totalResults"], 2, "{list}");
        assert_eq!(ids(&list), sorted(vec![a.clone(), b.clone()]));

        // PUT and PATCH onto a taken externalId.
        let c = created(&app, "/Users", &user("c@example.com", "c")).await;
        let put = app.request(Method::PUT, &format!("/Users/{c}"), Some(&user("c@example.com", "x"))).await;
        assert_eq!(put.status(), StatusCode::OK);
        let d = created(&app, "/Users", &user("d@example.com", "d")).await;
        let patch = app.patch_user(&d, json!([{"op": "replace", "path": "externalId", "value": "x"}])).await;
        assert!(patch.status().is_success(), "{}", patch.status());

        // Bulk: two more, in one request.
        let op = |bulk_id: &str, name: &str| json!({
            "method": "POST", "path": "/Users", "bulkId": bulk_id, "data": user(name, "x"),
        });
        let body = json!({"schemas": [BULK_REQUEST], "Operations": [op("e", "e@example.com"), op("f", "f@example.com")]});
        let bulk = app.request(Method::POST, "/Bulk", Some(&body)).await;
        assert_eq!(bulk.status(), StatusCode::OK);
        let bulk: Value = bulk.json().await.unwrap();
        let statuses: Vec<&str> = bulk["Operations"].as_array().unwrap().iter().map(|r| r["status"].as_str().unwrap()).collect();
        assert_eq!(statuses, ["201", "201"], "{bulk}");

        let list = get_ok(&app, &format!("/Users?filter={EXTERNAL_X}&count=100")).await;
        assert_eq!(list["totalResults"], 6, "{list}");
        assert!(list["Resources"].as_array().unwrap().iter().all(|r| r["externalId"] == "x"));
        // An externalId filter with more than the lookup still lists every match, and paging
        // applies to it like any listing.
        let page = get_ok(&app, &format!("/Users?filter={EXTERNAL_X}%20and%20active%20eq%20true&count=1")).await;
        assert_eq!(page["totalResults"], 6, "{page}");
        assert_eq!(page["itemsPerPage"], 1, "{page}");
        // userName stays unique.
        assert_scim_error(app.post_user(&user("A@example.com", "y")).await, 409, Some("uniqueness")).await;
    }

    async fn groups_share_an_external_id_through_post_put_patch_and_bulk(app) {
        let a = created(&app, "/Groups", &group("A", "x")).await;
        let b = created(&app, "/Groups", &group("B", "x")).await;
        let list = get_ok(&app, &format!("/Groups?filter={EXTERNAL_X}")).await;
        assert_eq!(list["totalResults"], 2, "{list}");
        assert_eq!(ids(&list), sorted(vec![a, b]));

        let c = created(&app, "/Groups", &group("C", "c")).await;
        let put = app.request(Method::PUT, &format!("/Groups/{c}"), Some(&group("C", "x"))).await;
        assert_eq!(put.status(), StatusCode::OK);
        let d = created(&app, "/Groups", &group("D", "d")).await;
        let body = json!({"schemas": [PATCH_SCHEMA], "Operations": [{"op": "replace", "path": "externalId", "value": "x"}]});
        let patch = app.request(Method::PATCH, &format!("/Groups/{d}"), Some(&body)).await;
        assert!(patch.status().is_success(), "{}", patch.status());
        let body = json!({"schemas": [BULK_REQUEST], "Operations": [
            {"method": "POST", "path": "/Groups", "bulkId": "e", "data": group("E", "x")},
        ]});
        let bulk = app.request(Method::POST, "/Bulk", Some(&body)).await;
        let bulk: Value = bulk.json().await.unwrap();
        assert_eq!(bulk["Operations"][0]["status"], "201", "{bulk}");

        let list = get_ok(&app, &format!("/Groups?filter={EXTERNAL_X}")).await;
        assert_eq!(list["totalResults"], 5, "{list}");
        // displayName stays unique.
        let clash = app.request(Method::POST, "/Groups", Some(&group("a", "y"))).await;
        assert_scim_error(clash, 409, Some("uniqueness")).await;
    }

    async fn a_trailing_slash_names_the_same_endpoint(app) {
        // POST to `/Users/` and `/Groups/`.
        let id = created(&app, "/Users/", &user("slash@example.com", "slash")).await;
        let group_id = created(&app, "/Groups/", &group("Slash", "slash")).await;

        // GET list with a filter: the query string is kept.
        let list = get_ok(&app, &format!("/Users/?filter={}", "userName%20eq%20%22slash%40example.com%22")).await;
        assert_eq!(list["totalResults"], 1, "{list}");
        assert_eq!(list["Resources"][0]["id"], id.as_str());
        let list = get_ok(&app, "/Groups/?filter=externalId%20eq%20%22slash%22").await;
        assert_eq!(list["totalResults"], 1, "{list}");
        assert_eq!(list["Resources"][0]["id"], group_id.as_str());
        // Without a filter, the same page as without the slash.
        assert_eq!(get_ok(&app, "/Users/").await["totalResults"], 1);

        // GET, PATCH, PUT, DELETE by id.
        let fetched = get_ok(&app, &format!("/Users/{id}/")).await;
        assert_eq!(fetched["userName"], "slash@example.com");
        assert_eq!(get_ok(&app, &format!("/Groups/{group_id}/")).await["displayName"], "Slash");
        let body = json!({"schemas": [PATCH_SCHEMA], "Operations": [{"op": "replace", "path": "displayName", "value": "Patched"}]});
        let patched = app.request(Method::PATCH, &format!("/Users/{id}/"), Some(&body)).await;
        assert!(patched.status().is_success(), "{}", patched.status());
        assert_eq!(get_ok(&app, &format!("/Users/{id}")).await["displayName"], "Patched");
        let put = app.request(Method::PUT, &format!("/Users/{id}/"), Some(&user("slash@example.com", "slash"))).await;
        assert_eq!(put.status(), StatusCode::OK);

        // Discovery and Bulk.
        for path in ["/ServiceProviderConfig", "/Schemas", "/ResourceTypes"] {
            assert_eq!(get_ok(&app, &format!("{path}/")).await, get_ok(&app, path).await, "{path}/");
        }
        let body = json!({"schemas": [BULK_REQUEST], "Operations": [
            {"method": "POST", "path": "/Users", "bulkId": "b", "data": user("bulk@example.com", "b")},
        ]});
        let bulk = app.request(Method::POST, "/Bulk/", Some(&body)).await;
        assert_eq!(bulk.status(), StatusCode::OK);
        let bulk: Value = bulk.json().await.unwrap();
        assert_eq!(bulk["Operations"][0]["status"], "201", "{bulk}");
        // `/Me/`: the user the token acts as.
        let token = app.mint(Role::Provisioner, "default", Some(&id));
        let me = app.request_as(&token, Method::GET, "/Me/", None).await;
        assert_eq!(me.status(), StatusCode::OK);
        assert_eq!(me.json::<Value>().await.unwrap()["id"], id.as_str());
        // A method the endpoint does not take is still 405, not 404.
        assert_eq!(app.request(Method::DELETE, "/Users/", None).await.status(), StatusCode::METHOD_NOT_ALLOWED);

        let deleted = app.request(Method::DELETE, &format!("/Users/{id}/"), None).await;
        assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
        assert_eq!(app.get_user(&id).await.status(), StatusCode::NOT_FOUND);
        let deleted = app.request(Method::DELETE, &format!("/Groups/{group_id}/"), None).await;
        assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    }
}
