//! What the operations mean beyond the RFC's examples: idempotent removes, sub-attributes of
//! every value, duplicates and `primary`, `null`, atomicity, every error, the envelope.

use super::*;

#[test]
fn removes_are_idempotent() {
    for path in [
        "phoneNumbers[value eq \"not-a-phone\"]",
        "phoneNumbers[value eq \"not-a-phone\"].type",
    ] {
        let same = ok(
            &USER_RESOURCE,
            &phoned(),
            json!([{"op": "remove", "path": path}]),
        );
        assert_eq!(same, phoned(), "{path}");
    }
    let listed = ok(
        &USER_RESOURCE,
        &phoned(),
        json!([{"op": "remove", "path": "phoneNumbers", "value": [{"value": "not-a-phone"}]}]),
    );
    assert_eq!(listed, phoned());
    for path in [
        "nickName",
        "name.middleName",
        "emails[type eq \"home\"]",
        "manager",
    ] {
        let same = ok(
            &USER_RESOURCE,
            &user(),
            json!([{"op": "remove", "path": path}]),
        );
        assert_eq!(same, user(), "{path}");
    }
}

#[test]
fn sub_attribute_of_every_value() {
    let mut two = user();
    two["phoneNumbers"] = json!([{"value": "1", "type": "work"}, {"value": "2"}]);
    let typed = ok(
        &USER_RESOURCE,
        &two,
        json!([{"op": "replace", "path": "phoneNumbers.type", "value": "mobile"}]),
    );
    assert_eq!(
        typed["phoneNumbers"],
        json!([{"value": "1", "type": "mobile"}, {"value": "2", "type": "mobile"}])
    );
    let untyped = ok(
        &USER_RESOURCE,
        &typed,
        json!([{"op": "remove", "path": "phoneNumbers.type"}]),
    );
    assert_eq!(
        untyped["phoneNumbers"],
        json!([{"value": "1"}, {"value": "2"}])
    );
    let created = ok(
        &USER_RESOURCE,
        &user(),
        json!([{"op": "add", "path": "phoneNumbers.value", "value": "555"}]),
    );
    assert_eq!(created["phoneNumbers"], json!([{"value": "555"}]));
    let gone = ok(
        &USER_RESOURCE,
        &created,
        json!([{"op": "remove", "path": "phoneNumbers.value"}]),
    );
    assert!(gone.get("phoneNumbers").is_none());
}

#[test]
fn add_does_not_duplicate_and_moves_primary() {
    let same = ok(
        &USER_RESOURCE,
        &user(),
        json!([{"op": "add", "path": "emails", "value": [{"value": "bjensen@example.com", "type": "work", "primary": true}]}]),
    );
    assert_eq!(same, user());

    let moved = ok(
        &USER_RESOURCE,
        &user(),
        json!([{"op": "add", "path": "emails", "value": {"value": "b@home.org", "type": "home", "primary": "True"}}]),
    );
    assert_eq!(
        moved["emails"],
        json!([
            {"value": "bjensen@example.com", "type": "work", "primary": false},
            {"value": "b@home.org", "type": "home", "primary": true}
        ])
    );

    let via_filter = ok(
        &USER_RESOURCE,
        &moved,
        json!([{"op": "replace", "path": "emails[type eq \"work\"].primary", "value": true}]),
    );
    assert_eq!(
        via_filter["emails"],
        json!([
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "b@home.org", "type": "home", "primary": false}
        ])
    );
}

