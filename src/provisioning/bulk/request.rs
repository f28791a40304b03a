//! The Bulk request and response messages (RFC 7644 §3.7), operation paths and `bulkId`
//! references (§3.7.2).

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use crate::scim::ScimError;

/// URN of the Bulk request message (RFC 7644 §3.7).
pub const BULK_REQUEST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
/// URN of the Bulk response message (RFC 7644 §3.7).
pub const BULK_RESPONSE_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";

pub(super) const REF_PREFIX: &str = "bulkId:";

/// A parsed `BulkRequest` (RFC 7644 §3.7).
#[derive(Debug, Clone, PartialEq)]
pub struct BulkRequest {
    /// Stop after this many failed operations; `None` runs them all.
    pub fail_on_errors: Option<usize>,
    pub operations: Vec<Operation>,
}

/// One element of `Operations`, as sent; checked when it runs, so that one malformed operation
/// fails alone (RFC 7644 §3.7.3).
#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    pub method: Option<String>,
    pub bulk_id: Option<String>,
    pub path: Option<String>,
    /// The ETag the resource must have (`If-Match`, RFC 7644 §3.7, §3.14).
    pub version: Option<String>,
    pub data: Option<Value>,
    /// Why the element could not be read at all.
    pub(super) problem: Option<ScimError>,
}

impl BulkRequest {
    /// Parses a Bulk body. Not an object, `schemas` without [`BULK_REQUEST_SCHEMA`] (when
    /// present), `Operations` missing or not an array → `invalidSyntax`; a `failOnErrors` that
    /// is not a positive integer → `invalidValue`; more than `max_operations` operations → 413
    /// (RFC 7644 §3.7.4). Member names are matched ignoring case.
    pub fn from_json(body: Value, max_operations: u32) -> Result<BulkRequest, ScimError> {
        let Value::Object(mut body) = body else {
            return Err(ScimError::invalid_syntax(
                "a Bulk body is a JSON object with \"schemas\" and \"Operations\"",
            ));
        };
        match take(&mut body, "schemas") {
            None | Some(Value::Null) => {}
            Some(Value::Array(urns))
                if urns.iter().any(|u| {
                    u.as_str()
                        .is_some_and(|u| u.eq_ignore_ascii_case(BULK_REQUEST_SCHEMA))
                }) => {}
            Some(_) => {
                return Err(ScimError::invalid_syntax(format!(
                    "\"schemas\" must be [\"{BULK_REQUEST_SCHEMA}\"]"
                )));
            }
        }
        let operations = match take(&mut body, "Operations") {
            Some(Value::Array(ops)) => ops,
            Some(_) => return Err(ScimError::invalid_syntax("\"Operations\" must be an array")),
            None => return Err(ScimError::invalid_syntax("\"Operations\" is missing")),
        };
        if operations.len() > max_operations as usize {
            return Err(ScimError::payload_too_large(format!(
                "the Bulk request has {} operations; this server accepts at most {max_operations} \
                 (bulk.maxOperations in /ServiceProviderConfig): split it into smaller requests",
                operations.len()
            )));
        }
        let fail_on_errors = match take(&mut body, "failOnErrors") {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) if n.as_u64().is_some_and(|n| n > 0) => {
                n.as_u64().and_then(|n| usize::try_from(n).ok())
            }
            Some(other) => {
                return Err(ScimError::invalid_value(format!(
                    "\"failOnErrors\" must be a positive integer, not {other}"
                )));
            }
        };
        Ok(BulkRequest {
            fail_on_errors,
            operations: operations.into_iter().map(Operation::from_json).collect(),
        })
    }
}

impl Operation {
    pub(super) fn from_json(op: Value) -> Operation {
        let Value::Object(mut op) = op else {
            return Operation {
                method: None,
                bulk_id: None,
                path: None,
                version: None,
                data: None,
                problem: Some(ScimError::invalid_syntax(
                    "each element of \"Operations\" is an object with \"method\" and \"path\"",
                )),
            };
        };
        let mut problem = None;
        let mut text = |name: &str| match take(&mut op, name) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s),
            Some(other) => {
                problem.get_or_insert_with(|| {
                    ScimError::invalid_syntax(format!("\"{name}\" must be a string, not {other}"))
                });
                None
            }
        };
        let method = text("method");
        let bulk_id = text("bulkId");
        let path = text("path");
        let version = text("version");
        let data = take(&mut op, "data").filter(|d| !d.is_null());
        Operation {
            method,
            bulk_id,
            path,
            version,
            data,
            problem,
        }
    }
}

/// The result of one operation (RFC 7644 §3.7.3).
#[derive(Debug, Clone, PartialEq)]
pub struct OpResult {
    pub method: String,
    pub bulk_id: Option<String>,
    pub location: Option<String>,
    pub version: Option<String>,
    pub status: u16,
    /// The SCIM error body of a failed operation.
    pub response: Option<Value>,
    /// The failure of a failed operation, its cause included, for the HTTP edge to log
    /// (docs/architecture.md §9); the body above never carries the cause.
    pub error: Option<ScimError>,
}

impl OpResult {
    pub(super) fn failed(op: &Operation, location: Option<String>, error: &ScimError) -> OpResult {
        OpResult {
            method: method_label(op),
            bulk_id: op.bulk_id.clone(),
            location,
            version: None,
            status: error.status(),
            response: Some(error.body()),
            error: Some(error.clone()),
        }
    }

    /// Whether the operation failed.
    pub fn is_error(&self) -> bool {
        self.status >= 400
    }

