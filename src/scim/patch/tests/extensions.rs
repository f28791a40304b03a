//! Paths that name a schema extension or a schema by its bare URN.

use super::*;

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
