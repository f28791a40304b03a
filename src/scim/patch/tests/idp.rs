//! The request shapes Okta and Entra ID send, and Entra's documented update requests.

use super::*;

#[test]
fn okta_shapes() {
    let deactivated = ok(
        &USER_RESOURCE,
        &user(),
        json!([{"op": "replace", "value": {"active": false}}]),
    );
    let mut want = user();
    want["active"] = json!(false);
    assert_eq!(deactivated, want);

    let by_path = ok(
        &USER_RESOURCE,
        &user(),
        json!([{"op": "replace", "path": "active", "value": false}]),
    );
    assert_eq!(by_path, want);

    let renamed = ok(
        &GROUP_RESOURCE,
        &group(),
        json!([{"op": "replace", "value": {"id": "abf4dd94-a4c0-4f67-89c9-76b03340cb9b", "displayName": "Tour Guides 2"}}]),
    );
    let mut want = group();
    want["displayName"] = json!("Tour Guides 2");
    assert_eq!(renamed, want);

    // Okta's group push shape (remove by filter, then add), on a multi-valued attribute.
    let pushed = ok(
        &USER_RESOURCE,
        &phoned(),
        json!([
            {"op": "remove", "path": format!("phoneNumbers[value eq \"{MOBILE_PHONE}\"]")},
            {"op": "add", "path": "phoneNumbers", "value": [
                {"value": HOME_PHONE, "type": "home"},
                {"value": WORK_PHONE, "type": "work"}
            ]}
        ]),
    );
    assert_eq!(
        phones(&pushed),
        json!([{"value": WORK_PHONE, "type": "work"}, {"value": HOME_PHONE, "type": "home"}])
    );

    // Okta sends the readOnly `display` in the values it replaces: ignored.
    let push = ok(
        &TEAM_RESOURCE,
        &team(),
        json!([{"op": "replace", "path": "seats", "value": [{"value": JAMES, "display": "James"}]}]),
    );
    assert_eq!(push["seats"], json!([{"value": JAMES}]));
}

#[test]
fn entra_shapes() {
    let disabled = ok(
        &USER_RESOURCE,
        &user(),
        json!([{"op": "Replace", "path": "active", "value": "False"}]),
    );
    assert_eq!(disabled["active"], json!(false));
    let enabled = ok(
        &USER_RESOURCE,
        &disabled,
        json!([{"op": "Replace", "path": "Active", "value": "True"}]),
    );
    assert_eq!(enabled["active"], json!(true));

    let optscim = ok(
        &USER_RESOURCE,
        &user(),
        json!([{"op": "replace", "value": {
            "displayName": "Babs J",
            "name.givenName": "Babs",
            "name.familyName": "Jensen-Smith",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "701984",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager": "26118915",
            "active": "False",
            "UserName": "babs"
        }}]),
    );
    assert_eq!(
        optscim,
        json!({
            "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
            "userName": "babs",
            "externalId": "bjensen-ext",
            "displayName": "Babs J",
            "name": {"givenName": "Babs", "familyName": "Jensen-Smith"},
            "active": false,
            "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}],
            ENTERPRISE_USER_SCHEMA: {"employeeNumber": "701984", "manager": {"value": "26118915"}}
        })
    );

    let urn_object = ok(
        &USER_RESOURCE,
        &user(),
        json!([{"op": "add", "value": {
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
                "Department": "Tour Operations",
                "manager": {"value": "m1", "displayName": "ignored: readOnly"}
            }
        }}]),
    );
    assert_eq!(
        urn_object[ENTERPRISE_USER_SCHEMA],
        json!({"department": "Tour Operations", "manager": {"value": "m1"}})
    );
    assert_eq!(
        urn_object["schemas"],
        json!([USER_SCHEMA, ENTERPRISE_USER_SCHEMA])
    );

    // Entra's `Remove` with the values listed (quirk 7), and by filter.
    let removed = ok(
        &USER_RESOURCE,
        &phoned(),
        json!([{"op": "Remove", "path": "phoneNumbers", "value": [{"value": WORK_PHONE}]}]),
    );
    assert_eq!(
        phones(&removed),
        json!([{"value": MOBILE_PHONE, "type": "mobile"}])
    );

    let removed = ok(
        &USER_RESOURCE,
        &phoned(),
        json!([{"op": "remove", "path": format!("phoneNumbers[value eq \"{MOBILE_PHONE}\"]")}]),
    );
    assert_eq!(
        phones(&removed),
        json!([{"value": WORK_PHONE, "type": "work"}])
    );

    // Entra's `Add` with `null` sub-attributes (quirk 4): left out, so a value already there
    // is recognised.
    let added = ok(
        &USER_RESOURCE,
        &phoned(),
        json!([{"op": "Add", "path": "phoneNumbers", "value": [
            {"display": null, "value": HOME_PHONE, "type": "home"},
            {"display": null, "value": WORK_PHONE, "type": "work"}
        ]}]),
    );
    assert_eq!(
        phones(&added),
        json!([
            {"value": WORK_PHONE, "type": "work"},
            {"value": MOBILE_PHONE, "type": "mobile"},
            {"value": HOME_PHONE, "type": "home"}
        ])
    );

    let renamed = ok(
        &GROUP_RESOURCE,
        &group(),
        json!([{"op": "Replace", "path": "displayName", "value": "Guides"}]),
    );
    assert_eq!(renamed["displayName"], "Guides");

    let no_email = json!({"schemas": [USER_SCHEMA], "userName": "jy"});
    for op in ["Add", "Replace"] {
        let created = ok(
            &USER_RESOURCE,
            &no_email,
            json!([{"op": op, "path": "emails[type eq \"work\"].value", "value": "jy@example.com"}]),
        );
        assert_eq!(
            created["emails"],
            json!([{"type": "work", "value": "jy@example.com"}]),
            "{op}"
        );
    }

    let updated = ok(
        &USER_RESOURCE,
        &user(),
        json!([
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "babs@example.com"},
            {"op": "Replace", "path": "name.familyName", "value": "Smith"},
            {"op": "Replace", "path": "userName", "value": "babs@example.com"}
        ]),
    );
    assert_eq!(
        updated["emails"],
        json!([{"value": "babs@example.com", "type": "work", "primary": true}])
    );
    assert_eq!(updated["name"]["familyName"], "Smith");
    assert_eq!(updated["userName"], "babs@example.com");

    let manager = ok(
        &USER_RESOURCE,
        &user(),
        json!([{"op": "Add", "path": "manager", "value": [{"$ref": null, "value": "m9"}]}]),
    );
    assert_eq!(
        manager[ENTERPRISE_USER_SCHEMA],
        json!({"manager": {"value": "m9"}})
    );
    let unmanaged = ok(
        &USER_RESOURCE,
        &manager,
        json!([{"op": "Remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"}]),
    );
    assert_eq!(unmanaged, user());
}