#[test]
fn null_unassigns_and_unknown_keys_are_ignored() {
    let cleared = ok(
        &USER_RESOURCE,
        &user(),
        json!([
            {"op": "replace", "path": "externalId", "value": null},
            {"op": "replace", "value": {"emails": null, "nosuch": 1, "meta": {"created": "x"}, "groups": [{"value": "g"}], "schemas": ["x"]}}
        ]),
    );
    assert_eq!(
        cleared,
        json!({
            "schemas": [USER_SCHEMA],
            "userName": "bjensen",
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "active": true
        })
    );

    let mut with_ext = user();
    with_ext[ENTERPRISE_USER_SCHEMA] = json!({"employeeNumber": "1"});
    with_ext["schemas"] = json!([USER_SCHEMA, ENTERPRISE_USER_SCHEMA]);
    let dropped = ok(
        &USER_RESOURCE,
        &with_ext,
        json!([{"op": "replace", "value": {ENTERPRISE_USER_SCHEMA: null}}]),
    );
    assert_eq!(dropped, user());
}

#[test]
fn operations_are_atomic() {
    let original = object(user());
    let req = PatchRequest::from_json(request(json!([
        {"op": "replace", "path": "displayName", "value": "Changed"},
        {"op": "replace", "path": "active", "value": "yes"}
    ])))
    .unwrap();
    let e = apply(&USER_RESOURCE, &original, &req).unwrap_err();
    assert_eq!(e.scim_type(), Some(ScimType::InvalidValue));
    assert_eq!(e.detail(), "attribute 'active' must be a boolean");
    assert_eq!(original, object(user()));
}

