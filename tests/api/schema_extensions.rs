//! An organization's own extension schemas (issue 13, point 5; docs/admin-api.md, "Schema
//! extensions"): registered through the admin API, advertised in the org's `/Schemas` and
//! `/ResourceTypes`, validated, stored, returned, filtered, sorted and PATCHed like the
//! built-in schemas, refused when unregistered, and removed (with their data only on
//! confirmation). Over real HTTP, on both backends.

use reqwest::Method;
use serde_json::{Value, json};

use roster::auth::Role;
use roster::startup::Application;

use crate::helpers::*;

const ACME: &str = "urn:ietf:params:scim:schemas:extension:acme:2.0:User";

fn acme() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": ACME,
        "name": "AcmeUser",
        "description": "Acme's own user attributes",
        "resourceType": "User",
        "attributes": [
            {"name": "costCode", "type": "string", "description": "Where the user's costs go"},
            {"name": "badges", "type": "string", "multiValued": true, "caseExact": true},
            {"name": "clearance", "type": "integer"},
            {"name": "site", "type": "complex", "subAttributes": [
                {"name": "building", "type": "string"},
                {"name": "floor", "type": "integer"}
            ]}
        ]
    })
}

async fn json_of(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Entra's create with a custom extension: the extension's object under its URN, and one of its
/// attributes as a URN-qualified key (both forms Entra's attribute mappings produce).
fn entra_user(user_name: &str, cost: &str, building: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ACME],
        "externalId": format!("ext-{user_name}"),
        "userName": user_name,
        "active": "True",
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        ACME: {"costCode": cost, "badges": ["B-1", "b-2"], "site": {"building": building, "floor": 3}},
        format!("{ACME}:clearance"): 2
    })
}

