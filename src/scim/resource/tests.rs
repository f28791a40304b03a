//! Unit tests of validation, rendering and projection.

use chrono::Utc;
use serde_json::{Map, Value};

use crate::scim::error::ScimError;
use crate::scim::schema::{AttributeDef, AttributeType, Mutability, ResourceTypeDef, SchemaDef};
use std::sync::LazyLock;

use super::project::*;
use super::render::*;
use super::validate::*;
use crate::scim::schema::{
    ENTERPRISE_USER_SCHEMA, GROUP_RESOURCE, GROUP_SCHEMA, USER_RESOURCE, USER_SCHEMA,
};
use chrono::TimeZone as _;
use serde_json::json;

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

fn stored(v: Value) -> Validated {
    Validated {
        resource: obj(v),
        password: None,
    }
}

/// Okta's create request (okta.md, "Create (on assignment)" step 4).
#[test]
fn okta_create_body() {
    let body = json!({
        "schemas": [USER_SCHEMA],
        "userName": "isabella.jones@example.com",
        "name": {"givenName": "Isabella", "familyName": "Jones"},
        "emails": [{"primary": true, "value": "isabella.jones@example.com", "type": "work"}],
        "displayName": "Isabella Jones",
        "locale": "en-US",
        "externalId": "00ujl29u0le5T6Aj10h7",
        "groups": [],
        "password": "1mz050nq",
        "active": true
    });
    let want = Validated {
        resource: obj(json!({
            "schemas": [USER_SCHEMA],
            "externalId": "00ujl29u0le5T6Aj10h7",
            "userName": "isabella.jones@example.com",
            "name": {"familyName": "Jones", "givenName": "Isabella"},
            "displayName": "Isabella Jones",
            "locale": "en-US",
            "active": true,
            "emails": [{"value": "isabella.jones@example.com", "type": "work", "primary": true}],
        })),
        password: Some("1mz050nq".to_owned()),
    };
    assert_eq!(validate_create(&USER_RESOURCE, body), Ok(want));
}

/// Entra ID's create request (docs/idp-behaviour.md, "Microsoft Entra ID", "Documented requests").
#[test]
fn entra_create_body() {
    let body = json!({
        "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
        "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
        "userName": "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1",
        "active": true,
        "emails": [{
            "primary": true,
            "type": "work",
            "value": "Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com"
        }],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
        "roles": []
    });
    let want = stored(json!({
        "schemas": [USER_SCHEMA],
        "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
        "userName": "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1",
        "active": true,
        "emails": [{
            "primary": true,
            "type": "work",
            "value": "Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com"
        }],
        "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
    }));
    assert_eq!(validate_create(&USER_RESOURCE, body), Ok(want));
}

/// Microsoft's Postman collection: capitalised names, `"True"` strings
/// (scim2-server tests/integration/test_ms_entra.py).
#[test]
fn capitalised_names_and_string_booleans() {
    let body = json!({
        "schemas": ["URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:USER"],
        "UserName": "UserName123",
        "Active": "True",
        "DisplayName": "BobIsAmazing",
        "Emails": [{"Primary": "true", "Type": "work", "Value": "bob@example.com"}],
        "Name": {"GivenName": "Bob", "FamilyName": "Smith"},
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:Department": "Sales"
    });
    let want = stored(json!({
        "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
        "userName": "UserName123",
        "active": true,
        "displayName": "BobIsAmazing",
        "emails": [{"primary": true, "type": "work", "value": "bob@example.com"}],
        "name": {"givenName": "Bob", "familyName": "Smith"},
        ENTERPRISE_USER_SCHEMA: {"department": "Sales"},
    }));
    assert_eq!(validate_create(&USER_RESOURCE, body), Ok(want));
    assert_eq!(entra_boolean("FALSE"), Some(false));
    assert_eq!(entra_boolean("no"), None);
}