#[test]
fn entra_documented_update_requests() {
    let without_flag = ok(
        &USER_RESOURCE,
        &user(),
        json!([
            {"op": "Replace", "path": "displayName", "value": "Pvlo"},
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "TestBcwqnm@test.microsoft.com"},
            {"op": "Replace", "path": "name.givenName", "value": "Gtfd"},
            {"op": "Replace", "path": "name.familyName", "value": "Pkqf"},
            {"op": "Replace", "path": "externalId", "value": "Eqpj"},
            {"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", "value": "Eqpj"}
        ]),
    );
    assert_eq!(
        without_flag,
        json!({
            "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
            "userName": "bjensen",
            "externalId": "Eqpj",
            "displayName": "Pvlo",
            "name": {"givenName": "Gtfd", "familyName": "Pkqf"},
            "active": true,
            "emails": [{"value": "TestBcwqnm@test.microsoft.com", "type": "work", "primary": true}],
            ENTERPRISE_USER_SCHEMA: {"employeeNumber": "Eqpj"}
        })
    );

    let with_flag = ok(
        &USER_RESOURCE,
        &json!({"schemas": [USER_SCHEMA], "userName": "bjensen", "active": true}),
        json!([
            {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "TestMhvaes@test.microsoft.com"},
            {"op": "replace", "value": {
                "displayName": "Bjfe",
                "name.givenName": "Kkom",
                "name.familyName": "Unua",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "Aklq"
            }}
        ]),
    );
    assert_eq!(
        with_flag,
        json!({
            "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
            "userName": "bjensen",
            "displayName": "Bjfe",
            "name": {"givenName": "Kkom", "familyName": "Unua"},
            "active": true,
            "emails": [{"type": "work", "value": "TestMhvaes@test.microsoft.com"}],
            ENTERPRISE_USER_SCHEMA: {"employeeNumber": "Aklq"}
        })
    );

    for op in ["Add", "add"] {
        let nick = ok(
            &USER_RESOURCE,
            &user(),
            json!([{"op": op, "path": "nickName", "value": "Babs"}]),
        );
        assert_eq!(nick["nickName"], "Babs");
    }
}
