//! Unit tests of the PATCH request parser, engine and IdP quirks.
#![cfg(test)]

use std::sync::LazyLock;

use serde_json::{Map, Value};

use super::engine::*;
use super::quirks;
use super::request::*;
use super::*;
use crate::scim::error::ScimError;
use crate::scim::path::PatchPath;
use crate::scim::schema::{
    AttributeDef, AttributeType, GROUP_RESOURCE, Mutability, ResourceKind, ResourceTypeDef,
    Returned, SchemaDef, Uniqueness,
};

use crate::scim::error::ScimType;
use crate::scim::schema::{ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, USER_RESOURCE, USER_SCHEMA};
use serde_json::json;

fn object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

fn request(ops: Value) -> Value {
    json!({"schemas": [PATCH_OP_SCHEMA], "Operations": ops})
}

fn run(rt: &ResourceTypeDef, resource: &Value, ops: Value) -> Result<Value, ScimError> {
    let req = PatchRequest::from_json(request(ops))?;
    apply(rt, &object(resource.clone()), &req).map(Value::Object)
}

fn ok(rt: &ResourceTypeDef, resource: &Value, ops: Value) -> Value {
    match run(rt, resource, ops.clone()) {
        Ok(v) => v,
        Err(e) => panic!("{ops} failed: {e}"),
    }
}

fn err(rt: &ResourceTypeDef, resource: &Value, ops: Value) -> (Option<ScimType>, String) {
    match run(rt, resource, ops.clone()) {
        Ok(v) => panic!("{ops} succeeded: {v}"),
        Err(e) => (e.scim_type(), e.detail().to_owned()),
    }
}

fn user() -> Value {
    json!({
        "schemas": [USER_SCHEMA],
        "userName": "bjensen",
        "externalId": "bjensen-ext",
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "active": true,
        "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}]
    })
}

/// A group as the engine sees it: its members live in their own table
/// (`provisioning::membership`), never in the document.
fn group() -> Value {
    json!({"schemas": [GROUP_SCHEMA], "displayName": "Tour Guides"})
}

const WORK_PHONE: &str = "555-0100";
const MOBILE_PHONE: &str = "555-0199";
const HOME_PHONE: &str = "555-0142";

/// [`user`] with two phone numbers: the multi-valued attribute of the generic tests.
fn phoned() -> Value {
    let mut u = user();
    u["phoneNumbers"] = json!([
        {"value": WORK_PHONE, "type": "work"},
        {"value": MOBILE_PHONE, "type": "mobile"}
    ]);
    u
}

fn phones(resource: &Value) -> Value {
    resource.get("phoneNumbers").cloned().unwrap_or(Value::Null)
}

/// A test-only resource type whose multi-valued complex `seats` have immutable and readOnly
/// sub-attributes (no User attribute does): the engine's generic handling of those
/// characteristics, tested without Group `members`, which the engine never writes.
fn def(
    name: &'static str,
    kind: AttributeType,
    mutability: Mutability,
    multi_valued: bool,
    sub_attributes: Vec<AttributeDef>,
) -> AttributeDef {
    AttributeDef {
        name: name.to_owned(),
        kind,
        multi_valued,
        description: String::new(),
        required: false,
        case_exact: false,
        mutability,
        returned: Returned::Default,
        uniqueness: Uniqueness::None,
        canonical_values: Vec::new(),
        reference_types: Vec::new(),
        sub_attributes,
        indexed: false,
    }
}

const TEAM_SCHEMA: &str = "urn:example:params:scim:schemas:test:2.0:Team";

static TEAM: LazyLock<SchemaDef> = LazyLock::new(|| SchemaDef {
    id: TEAM_SCHEMA.to_owned(),
    name: "Team".to_owned(),
    description: "test only".to_owned(),
    attributes: vec![
        def(
            "name",
            AttributeType::String,
            Mutability::ReadWrite,
            false,
            vec![],
        ),
        def(
            "seats",
            AttributeType::Complex,
            Mutability::ReadWrite,
            true,
            vec![
                def(
                    "value",
                    AttributeType::String,
                    Mutability::Immutable,
                    false,
                    vec![],
                ),
                def(
                    "$ref",
                    AttributeType::Reference,
                    Mutability::Immutable,
                    false,
                    vec![],
                ),
                def(
                    "display",
                    AttributeType::String,
                    Mutability::ReadOnly,
                    false,
                    vec![],
                ),
                def(
                    "type",
                    AttributeType::String,
                    Mutability::Immutable,
                    false,
                    vec![],
                ),
            ],
        ),
    ],
});

