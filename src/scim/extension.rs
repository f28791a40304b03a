//! An organization's own extension schemas (RFC 7643 §3.3): the schema resource an admin
//! registers (RFC 7643 §7), checked and read into a [`SchemaDef`] that drives validation,
//! projection, filters and PATCH exactly as the built-in schemas do.
//!
//! What a definition may say, and why some things are refused:
//! - `id`: the extension's URN, `urn:` then letters, digits and `:._-` (at most
//!   [`MAX_URN_BYTES`]), not a core URN nor one roster defines itself;
//! - `resourceType`: `User` or `Group`;
//! - `attributes`: 1 to [`MAX_ATTRIBUTES`], names by RFC 7643 §2.1 (`ATTRNAME`), distinct
//!   ignoring case; `type` required; `subAttributes` only on `complex` ones (at most
//!   [`MAX_ATTRIBUTES`], themselves not complex); the other characteristics default as
//!   RFC 7643 §7 says (`multiValued` false, `required` false, `caseExact` false,
//!   `mutability` readWrite, `returned` default, `uniqueness` none);
//! - refused: `uniqueness` other than `none` (roster would have to enforce it across the org's
//!   users: it does not, and accepting it would promise what is not kept), `mutability`
//!   `readOnly` (nothing but a client writes an extension attribute, so it could never hold a
//!   value), `returned` `always` on a `writeOnly` one and `never` on a readable one (they
//!   contradict each other).
//!
//! String values of an extension attribute are kept in an index ([`AttributeDef::indexed`]), so
//! each is at most [`super::value::MAX_INDEXED_BYTES`].

use serde_json::{Map, Value, json};

use super::error::ScimError;
use super::path::is_attr_name;
use super::schema::{
    AttributeDef, AttributeType, BUILT_IN_EXTENSIONS, ENTRA_GROUP_SCHEMA, GROUP_SCHEMA, Mutability,
    ResourceKind, Returned, SchemaDef, USER_SCHEMA, Uniqueness,
};

/// The most attributes an extension schema (and a complex attribute, of sub-attributes) has.
pub const MAX_ATTRIBUTES: usize = 100;
/// The longest extension URN, in bytes.
pub const MAX_URN_BYTES: usize = 200;
/// The longest `description`, in bytes.
pub const MAX_DESCRIPTION_BYTES: usize = 1024;
/// The most `canonicalValues` of an attribute.
pub const MAX_CANONICAL_VALUES: usize = 100;

/// A registered extension: its schema and the resource type it extends.
#[derive(Debug, Clone, PartialEq)]
pub struct Extension {
    pub resource_type: ResourceKind,
    pub schema: SchemaDef,
}

impl Extension {
    /// The definition as stored and as the admin API returns it: the RFC 7643 §7 schema resource
    /// (without `meta`) plus `resourceType`.
    pub fn to_json(&self) -> Value {
        let mut doc = match serde_json::to_value(&self.schema) {
            Ok(Value::Object(doc)) => doc,
            // Serialising plain data cannot fail.
            _ => Map::new(),
        };
        doc.insert("schemas".to_owned(), json!([SCHEMA_URN]));
        doc.insert(
            "resourceType".to_owned(),
            Value::String(resource_type_name(self.resource_type).to_owned()),
        );
        Value::Object(doc)
    }
}

/// The URN of the RFC 7643 §7 schema resource.
pub const SCHEMA_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";

/// `User` or `Group`.
pub fn resource_type_name(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::User => "User",
        ResourceKind::Group => "Group",
    }
}

