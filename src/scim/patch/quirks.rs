//! The IdP dialects, normalised here and nowhere else:
//!
//! 1. Booleans sent as strings `"True"`/`"False"`/`"true"`/`"false"` (Entra without
//!    `aadOptscim062020`, Microsoft's Postman tests) become JSON booleans for boolean
//!    attributes.
//! 2. A one-element array for a singular attribute (Entra's `Add` on `manager` with
//!    `[{"$ref": null, "value": "…"}]`) is taken as that element; a single value for a
//!    multi-valued attribute as a one-element list.
//! 3. A string for a complex attribute that has a `value` sub-attribute (Entra's `manager`
//!    as a bare id) becomes `{"value": "…"}`.
//! 4. `null` sub-attributes inside new values (Entra's `"$ref": null`) are left out; readOnly
//!    sub-attributes (the `display` Okta sends in a member) and unknown ones are ignored.
//! 5. Path-less values (Okta's `{"active": false}` and group rename `{id, displayName}`,
//!    Entra's `aadOptscim062020` bulk replace): keys in any case, dotted keys
//!    (`"name.givenName"`), URN-prefixed keys (`"urn:…:enterprise:2.0:User:employeeNumber"`),
//!    and schema-URN keys holding an object of that schema's attributes. ReadOnly attributes
//!    (`id`, `meta`, `groups`, `schemas`) and unknown keys are ignored.
//! 6. `add` through a value filter that matches nothing creates the value, seeded from the
//!    filter's `eq` comparisons (Entra: `emails[type eq "work"].value`); so does `replace`
//!    when the path ends at a sub-attribute (Entra sends `Replace` on
//!    `emails[type eq "work"].value` for users without a work email).
//! 7. `remove` on a multi-valued attribute with a value array and no filter removes the
//!    values listed (Entra: `{"op":"Remove","path":"members","value":[{"value":"id"}]}`).

use serde_json::{Map, Value};

use super::request::OpKind;
use super::target::{Target, check_count, into_list, is_unassigned};
use crate::scim::error::ScimError;
use crate::scim::filter::{CompareOp, Filter};
use crate::scim::path::AttrPath;
use crate::scim::schema::{AttributeDef, AttributeType, ResourceTypeDef};

static NULL: Value = Value::Null;

/// The writes a path-less value stands for (quirk 5).
pub(super) fn path_less_entries<'r, 'v>(
    rt: &'r ResourceTypeDef,
    value: &'v Map<String, Value>,
) -> Result<Vec<(Target<'r>, &'v Value)>, ScimError> {
    let mut entries = Vec::new();
    for (key, v) in value {
        let Some(schema) = rt.schema(key) else {
            let path = AttrPath::parse(key).ok();
            match path.as_ref().and_then(|p| target(rt, p)) {
                Some(t) => entries.push((t, v)),
                // A key under a URN the org has not registered: refused, as in a POST body.
                None if key.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:")) => {
                    let urn = match (v, &path) {
                        (Value::Object(_) | Value::Null, _) | (_, None) => key.as_str(),
                        (_, Some(p)) => p.urn.as_deref().unwrap_or(key),
                    };
                    // An unknown attribute of a schema the org has is ignored, as in a body.
                    if rt.schema(urn).is_none() {
                        return Err(ScimError::unregistered_extension(rt.name, urn, false));
                    }
                }
                None => {}
            }
            continue;
        };
        match v {
            Value::Object(inner) => {
                for (name, v) in inner {
                    let Ok(mut path) = AttrPath::parse(name) else {
                        continue;
                    };
                    if path.urn.is_some() {
                        continue;
                    }
                    path.urn = Some(schema.id.to_owned());
                    entries.extend(target(rt, &path).map(|t| (t, v)));
                }
            }
            Value::Null if !std::ptr::eq(schema, rt.schema) => {
                for attr in &schema.attributes {
                    let path = AttrPath {
                        urn: Some(schema.id.to_owned()),
                        attr: attr.name.to_owned(),
                        sub_attr: None,
                    };
                    entries.extend(target(rt, &path).map(|t| (t, &NULL)));
                }
            }
            other => {
                return Err(ScimError::invalid_value(format!(
                    "\"{key}\" must be an object of attributes, not {other}"
                )));
            }
        }
    }
    Ok(entries)
}