static TEAM_RESOURCE: LazyLock<ResourceTypeDef> = LazyLock::new(|| ResourceTypeDef {
    kind: ResourceKind::User,
    name: "Team",
    endpoint: "/Teams",
    description: "test only",
    schema: &TEAM,
    extensions: Vec::new(),
    schema_aliases: &[],
});

fn team() -> Value {
    json!({
        "schemas": [TEAM_SCHEMA],
        "name": "Tour Guides",
        "seats": [{"value": BABS}, {"value": MANDY}]
    })
}

const BABS: &str = "2819c223-7f76-453a-919d-413861904646";
const MANDY: &str = "902c246b-6245-4190-8e05-00816be7344a";
const JAMES: &str = "08e1d05d-121c-4561-8b96-473d93df9210";

#[test]
fn rfc_7644_add_examples() {
    // RFC 7644 §3.5.2.1's first example, on a multi-valued attribute with a readOnly
    // sub-attribute (`display`), which is ignored.
    let empty = json!({"schemas": [TEAM_SCHEMA], "name": "Tour Guides"});
    let added = ok(
        &TEAM_RESOURCE,
        &empty,
        json!([{"op": "add", "path": "seats", "value": [{
            "display": "Babs Jensen",
            "$ref": "https://example.com/v2/Users/2819c223-7f76-453a-919d-413861904646",
            "value": BABS
        }]}]),
    );
    assert_eq!(
        added,
        json!({"schemas": [TEAM_SCHEMA], "name": "Tour Guides", "seats": [{
            "$ref": "https://example.com/v2/Users/2819c223-7f76-453a-919d-413861904646",
            "value": BABS
        }]})
    );
    let phone = ok(
        &USER_RESOURCE,
        &user(),
        json!([{"op": "add", "path": "phoneNumbers", "value": [{"value": WORK_PHONE, "type": "work"}]}]),
    );
    assert_eq!(
        phones(&phone),
        json!([{"value": WORK_PHONE, "type": "work"}])
    );

    let patched = ok(
        &USER_RESOURCE,
        &user(),
        json!([{"op": "add", "value": {
            "emails": [{"value": "babs@jensen.org", "type": "home"}],
            "nickname": "Babs"
        }}]),
    );
    assert_eq!(patched["nickName"], "Babs");
    assert_eq!(
        patched["emails"],
        json!([
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ])
    );
    assert!(patched.get("nickname").is_none());
}

#[test]
fn rfc_7644_remove_examples() {
    let one = ok(
        &USER_RESOURCE,
        &phoned(),
        json!([{"op": "remove", "path": format!("phoneNumbers[value eq \"{WORK_PHONE}\"]")}]),
    );
    assert_eq!(
        phones(&one),
        json!([{"value": MOBILE_PHONE, "type": "mobile"}])
    );

    let all = ok(
        &USER_RESOURCE,
        &phoned(),
        json!([{"op": "remove", "path": "phoneNumbers"}]),
    );
    assert_eq!(all, user());

    let swapped = ok(
        &USER_RESOURCE,
        &phoned(),
        json!([
            {"op": "remove", "path": format!("phoneNumbers[value eq \"{WORK_PHONE}\"]")},
            {"op": "add", "path": "phoneNumbers", "value": [{
                "display": "home", "value": HOME_PHONE, "type": "home"
            }]}
        ]),
    );
    assert_eq!(
        phones(&swapped),
        json!([
            {"value": MOBILE_PHONE, "type": "mobile"},
            {"display": "home", "value": HOME_PHONE, "type": "home"}
        ])
    );

    let mut two_emails = user();
    two_emails["emails"] = json!([
        {"value": "bjensen@example.com", "type": "work"},
        {"value": "babs@jensen.org", "type": "home"}
    ]);
    let filtered = ok(
        &USER_RESOURCE,
        &two_emails,
        json!([{"op": "remove", "path": "emails[type eq \"work\" and value ew \"example.com\"]"}]),
    );
    assert_eq!(
        filtered["emails"],
        json!([{"value": "babs@jensen.org", "type": "home"}])
    );

    let family = ok(
        &USER_RESOURCE,
        &user(),
        json!([{"op": "remove", "path": "name.familyName"}]),
    );
    assert_eq!(family["name"], json!({"givenName": "Barbara"}));
    let both = ok(
        &USER_RESOURCE,
        &user(),
        json!([
            {"op": "remove", "path": "name.familyName"},
            {"op": "remove", "path": "name.givenName"}
        ]),
    );
    assert!(both.get("name").is_none());
}