/// Reads and checks a definition (the body of `POST /admin/v1/schema-extensions`, or a stored
/// one). Every refusal is `invalidValue` (or `invalidSyntax` for a body that is not an object)
/// naming the field.
pub fn parse(body: Value) -> Result<Extension, ScimError> {
    let Value::Object(mut doc) = body else {
        return Err(ScimError::invalid_syntax(
            "the body must be a JSON object: an RFC 7643 §7 schema resource with \"resourceType\"",
        ));
    };
    let id = take_string(&mut doc, "id", "")?
        .ok_or_else(|| ScimError::invalid_value("'id' is required: the extension's URN"))?;
    check_urn(&id)?;
    let resource_type = match take_string(&mut doc, "resourceType", "")?.as_deref() {
        Some("User") => ResourceKind::User,
        Some("Group") => ResourceKind::Group,
        _ => {
            return Err(ScimError::invalid_value(
                "'resourceType' is required: \"User\" or \"Group\", the resource type the \
                 extension extends",
            ));
        }
    };
    let name = take_string(&mut doc, "name", "")?
        .unwrap_or_else(|| id.rsplit(':').next().unwrap_or_default().to_owned());
    let description = take_string(&mut doc, "description", "")?.unwrap_or_default();
    check_description(&description, "description")?;
    let attributes = match doc.remove("attributes") {
        Some(Value::Array(items)) if !items.is_empty() => items,
        _ => {
            return Err(ScimError::invalid_value(
                "'attributes' is required: an array of 1 or more attribute definitions \
                 (RFC 7643 §7)",
            ));
        }
    };
    let attributes = parse_attributes(attributes, "")?;
    Ok(Extension {
        resource_type,
        schema: SchemaDef {
            id,
            name,
            description,
            attributes,
        },
    })
}

fn check_urn(id: &str) -> Result<(), ScimError> {
    let well_formed = id.len() <= MAX_URN_BYTES
        && id.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:"))
        && id.len() > 4
        && !id.ends_with(':')
        && !id.contains("::")
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '.' | '_' | '-'));
    if !well_formed {
        return Err(ScimError::invalid_value(format!(
            "'id' must be a URN: 'urn:' followed by letters, digits and ':', '.', '_', '-', at \
             most {MAX_URN_BYTES} bytes (e.g. urn:ietf:params:scim:schemas:extension:acme:2.0:User)"
        )));
    }
    let lower = id.to_ascii_lowercase();
    let reserved = [USER_SCHEMA, GROUP_SCHEMA, ENTRA_GROUP_SCHEMA]
        .iter()
        .chain(BUILT_IN_EXTENSIONS)
        .any(|u| u.eq_ignore_ascii_case(id))
        || lower.starts_with("urn:ietf:params:scim:schemas:core:")
        || lower.starts_with("urn:ietf:params:scim:api:");
    if reserved {
        return Err(ScimError::invalid_value(format!(
            "'{id}' is a schema SCIM or roster defines itself; an extension needs a URN of its \
             own (e.g. urn:ietf:params:scim:schemas:extension:acme:2.0:User)"
        )));
    }
    Ok(())
}

fn parse_attributes(items: Vec<Value>, parent: &str) -> Result<Vec<AttributeDef>, ScimError> {
    let field = if parent.is_empty() {
        "attributes".to_owned()
    } else {
        format!("{parent}.subAttributes")
    };
    if items.len() > MAX_ATTRIBUTES {
        return Err(ScimError::invalid_value(format!(
            "'{field}' has {} entries; at most {MAX_ATTRIBUTES} are accepted",
            items.len()
        )));
    }
    let mut out: Vec<AttributeDef> = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let def = parse_attribute(item, &format!("{field}[{i}]"), parent)?;
        if out.iter().any(|a| a.name.eq_ignore_ascii_case(&def.name)) {
            return Err(ScimError::invalid_value(format!(
                "'{field}' names '{}' twice (names are compared ignoring case, RFC 7643 §2.1)",
                def.name
            )));
        }
        out.push(def);
    }
    Ok(out)
}