both_backends! {
    async fn an_org_registers_an_extension_and_its_users_carry_it(app) {
        // Unregistered: the value is refused, naming the URN and how to register it.
        let (status, error) = json_of(app.post_user(&entra_user("early@example.com", "CC-1", "A")).await).await;
        assert_eq!(status, 400, "{error}");
        assert_eq!(error["scimType"], "invalidValue", "{error}");
        let detail = error["detail"].as_str().unwrap();
        assert!(detail.contains(ACME) && detail.contains("/admin/v1/schema-extensions"), "{detail}");

        // Bad definitions: 400 naming the field; nothing registered.
        let mut bad = acme();
        bad["attributes"][0]["uniqueness"] = json!("server");
        let (status, error) = admin(&app, Method::POST, "/schema-extensions", Some(bad)).await;
        assert_eq!((status, error["error"].as_str()), (400, Some("invalid_request")), "{error}");
        assert!(error["message"].as_str().unwrap().contains("uniqueness"), "{error}");

        // Registered: 201, readable, listed, audited; a second registration is a conflict.
        let (status, created) = admin(&app, Method::POST, "/schema-extensions", Some(acme())).await;
        assert_eq!(status, 201, "{created}");
        assert_eq!(created["definition"]["id"], ACME);
        assert_eq!(created["definition"]["attributes"][2]["type"], "integer");
        let (status, again) = admin(&app, Method::POST, "/schema-extensions", Some(acme())).await;
        assert_eq!((status, again["error"].as_str()), (409, Some("conflict")), "{again}");
        let (status, one) = admin(&app, Method::GET, &format!("/schema-extensions/{}", ACME.to_uppercase()), None).await;
        assert_eq!((status, &one["definition"]["name"]), (200, &json!("AcmeUser")), "{one}");
        let (_, list) = admin(&app, Method::GET, "/schema-extensions", None).await;
        assert_eq!(list["extensions"].as_array().map(Vec::len), Some(1), "{list}");
        let events = app.audit_events(ACME).await;
        assert!(events.iter().any(|e| e.action == "schema_extension.create" && e.channel == "admin"));

        // Advertised in this org's discovery: /Schemas and the User resource type.
        let (_, schema) = json_of(app.request(Method::GET, &format!("/Schemas/{ACME}"), None).await).await;
        assert_eq!(schema["attributes"][0]["name"], "costCode", "{schema}");
        let (_, user_type) = json_of(app.request(Method::GET, "/ResourceTypes/User", None).await).await;
        assert!(
            user_type["schemaExtensions"].as_array().unwrap().iter().any(|e| e["schema"] == ACME && e["required"] == false),
            "{user_type}"
        );
        // Not in another org's.
        app.create_org("other");
        let other = app.mint(Role::Provisioner, "other", None);
        let response = app.request_as(&other, Method::GET, &format!("/Schemas/{ACME}"), None).await;
        assert_eq!(response.status().as_u16(), 404);
        let (status, error) = json_of(app.request_as(&other, Method::POST, "/Users", Some(&entra_user("x@other.example", "CC-1", "A"))).await).await;
        assert_eq!(status, 400, "another org has not registered it: {error}");

        // Entra-style create: stored, validated, returned with the extension in `schemas`.
        let (status, ada) = json_of(app.post_user(&entra_user("ada@example.com", "CC-7", "North")).await).await;
        assert_eq!(status, 201, "{ada}");
        assert_eq!(ada[ACME]["costCode"], "CC-7", "{ada}");
        assert_eq!(ada[ACME]["clearance"], 2, "the qualified key lands in the extension: {ada}");
        assert_eq!(ada[ACME]["site"]["floor"], 3, "{ada}");
        assert!(ada["schemas"].as_array().unwrap().contains(&json!(ACME)), "{ada}");
        let id = ada["id"].as_str().unwrap().to_owned();
        let (_, grace) = json_of(app.post_user(&entra_user("grace@example.com", "CC-3", "South")).await).await;
        let grace_id = grace["id"].as_str().unwrap().to_owned();
        app.create_user("plain@example.com").await;

        // Validated like the core schema: a wrong type is 400 naming the attribute.
        let mut wrong = entra_user("wrong@example.com", "CC-1", "A");
        wrong[ACME]["clearance"] = json!("high");
        let (status, error) = json_of(app.post_user(&wrong).await).await;
        assert_eq!(status, 400, "{error}");
        assert!(error["detail"].as_str().unwrap().contains("clearance"), "{error}");

        // Projected: attributes= an extension attribute, excludedAttributes= the extension.
        let (_, only) = json_of(app.request(Method::GET, &format!("/Users/{id}?attributes={ACME}:costCode"), None).await).await;
        assert_eq!(only[ACME], json!({"costCode": "CC-7"}), "{only}");
        assert!(only.get("userName").is_none(), "{only}");
        let (_, without) = json_of(app.request(Method::GET, &format!("/Users/{id}?excludedAttributes={ACME}"), None).await).await;
        assert!(without.get(ACME).is_none(), "{without}");
        assert!(!without["schemas"].as_array().unwrap().contains(&json!(ACME)), "{without}");

        // Filtered in the database (case-insensitive string, caseExact multi-valued, a
        // sub-attribute, an integer), and sorted.
        for (filter, expected) in [
            (format!("{ACME}:costCode eq \"cc-7\""), vec!["ada@example.com"]),
            (format!("{ACME}:costCode sw \"CC\""), vec!["ada@example.com", "grace@example.com"]),
            (format!("{ACME}:badges eq \"b-2\""), vec!["ada@example.com", "grace@example.com"]),
            (format!("{ACME}:badges eq \"B-2\""), vec![]),
            (format!("{ACME}:site.building eq \"south\""), vec!["grace@example.com"]),
            (format!("{ACME}:clearance ge 2"), vec!["ada@example.com", "grace@example.com"]),
            (format!("{ACME}:costCode pr"), vec!["ada@example.com", "grace@example.com"]),
            (format!("not ({ACME}:costCode eq \"CC-7\")"), vec!["grace@example.com", "plain@example.com"]),
        ] {
            let response = app
                .client
                .get(app.url("/Users"))
                .bearer_auth(&app.token)
                .query(&[("filter", filter.as_str()), ("sortBy", "userName")])
                .send()
                .await
                .unwrap();
            let (status, page) = json_of(response).await;
            assert_eq!(status, 200, "{filter}: {page}");
            let names: Vec<&str> = page["Resources"].as_array().unwrap().iter().filter_map(|u| u["userName"].as_str()).collect();
            assert_eq!(names, expected, "{filter}");
        }
        let response = app
            .client
            .get(app.url("/Users"))
            .bearer_auth(&app.token)
            .query(&[("filter", format!("{ACME}:costCode pr").as_str()), ("sortBy", &format!("{ACME}:costCode")), ("sortOrder", "descending")])
            .send()
            .await
            .unwrap();
        let (_, page) = json_of(response).await;
        let codes: Vec<&str> = page["Resources"].as_array().unwrap().iter().filter_map(|u| u[ACME]["costCode"].as_str()).collect();
        assert_eq!(codes, ["CC-7", "CC-3"], "{page}");

        // PATCH by path and without one; the filter sees the new values at once.
        let response = app.patch_user(&id, json!([
            {"op": "replace", "path": format!("{ACME}:costCode"), "value": "CC-9"},
            {"op": "add", "value": {ACME: {"badges": ["B-3"]}}},
            {"op": "replace", "path": format!("{ACME}:site.building"), "value": "East"}
        ])).await;
        let (status, patched) = json_of(response).await;
        assert_eq!(status, 200, "{patched}");
        assert_eq!(patched[ACME]["costCode"], "CC-9", "{patched}");
        assert_eq!(patched[ACME]["badges"], json!(["B-1", "b-2", "B-3"]), "{patched}");
        assert_eq!(patched[ACME]["site"], json!({"building": "East", "floor": 3}), "{patched}");
        let response = app
            .client
            .get(app.url("/Users"))
            .bearer_auth(&app.token)
            .query(&[("filter", format!("{ACME}:costCode eq \"CC-9\" and {ACME}:site.building eq \"east\"").as_str())])
            .send()
            .await
            .unwrap();
        let (_, page) = json_of(response).await;
        assert_eq!(page["totalResults"], 1, "{page}");
        let response = app.patch_user(&grace_id, json!([{"op": "remove", "path": ACME}])).await;
        let (status, cleared) = json_of(response).await;
        assert_eq!(status, 200, "{cleared}");
        assert!(cleared.get(ACME).is_none(), "{cleared}");

        // Removal: refused while a user holds data, then done with its data on confirmation.
        let path = format!("/schema-extensions/{ACME}");
        let (status, error) = admin(&app, Method::DELETE, &path, None).await;
        assert_eq!((status, error["error"].as_str()), (409, Some("conflict")), "{error}");
        assert!(error["message"].as_str().unwrap().contains("confirm=deleteData"), "{error}");
        let (status, error) = admin(&app, Method::DELETE, &format!("{path}?confirm=yes"), None).await;
        assert_eq!(status, 400, "{error}");
        let before = app.get_user(&id).await.json::<Value>().await.unwrap();
        let (status, _) = admin(&app, Method::DELETE, &format!("{path}?confirm=deleteData"), None).await;
        assert_eq!(status, 204);
        let after = app.get_user(&id).await.json::<Value>().await.unwrap();
        assert!(after.get(ACME).is_none(), "{after}");
        assert!(!after["schemas"].as_array().unwrap().contains(&json!(ACME)), "{after}");
        assert_ne!(after["meta"]["version"], before["meta"]["version"], "a new version");
        let response = app.request(Method::GET, &format!("/Schemas/{ACME}"), None).await;
        assert_eq!(response.status().as_u16(), 404);
        let (status, _) = admin(&app, Method::GET, &path, None).await;
        assert_eq!(status, 404);
        let events = app.audit_events(ACME).await;
        let removed = events.iter().find(|e| e.action == "schema_extension.delete").expect("audited");
        assert_eq!(removed.detail.as_ref().unwrap().0["resourcesChanged"], 1);
        // Unregistered again: refused again.
        let (status, _) = json_of(app.post_user(&entra_user("late@example.com", "CC-1", "A")).await).await;
        assert_eq!(status, 400);
        // Registered again without data: removed without confirmation.
        let (status, _) = admin(&app, Method::POST, "/schema-extensions", Some(acme())).await;
        assert_eq!(status, 201);
        let (status, _) = admin(&app, Method::DELETE, &path, None).await;
        assert_eq!(status, 204);
    }

    async fn a_registration_holds_on_every_node_from_the_next_request(app) {
        // A second node on the same database: its first request reads the org's schemas
        // before the registration, its next one after it.
        let node = Application::build(&app.settings).unwrap();
        let second = format!("http://127.0.0.1:{}/scim/v2/Users", node.port());
        tokio::spawn(node.run_until_stopped());
        let post = |body: Value| {
            app.client
                .post(&second)
                .bearer_auth(&app.token)
                .header("Content-Type", "application/scim+json")
                .body(body.to_string())
                .send()
        };
        let response = post(entra_user("before@example.com", "CC-1", "A")).await.unwrap();
        assert_eq!(response.status().as_u16(), 400);
        let (status, _) = admin(&app, Method::POST, "/schema-extensions", Some(acme())).await;
        assert_eq!(status, 201);
        let (status, created) = json_of(post(entra_user("after@example.com", "CC-2", "B")).await.unwrap()).await;
        assert_eq!(status, 201, "{created}");
        assert_eq!(created[ACME]["costCode"], "CC-2");
    }
}