#[test]
fn rfc_7644_replace_examples() {
    let replaced = ok(
        &USER_RESOURCE,
        &phoned(),
        json!([{"op": "replace", "path": "phoneNumbers", "value": [
            {"value": WORK_PHONE, "type": "work"},
            {"value": HOME_PHONE, "type": "home"}
        ]}]),
    );
    assert_eq!(
        phones(&replaced),
        json!([{"value": WORK_PHONE, "type": "work"}, {"value": HOME_PHONE, "type": "home"}])
    );

    let mut with_address = user();
    with_address["addresses"] = json!([
        {"type": "work", "streetAddress": "100 Universal City Plaza", "locality": "Hollywood"},
        {"type": "home", "streetAddress": "1 Home St"}
    ]);
    let address = ok(
        &USER_RESOURCE,
        &with_address,
        json!([{"op": "replace", "path": "addresses[type eq \"work\"]", "value": {
            "type": "work",
            "streetAddress": "911 Universal City Plaza",
            "locality": "Hollywood",
            "region": "CA",
            "postalCode": "91608",
            "country": "US",
            "formatted": "911 Universal City Plaza\nHollywood, CA 91608 US",
            "primary": true
        }}]),
    );
    assert_eq!(
        address["addresses"],
        json!([
            {
                "type": "work",
                "streetAddress": "911 Universal City Plaza",
                "locality": "Hollywood",
                "region": "CA",
                "postalCode": "91608",
                "country": "US",
                "formatted": "911 Universal City Plaza\nHollywood, CA 91608 US",
                "primary": true
            },
            {"type": "home", "streetAddress": "1 Home St"}
        ])
    );

    let street = ok(
        &USER_RESOURCE,
        &with_address,
        json!([{"op": "replace", "path": "addresses[type eq \"work\"].streetAddress", "value": "1111 Broad St."}]),
    );
    assert_eq!(
        street["addresses"],
        json!([
            {"type": "work", "streetAddress": "1111 Broad St.", "locality": "Hollywood"},
            {"type": "home", "streetAddress": "1 Home St"}
        ])
    );

    let pathless = ok(
        &USER_RESOURCE,
        &user(),
        json!([{"op": "replace", "value": {
            "emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "babs@jensen.org", "type": "home"}
            ],
            "nickName": "Babs"
        }}]),
    );
    assert_eq!(
        pathless["emails"],
        json!([
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ])
    );
    assert_eq!(pathless["nickName"], "Babs");

    let given = ok(
        &USER_RESOURCE,
        &user(),
        json!([{"op": "replace", "path": "name", "value": {"givenName": "Babs", "middleName": null}}]),
    );
    assert_eq!(
        given["name"],
        json!({"givenName": "Babs", "familyName": "Jensen"})
    );

    let unassigned = ok(
        &USER_RESOURCE,
        &user(),
        json!([{"op": "replace", "path": "nickName", "value": "Babs"}]),
    );
    assert_eq!(unassigned["nickName"], "Babs");
}

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

/// The engine as it was before values were indexed: a linear scan and a `claim_primary`
/// per value. The indexed one must give the same lists.
/// Except that a value is found as given (a scan of the list compared with values earlier
/// claims had made non-primary, and stored such a value twice), and a value given again as
/// primary is primary.
fn naive_add(mut list: Vec<Value>, items: &[Value]) -> Vec<Value> {
    let mut given = list.clone();
    for item in items {
        let index = match given.iter().position(|e| quirks::same_value(e, item)) {
            Some(i) => i,
            None => {
                list.push(item.clone());
                given.push(item.clone());
                list.len() - 1
            }
        };
        if is_primary(item)
            && let Some(Value::Object(o)) = list.get_mut(index)
        {
            o.insert("primary".to_owned(), Value::Bool(true));
        }
        claim_primary(&mut list, index);
    }
    list
}