fn parse_attribute(item: Value, at: &str, parent: &str) -> Result<AttributeDef, ScimError> {
    let Value::Object(mut doc) = item else {
        return Err(ScimError::invalid_value(format!(
            "'{at}' must be an object: an attribute definition (RFC 7643 §7)"
        )));
    };
    let name = take_string(&mut doc, "name", at)?
        .ok_or_else(|| ScimError::invalid_value(format!("'{at}.name' is required")))?;
    if !is_attr_name(&name) || name.starts_with('$') || name.len() > 64 {
        return Err(ScimError::invalid_value(format!(
            "'{at}.name' must be an attribute name: a letter, then letters, digits, '-' or '_' \
             (RFC 7643 §2.1), at most 64 characters"
        )));
    }
    let at = format!("{at} ('{name}')");
    let kind_name = take_string(&mut doc, "type", &at)?;
    let kind = kind_name
        .as_deref()
        .and_then(attribute_type)
        .ok_or_else(|| {
            ScimError::invalid_value(format!(
                "'{at}.type' is required: one of string, boolean, decimal, integer, dateTime, \
                 binary, reference, complex"
            ))
        })?;
    let mut def = AttributeDef::new(&name, kind);
    def.multi_valued = take_bool(&mut doc, "multiValued", &at)?.unwrap_or(false);
    def.required = take_bool(&mut doc, "required", &at)?.unwrap_or(false);
    def.case_exact = take_bool(&mut doc, "caseExact", &at)?.unwrap_or(false);
    def.description = take_string(&mut doc, "description", &at)?.unwrap_or_default();
    check_description(&def.description, &format!("{at}.description"))?;
    def.mutability = match take_string(&mut doc, "mutability", &at)?.as_deref() {
        None | Some("readWrite") => Mutability::ReadWrite,
        Some("immutable") => Mutability::Immutable,
        Some("writeOnly") => Mutability::WriteOnly,
        Some("readOnly") => {
            return Err(ScimError::invalid_value(format!(
                "'{at}.mutability' readOnly: only a client writes an extension attribute, so a \
                 readOnly one could never hold a value; use readWrite or immutable"
            )));
        }
        Some(other) => {
            return Err(ScimError::invalid_value(format!(
                "'{at}.mutability' '{other}' is not one of readWrite, immutable, writeOnly"
            )));
        }
    };
    def.returned = match take_string(&mut doc, "returned", &at)?.as_deref() {
        None | Some("default") => Returned::Default,
        Some("always") => Returned::Always,
        Some("request") => Returned::Request,
        Some("never") => Returned::Never,
        Some(other) => {
            return Err(ScimError::invalid_value(format!(
                "'{at}.returned' '{other}' is not one of always, never, default, request"
            )));
        }
    };
    let write_only = def.mutability == Mutability::WriteOnly;
    if write_only != (def.returned == Returned::Never) {
        return Err(ScimError::invalid_value(format!(
            "'{at}': a writeOnly attribute is returned never, and only a writeOnly one is \
             (RFC 7643 §7)"
        )));
    }
    def.uniqueness = match take_string(&mut doc, "uniqueness", &at)?.as_deref() {
        None | Some("none") => Uniqueness::None,
        Some(other) => {
            return Err(ScimError::invalid_value(format!(
                "'{at}.uniqueness' '{other}': roster does not enforce uniqueness of extension \
                 attributes, so only 'none' is accepted"
            )));
        }
    };
    def.canonical_values = take_strings(&mut doc, "canonicalValues", &at)?;
    if def.canonical_values.len() > MAX_CANONICAL_VALUES {
        return Err(ScimError::invalid_value(format!(
            "'{at}.canonicalValues' has more than {MAX_CANONICAL_VALUES} values"
        )));
    }
    def.reference_types = take_strings(&mut doc, "referenceTypes", &at)?;
    if kind == AttributeType::Reference && def.reference_types.is_empty() {
        def.reference_types = vec!["external".to_owned()];
    }
    let subs = doc.remove("subAttributes");
    match (kind, subs) {
        (AttributeType::Complex, Some(Value::Array(items))) if !items.is_empty() => {
            if !parent.is_empty() {
                return Err(ScimError::invalid_value(format!(
                    "'{at}': a sub-attribute cannot be complex (RFC 7643 §2.3.8)"
                )));
            }
            def.sub_attributes = parse_attributes(items, &name)?;
        }
        (AttributeType::Complex, _) => {
            return Err(ScimError::invalid_value(format!(
                "'{at}.subAttributes' is required for a complex attribute: an array of 1 or more \
                 attribute definitions"
            )));
        }
        (_, None | Some(Value::Null)) => {}
        (_, Some(_)) => {
            return Err(ScimError::invalid_value(format!(
                "'{at}.subAttributes': only a complex attribute has sub-attributes"
            )));
        }
    }
    def.indexed = matches!(kind, AttributeType::String | AttributeType::Reference);
    Ok(def)
}

