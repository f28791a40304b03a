//! IdP compatibility, round 2 (issue 13): a value filter in `attributes` / `excludedAttributes`
//! (an extension of RFC 7644 §3.4.2.5), and a bare extension URN as a PATCH path.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const SEARCH_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

/// `method path?query` with `body`; the status and the JSON body.
async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    query: &[(&str, &str)],
    body: Option<&Value>,
) -> (StatusCode, Value) {
    let mut req = app
        .client
        .request(method, app.url(path))
        .bearer_auth(&app.token)
        .query(query);
    if let Some(body) = body {
        req = req
            .header("Content-Type", "application/scim+json")
            .body(body.to_string());
    }
    let response = req.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn work(user_name: &str) -> Value {
    json!({"value": user_name, "type": "work", "primary": true})
}

fn home(user_name: &str) -> Value {
    json!({"value": format!("home.{user_name}"), "type": "home"})
}

/// A user with a work and a home email; its id.
async fn user_with_two_emails(app: &TestApp, user_name: &str) -> String {
    let mut body = okta_user(user_name);
    body["emails"] = json!([work(user_name), home(user_name)]);
    let (status, user) = call(app, Method::POST, "/Users", &[], Some(&body)).await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    user["id"].as_str().unwrap().to_owned()
}

both_backends! {
    async fn value_filtered_attributes_project_user_reads_and_writes(app) {
        let name = "vf@example.com";
        let id = user_with_two_emails(&app, name).await;
        let path = format!("/Users/{id}");
        let only_work = [("attributes", r#"emails[type eq "work"]"#)];

        // GET one: only the matching value, and only what was asked (id, schemas always).
        let (status, user) = call(&app, Method::GET, &path, &only_work, None).await;
        assert_eq!(status, StatusCode::OK, "{user}");
        assert_eq!(user["emails"], json!([work(name)]));
        assert!(user.get("userName").is_none(), "{user}");
        assert_eq!(user["id"], id.as_str());

        // With a sub-attribute after the filter.
        let (_, user) = call(&app, Method::GET, &path,
            &[("attributes", r#"userName,emails[type eq "home"].value"#)], None).await;
        assert_eq!(user["emails"], json!([{"value": format!("home.{name}")}]));
        assert_eq!(user["userName"], name);

        // excludedAttributes drops the matching values only.
        let (_, user) = call(&app, Method::GET, &path,
            &[("excludedAttributes", r#"emails[type eq "work"]"#)], None).await;
        assert_eq!(user["emails"], json!([home(name)]));
        assert_eq!(user["userName"], name);

        // No value matches: the attribute is left out.
        let (_, user) = call(&app, Method::GET, &path,
            &[("attributes", r#"emails[type eq "other"]"#)], None).await;
        assert!(user.get("emails").is_none(), "{user}");

        // List (the filter of the query and the filter of the projection are separate).
        let filter = format!(r#"userName eq "{name}""#);
        let (status, list) = call(&app, Method::GET, "/Users",
            &[("filter", filter.as_str()), ("attributes", r#"emails[type eq "work"].value"#)], None).await;
        assert_eq!(status, StatusCode::OK, "{list}");
        assert_eq!(list["Resources"][0]["emails"], json!([{"value": name}]));

        // POST /Users/.search with the attributes in the body (a comma inside the filter is
        // part of it).
        let search = json!({
            "schemas": [SEARCH_REQUEST],
            "filter": filter,
            "attributes": ["userName", r#"emails[value co "," or type eq "home"]"#]
        });
        let (status, found) = call(&app, Method::POST, "/Users/.search", &[], Some(&search)).await;
        assert_eq!(status, StatusCode::OK, "{found}");
        assert_eq!(found["Resources"][0]["emails"], json!([home(name)]));
        assert_eq!(found["Resources"][0]["userName"], name);
        let search = json!({
            "schemas": [SEARCH_REQUEST],
            "filter": filter,
            "excludedAttributes": [r#"emails[type eq "home"]"#]
        });
        let (_, found) = call(&app, Method::POST, "/.search", &[], Some(&search)).await;
        assert_eq!(found["Resources"][0]["emails"], json!([work(name)]));

        // Write responses: POST, PUT and PATCH take the same parameters.
        let mut body = okta_user("vf2@example.com");
        body["emails"] = json!([work("vf2@example.com"), home("vf2@example.com")]);
        let (status, created) = call(&app, Method::POST, "/Users", &only_work, Some(&body)).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        assert_eq!(created["emails"], json!([work("vf2@example.com")]));
        assert!(created.get("name").is_none(), "{created}");
        let mut put = okta_user(name);
        put["emails"] = json!([work(name), home(name)]);
        put["nickName"] = json!("put");
        let (status, replaced) = call(&app, Method::PUT, &path, &only_work, Some(&put)).await;
        assert_eq!(status, StatusCode::OK, "{replaced}");
        assert_eq!(replaced["emails"], json!([work(name)]));
        assert!(replaced.get("nickName").is_none());
        let patch = json!({"schemas": [PATCH_SCHEMA], "Operations": [
            {"op": "add", "path": "emails", "value": [{"value": "other@example.com", "type": "other"}]}
        ]});
        let (status, patched) = call(&app, Method::PATCH, &path,
            &[("excludedAttributes", r#"emails[type ne "other"]"#)], Some(&patch)).await;
        assert_eq!(status, StatusCode::OK, "{patched}");
        assert_eq!(patched["emails"], json!([{"value": "other@example.com", "type": "other"}]));
        assert_eq!(patched["userName"], name);
        // The projection shaped the answer, not the stored user.
        let (_, stored) = call(&app, Method::GET, &path, &[], None).await;
        assert_eq!(stored["emails"].as_array().map(Vec::len), Some(3), "{stored}");
    }

    async fn value_filtered_attributes_project_group_members(app) {
        let user_id = user_with_two_emails(&app, "member@example.com").await;
        let inner = json!({"schemas": [GROUP_SCHEMA], "displayName": "Inner"});
        let (status, inner) = call(&app, Method::POST, "/Groups", &[], Some(&inner)).await;
        assert_eq!(status, StatusCode::CREATED, "{inner}");
        let inner_id = inner["id"].as_str().unwrap().to_owned();
        let outer = json!({"schemas": [GROUP_SCHEMA], "displayName": "Outer", "members": [
            {"value": user_id}, {"value": inner_id}
        ]});
        let (status, outer) = call(&app, Method::POST, "/Groups",
            &[("attributes", r#"members[type eq "Group"].value"#)], Some(&outer)).await;
        assert_eq!(status, StatusCode::CREATED, "{outer}");
        assert_eq!(outer["members"], json!([{"value": inner_id}]));
        let id = outer["id"].as_str().unwrap().to_owned();
        let path = format!("/Groups/{id}");

        let (_, group) = call(&app, Method::GET, &path,
            &[("attributes", r#"members[type eq "User"]"#)], None).await;
        let members = group["members"].as_array().unwrap();
        assert_eq!(members.len(), 1, "{group}");
        assert_eq!(members[0]["value"], user_id.as_str());
        assert_eq!(members[0]["type"], "User");
        assert!(group.get("displayName").is_none());

        let (_, list) = call(&app, Method::GET, "/Groups",
            &[("filter", r#"displayName eq "Outer""#), ("excludedAttributes", r#"members[type eq "User"]"#)],
            None).await;
        assert_eq!(list["Resources"][0]["members"].as_array().map(Vec::len), Some(1), "{list}");
        assert_eq!(list["Resources"][0]["members"][0]["value"], inner_id.as_str());
        assert_eq!(list["Resources"][0]["displayName"], "Outer");

        let search = json!({"schemas": [SEARCH_REQUEST], "filter": r#"displayName eq "Outer""#,
            "attributes": [format!(r#"members[value eq "{user_id}"].display"#)]});
        let (status, found) = call(&app, Method::POST, "/Groups/.search", &[], Some(&search)).await;
        assert_eq!(status, StatusCode::OK, "{found}");
        assert_eq!(found["Resources"][0]["members"], json!([{"display": "Ada Lovelace"}]));

        // PATCH with a projection answers 200 with the projected group.
        let patch = json!({"schemas": [PATCH_SCHEMA], "Operations": [
            {"op": "replace", "path": "displayName", "value": "Outer 2"}
        ]});
        let (status, patched) = call(&app, Method::PATCH, &path,
            &[("attributes", r#"displayName,members[type eq "Group"].value"#)], Some(&patch)).await;
        assert_eq!(status, StatusCode::OK, "{patched}");
        assert_eq!(patched["displayName"], "Outer 2");
        assert_eq!(patched["members"], json!([{"value": inner_id}]));
    }

    async fn value_filtered_attributes_are_validated(app) {
        let id = user_with_two_emails(&app, "bad@example.com").await;
        let path = format!("/Users/{id}");
        let cases = [
            ("attributes", r#"emails[nosuch eq "x"]"#, "invalidFilter", "unknown attribute 'emails.nosuch'"),
            ("attributes", r#"emails[type eq "work"].nosuch"#, "invalidFilter", "unknown attribute 'emails.nosuch'"),
            ("excludedAttributes", r#"name[givenName eq "Ada"]"#, "invalidFilter", "'name' is not a multi-valued complex attribute"),
            ("attributes", r#"userName[value eq "x"]"#, "invalidFilter", "'userName' is not a multi-valued complex attribute"),
            ("attributes", r#"emails[type eq "work""#, "invalidFilter", "attributes: "),
            ("attributes", r#"emails[active eq true]"#, "invalidFilter", "unknown attribute 'emails.active'"),
            ("attributes", r#"emails[primary eq "maybe"]"#, "invalidFilter", "boolean"),
        ];
        for (param, value, scim_type, detail) in cases {
            let (status, body) = call(&app, Method::GET, &path, &[(param, value)], None).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{param}={value}: {body}");
            assert_eq!(body["scimType"], scim_type, "{param}={value}: {body}");
            let message = body["detail"].as_str().unwrap();
            assert!(message.contains(detail) && message.starts_with(param), "{param}={value}: {message}");
        }
        // The same in a SearchRequest body.
        let search = json!({"schemas": [SEARCH_REQUEST], "attributes": [r#"name[givenName eq "Ada"]"#]});
        let (status, body) = call(&app, Method::POST, "/Users/.search", &[], Some(&search)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["scimType"], "invalidFilter");

        // The filters of both parameters count toward the filter bounds together (50
        // comparisons, 5 substring ones).
        let many = |n: usize| (0..n).map(|i| format!(r#"emails[value eq "{i}"]"#)).collect::<Vec<_>>().join(",");
        let (status, _) = call(&app, Method::GET, &path,
            &[("attributes", many(25).as_str()), ("excludedAttributes", many(25).as_str())], None).await;
        assert_eq!(status, StatusCode::OK);
        let (status, body) = call(&app, Method::GET, &path,
            &[("attributes", many(25).as_str()), ("excludedAttributes", many(26).as_str())], None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["scimType"], "tooMany", "{body}");
        let substrings = (0..6).map(|i| format!(r#"emails[value co "{i}"]"#)).collect::<Vec<_>>().join(",");
        let (status, body) = call(&app, Method::GET, &path, &[("attributes", substrings.as_str())], None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["scimType"], "tooMany", "{body}");

        // A name the resource type does not know is ignored, filtered or not (one list for
        // every endpoint).
        let (status, user) = call(&app, Method::GET, &path,
            &[("excludedAttributes", r#"members[type eq "User"],members"#)], None).await;
        assert_eq!(status, StatusCode::OK, "{user}");
        assert_eq!(user["emails"].as_array().map(Vec::len), Some(2));
    }

    async fn a_bare_extension_urn_patches_the_whole_extension(app) {
        let mut body = okta_user("ext@example.com");
        body["schemas"] = json!([USER_SCHEMA, ENTERPRISE]);
        body[ENTERPRISE] = json!({"employeeNumber": "701984", "department": "Tour"});
        let (status, user) = call(&app, Method::POST, "/Users", &[], Some(&body)).await;
        assert_eq!(status, StatusCode::CREATED, "{user}");
        let id = user["id"].as_str().unwrap().to_owned();

        // add merges into the extension.
        let response = app.patch_user(&id, json!([{"op": "add", "path": ENTERPRISE, "value": {
            "costCenter": "4130", "department": "Sales", "manager": {"value": id}
        }}])).await;
        assert_eq!(response.status(), StatusCode::OK);
        let user: Value = app.get_user(&id).await.json().await.unwrap();
        assert_eq!(user[ENTERPRISE]["employeeNumber"], "701984");
        assert_eq!(user[ENTERPRISE]["department"], "Sales");
        assert_eq!(user[ENTERPRISE]["costCenter"], "4130");
        assert_eq!(user[ENTERPRISE]["manager"]["value"], id.as_str());

        // replace replaces what it names and leaves the rest (RFC 7644 §3.5.2.3), and is stored
        // so (the enterprise columns a filter reads follow).
        let response = app.patch_user(&id, json!([{"op": "replace", "path": ENTERPRISE, "value": {
            "organization": "Example", "employeeNumber": "802095"
        }}])).await;
        assert_eq!(response.status(), StatusCode::OK);
        let user: Value = app.get_user(&id).await.json().await.unwrap();
        assert_eq!(user[ENTERPRISE]["organization"], "Example", "{user}");
        assert_eq!(user[ENTERPRISE]["employeeNumber"], "802095", "{user}");
        assert_eq!(user[ENTERPRISE]["department"], "Sales", "{user}");
        let (_, list) = call(&app, Method::GET, "/Users",
            &[("filter", format!(r#"{ENTERPRISE}:employeeNumber eq "701984""#).as_str())], None).await;
        assert_eq!(list["totalResults"], 0, "{list}");
        let (_, list) = call(&app, Method::GET, "/Users",
            &[("filter", format!(r#"{ENTERPRISE}:employeeNumber eq "802095""#).as_str())], None).await;
        assert_eq!(list["totalResults"], 1, "{list}");
        let (_, list) = call(&app, Method::GET, "/Users",
            &[("filter", r#"organization eq "Example""#)], None).await;
        assert_eq!(list["totalResults"], 1, "{list}");

        // Refused, and nothing changes: the core schema's URN, remove with a value, a value
        // that is not an object.
        let version = user["meta"]["version"].clone();
        for (ops, scim_type) in [
            (json!([{"op": "replace", "path": USER_SCHEMA, "value": {"nickName": "x"}}]), "invalidPath"),
            (json!([{"op": "remove", "path": ENTERPRISE, "value": {"organization": "Example"}}]), "invalidValue"),
            (json!([{"op": "add", "path": ENTERPRISE, "value": "Example"}]), "invalidValue"),
        ] {
            let body = assert_scim_error(app.patch_user(&id, ops.clone()).await, 400, Some(scim_type)).await;
            assert!(body["detail"].as_str().unwrap().contains("urn:"), "{ops}: {body}");
        }
        let user: Value = app.get_user(&id).await.json().await.unwrap();
        assert_eq!(user["meta"]["version"], version);

        // remove takes the whole extension away, URN in `schemas` included.
        let response = app.patch_user(&id, json!([{"op": "remove", "path": ENTERPRISE}])).await;
        assert_eq!(response.status(), StatusCode::OK);
        let user: Value = app.get_user(&id).await.json().await.unwrap();
        assert!(user.get(ENTERPRISE).is_none(), "{user}");
        assert_eq!(user["schemas"], json!([USER_SCHEMA]));
        assert_eq!(user["userName"], "ext@example.com");

        // A group has no extension: its core URN names no attribute.
        let group = json!({"schemas": [GROUP_SCHEMA], "displayName": "G"});
        let (_, group) = call(&app, Method::POST, "/Groups", &[], Some(&group)).await;
        let patch = json!({"schemas": [PATCH_SCHEMA], "Operations": [
            {"op": "replace", "path": GROUP_SCHEMA, "value": {"displayName": "H"}}
        ]});
        let (status, body) = call(&app, Method::PATCH, &format!("/Groups/{}", group["id"].as_str().unwrap()),
            &[], Some(&patch)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["scimType"], "invalidPath");
    }
}