#[test]
fn indexed_add_gives_the_lists_a_scan_gives() {
    let e = |v: &str, primary: Option<bool>| match primary {
        Some(p) => json!({"value": v, "primary": p}),
        None => json!({"value": v}),
    };
    let lists = [
        vec![],
        vec![e("a", Some(true)), e("b", Some(true))],
        vec![e("a", Some(true)), e("b", None)],
        vec![e("a", None), e("b", Some(true)), e("c", Some(false))],
    ];
    let adds = [
        vec![e("a", Some(true))],
        vec![e("b", Some(true)), e("c", Some(true))],
        vec![e("c", Some(true)), e("a", Some(true)), e("d", Some(false))],
        vec![
            e("b", Some(true)),
            e("d", None),
            e("a", Some(true)),
            e("b", Some(true)),
        ],
        vec![e("c", Some(true)), e("a", Some(true)), e("c", Some(true))],
        vec![e("x", None), e("x", None), e("y", Some(false))],
        vec![json!({"primary": true, "value": "a"}), e("z", Some(true))],
    ];
    for list in &lists {
        for add in &adds {
            let expected = naive_add(list.clone(), add);
            let mut doc = Map::new();
            doc.insert("emails".to_owned(), Value::Array(list.clone()));
            doc.insert("userName".to_owned(), json!("u"));
            let got = ok(
                &USER_RESOURCE,
                &Value::Object(doc),
                json!([{"op": "add", "path": "emails", "value": add}]),
            );
            let got = got.get("emails").cloned().unwrap_or(json!([]));
            assert_eq!(got, Value::Array(expected), "{list:?} + {add:?}");
        }
    }
}

#[test]
fn a_value_repeated_in_one_add_is_the_value_as_given() {
    // A scan compared with values already made non-primary, and stored "c" twice; the
    // last claim wins, as for distinct values.
    let patched = ok(
        &USER_RESOURCE,
        &json!({"schemas": [USER_SCHEMA], "userName": "u"}),
        json!([{"op": "add", "path": "emails", "value": [
            {"value": "c", "primary": true},
            {"value": "a", "primary": true},
            {"value": "c", "primary": true}
        ]}]),
    );
    assert_eq!(
        patched["emails"],
        json!([{"value": "c", "primary": true}, {"value": "a", "primary": false}])
    );
}

#[test]
fn values_are_identified_by_their_whole_value_in_the_index() {
    let other = json!({"value": WORK_PHONE, "type": "other"});
    let patched = ok(
        &USER_RESOURCE,
        &phoned(),
        json!([{"op": "add", "path": "phoneNumbers", "value": [
            {"type": "work", "value": WORK_PHONE}, other, other
        ]}]),
    );
    assert_eq!(
        phones(&patched),
        json!([
            {"value": WORK_PHONE, "type": "work"},
            {"value": MOBILE_PHONE, "type": "mobile"},
            other
        ])
    );
}

#[test]
fn the_engine_never_writes_group_members() {
    // Group `members` have one implementation, provisioning::membership; an operation on them
    // that reached the engine would be a routing bug: 500, nothing written.
    for ops in [
        json!([{"op": "add", "path": "members", "value": [{"value": BABS}]}]),
        json!([{"op": "remove", "path": format!("members[value eq \"{BABS}\"]")}]),
        json!([{"op": "replace", "path": "members.value", "value": BABS}]),
        json!([{"op": "replace", "value": {"displayName": "x", "members": []}}]),
        json!([{"op": "add", "value": {GROUP_SCHEMA: {"members": [{"value": BABS}]}}}]),
    ] {
        let e = run(&GROUP_RESOURCE, &group(), ops.clone()).unwrap_err();
        assert_eq!(e.status(), 500, "{ops}");
        // Everything the test sends is what provisioning routes to the membership table.
        let req = PatchRequest::from_json(request(ops.clone())).unwrap();
        assert!(
            req.operations.iter().all(PatchOperation::targets_members),
            "{ops}"
        );
    }
}