fn attribute_type(name: &str) -> Option<AttributeType> {
    Some(match name {
        "string" => AttributeType::String,
        "boolean" => AttributeType::Boolean,
        "decimal" => AttributeType::Decimal,
        "integer" => AttributeType::Integer,
        "dateTime" => AttributeType::DateTime,
        "binary" => AttributeType::Binary,
        "reference" => AttributeType::Reference,
        "complex" => AttributeType::Complex,
        _ => return None,
    })
}

fn field(at: &str, key: &str) -> String {
    if at.is_empty() {
        key.to_owned()
    } else {
        format!("{at}.{key}")
    }
}

fn take_string(
    doc: &mut Map<String, Value>,
    key: &str,
    at: &str,
) -> Result<Option<String>, ScimError> {
    match doc.remove(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.contains('\0') => Ok(Some(s)),
        Some(_) => Err(ScimError::invalid_value(format!(
            "'{}' must be a string",
            field(at, key)
        ))),
    }
}

fn take_bool(doc: &mut Map<String, Value>, key: &str, at: &str) -> Result<Option<bool>, ScimError> {
    match doc.remove(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(b)),
        Some(_) => Err(ScimError::invalid_value(format!(
            "'{}' must be true or false",
            field(at, key)
        ))),
    }
}

fn take_strings(
    doc: &mut Map<String, Value>,
    key: &str,
    at: &str,
) -> Result<Vec<String>, ScimError> {
    let refuse = || {
        ScimError::invalid_value(format!(
            "'{}' must be an array of strings of at most 256 bytes",
            field(at, key)
        ))
    };
    match doc.remove(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|v| match v {
                Value::String(s) if s.len() <= 256 && !s.contains('\0') => Ok(s),
                _ => Err(refuse()),
            })
            .collect(),
        Some(_) => Err(refuse()),
    }
}