both_backends! {
    async fn a_patch_under_an_unregistered_urn_is_refused(app) {
        let id = app.create_user("pat@example.com").await["id"].as_str().unwrap().to_owned();
        for operations in [
            json!([{"op": "add", "value": {ACME: {"costCode": "CC-1"}}}]),
            json!([{"op": "replace", "value": {format!("{ACME}:costCode"): "CC-1"}}]),
            json!([{"op": "replace", "path": format!("{ACME}:costCode"), "value": "CC-1"}]),
            json!([{"op": "add", "path": ACME, "value": {"costCode": "CC-1"}}]),
        ] {
            let (status, error) = json_of(app.patch_user(&id, operations.clone()).await).await;
            assert_eq!(status, 400, "{operations}: {error}");
            let detail = error["detail"].as_str().unwrap();
            assert!(detail.contains(ACME) && detail.contains("/admin/v1/schema-extensions"), "{operations}: {detail}");
        }
        // Registered, an unknown attribute of it is ignored, as in a body.
        let (status, _) = admin(&app, Method::POST, "/schema-extensions", Some(acme())).await;
        assert_eq!(status, 201);
        let (status, user) = json_of(app.patch_user(&id, json!([
            {"op": "replace", "value": {format!("{ACME}:nosuch"): "x", format!("{ACME}:costCode"): "CC-2"}}
        ])).await).await;
        assert_eq!(status, 200, "{user}");
        assert_eq!(user[ACME], json!({"costCode": "CC-2"}), "{user}");
    }
}