#[test]
fn error_cases() {
    let u = user();
    let g = group();
    let t = team();
    let cases: Vec<(&ResourceTypeDef, &Value, Value, ScimType, &str)> = vec![
        (
            &USER_RESOURCE,
            &u,
            json!([{"op": "replace", "path": "id", "value": "x"}]),
            ScimType::Mutability,
            "'id' is readOnly",
        ),
        (
            &USER_RESOURCE,
            &u,
            json!([{"op": "replace", "path": "meta.created", "value": "2020-01-01T00:00:00Z"}]),
            ScimType::Mutability,
            "'meta.created' is readOnly",
        ),
        (
            &USER_RESOURCE,
            &u,
            json!([{"op": "add", "path": "groups", "value": [{"value": "g"}]}]),
            ScimType::Mutability,
            "'groups' is readOnly",
        ),
        (
            &USER_RESOURCE,
            &u,
            json!([{"op": "replace", "path": "manager.displayName", "value": "x"}]),
            ScimType::Mutability,
            "'manager.displayName' is readOnly",
        ),
        (
            &USER_RESOURCE,
            &u,
            json!([{"op": "remove", "path": "userName"}]),
            ScimType::Mutability,
            "'userName' is required and cannot be removed",
        ),
        (
            &USER_RESOURCE,
            &u,
            json!([{"op": "replace", "path": "userName", "value": null}]),
            ScimType::Mutability,
            "'userName' is required and cannot be removed",
        ),
        (
            &USER_RESOURCE,
            &u,
            json!([{"op": "replace", "value": {"userName": null}}]),
            ScimType::Mutability,
            "'userName' is required and cannot be removed",
        ),
        (
            &GROUP_RESOURCE,
            &g,
            json!([{"op": "remove", "path": "displayName"}]),
            ScimType::Mutability,
            "'displayName' is required and cannot be removed",
        ),
        (
            &TEAM_RESOURCE,
            &t,
            json!([{"op": "replace", "path": format!("seats[value eq \"{BABS}\"].value"), "value": JAMES}]),
            ScimType::Mutability,
            "'seats.value' is immutable",
        ),
        (
            &TEAM_RESOURCE,
            &t,
            json!([{"op": "replace", "path": format!("seats[value eq \"{BABS}\"]"), "value": {"value": JAMES}}]),
            ScimType::Mutability,
            "'seats.value' is immutable",
        ),
        (
            &TEAM_RESOURCE,
            &t,
            json!([{"op": "replace", "path": format!("seats[value eq \"{BABS}\"].display"), "value": "B"}]),
            ScimType::Mutability,
            "'seats.display' is readOnly",
        ),
        (
            &USER_RESOURCE,
            &u,
            json!([{"op": "replace", "path": "emails[type eq \"home\"]", "value": {"value": "a@b"}}]),
            ScimType::NoTarget,
            "no value of 'emails' matches the filter",
        ),
        (
            &USER_RESOURCE,
            &u,
            json!([{"op": "add", "path": "emails[type eq \"home\" or type eq \"other\"].value", "value": "a@b"}]),
            ScimType::NoTarget,
            "no value of 'emails' matches the filter, and it is not a conjunction of eq comparisons a value could be created from",
        ),
        (
            &USER_RESOURCE,
            &u,
            json!([{"op": "remove"}]),
            ScimType::NoTarget,
            "remove needs a \"path\" (RFC 7644 §3.5.2.2)",
        ),
        (
            &USER_RESOURCE,
            &u,
            json!([{"op": "remove", "value": {"active": true}}]),
            ScimType::NoTarget,
            "remove needs a \"path\" (RFC 7644 §3.5.2.2)",
        ),
        (
            &USER_RESOURCE,
            &u,
            json!([{"op": "replace", "path": "nosuch", "value": 1}]),
            ScimType::InvalidPath,
            "unknown attribute 'nosuch'",
        ),
        (
            &USER_RESOURCE,
            &u,
            json!([{"op": "replace", "path": "name.nosuch", "value": 1}]),
            ScimType::InvalidPath,
            "unknown attribute 'name.nosuch'",
        ),
        (
            &USER_RESOURCE,
            &u,
            json!([{"op": "replace", "path": "emails[nosuch eq \"x\"]", "value": {}}]),
            ScimType::InvalidPath,
            "unknown attribute 'emails.nosuch'",
        ),
        (
            &USER_RESOURCE,
            &u,
            json!([{"op": "replace", "path": "emails[type eq \"work\"].nosuch", "value": 1}]),
            ScimType::InvalidPath,
            "unknown attribute 'emails.nosuch'",
        ),
        (
            &USER_RESOURCE,
            &u,
            json!([{"op": "replace", "path": "name[givenName eq \"x\"]", "value": {}}]),
            ScimType::InvalidPath,
            "'name' is not a multi-valued complex attribute: it takes no value filter",
        ),
        (
            &USER_RESOURCE,
            &u,
            json!([{"op": "replace", "path": "emails[type eq \"work\"", "value": 1}]),
            ScimType::InvalidPath,
            "expected ']', found the end",
        ),
        (
            &USER_RESOURCE,
            &u,
            json!([{"op": "replace", "path": 7, "value": 1}]),
            ScimType::InvalidPath,
            "\"path\" must be a string, not 7",
        ),
        (
            &USER_RESOURCE,
            &u,
            json!([{"op": "replace", "path": "active", "value": "yes"}]),
            ScimType::InvalidValue,
            "attribute 'active' must be a boolean",
        ),
        (
            &USER_RESOURCE,
            &u,
            json!([{"op": "replace", "path": "userName", "value": 5}]),
            ScimType::InvalidValue,
            "attribute 'userName' must be a string",
        ),
        (
            &USER_RESOURCE,
            &u,
            json!([{"op": "add", "path": "emails", "value": [{"value": 5}]}]),
            ScimType::InvalidValue,
            "attribute 'emails.value' must be a string",
        ),
        (
            &USER_RESOURCE,
            &u,
            json!([{"op": "add", "path": "name", "value": 5}]),
            ScimType::InvalidValue,
            "'name' is complex: expected an object, not 5",
        ),
        (
            &USER_RESOURCE,
            &u,
            json!([{"op": "add", "path": "userName", "value": ["a", "b"]}]),
            ScimType::InvalidValue,
            "'userName' is single-valued, not an array",
        ),
        (
            &USER_RESOURCE,
            &u,
            json!([{"op": "add", "path": "userName"}]),
            ScimType::InvalidValue,
            "add needs a \"value\"",
        ),
        (
            &USER_RESOURCE,
            &u,
            json!([{"op": "replace", "value": "x"}]),
            ScimType::InvalidValue,
            "replace without a \"path\" takes an object of attributes",
        ),
        (
            &USER_RESOURCE,
            &u,
            json!([{"op": "replace", "value": {ENTERPRISE_USER_SCHEMA: "x"}}]),
            ScimType::InvalidValue,
            "\"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\" must be an object of attributes, not \"x\"",
        ),
        (
            &USER_RESOURCE,
            &u,
            json!([]),
            ScimType::InvalidValue,
            "\"Operations\" is empty",
        ),
        (
            &USER_RESOURCE,
            &u,
            json!([{"op": "copy", "path": "userName"}]),
            ScimType::InvalidSyntax,
            "unknown op \"copy\": expected add, remove or replace",
        ),
        (
            &USER_RESOURCE,
            &u,
            json!([{"path": "userName"}]),
            ScimType::InvalidSyntax,
            "an operation needs an \"op\"",
        ),
        (
            &USER_RESOURCE,
            &u,
            json!(["add"]),
            ScimType::InvalidSyntax,
            "each element of \"Operations\" is an object",
        ),
    ];
    for (rt, resource, ops, scim_type, detail) in cases {
        assert_eq!(
            err(rt, resource, ops.clone()),
            (Some(scim_type), detail.to_owned()),
            "{ops}"
        );
    }
}

