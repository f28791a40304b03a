//! What one PATCH write acts on ([`Target`]), and the JSON helpers the request parser, the
//! engine and the IdP quirks share.

use serde_json::{Map, Value};

use super::MAX_VALUES;
use crate::scim::error::ScimError;
use crate::scim::filter::Filter;
use crate::scim::schema::{AttributeDef, SchemaDef};

/// What one write acts on: an attribute, maybe narrowed by a value filter, maybe down to a
/// sub-attribute.
pub(super) struct Target<'r> {
    /// The extension schema whose object holds the attribute; `None` for core attributes.
    pub(super) extension: Option<&'r SchemaDef>,
    pub(super) attr: &'r AttributeDef,
    /// Validated value filter, paths relative to `attr`.
    pub(super) filter: Option<Filter>,
    pub(super) sub: Option<&'r AttributeDef>,
}

impl Target<'_> {
    pub(super) fn label(&self) -> String {
        match self.sub {
            Some(sub) => format!("{}.{}", self.attr.name, sub.name),
            None => self.attr.name.clone(),
        }
    }
}

/// [`MAX_VALUES`] for `attr`.
pub(super) fn check_count(attr: &AttributeDef, count: usize) -> Result<(), ScimError> {
    if count <= MAX_VALUES {
        return Ok(());
    }
    Err(ScimError::invalid_value(format!(
        "'{}' may hold at most {MAX_VALUES} values; this request gives it {count}",
        attr.name
    )))
}

/// Null, `[]` and `{}` are unassigned (RFC 7643 §2.5).
pub(super) fn is_unassigned(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        Value::Bool(_) | Value::Number(_) | Value::String(_) => false,
    }
}

pub(super) fn into_list(current: Option<Value>) -> Vec<Value> {
    match current {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items,
        Some(other) => vec![other],
    }
}

pub(super) fn into_object(current: Option<Value>) -> Map<String, Value> {
    match current {
        Some(Value::Object(object)) => object,
        _ => Map::new(),
    }
}

/// Remove member `key` from an object, under its exact name and any spelling differing only in
/// case, and return it (the exact one if present).
pub(super) fn take(object: &mut Map<String, Value>, key: &str) -> Option<Value> {
    let exact = object.remove(key);
    let others: Vec<String> = object
        .keys()
        .filter(|k| k.eq_ignore_ascii_case(key))
        .cloned()
        .collect();
    let mut found = exact;
    for k in others {
        let v = object.remove(&k);
        if found.is_none() {
            found = v;
        }
    }
    found
}

pub(super) fn take_object(object: &mut Map<String, Value>, key: &str) -> Map<String, Value> {
    into_object(take(object, key))
}