#[test]
fn extension_nested_or_urn_qualified_gives_the_same_stored_form() {
    let nested = json!({
        "userName": "a",
        "urn:ietf:params:scim:schemas:extension:ENTERPRISE:2.0:User": {
            "EmployeeNumber": "701984",
            "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d", "displayName": "John Smith"}
        }
    });
    let qualified = json!({
        "userName": "a",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "701984",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager":
            {"value": "26118915-6090-4610-87e4-49d8ca9f808d"}
    });
    let want = stored(json!({
        "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
        "userName": "a",
        ENTERPRISE_USER_SCHEMA: {
            "employeeNumber": "701984",
            "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d"}
        },
    }));
    assert_eq!(validate_create(&USER_RESOURCE, nested), Ok(want.clone()));
    assert_eq!(validate_create(&USER_RESOURCE, qualified), Ok(want));
}

#[test]
fn read_only_and_unknown_attributes_are_ignored() {
    let body = json!({
        "id": "client-chosen",
        "meta": {"created": "2020-01-01T00:00:00Z"},
        "userName": "a",
        "groups": [{"value": "g1"}],
        "nickname_custom": "x",
        "emails": [{"value": "a@example.com", "kind": "x"}]
    });
    let want = stored(json!({
        "schemas": [USER_SCHEMA],
        "userName": "a",
        "emails": [{"value": "a@example.com"}],
    }));
    assert_eq!(validate_create(&USER_RESOURCE, body), Ok(want));
}

