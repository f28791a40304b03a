//! `/Bulk` end to end (RFC 7644 §3.7): bulkId references, circular references, failOnErrors,
//! and the limits advertised in `/ServiceProviderConfig`.

use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

const BULK_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
const BULK_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";
const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

async fn bulk(app: &TestApp, operations: Vec<Value>, fail_on_errors: Option<u64>) -> Response {
    let mut body = json!({"schemas": [BULK_REQUEST], "Operations": operations});
    if let Some(n) = fail_on_errors {
        body["failOnErrors"] = json!(n);
    }
    app.request(Method::POST, "/Bulk", Some(&body)).await
}

async fn bulk_ok(app: &TestApp, operations: Vec<Value>, fail_on_errors: Option<u64>) -> Vec<Value> {
    let response = bulk(app, operations, fail_on_errors).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["schemas"], json!([BULK_RESPONSE]));
    body["Operations"].as_array().unwrap().clone()
}

fn user_op(bulk_id: &str, user_name: &str) -> Value {
    json!({
        "method": "POST",
        "path": "/Users",
        "bulkId": bulk_id,
        "data": {"schemas": [USER_SCHEMA], "userName": user_name, "displayName": user_name},
    })
}

async fn get(app: &TestApp, path: &str) -> Value {
    let response = app.request(Method::GET, path, None).await;
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    response.json().await.unwrap()
}