fn target<'r>(rt: &'r ResourceTypeDef, path: &AttrPath) -> Option<Target<'r>> {
    let r = path.resolve(rt)?;
    Some(Target {
        extension: r.is_extension(rt).then_some(r.schema),
        attr: r.attr,
        filter: None,
        sub: r.sub,
    })
}

/// A value for a singular attribute or a sub-attribute (quirks 1–4). Complex values keep
/// `null` sub-attributes, which unassign when merged.
pub(super) fn normalize_value(
    def: &AttributeDef,
    label: &str,
    value: &Value,
) -> Result<Value, ScimError> {
    let value = match value {
        Value::Array(items) if !def.multi_valued => match items.as_slice() {
            [] => return Ok(Value::Null),
            [one] => one,
            _ => {
                return Err(ScimError::invalid_value(format!(
                    "'{label}' is single-valued, not an array"
                )));
            }
        },
        other => other,
    };
    if def.kind == AttributeType::Complex {
        return complex(def, label, value).map(Value::Object);
    }
    simple(def, None, label, value)
}

/// The values for a multi-valued attribute (quirks 2–4): each normalised, empties dropped.
pub(super) fn normalize_values(def: &AttributeDef, value: &Value) -> Result<Vec<Value>, ScimError> {
    let items = match value {
        Value::Array(items) => items.as_slice(),
        one => std::slice::from_ref(one),
    };
    // Checked before any value is looked at: the work of an operation stays bounded.
    check_count(def, items.len())?;
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let item = if def.kind == AttributeType::Complex {
            let mut object = complex(def, &def.name, item)?;
            object.retain(|_, v| !v.is_null());
            Value::Object(object)
        } else if item.is_null() {
            Value::Null
        } else {
            simple(def, None, &def.name, item)?
        };
        if !is_unassigned(&item) {
            out.push(item);
        }
    }
    Ok(out)
}

/// The one value a filtered `add`/`replace` without sub-attribute carries (quirk 2).
pub(super) fn normalize_one(
    def: &AttributeDef,
    value: &Value,
) -> Result<Map<String, Value>, ScimError> {
    let value = match value {
        Value::Array(items) => match items.as_slice() {
            [one] => one,
            _ => {
                return Err(ScimError::invalid_value(format!(
                    "a filtered path selects values of '{}': give one value",
                    def.name
                )));
            }
        },
        other => other,
    };
    complex(def, &def.name, value)
}

fn complex(
    def: &AttributeDef,
    label: &str,
    value: &Value,
) -> Result<Map<String, Value>, ScimError> {
    let mut out = Map::new();
    match value {
        Value::Object(fields) => {
            for (name, v) in fields {
                let Some(sub) = def.sub_attribute(name) else {
                    continue;
                };
                if sub.is_read_only() {
                    continue;
                }
                let v = if v.is_null() {
                    Value::Null
                } else {
                    simple(sub, Some(&def.name), &format!("{label}.{}", sub.name), v)?
                };
                out.insert(sub.name.to_owned(), v);
            }
        }
        Value::String(_) if def.sub_attribute("value").is_some() => {
            out.insert("value".to_owned(), value.clone());
        }
        Value::Null => {}
        other => {
            return Err(ScimError::invalid_value(format!(
                "'{label}' is complex: expected an object, not {other}"
            )));
        }
    }
    Ok(out)
}

/// A simple value (of a sub-attribute of `parent`, when given), judged as every verb judges
/// it: [`crate::scim::value::check`].
fn simple(
    def: &AttributeDef,
    parent: Option<&str>,
    label: &str,
    value: &Value,
) -> Result<Value, ScimError> {
    crate::scim::value::check(def, parent, value.clone(), label)
}

/// Whether an `add`/`replace` whose value filter matched nothing creates a value (quirk 6).
pub(super) fn creates_on_unmatched_filter(kind: OpKind, sub: Option<&AttributeDef>) -> bool {
    kind == OpKind::Add || sub.is_some()
}