/// Entra creates groups with its own schema URN and sends `"$ref": null` in members.
#[test]
fn entra_group_with_alias_schema_and_null_refs() {
    let body = json!({
        "schemas": ["http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
        "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
        "displayName": "Group1DisplayName",
        "members": [{"$ref": null, "value": "u1", "display": "ignored"}],
        "meta": {"resourceType": "Group"}
    });
    let want = stored(json!({
        "schemas": [GROUP_SCHEMA],
        "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
        "displayName": "Group1DisplayName",
        "members": [{"value": "u1"}],
    }));
    assert_eq!(validate_create(&GROUP_RESOURCE, body), Ok(want));
}

#[test]
fn unassigned_values_are_omitted_and_empty_strings_kept() {
    let body = json!({
        "userName": "a",
        "nickName": "",
        "title": null,
        "name": {"givenName": null},
        "phoneNumbers": [],
        "emails": [null, {}],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {}
    });
    let want = stored(json!({"schemas": [USER_SCHEMA], "userName": "a", "nickName": ""}));
    assert_eq!(validate_create(&USER_RESOURCE, body), Ok(want));
}

#[test]
fn a_single_value_of_a_multi_valued_attribute_is_wrapped() {
    let body = json!({"userName": "a", "emails": {"value": "a@example.com", "primary": true}});
    let want = stored(json!({
        "schemas": [USER_SCHEMA],
        "userName": "a",
        "emails": [{"value": "a@example.com", "primary": true}],
    }));
    assert_eq!(validate_create(&USER_RESOURCE, body), Ok(want));
    assert_eq!(
        validate_create(
            &USER_RESOURCE,
            json!({"userName": "a", "emails": "a@example.com"})
        ),
        Err(ScimError::invalid_value(
            "attribute 'emails' must be an object"
        ))
    );
}

#[test]
fn wrong_types_name_the_attribute_path() {
    let cases = [
        (
            json!({"userName": "a", "emails": [{"value": "x"}, {"value": "y", "primary": "yes"}]}),
            "attribute 'emails[1].primary' must be a boolean",
        ),
        (
            json!({"userName": 5}),
            "attribute 'userName' must be a string",
        ),
        (
            json!({"userName": "a", "active": 1}),
            "attribute 'active' must be a boolean",
        ),
        (
            json!({"userName": "a", "name": "Bob"}),
            "attribute 'name' must be an object",
        ),
        (
            json!({"userName": "a", "name": {"givenName": ["Bob"]}}),
            "attribute 'name.givenName' must be a string",
        ),
        (
            json!({"userName": "a", "emails": ["x"]}),
            "attribute 'emails[0]' must be an object",
        ),
        (
            json!({"userName": "a", "x509Certificates": [{"value": "not base64!"}]}),
            "attribute 'x509Certificates[0].value' must be a base64 string",
        ),
        (
            json!({"userName": "a", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": 42}}),
            "attribute 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber' must be a string",
        ),
        (
            json!({"userName": "a", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": "x"}),
            "attribute 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User' must be an object",
        ),
        (
            json!({"userName": "a", "password": true}),
            "attribute 'password' must be a string",
        ),
    ];
    for (body, detail) in cases {
        assert_eq!(
            validate_create(&USER_RESOURCE, body),
            Err(ScimError::invalid_value(detail)),
            "{detail}"
        );
    }
    assert_eq!(
        validate_create(&USER_RESOURCE, json!(["userName"])),
        Err(ScimError::invalid_syntax(
            "the request body must be a JSON object"
        ))
    );
}

#[test]
fn two_primary_values_are_refused() {
    let body = json!({"userName": "a", "emails": [
        {"value": "a@example.com", "primary": true},
        {"value": "b@example.com", "Primary": "True"}
    ]});
    assert_eq!(
        validate_create(&USER_RESOURCE, body),
        Err(ScimError::invalid_value(
            "attribute 'emails' has more than one value with 'primary' true"
        ))
    );
}

#[test]
fn required_attributes_must_be_present_and_not_blank() {
    for body in [
        json!({"active": true}),
        json!({"userName": "  "}),
        json!({"userName": null}),
    ] {
        assert_eq!(
            validate_create(&USER_RESOURCE, body),
            Err(ScimError::invalid_value("'userName' is required"))
        );
    }
    assert_eq!(
        validate_create(&GROUP_RESOURCE, json!({"members": []})),
        Err(ScimError::invalid_value("'displayName' is required"))
    );
}

#[test]
fn schemas_must_name_the_core_schema_when_present() {
    assert_eq!(
        validate_create(
            &USER_RESOURCE,
            json!({"schemas": [GROUP_SCHEMA], "userName": "a"})
        ),
        Err(ScimError::invalid_value(format!(
            "'schemas' must contain '{USER_SCHEMA}'"
        )))
    );
    assert_eq!(
        validate_create(
            &USER_RESOURCE,
            json!({"schemas": USER_SCHEMA, "userName": "a"})
        ),
        Err(ScimError::invalid_value(
            "'schemas' must be an array of schema URNs"
        ))
    );
    let lenient = validate_create(&USER_RESOURCE, json!({"userName": "a"}));
    assert_eq!(
        lenient,
        Ok(stored(json!({"schemas": [USER_SCHEMA], "userName": "a"})))
    );
}

#[test]
fn duplicate_attributes_differing_in_case_are_refused() {
    assert_eq!(
        validate_create(&USER_RESOURCE, json!({"userName": "a", "UserName": "b"})),
        Err(ScimError::invalid_value(
            "attribute 'userName' is given more than once"
        ))
    );
}

#[test]
fn put_clears_omitted_attributes_and_keeps_no_read_only_input() {
    let existing = obj(json!({
        "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
        "userName": "a",
        "displayName": "A",
        "active": true,
        ENTERPRISE_USER_SCHEMA: {"department": "Sales"},
    }));
    let body = json!({"schemas": [USER_SCHEMA], "id": "x", "userName": "a", "title": "CTO"});
    let want = stored(json!({"schemas": [USER_SCHEMA], "userName": "a", "title": "CTO"}));
    assert_eq!(validate_replace(&USER_RESOURCE, &existing, body), Ok(want));
    assert_eq!(
        validate_replace(&USER_RESOURCE, &existing, json!({"displayName": "A"})),
        Err(ScimError::invalid_value("'userName' is required"))
    );
}

static BADGE: LazyLock<SchemaDef> = LazyLock::new(|| SchemaDef {
    id: "urn:example:schemas:Badge".to_owned(),
    name: "Badge".to_owned(),
    description: "A test resource with immutable attributes".to_owned(),
    attributes: vec![
        AttributeDef {
            mutability: Mutability::Immutable,
            ..AttributeDef::new("serial", AttributeType::String)
        },
        AttributeDef::new("label", AttributeType::String),
        AttributeDef {
            sub_attributes: vec![
                AttributeDef {
                    mutability: Mutability::Immutable,
                    case_exact: true,
                    ..AttributeDef::new("chip", AttributeType::String)
                },
                AttributeDef::new("colour", AttributeType::String),
            ],
            ..AttributeDef::new("device", AttributeType::Complex)
        },
    ],
});
static BADGE_RESOURCE: LazyLock<ResourceTypeDef> = LazyLock::new(|| ResourceTypeDef {
    kind: crate::scim::schema::ResourceKind::User,
    name: "Badge",
    endpoint: "/Badges",
    description: "Badge",
    schema: &BADGE,
    extensions: Vec::new(),
    schema_aliases: &[],
});

#[test]
fn put_keeps_omitted_immutable_values_and_refuses_changes() {
    let existing = obj(json!({
        "schemas": ["urn:example:schemas:Badge"],
        "serial": "SN-1",
        "label": "old",
        "device": {"chip": "C1", "colour": "red"},
    }));
    let kept = validate_replace(&BADGE_RESOURCE, &existing, json!({"label": "new"}));
    let want = stored(json!({
        "schemas": ["urn:example:schemas:Badge"],
        "serial": "SN-1",
        "label": "new",
        "device": {"chip": "C1"},
    }));
    assert_eq!(kept, Ok(want));
    // caseExact false: a change of case is the same value.
    let same = validate_replace(&BADGE_RESOURCE, &existing, json!({"serial": "sn-1"}));
    assert!(same.is_ok());
    assert_eq!(
        validate_replace(&BADGE_RESOURCE, &existing, json!({"serial": "SN-2"})),
        Err(ScimError::mutability(
            "attribute 'serial' is immutable and cannot be changed"
        ))
    );
    assert_eq!(
        validate_replace(
            &BADGE_RESOURCE,
            &existing,
            json!({"device": {"chip": "c1"}})
        ),
        Err(ScimError::mutability(
            "attribute 'device.chip' is immutable and cannot be changed"
        ))
    );
    // Unset before: any value may be set.
    let empty = obj(json!({"schemas": ["urn:example:schemas:Badge"]}));
    assert!(validate_replace(&BADGE_RESOURCE, &empty, json!({"serial": "SN-9"})).is_ok());
}

fn meta() -> Meta {
    Meta {
        resource_type: "User",
        created: Utc.with_ymd_and_hms(2024, 5, 1, 8, 30, 0).unwrap(),
        last_modified: Utc.with_ymd_and_hms(2024, 5, 2, 9, 0, 0).unwrap()
            + chrono::Duration::milliseconds(250),
        location: "https://example.com/scim/v2/Users/u1".to_owned(),
        version: "W/\"3\"".to_owned(),
    }
}

fn rendered_user() -> Value {
    let stored = obj(json!({
        "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
        "userName": "bjensen",
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@example.org", "type": "home"}
        ],
        "active": true,
        ENTERPRISE_USER_SCHEMA: {"employeeNumber": "701984", "department": "Tour Operations"},
        "password": "leaked into storage by mistake",
    }));
    let extra = obj(json!({"groups": [{"value": "g1", "display": "Admins"}], "id": "ignored"}));
    render(&stored, "u1", &meta(), extra)
}

#[test]
fn render_adds_id_meta_and_extra() {
    assert_eq!(
        rendered_user(),
        json!({
            "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
            "id": "u1",
            "userName": "bjensen",
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "babs@example.org", "type": "home"}
            ],
            "active": true,
            ENTERPRISE_USER_SCHEMA: {"employeeNumber": "701984", "department": "Tour Operations"},
            "groups": [{"value": "g1", "display": "Admins"}],
            "meta": {
                "resourceType": "User",
                "created": "2024-05-01T08:30:00Z",
                "lastModified": "2024-05-02T09:00:00.250Z",
                "location": "https://example.com/scim/v2/Users/u1",
                "version": "W/\"3\""
            }
        })
    );
    let bare = render(&obj(json!({"userName": "x"})), "u2", &meta(), Map::new());
    assert_eq!(bare["schemas"], json!([USER_SCHEMA]));
}

fn project(attributes: Option<&str>, excluded: Option<&str>) -> Value {
    let p = Projection::parse(&USER_RESOURCE, attributes, excluded).unwrap();
    p.apply(&USER_RESOURCE, rendered_user())
}

#[test]
fn attributes_user_name_keeps_id_and_schemas() {
    assert_eq!(
        project(Some("userName"), None),
        json!({"schemas": [USER_SCHEMA], "id": "u1", "userName": "bjensen"})
    );
}

#[test]
fn excluded_attributes_drop_what_they_name() {
    let mut want = rendered_user();
    if let Some(m) = want.as_object_mut() {
        m.remove("emails");
        m.remove("groups");
    }
    assert_eq!(project(None, Some("emails, GROUPS,nosuch")), want);
    // `always` can't be excluded.
    assert_eq!(project(None, Some("id,schemas")), rendered_user());
}

#[test]
fn sub_attribute_selections() {
    assert_eq!(
        project(Some("name.givenName,emails.value,meta.lastModified"), None),
        json!({
            "schemas": [USER_SCHEMA],
            "id": "u1",
            "name": {"givenName": "Barbara"},
            "emails": [{"value": "bjensen@example.com"}, {"value": "babs@example.org"}],
            "meta": {"lastModified": "2024-05-02T09:00:00.250Z"}
        })
    );
    let excluded = project(None, Some("emails.type,emails.primary,name"));
    assert_eq!(
        excluded["emails"],
        json!([{"value": "bjensen@example.com"}, {"value": "babs@example.org"}])
    );
    assert!(excluded.get("name").is_none());
}

#[test]
fn extension_selections() {
    assert_eq!(
        project(
            Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber"),
            None
        ),
        json!({
            "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
            "id": "u1",
            ENTERPRISE_USER_SCHEMA: {"employeeNumber": "701984"}
        })
    );
    let dropped = project(None, Some(ENTERPRISE_USER_SCHEMA));
    assert!(dropped.get(ENTERPRISE_USER_SCHEMA).is_none());
    assert_eq!(dropped["schemas"], json!([USER_SCHEMA]));
}

#[test]
fn password_is_never_shown() {
    assert!(rendered_user().get("password").is_none());
    let with_password = json!({"schemas": [USER_SCHEMA], "id": "u1", "password": "p"});
    for p in [
        Projection::default(),
        Projection::parse(&USER_RESOURCE, Some("password,userName"), None).unwrap(),
    ] {
        assert_eq!(
            p.apply(&USER_RESOURCE, with_password.clone()),
            json!({"schemas": [USER_SCHEMA], "id": "u1"})
        );
    }
}

#[test]
fn excluded_members_and_includes() {
    let group = render(
        &obj(
            json!({"schemas": [GROUP_SCHEMA], "displayName": "Admins", "members": [{"value": "u1"}]}),
        ),
        "g1",
        &Meta {
            resource_type: "Group",
            ..meta()
        },
        Map::new(),
    );
    let p = Projection::parse(&GROUP_RESOURCE, None, Some("members")).unwrap();
    assert!(!p.includes(&GROUP_RESOURCE, "members"));
    assert!(p.includes(&GROUP_RESOURCE, "displayName"));
    assert!(p.includes(&GROUP_RESOURCE, "id"));
    let shown = p.apply(&GROUP_RESOURCE, group);
    assert!(shown.get("members").is_none());
    assert_eq!(shown["displayName"], "Admins");

    let only = Projection::parse(&USER_RESOURCE, Some("emails.value"), None).unwrap();
    assert!(only.includes(&USER_RESOURCE, "emails"));
    assert!(!only.includes(&USER_RESOURCE, "groups"));
    assert!(!only.includes(&USER_RESOURCE, "password"));
    assert!(!only.includes(&USER_RESOURCE, ENTERPRISE_USER_SCHEMA));
    let all = Projection::default();
    assert!(all.includes(&USER_RESOURCE, "groups"));
    assert!(all.includes(&USER_RESOURCE, ENTERPRISE_USER_SCHEMA));
}

#[test]
fn projection_syntax_errors_are_invalid_value() {
    let err = Projection::parse(&USER_RESOURCE, Some("emails..value"), None);
    assert_eq!(
        err.map(|_| ()).map_err(|e| e.scim_type()),
        Err(Some(crate::scim::error::ScimType::InvalidValue))
    );
    assert_eq!(
        Projection::parse(&USER_RESOURCE, Some(" "), Some("")),
        Ok(Projection::default())
    );
}

#[test]
fn value_filtered_attributes_select_the_matching_values() {
    let work = json!({"value": "bjensen@example.com", "type": "work", "primary": true});
    let home = json!({"value": "babs@example.org", "type": "home"});
    let only = |attributes: &str| project(Some(attributes), None)["emails"].clone();
    assert_eq!(only("emails[type eq \"work\"]"), json!([work]));
    assert_eq!(
        only("EMAILS[TYPE eq \"WORK\"]"),
        json!([work]),
        "caseExact false"
    );
    assert_eq!(
        only("emails[type eq \"work\"].value"),
        json!([{"value": "bjensen@example.com"}])
    );
    assert_eq!(
        only("emails[primary eq true or type eq \"home\"]"),
        json!([work, home])
    );
    // Selections add up, value by value.
    assert_eq!(
        only("emails.value,emails[type eq \"home\"]"),
        json!([{"value": "bjensen@example.com"}, home])
    );
    assert_eq!(only("emails,emails[type eq \"home\"]"), json!([work, home]));
    // Nothing matches: the attribute is left out.
    let none = project(Some("emails[type eq \"other\"]"), None);
    assert_eq!(none, json!({"schemas": [USER_SCHEMA], "id": "u1"}));
    // A comma inside the filter is part of it.
    assert_eq!(
        project(
            Some("userName,emails[value co \",\" or type eq \"home\"]"),
            None
        ),
        json!({"schemas": [USER_SCHEMA], "id": "u1", "userName": "bjensen", "emails": [home]})
    );
}

#[test]
fn value_filtered_excluded_attributes_drop_the_matching_values() {
    let work = json!({"value": "bjensen@example.com", "type": "work", "primary": true});
    let home = json!({"value": "babs@example.org", "type": "home"});
    let shown = project(None, Some("emails[type eq \"work\"]"));
    assert_eq!(shown["emails"], json!([home]));
    assert_eq!(shown["userName"], "bjensen");
    assert_eq!(
        project(None, Some("emails[type eq \"work\"].primary"))["emails"],
        json!([{"value": "bjensen@example.com", "type": "work"}, home])
    );
    assert!(
        project(None, Some("emails[type pr]"))
            .get("emails")
            .is_none()
    );
    assert_eq!(
        project(None, Some("emails[type eq \"nothing\"]"))["emails"],
        json!([work, home])
    );
    // Both parameters: selected by one, not dropped by the other.
    assert_eq!(
        project(Some("emails"), Some("emails[type eq \"home\"]"))["emails"],
        json!([work])
    );
    let p = Projection::parse(&USER_RESOURCE, None, Some("emails[type eq \"work\"]")).unwrap();
    assert!(p.includes(&USER_RESOURCE, "emails"));
}

#[test]
fn value_filtered_group_members() {
    let group = render(
        &obj(
            json!({"schemas": [GROUP_SCHEMA], "displayName": "Admins", "members": [
                {"value": "u1", "type": "User"}, {"value": "g2", "type": "Group"}
            ]}),
        ),
        "g1",
        &Meta {
            resource_type: "Group",
            ..meta()
        },
        Map::new(),
    );
    let p = Projection::parse(
        &GROUP_RESOURCE,
        Some("members[type eq \"Group\"].value"),
        None,
    )
    .unwrap();
    assert!(p.includes(&GROUP_RESOURCE, "members"));
    assert_eq!(
        p.apply(&GROUP_RESOURCE, group)["members"],
        json!([{"value": "g2"}])
    );
}

#[test]
fn value_filtered_projection_errors() {
    use crate::scim::error::ScimType;
    let cases = [
        (
            "emails[nosuch eq \"x\"]",
            ScimType::InvalidFilter,
            "unknown attribute 'emails.nosuch'",
        ),
        (
            "emails[type eq \"work\"].nosuch",
            ScimType::InvalidFilter,
            "unknown attribute 'emails.nosuch'",
        ),
        (
            "name[givenName eq \"x\"]",
            ScimType::InvalidFilter,
            "'name' is not a multi-valued complex attribute",
        ),
        (
            "userName[value eq \"x\"]",
            ScimType::InvalidFilter,
            "'userName' is not a multi-valued complex",
        ),
        (
            "emails[type eq \"work\"",
            ScimType::InvalidFilter,
            "attributes: 'emails[type eq",
        ),
        (
            "emails[primary gt true]",
            ScimType::InvalidFilter,
            "'gt' is not supported",
        ),
        ("emails[type[value eq \"a\"]]", ScimType::InvalidFilter, ""),
    ];
    for (entry, kind, detail) in cases {
        let e = Projection::parse(&USER_RESOURCE, Some(entry), None).unwrap_err();
        assert_eq!(e.scim_type(), Some(kind), "{entry}: {}", e.detail());
        assert!(e.detail().contains(detail), "{entry}: {}", e.detail());
        let e = Projection::parse(&USER_RESOURCE, None, Some(entry)).unwrap_err();
        assert!(
            e.detail().starts_with("excludedAttributes: "),
            "{}",
            e.detail()
        );
    }
    // An attribute the resource type does not know is ignored, as unfiltered names are.
    assert_eq!(
        Projection::parse(&USER_RESOURCE, None, Some("members[type eq \"User\"]")),
        Ok(Projection::default())
    );
    // The filters of both parameters count toward the filter bounds together.
    let many = |n: usize| {
        (0..n)
            .map(|i| format!("emails[value eq \"{i}\"]"))
            .collect::<Vec<_>>()
            .join(",")
    };
    let half = crate::scim::filter::MAX_FILTER_TERMS / 2;
    assert!(Projection::parse(&USER_RESOURCE, Some(&many(half)), Some(&many(half))).is_ok());
    let e =
        Projection::parse(&USER_RESOURCE, Some(&many(half)), Some(&many(half + 1))).unwrap_err();
    assert_eq!(e.scim_type(), Some(ScimType::TooMany), "{}", e.detail());
    let substrings = (0..=crate::scim::filter::MAX_FILTER_SUBSTRING_TERMS)
        .map(|i| format!("emails[value co \"{i}\"]"))
        .collect::<Vec<_>>()
        .join(",");
    let e = Projection::parse(&USER_RESOURCE, Some(&substrings), None).unwrap_err();
    assert_eq!(e.scim_type(), Some(ScimType::TooMany), "{}", e.detail());
}

#[test]
fn attribute_lists_split_outside_brackets_and_quotes() {
    use super::split_list;
    assert_eq!(split_list(" a, b ,,c "), vec!["a", "b", "c"]);
    assert_eq!(
        split_list(r#"emails[value co "a,b" and type eq "x\",y"].value,userName"#),
        vec![
            r#"emails[value co "a,b" and type eq "x\",y"].value"#,
            "userName"
        ]
    );
    assert_eq!(split_list("x[a eq 1,b],y"), vec!["x[a eq 1,b]", "y"]);
    assert!(split_list("").is_empty());
}