fn check_description(text: &str, at: &str) -> Result<(), ScimError> {
    if text.len() > MAX_DESCRIPTION_BYTES {
        return Err(ScimError::invalid_value(format!(
            "'{at}' is {} bytes long; at most {MAX_DESCRIPTION_BYTES} are accepted",
            text.len()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::schema::USER_RESOURCE;

    fn acme() -> Value {
        json!({
            "id": "urn:ietf:params:scim:schemas:extension:acme:2.0:User",
            "name": "AcmeUser",
            "resourceType": "User",
            "attributes": [
                {"name": "costCode", "type": "string"},
                {"name": "badges", "type": "string", "multiValued": true, "caseExact": true},
                {"name": "site", "type": "complex", "subAttributes": [
                    {"name": "building", "type": "string"},
                    {"name": "floor", "type": "integer"}
                ]}
            ]
        })
    }

    #[test]
    fn a_definition_reads_with_rfc_defaults_and_round_trips() {
        let ext = parse(acme()).unwrap();
        assert_eq!(ext.resource_type, ResourceKind::User);
        let cost = ext.schema.attribute("COSTCODE").unwrap();
        assert_eq!(
            (cost.multi_valued, cost.required, cost.case_exact),
            (false, false, false)
        );
        assert_eq!(cost.mutability, Mutability::ReadWrite);
        assert!(cost.indexed);
        let site = ext.schema.attribute("site").unwrap();
        assert!(!site.indexed);
        assert!(site.sub_attribute("building").unwrap().indexed);
        let again = parse(ext.to_json()).unwrap();
        assert_eq!(again, ext);
        assert_eq!(ext.to_json()["attributes"][0]["type"], "string");
        assert_eq!(ext.to_json()["resourceType"], "User");
    }

    #[test]
    fn bad_definitions_are_refused_naming_the_field() {
        let cases: Vec<(Value, &str)> = vec![
            (json!([]), "JSON object"),
            (
                json!({"resourceType": "User", "attributes": []}),
                "'id' is required",
            ),
            (
                json!({"id": "acme", "resourceType": "User", "attributes": [{"name": "a", "type": "string"}]}),
                "must be a URN",
            ),
            (
                json!({"id": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "resourceType": "User", "attributes": [{"name": "a", "type": "string"}]}),
                "defines itself",
            ),
            (
                json!({"id": "urn:acme:x", "resourceType": "Widget", "attributes": [{"name": "a", "type": "string"}]}),
                "'resourceType' is required",
            ),
            (
                json!({"id": "urn:acme:x", "resourceType": "User", "attributes": []}),
                "'attributes' is required",
            ),
            (
                json!({"id": "urn:acme:x", "resourceType": "User", "attributes": [{"name": "a b", "type": "string"}]}),
                "must be an attribute name",
            ),
            (
                json!({"id": "urn:acme:x", "resourceType": "User", "attributes": [{"name": "a", "type": "text"}]}),
                ".type' is required",
            ),
            (
                json!({"id": "urn:acme:x", "resourceType": "User", "attributes": [{"name": "a", "type": "string"}, {"name": "A", "type": "string"}]}),
                "twice",
            ),
            (
                json!({"id": "urn:acme:x", "resourceType": "User", "attributes": [{"name": "a", "type": "string", "uniqueness": "server"}]}),
                "uniqueness",
            ),
            (
                json!({"id": "urn:acme:x", "resourceType": "User", "attributes": [{"name": "a", "type": "string", "mutability": "readOnly"}]}),
                "readOnly",
            ),
            (
                json!({"id": "urn:acme:x", "resourceType": "User", "attributes": [{"name": "a", "type": "complex"}]}),
                "subAttributes' is required",
            ),
            (
                json!({"id": "urn:acme:x", "resourceType": "User", "attributes": [{"name": "a", "type": "complex", "subAttributes": [{"name": "b", "type": "complex", "subAttributes": [{"name": "c", "type": "string"}]}]}]}),
                "cannot be complex",
            ),
            (
                json!({"id": "urn:acme:x", "resourceType": "User", "attributes": [{"name": "a", "type": "string", "multiValued": "yes"}]}),
                "must be true or false",
            ),
        ];
        for (body, expected) in cases {
            let err = parse(body.clone()).unwrap_err();
            assert!(
                err.detail().contains(expected),
                "{body}: {} does not say {expected}",
                err.detail()
            );
        }
    }

    /// Data under an extension URN the organization has not registered is refused, naming the URN
    /// and how to register it, whether nested under the URN or as URN-qualified keys; a URN only in
    /// `schemas` carries no data and is not refused.
    #[test]
    fn data_of_an_unregistered_extension_is_refused() {
        const TEST_URN: &str = "urn:msfttest:cloud:scim:schemas:extension:custom:2.0:User";
        for body in [
            json!({"userName": "a", TEST_URN: {"foo": "bar"}}),
            json!({"userName": "a", format!("{TEST_URN}:foo"): "bar"}),
        ] {
            let err =
                crate::scim::resource::validate_create(&USER_RESOURCE, body.clone()).unwrap_err();
            assert_eq!(err.scim_type(), Some(crate::scim::ScimType::InvalidValue));
            assert!(err.detail().contains(TEST_URN), "{body}: {}", err.detail());
            assert!(
                err.detail().contains("POST /admin/v1/schema-extensions"),
                "{body}: {}",
                err.detail()
            );
        }
        let listed = json!({"schemas": [USER_SCHEMA, TEST_URN], "userName": "a"});
        assert!(crate::scim::resource::validate_create(&USER_RESOURCE, listed).is_ok());
    }
}