#[test]
fn multi_valued_attributes_are_capped() {
    let many: Vec<Value> = (0..52_000)
        .map(|i| json!({"value": format!("u{i}@example.com")}))
        .collect();
    let (t, detail) = err(
        &USER_RESOURCE,
        &user(),
        json!([{"op": "add", "path": "emails", "value": many}]),
    );
    assert_eq!(t, Some(ScimType::InvalidValue));
    assert_eq!(
        detail,
        "'emails' may hold at most 100 values; this request gives it 52000"
    );
    // At the cap: the one stored value and 99 new ones.
    let at_cap: Vec<Value> = (1..MAX_VALUES)
        .map(|i| json!({"value": format!("u{i}@example.com")}))
        .collect();
    let patched = ok(
        &USER_RESOURCE,
        &user(),
        json!([{"op": "add", "path": "emails", "value": at_cap.clone()}]),
    );
    assert_eq!(patched["emails"].as_array().map(Vec::len), Some(MAX_VALUES));
    // One more, through a second operation, is refused.
    let (t, detail) = err(
        &USER_RESOURCE,
        &user(),
        json!([
            {"op": "add", "path": "emails", "value": at_cap},
            {"op": "add", "path": "emails[type eq \"home\"].value", "value": "h@example.com"}
        ]),
    );
    assert_eq!(t, Some(ScimType::InvalidValue));
    assert!(detail.contains("gives it 101"), "{detail}");
}

#[test]
fn operations_are_capped() {
    let ops: Vec<Value> = (0..=MAX_OPERATIONS)
        .map(|_| json!({"op": "replace", "path": "nickName", "value": "x"}))
        .collect();
    let e = PatchRequest::from_json(request(Value::Array(ops))).unwrap_err();
    assert_eq!(e.scim_type(), Some(ScimType::InvalidValue));
    assert!(e.detail().contains("at most 1000"), "{}", e.detail());
}

#[test]
fn filtered_remove_of_many_hits_keeps_the_rest_in_order() {
    let emails: Vec<Value> = (0..10)
        .map(|i| json!({"value": format!("{i}@x"), "type": if i % 2 == 0 { "work" } else { "home" }}))
        .collect();
    let mut doc = object(user());
    doc.insert("emails".to_owned(), Value::Array(emails));
    let patched = ok(
        &USER_RESOURCE,
        &Value::Object(doc),
        json!([{"op": "remove", "path": "emails[type eq \"work\"]"}]),
    );
    let left: Vec<&str> = patched["emails"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["value"].as_str())
        .collect();
    assert_eq!(left, ["1@x", "3@x", "5@x", "7@x", "9@x"]);
}

fn enterprise_user() -> Value {
    let mut u = user();
    u["schemas"] = json!([USER_SCHEMA, ENTERPRISE_USER_SCHEMA]);
    u[ENTERPRISE_USER_SCHEMA] =
        json!({"employeeNumber": "701984", "department": "Tour", "manager": {"value": "m1"}});
    u
}

