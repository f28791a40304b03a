//! Unit tests of the PATCH request parser, engine and IdP quirks: the fixtures here, the tests
//! by topic in the modules below.
#![cfg(test)]

mod extensions;
mod idp;
mod rfc;
mod semantics;
mod values;

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
