//! The in-memory filter evaluator (RFC 7644 §3.4.2.2).

use std::borrow::Cow;
use std::cmp::Ordering;

use serde_json::Value;

use super::ast::{CompareOp, Filter, Scope};
use crate::scim::path::{self, AttrPath};
use crate::scim::schema::{AttributeDef, AttributeType, ResourceTypeDef, Uniqueness};

impl Filter {
    /// Evaluate the filter against a rendered resource (RFC 7644 §3.4.2.2): a JSON object with
    /// canonical attribute names, extension attributes nested under their URN, and the common
    /// attributes (`id`, `meta.created`, …). Validate the filter first; unknown attributes
    /// simply do not match.
    ///
    /// Strings compare per the attribute's `caseExact`; dateTimes chronologically; a
    /// multi-valued attribute matches when any value does (so does `ne`); `pr` treats `null`,
    /// `""`, `[]` and `{}` as absent; `eq null` matches an absent attribute and `ne null` a
    /// present one. An absent attribute matches no other comparison (`title ne "x"` is false
    /// when `title` is unassigned), as SQL comparisons with NULL are.
    pub fn matches(&self, rt: &ResourceTypeDef, resource: &Value) -> bool {
        self.eval(Scope::Resource(rt), resource)
    }

    /// Evaluate a value filter against one value of the complex attribute `parent`
    /// (RFC 7644 §3.4.2.2 `valFilter`, §3.5.2 PATCH value selection).
    pub fn matches_within(&self, parent: &AttributeDef, element: &Value) -> bool {
        self.eval(Scope::Within(parent), element)
    }

    pub(super) fn eval(&self, scope: Scope<'_>, obj: &Value) -> bool {
        match self {
            Filter::Compare { path, op, value } => match lookup(scope, path, obj, true) {
                Some((values, leaf)) => compare_all(leaf, *op, &values, value),
                // Unassigned is null (RFC 7643 §2.5): `eq null` matches it.
                None => value.is_null() && *op == CompareOp::Eq,
            },
            Filter::Present(path) => lookup(scope, path, obj, false)
                .is_some_and(|(values, _)| values.iter().any(|v| is_present(v))),
            Filter::And(a, b) => a.eval(scope, obj) && b.eval(scope, obj),
            Filter::Or(a, b) => a.eval(scope, obj) || b.eval(scope, obj),
            Filter::Not(a) => !a.eval(scope, obj),
            Filter::ValuePath { attr, filter } => {
                let Scope::Resource(rt) = scope else {
                    return false;
                };
                let Some(r) = attr.resolve(rt) else {
                    return false;
                };
                attribute_value(rt, &r, obj).is_some_and(|top| {
                    as_slice(top)
                        .iter()
                        .any(|el| filter.eval(Scope::Within(r.attr), el))
                })
            }
        }
    }
}
/// The values a path selects in `obj`, flattened over multi-valued attributes, and the
/// definition they follow.
pub(super) fn lookup<'v, 's>(
    scope: Scope<'s>,
    path: &AttrPath,
    obj: &'v Value,
    compare: bool,
) -> Option<(Vec<&'v Value>, &'s AttributeDef)> {
    let (top, attr, sub) = match scope {
        Scope::Resource(rt) => {
            let r = path.resolve(rt)?;
            (attribute_value(rt, &r, obj)?, r.attr, r.sub)
        }
        Scope::Within(parent) => {
            if path.sub_attr.is_some() {
                return None;
            }
            let sub = parent.sub_attribute(&path.attr)?;
            (get_ci(obj, &sub.name)?, sub, None)
        }
    };
    let sub = match sub {
        None if compare && attr.kind == AttributeType::Complex => {
            Some(attr.sub_attribute("value")?)
        }
        other => other,
    };
    let mut values = Vec::new();
    for item in as_slice(top) {
        match sub {
            Some(s) => {
                if let Some(v) = get_ci(item, &s.name) {
                    values.extend(as_slice(v));
                }
            }
            None => values.push(item),
        }
    }
    Some((values, sub.unwrap_or(attr)))
}

pub(super) fn attribute_value<'v>(
    rt: &ResourceTypeDef,
    r: &path::Resolved,
    obj: &'v Value,
) -> Option<&'v Value> {
    let container = if r.is_extension(rt) {
        get_ci(obj, &r.schema.id)?
    } else {
        obj
    };
    get_ci(container, &r.attr.name)
}