#[test]
fn a_bare_extension_urn_path_names_the_whole_extension() {
    // add merges into the extension object (as the path-less {"<urn>": {…}} does).
    let added = ok(
        &USER_RESOURCE,
        &enterprise_user(),
        json!([{"op": "add", "path": ENTERPRISE_USER_SCHEMA, "value": {
            "costCenter": "4130", "Department": "Sales", "manager": {"displayName": "readOnly"},
            "unknown": "ignored"
        }}]),
    );
    assert_eq!(
        added[ENTERPRISE_USER_SCHEMA],
        json!({"employeeNumber": "701984", "department": "Sales", "costCenter": "4130",
               "manager": {"value": "m1"}})
    );

    // replace replaces what it names and leaves the rest (RFC 7644 §3.5.2.3).
    let replaced = ok(
        &USER_RESOURCE,
        &enterprise_user(),
        json!([{"op": "replace", "path": ENTERPRISE_USER_SCHEMA.to_uppercase(), "value": {
            "organization": "Example", "department": "Legal", "manager": {"value": "m2"}
        }}]),
    );
    assert_eq!(
        replaced[ENTERPRISE_USER_SCHEMA],
        json!({"employeeNumber": "701984", "department": "Legal", "organization": "Example",
               "manager": {"value": "m2"}})
    );
    assert_eq!(
        replaced["schemas"],
        json!([USER_SCHEMA, ENTERPRISE_USER_SCHEMA])
    );

    // On a user without the extension, add and replace create it.
    for op in ["add", "replace"] {
        let created = ok(
            &USER_RESOURCE,
            &user(),
            json!([{"op": op, "path": ENTERPRISE_USER_SCHEMA, "value": {"division": "R&D"}}]),
        );
        assert_eq!(
            created[ENTERPRISE_USER_SCHEMA],
            json!({"division": "R&D"}),
            "{op}"
        );
        assert_eq!(
            created["schemas"],
            json!([USER_SCHEMA, ENTERPRISE_USER_SCHEMA])
        );
    }

    // remove, and a null value, remove the whole extension and its URN from `schemas`.
    for ops in [
        json!([{"op": "remove", "path": ENTERPRISE_USER_SCHEMA}]),
        json!([{"op": "replace", "path": ENTERPRISE_USER_SCHEMA, "value": null}]),
    ] {
        let removed = ok(&USER_RESOURCE, &enterprise_user(), ops.clone());
        assert!(removed.get(ENTERPRISE_USER_SCHEMA).is_none(), "{ops}");
        assert_eq!(removed["schemas"], json!([USER_SCHEMA]), "{ops}");
        assert_eq!(removed["userName"], "bjensen");
    }
    // Removing an absent extension is a no-op (idempotent retries).
    assert_eq!(
        ok(
            &USER_RESOURCE,
            &user(),
            json!([{"op": "remove", "path": ENTERPRISE_USER_SCHEMA}])
        ),
        user()
    );
}

#[test]
fn a_bare_schema_urn_path_refuses_what_it_cannot_mean() {
    let cases = [
        // The core schema names no attribute.
        (
            json!([{"op": "replace", "path": USER_SCHEMA, "value": {"userName": "x"}}]),
            ScimType::InvalidPath,
            "is the core schema, not an attribute",
        ),
        (
            json!([{"op": "remove", "path": GROUP_SCHEMA}]),
            ScimType::InvalidPath,
            "is the core schema, not an attribute",
        ),
        // The extension takes an object of its attributes.
        (
            json!([{"op": "add", "path": ENTERPRISE_USER_SCHEMA, "value": "x"}]),
            ScimType::InvalidValue,
            "must be an object of attributes",
        ),
        (
            json!([{"op": "add", "path": ENTERPRISE_USER_SCHEMA}]),
            ScimType::InvalidValue,
            "add needs a \"value\"",
        ),
        (
            json!([{"op": "remove", "path": ENTERPRISE_USER_SCHEMA, "value": {"department": "x"}}]),
            ScimType::InvalidValue,
            "takes no \"value\"",
        ),
        // Values are checked as anywhere else.
        (
            json!([{"op": "replace", "path": ENTERPRISE_USER_SCHEMA, "value": {"manager": 7}}]),
            ScimType::InvalidValue,
            "manager",
        ),
        // A filter or sub-attribute after a schema URN is no attribute path.
        (
            json!([{"op": "add", "path": format!("{ENTERPRISE_USER_SCHEMA}.x"), "value": "x"}]),
            ScimType::InvalidPath,
            "",
        ),
    ];
    for (ops, kind, detail) in cases {
        let rt = if ops.to_string().contains(GROUP_SCHEMA) {
            &GROUP_RESOURCE
        } else {
            &USER_RESOURCE
        };
        let (got, message) = err(rt, &enterprise_user_or_group(rt), ops.clone());
        assert_eq!(got, Some(kind), "{ops}: {message}");
        assert!(message.contains(detail), "{ops}: {message}");
    }
}

fn enterprise_user_or_group(rt: &ResourceTypeDef) -> Value {
    if rt.kind == ResourceKind::Group {
        group()
    } else {
        enterprise_user()
    }
}