both_backends! {
    async fn a_group_extension_is_stored_filtered_and_removed(app) {
        let urn = "urn:ietf:params:scim:schemas:extension:acme:2.0:Group";
        let definition = json!({
            "id": urn,
            "resourceType": "Group",
            "attributes": [{"name": "budget", "type": "decimal"}, {"name": "owner", "type": "string"}]
        });
        let (status, created) = admin(&app, Method::POST, "/schema-extensions", Some(definition)).await;
        assert_eq!(status, 201, "{created}");
        let (_, group_type) = json_of(app.request(Method::GET, "/ResourceTypes/Group", None).await).await;
        assert_eq!(group_type["schemaExtensions"][0]["schema"], urn, "{group_type}");
        // A User does not carry a Group extension.
        let mut user = okta_user("u@example.com");
        user[urn] = json!({"owner": "x"});
        let (status, _) = json_of(app.post_user(&user).await).await;
        assert_eq!(status, 400);

        let body = json!({"displayName": "Finance", urn: {"budget": 1250.5, "owner": "Ada"}});
        let (status, group) = json_of(app.request(Method::POST, "/Groups", Some(&body)).await).await;
        assert_eq!(status, 201, "{group}");
        assert_eq!(group[urn]["budget"], 1250.5, "{group}");
        let body = json!({"displayName": "Ops", urn: {"budget": 10, "owner": "Grace"}});
        let (status, _) = json_of(app.request(Method::POST, "/Groups", Some(&body)).await).await;
        assert_eq!(status, 201);
        let response = app
            .client
            .get(app.url("/Groups"))
            .bearer_auth(&app.token)
            .query(&[("filter", format!("{urn}:budget gt 100 and {urn}:owner eq \"ada\"").as_str())])
            .send()
            .await
            .unwrap();
        let (status, page) = json_of(response).await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(page["totalResults"], 1, "{page}");
        assert_eq!(page["Resources"][0]["displayName"], "Finance", "{page}");

        let path = format!("/schema-extensions/{urn}");
        let (status, _) = admin(&app, Method::DELETE, &path, None).await;
        assert_eq!(status, 409);
        let (status, _) = admin(&app, Method::DELETE, &format!("{path}?confirm=deleteData"), None).await;
        assert_eq!(status, 204);
        let id = group["id"].as_str().unwrap();
        let (_, after) = json_of(app.request(Method::GET, &format!("/Groups/{id}"), None).await).await;
        assert!(after.get(urn).is_none(), "{after}");
    }
}