/// Member `key` of a JSON object: the exact key if present, else any key equal ignoring case.
pub(super) fn get_ci<'v>(obj: &'v Value, key: &str) -> Option<&'v Value> {
    let map = obj.as_object()?;
    map.get(key).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

pub(super) fn as_slice(v: &Value) -> &[Value] {
    match v {
        Value::Array(items) => items,
        other => std::slice::from_ref(other),
    }
}

/// `pr` (RFC 7644 §3.4.2.2): null, empty strings, arrays and objects are not values
/// (RFC 7643 §2.5).
pub(super) fn is_present(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => a.iter().any(is_present_shallow),
        Value::Object(o) => !o.is_empty(),
        Value::Bool(_) | Value::Number(_) => true,
    }
}

pub(super) fn is_present_shallow(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        Value::Bool(_) | Value::Number(_) => true,
    }
}

pub(super) fn compare_all(
    leaf: &AttributeDef,
    op: CompareOp,
    values: &[&Value],
    expected: &Value,
) -> bool {
    if expected.is_null() {
        let present = values.iter().any(|v| is_present(v));
        return match op {
            CompareOp::Eq => !present,
            CompareOp::Ne => present,
            _ => false,
        };
    }
    values
        .iter()
        .any(|actual| compare(leaf, op, actual, expected))
}

pub(super) fn compare(
    leaf: &AttributeDef,
    op: CompareOp,
    actual: &Value,
    expected: &Value,
) -> bool {
    match leaf.kind {
        AttributeType::Boolean => match (actual.as_bool(), expected.as_bool()) {
            (Some(a), Some(e)) => match op {
                CompareOp::Eq => a == e,
                CompareOp::Ne => a != e,
                _ => false,
            },
            _ => false,
        },
        AttributeType::Integer | AttributeType::Decimal => {
            match (actual.as_f64(), expected.as_f64()) {
                (Some(a), Some(e)) => !op.is_substring() && ordered(op, a.partial_cmp(&e)),
                _ => false,
            }
        }
        AttributeType::DateTime => {
            let a = actual.as_str().and_then(parse_time);
            let e = expected.as_str().and_then(parse_time);
            match (a, e) {
                (Some(a), Some(e)) => !op.is_substring() && ordered(op, Some(a.cmp(&e))),
                _ => false,
            }
        }
        AttributeType::String
        | AttributeType::Reference
        | AttributeType::Binary
        | AttributeType::Complex => {
            let (Some(a), Some(e)) = (actual.as_str(), text(expected)) else {
                return false;
            };
            if leaf.case_exact {
                compare_str(op, a, &e)
            } else if leaf.uniqueness == Uniqueness::Server {
                // Names unique per org ignoring case (`userName`, a group's `displayName`) are
                // matched by their caseless key, as their indexed columns are
                // (docs/limits.md, "Names").
                compare_str(
                    op,
                    &crate::scim::caseless::key(a),
                    &crate::scim::caseless::key(&e),
                )
            } else {
                compare_str(op, &a.to_lowercase(), &e.to_lowercase())
            }
        }
    }
}

pub(super) fn text(v: &Value) -> Option<Cow<'_, str>> {
    match v {
        Value::String(s) => Some(Cow::Borrowed(s)),
        Value::Number(n) => Some(Cow::Owned(n.to_string())),
        _ => None,
    }
}

pub(super) fn compare_str(op: CompareOp, a: &str, e: &str) -> bool {
    match op {
        CompareOp::Co => a.contains(e),
        CompareOp::Sw => a.starts_with(e),
        CompareOp::Ew => a.ends_with(e),
        _ => ordered(op, Some(a.cmp(e))),
    }
}

pub(super) fn ordered(op: CompareOp, ord: Option<Ordering>) -> bool {
    let Some(ord) = ord else {
        return false;
    };
    match op {
        CompareOp::Eq => ord == Ordering::Equal,
        CompareOp::Ne => ord != Ordering::Equal,
        CompareOp::Gt => ord == Ordering::Greater,
        CompareOp::Ge => ord != Ordering::Less,
        CompareOp::Lt => ord == Ordering::Less,
        CompareOp::Le => ord != Ordering::Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}

/// An RFC 3339 dateTime (RFC 7643 §2.3.5).
pub(super) fn parse_time(s: &str) -> Option<chrono::DateTime<chrono::FixedOffset>> {
    chrono::DateTime::parse_from_rfc3339(s).ok()
}