/// The value a filter such as `type eq "work" and primary eq true` describes (quirk 6);
/// `None` for anything but a conjunction of `eq` comparisons with non-null values.
pub(super) fn seed_from_filter(filter: &Filter) -> Option<Map<String, Value>> {
    let mut seed = Map::new();
    let mut pending = vec![filter];
    while let Some(f) = pending.pop() {
        match f {
            Filter::And(a, b) => {
                pending.push(b);
                pending.push(a);
            }
            Filter::Compare {
                path,
                op: CompareOp::Eq,
                value,
            } if path.sub_attr.is_none() && !value.is_null() => {
                seed.insert(path.attr.clone(), value.clone());
            }
            _ => return None,
        }
    }
    Some(seed)
}

/// `remove` with a value array and no filter: drop the values matching a listed one on
/// every sub-attribute it gives (quirk 7).
pub(super) fn remove_listed(
    attr: &AttributeDef,
    listed: &Value,
    current: Option<Value>,
) -> Result<Option<Value>, ScimError> {
    let listed = normalize_values(attr, listed)?;
    let mut list = into_list(current);
    list.retain(|element| !listed.iter().any(|l| describes(l, element)));
    Ok(Some(Value::Array(list)))
}

fn describes(listed: &Value, element: &Value) -> bool {
    match (listed, element) {
        (Value::Object(l), Value::Object(e)) => {
            !l.is_empty() && l.iter().all(|(k, v)| e.get(k) == Some(v))
        }
        (l, e) => l == e,
    }
}

/// Identity of multi-valued values for `add` (RFC 7644 §3.5.2.1 "values already present"):
/// equal JSON. Group `members`, identified by their `value`, never come here: their one
/// implementation is `provisioning::membership`.
pub(super) fn same_value(a: &Value, b: &Value) -> bool {
    a == b
}

/// The values of a list by [`same_value`] identity: a hash of each value, to the positions
/// holding values with that hash. Finding a value costs the values sharing its hash, not the
/// list. The hasher is seeded per index, so a client cannot choose values that collide.
pub(super) struct ValueIndex {
    pub(super) state: std::collections::hash_map::RandomState,
    pub(super) positions: std::collections::HashMap<u64, Vec<usize>>,
}

impl ValueIndex {
    /// Indexes every value of `list`.
    pub(super) fn of(list: &[Value]) -> ValueIndex {
        let mut index = ValueIndex {
            state: std::collections::hash_map::RandomState::new(),
            positions: std::collections::HashMap::with_capacity(list.len()),
        };
        for i in 0..list.len() {
            index.insert(list, i);
        }
        index
    }

    /// Records that `list[i]` is in the list.
    pub(super) fn insert(&mut self, list: &[Value], i: usize) {
        if let Some(v) = list.get(i) {
            let key = self.key(v);
            self.positions.entry(key).or_default().push(i);
        }
    }

    /// Where a value [`same_value`] as `item` is, if any.
    pub(super) fn position(&self, list: &[Value], item: &Value) -> Option<usize> {
        self.positions
            .get(&self.key(item))?
            .iter()
            .copied()
            .find(|&i| list.get(i).is_some_and(|e| same_value(e, item)))
    }

    /// Equal under [`same_value`] ⇒ equal keys: the whole value (object members in any
    /// order, as JSON equality).
    pub(super) fn key(&self, v: &Value) -> u64 {
        use std::hash::{BuildHasher, Hasher};
        let mut hasher = self.state.build_hasher();
        hash_json(v, &mut hasher);
        hasher.finish()
    }
}

fn hash_json(v: &Value, hasher: &mut impl std::hash::Hasher) {
    use std::hash::Hash;
    match v {
        Value::Null => 0_u8.hash(hasher),
        Value::Bool(b) => (1_u8, b).hash(hasher),
        // Equal numbers print alike (serde_json compares their representation).
        Value::Number(n) => (2_u8, n.to_string()).hash(hasher),
        Value::String(s) => (3_u8, s).hash(hasher),
        Value::Array(items) => {
            (4_u8, items.len()).hash(hasher);
            for item in items {
                hash_json(item, hasher);
            }
        }
        Value::Object(fields) => {
            // Equal objects may list their members in another order.
            let mut keys: Vec<&String> = fields.keys().collect();
            keys.sort_unstable();
            (5_u8, keys.len()).hash(hasher);
            for key in keys {
                key.hash(hasher);
                if let Some(value) = fields.get(key) {
                    hash_json(value, hasher);
                }
            }
        }
    }
}