fn id_of(result: &Value) -> String {
    result["location"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned()
}

/// 1,000 users and 10 groups of 100 of them, the members named by bulkId, in one request.
async fn thousand_users_and_ten_groups(app: TestApp) {
    let mut operations: Vec<Value> = Vec::new();
    // The groups come first: they wait for the users they reference.
    for g in 0..10 {
        let members: Vec<Value> = (0..100)
            .map(|u| json!({"value": format!("bulkId:user{}", g * 100 + u), "type": "User"}))
            .collect();
        operations.push(json!({
            "method": "POST",
            "path": "/Groups",
            "bulkId": format!("group{g}"),
            "data": {"schemas": [GROUP_SCHEMA], "displayName": format!("Group {g}"), "members": members},
        }));
    }
    for u in 0..1000 {
        operations.push(user_op(
            &format!("user{u}"),
            &format!("user{u}@example.com"),
        ));
    }
    let results = bulk_ok(&app, operations, None).await;
    assert_eq!(results.len(), 1010);
    for r in &results {
        assert_eq!(r["status"], "201", "{r}");
        assert_eq!(r["method"], "POST");
        assert!(r["version"].as_str().is_some(), "{r}");
    }
    // In request order, with the bulkIds echoed.
    assert_eq!(results[0]["bulkId"], "group0");
    assert_eq!(results[10]["bulkId"], "user0");
    let users: Value = get(&app, "/Users?count=0").await;
    assert_eq!(users["totalResults"], 1000);
    let group0 = get(&app, &format!("/Groups/{}", id_of(&results[0]))).await;
    let members = group0["members"].as_array().unwrap();
    assert_eq!(members.len(), 100);
    let user0 = id_of(&results[10]);
    assert!(
        members.iter().any(|m| m["value"] == user0.as_str()),
        "user0 is in group 0"
    );
    let groups: Value = get(&app, "/Groups?count=0").await;
    assert_eq!(groups["totalResults"], 10);
}

mod a_thousand_users_and_ten_groups_in_one_request {
    use super::*;

    fn settings(s: &mut roster::config::Settings) {
        s.bulk_max_operations = 1010;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        thousand_users_and_ten_groups(TestApp::spawn_with(Backend::Sqlite, settings).await).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        thousand_users_and_ten_groups(TestApp::spawn_with(Backend::Postgres, settings).await).await
    }
}

both_backends! {
    async fn limits_are_advertised_and_enforced(app) {
        let spc = get(&app, "/ServiceProviderConfig").await;
        assert_eq!(spc["bulk"]["supported"], true);
        let max = spc["bulk"]["maxOperations"].as_u64().unwrap();
        assert_eq!(max, 1000);
        let max_payload = spc["bulk"]["maxPayloadSize"].as_u64().unwrap();
        assert_eq!(max_payload, 1024 * 1024);
        let operations: Vec<Value> = (0..=max).map(|i| user_op(&format!("u{i}"), &format!("u{i}"))).collect();
        let body = assert_scim_error(bulk(&app, operations, None).await, 413, None).await;
        assert!(body["detail"].as_str().unwrap().contains("maxOperations"), "{body}");
        let users = get(&app, "/Users?count=0").await;
        assert_eq!(users["totalResults"], 0, "nothing ran");
        // A body over maxPayloadSize is a SCIM 413 too, although it is larger than
        // ROSTER_MAX_BODY_BYTES allows elsewhere.
        let padding = "x".repeat(usize::try_from(max_payload).unwrap());
        let big = bulk(&app, vec![json!({"method": "DELETE", "path": "/Users/x", "padding": padding})], None).await;
        let body = assert_scim_error(big, 413, None).await;
        assert!(body["detail"].as_str().unwrap().contains("maxPayloadSize"), "{body}");
        // A Bulk body larger than the general body limit but within maxPayloadSize is fine.
        let padding = "x".repeat(app.settings.max_body_bytes + 10);
        let fine = bulk(&app, vec![json!({"method": "DELETE", "path": "/Users/x", "padding": padding})], None).await;
        assert_eq!(fine.status(), StatusCode::OK);
    }

    async fn every_method_with_references_in_paths_and_data(app) {
        let results = bulk_ok(&app, vec![
            user_op("ada", "ada@example.com"),
            json!({"method": "POST", "path": "/Groups", "bulkId": "team", "data": {"displayName": "Team"}}),
            json!({"method": "PATCH", "path": "/Groups/bulkId:team", "data": {
                "schemas": [PATCH_SCHEMA],
                "Operations": [{"op": "add", "path": "members", "value": [{"value": "bulkId:ada"}]}],
            }}),
            json!({"method": "PUT", "path": "/Users/bulkId:ada", "version": "W/\"1\"", "data": {"userName": "ada@example.com", "displayName": "Ada L."}}),
            json!({"method": "PATCH", "path": "/Users/bulkId:ada", "version": "W/\"1\"", "data": {
                "Operations": [{"op": "replace", "path": "active", "value": false}],
            }}),
        ], None).await;
        let statuses: Vec<&str> = results.iter().map(|r| r["status"].as_str().unwrap()).collect();
        assert_eq!(statuses, ["201", "201", "200", "200", "412"]);
        let ada = id_of(&results[0]);
        let team = id_of(&results[1]);
        assert_eq!(results[0]["location"], app.url(&format!("/Users/{ada}")));
        assert_eq!(results[2]["location"], app.url(&format!("/Groups/{team}")));
        assert_eq!(results[2]["version"], "W/\"2\"");
        assert_eq!(results[3]["version"], "W/\"2\"");
        assert_eq!(results[4]["response"]["status"], "412");
        let group = get(&app, &format!("/Groups/{team}")).await;
        assert_eq!(group["members"][0]["value"], ada.as_str());
        assert_eq!(group["members"][0]["display"], "Ada L.");
        let user = get(&app, &format!("/Users/{ada}")).await;
        assert_eq!(user["active"], true, "the stale PATCH did nothing");

        let results = bulk_ok(&app, vec![
            json!({"method": "DELETE", "path": format!("/Users/{ada}")}),
            json!({"method": "DELETE", "path": format!("/Groups/{team}")}),
            json!({"method": "DELETE", "path": format!("/Groups/{team}")}),
        ], None).await;
        let statuses: Vec<&str> = results.iter().map(|r| r["status"].as_str().unwrap()).collect();
        assert_eq!(statuses, ["204", "204", "404"]);
        assert_eq!(results[2]["response"]["schemas"], json!([ERROR_SCHEMA]));
    }

    async fn circular_group_references_are_resolved(app) {
        let results = bulk_ok(&app, vec![
            json!({"method": "POST", "path": "/Groups", "bulkId": "a", "data": {"displayName": "A", "members": [{"value": "bulkId:b", "type": "Group"}]}}),
            json!({"method": "POST", "path": "/Groups", "bulkId": "b", "data": {"displayName": "B", "members": [{"value": "bulkId:a", "type": "Group"}]}}),
        ], None).await;
        assert_eq!(results[0]["status"], "201", "{results:?}");
        assert_eq!(results[1]["status"], "201", "{results:?}");
        let (a, b) = (id_of(&results[0]), id_of(&results[1]));
        let group_a = get(&app, &format!("/Groups/{a}")).await;
        let group_b = get(&app, &format!("/Groups/{b}")).await;
        assert_eq!(group_a["members"][0]["value"], b.as_str());
        assert_eq!(group_b["members"][0]["value"], a.as_str());
        assert_eq!(results[0]["version"], group_a["meta"]["version"], "the response shows the final version");

        // A cycle through user data cannot be broken: 409 for each operation in it.
        let results = bulk_ok(&app, vec![
            json!({"method": "POST", "path": "/Users", "bulkId": "x", "data": {"userName": "x", "externalId": "bulkId:y"}}),
            json!({"method": "POST", "path": "/Users", "bulkId": "y", "data": {"userName": "y", "externalId": "bulkId:x"}}),
        ], None).await;
        assert_eq!(results[0]["status"], "409");
        assert_eq!(results[1]["status"], "409");
    }

    async fn errors_per_operation_and_fail_on_errors(app) {
        let results = bulk_ok(&app, vec![
            user_op("one", "one@example.com"),
            user_op("dup", "one@example.com"),
            json!({"method": "POST", "path": "/Groups", "bulkId": "g", "data": {"displayName": "G", "members": [{"value": "bulkId:dup"}]}}),
            json!({"method": "POST", "path": "/Groups", "bulkId": "h", "data": {"displayName": "H", "members": [{"value": "bulkId:nobody"}]}}),
            json!({"method": "GET", "path": "/Users"}),
            json!({"method": "POST", "path": "/Users", "data": {"userName": "no-bulk-id"}}),
            json!({"method": "POST", "path": "/Nope", "bulkId": "n", "data": {}}),
            user_op("two", "two@example.com"),
        ], None).await;
        let statuses: Vec<&str> = results.iter().map(|r| r["status"].as_str().unwrap()).collect();
        assert_eq!(statuses, ["201", "409", "409", "409", "405", "400", "404", "201"]);
        assert_eq!(results[1]["response"]["scimType"], "uniqueness");
        assert!(results[2]["response"]["detail"].as_str().unwrap().contains("dup"));

        // failOnErrors: stop after the second error.
        let results = bulk_ok(&app, vec![
            user_op("a", "one@example.com"),
            user_op("b", "b@example.com"),
            user_op("c", "two@example.com"),
            user_op("d", "d@example.com"),
        ], Some(2)).await;
        let statuses: Vec<&str> = results.iter().map(|r| r["status"].as_str().unwrap()).collect();
        assert_eq!(statuses, ["409", "201", "409"]);
        let users = get(&app, "/Users?count=0").await;
        assert_eq!(users["totalResults"], 3, "d was never created");

        // A body that is not a BulkRequest at all is refused whole.
        let bad = app.request(Method::POST, "/Bulk", Some(&json!({"schemas": [BULK_REQUEST]}))).await;
        assert_scim_error(bad, 400, Some("invalidSyntax")).await;
    }
}