    pub(super) fn to_json(&self) -> Value {
        let mut out = Map::new();
        if let Some(location) = &self.location {
            out.insert("location".to_owned(), json!(location));
        }
        out.insert("method".to_owned(), json!(self.method));
        if let Some(bulk_id) = &self.bulk_id {
            out.insert("bulkId".to_owned(), json!(bulk_id));
        }
        if let Some(version) = &self.version {
            out.insert("version".to_owned(), json!(version));
        }
        out.insert("status".to_owned(), json!(self.status.to_string()));
        if let Some(response) = &self.response {
            out.insert("response".to_owned(), response.clone());
        }
        Value::Object(out)
    }
}

/// The `BulkResponse` (RFC 7644 §3.7.3), operations in request order; `status` is a string as
/// in the RFC's examples.
pub fn response(results: &[OpResult]) -> Value {
    json!({
        "schemas": [BULK_RESPONSE_SCHEMA],
        "Operations": results.iter().map(OpResult::to_json).collect::<Vec<_>>(),
    })
}

/// Which endpoint an operation acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Endpoint {
    Users,
    Groups,
}
pub(super) fn is_post(op: &Operation) -> bool {
    op.method
        .as_deref()
        .is_some_and(|m| m.eq_ignore_ascii_case("POST"))
}

pub(super) fn is_post_groups(op: &Operation) -> bool {
    is_post(op)
        && op.path.as_deref().is_some_and(|p| {
            parse_path(p).is_ok_and(|(e, id)| e == Endpoint::Groups && id.is_none())
        })
}

pub(super) fn method_label(op: &Operation) -> String {
    op.method
        .as_deref()
        .map(str::to_ascii_uppercase)
        .unwrap_or_default()
}

/// `/Users`, `Users/<id>`, `/Groups/<id>` (resource type names ignoring case).
pub(super) fn parse_path(path: &str) -> Result<(Endpoint, Option<String>), ScimError> {
    let trimmed = path.trim().trim_start_matches('/');
    let (name, id) = match trimmed.split_once('/') {
        Some((name, id)) => (name, Some(id)),
        None => (trimmed, None),
    };
    let endpoint = if name.eq_ignore_ascii_case("Users") {
        Endpoint::Users
    } else if name.eq_ignore_ascii_case("Groups") {
        Endpoint::Groups
    } else {
        return Err(ScimError::not_found(format!(
            "no endpoint '{path}': Bulk operations act on \"/Users\" and \"/Groups\""
        )));
    };
    match id {
        Some(id) if id.is_empty() || id.contains('/') => Err(ScimError::not_found(format!(
            "no endpoint '{path}': a resource path is \"/Users/<id>\" or \"/Groups/<id>\""
        ))),
        id => Ok((endpoint, id.map(str::to_owned))),
    }
}

/// `W/"3"`, `"3"` or `3` → 3.
pub(super) fn parse_version(v: &str) -> Result<i64, ScimError> {
    crate::provisioning::versioning::parse_version(v).ok_or_else(|| {
        ScimError::invalid_value(format!(
            "version '{v}' is not an ETag this server issued (they look like W/\"3\")"
        ))
    })
}

/// The `bulkId`s an operation references, in its path and anywhere in its data.
pub(super) fn references(op: &Operation) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    if let Some((_, last)) = op.path.as_deref().and_then(|p| p.rsplit_once('/'))
        && let Some(id) = last.strip_prefix(REF_PREFIX)
    {
        out.insert(id.to_owned());
    }
    if let Some(data) = &op.data {
        collect_references(data, &mut out);
    }
    out
}

pub(super) fn collect_references(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::String(s) => {
            if let Some(id) = s.strip_prefix(REF_PREFIX) {
                out.insert(id.to_owned());
            }
        }
        Value::Array(items) => items.iter().for_each(|i| collect_references(i, out)),
        Value::Object(map) => map.values().for_each(|i| collect_references(i, out)),
        _ => {}
    }
}

/// The `bulkId`s referenced as `members[].value` of a group's data.
pub(super) fn member_references(op: &Operation) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let members = op
        .data
        .as_ref()
        .and_then(Value::as_object)
        .and_then(|d| d.iter().find(|(k, _)| k.eq_ignore_ascii_case("members")))
        .map(|(_, v)| v);
    if let Some(Value::Array(items)) = members {
        for item in items {
            if let Some(id) = item
                .get("value")
                .and_then(Value::as_str)
                .and_then(|v| v.strip_prefix(REF_PREFIX))
            {
                out.insert(id.to_owned());
            }
        }
    }
    out
}

/// The group data without the members whose `value` references one of `held_back`.
pub(super) fn strip_members(data: Value, held_back: &BTreeSet<String>) -> Value {
    if held_back.is_empty() {
        return data;
    }
    let Value::Object(mut map) = data else {
        return data;
    };
    for (key, v) in map.iter_mut() {
        if key.eq_ignore_ascii_case("members")
            && let Value::Array(items) = v
        {
            items.retain(|item| {
                !item
                    .get("value")
                    .and_then(Value::as_str)
                    .and_then(|v| v.strip_prefix(REF_PREFIX))
                    .is_some_and(|id| held_back.contains(id))
            });
        }
    }
    Value::Object(map)
}

/// Removes member `key` from an object, matching its name ignoring case.
pub(super) fn take(object: &mut Map<String, Value>, key: &str) -> Option<Value> {
    let name = object
        .keys()
        .find(|k| k.eq_ignore_ascii_case(key))
        .cloned()?;
    object.remove(&name)
}