#[test]
fn request_envelope() {
    let lenient = PatchRequest::from_json(json!({
        "OPERATIONS": [{"OP": "Replace", "Path": "active", "Value": false}]
    }))
    .unwrap();
    assert_eq!(
        lenient.operations,
        vec![PatchOperation {
            op: OpKind::Replace,
            path: Some(PatchPath::parse("active").unwrap()),
            value: Some(json!(false)),
        }]
    );
    let schemas_ci = PatchRequest::from_json(json!({
        "schemas": ["URN:IETF:PARAMS:SCIM:API:MESSAGES:2.0:PATCHOP"],
        "Operations": [{"op": "add", "path": "", "value": {"nickName": "x"}}]
    }))
    .unwrap();
    assert_eq!(schemas_ci.operations[0].path, None);

    for (body, scim_type, detail) in [
        (
            json!([]),
            ScimType::InvalidSyntax,
            "a PATCH body is a JSON object with \"schemas\" and \"Operations\"",
        ),
        (
            json!({"schemas": [USER_SCHEMA], "Operations": []}),
            ScimType::InvalidSyntax,
            "\"schemas\" must be [\"urn:ietf:params:scim:api:messages:2.0:PatchOp\"]",
        ),
        (
            json!({"schemas": [PATCH_OP_SCHEMA]}),
            ScimType::InvalidSyntax,
            "\"Operations\" is missing",
        ),
        (
            json!({"schemas": [PATCH_OP_SCHEMA], "Operations": {}}),
            ScimType::InvalidSyntax,
            "\"Operations\" must be an array",
        ),
    ] {
        let e = PatchRequest::from_json(body).unwrap_err();
        assert_eq!((e.scim_type(), e.detail()), (Some(scim_type), detail));
    }
}

#[test]
fn tells_member_operations_apart() {
    let req = PatchRequest::from_json(request(json!([
        {"op": "add", "path": "members", "value": [{"value": "u"}]},
        {"op": "remove", "path": "MEMBERS[value eq \"u\"]"},
        {"op": "replace", "value": {"id": "g", "displayName": "x"}},
        {"op": "replace", "value": {"members": []}},
        {"op": "replace", "path": "displayName", "value": "y"}
    ])))
    .unwrap();
    let flags: Vec<bool> = req
        .operations
        .iter()
        .map(PatchOperation::targets_members)
        .collect();
    assert_eq!(flags, [true, true, false, true, false]);
    assert!(req.operations[4].targets_attribute(&GROUP_RESOURCE, "displayname"));
}
