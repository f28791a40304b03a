//! The filter AST (RFC 7644 §3.4.2.2) and its validation against the schema data.

use std::fmt;

use serde_json::Value;

use crate::scim::error::ScimError;
use crate::scim::path::AttrPath;
use crate::scim::schema::{AttributeDef, AttributeType, ResourceTypeDef};
use crate::scim::value;

/// Attribute operators of RFC 7644 §3.4.2.2 (table 3), except `pr` (see [`Filter::Present`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareOp {
    /// `eq`: equal.
    Eq,
    /// `ne`: not equal.
    Ne,
    /// `co`: contains (substring).
    Co,
    /// `sw`: starts with.
    Sw,
    /// `ew`: ends with.
    Ew,
    /// `gt`: greater than (lexical, numeric or chronological).
    Gt,
    /// `ge`: greater than or equal.
    Ge,
    /// `lt`: less than.
    Lt,
    /// `le`: less than or equal.
    Le,
}

impl CompareOp {
    /// The operator as spelled in RFC 7644 §3.4.2.2 (lowercase).
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Co => "co",
            CompareOp::Sw => "sw",
            CompareOp::Ew => "ew",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        }
    }

    /// `gt`, `ge`, `lt`, `le`: not allowed on boolean and binary attributes (RFC 7644 §3.4.2.2).
    pub fn is_ordering(self) -> bool {
        matches!(
            self,
            CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le
        )
    }

    /// `co`, `sw`, `ew`: substring operators, meaningful on strings only (RFC 7644 §3.4.2.2).
    pub fn is_substring(self) -> bool {
        matches!(self, CompareOp::Co | CompareOp::Sw | CompareOp::Ew)
    }

    pub(super) fn parse(word: &str) -> Option<Self> {
        [
            CompareOp::Eq,
            CompareOp::Ne,
            CompareOp::Co,
            CompareOp::Sw,
            CompareOp::Ew,
            CompareOp::Gt,
            CompareOp::Ge,
            CompareOp::Lt,
            CompareOp::Le,
        ]
        .into_iter()
        .find(|op| op.as_str().eq_ignore_ascii_case(word))
    }
}

impl fmt::Display for CompareOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A filter expression (RFC 7644 §3.4.2.2, ABNF `FILTER`). Every walk over it (validation,
/// evaluation, SQL translation) may recurse: parsed filters are at most [`super::MAX_FILTER_DEPTH`] high.
///
/// Build one with [`str::parse`] / [`Filter::from_str`](std::str::FromStr::from_str), then [`Filter::validate`] it against a
/// resource type before evaluating or translating it.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// `attrPath compareOp compValue`. `value` is a JSON string, number, boolean or null.
    Compare {
        path: AttrPath,
        op: CompareOp,
        value: Value,
    },
    /// `attrPath pr`: the attribute has a non-empty value.
    Present(AttrPath),
    /// `a and b`.
    And(Box<Filter>, Box<Filter>),
    /// `a or b`.
    Or(Box<Filter>, Box<Filter>),
    /// `not (a)`.
    Not(Box<Filter>),
    /// `emails[type eq "work" and value co "@x"]` (ABNF `valuePath`): inner paths are relative
    /// to the multi-valued attribute and are plain sub-attribute names; value paths do not nest.
    ValuePath { attr: AttrPath, filter: Box<Filter> },
}
/// Where the paths of a filter are looked up.
#[derive(Clone, Copy)]
pub(super) enum Scope<'a> {
    Resource(&'a ResourceTypeDef),
    Within(&'a AttributeDef),
}
impl Filter {
    /// Whether the filter pins its matches to one value of one of the `unique` attributes (core
    /// attributes, canonical names): an `eq` with a string at the top level or under `and`. Such
    /// a filter matches at most one resource, found through that attribute's unique index.
    /// Meant for a filter [`Filter::validate`] returned (canonical paths).
    pub fn pins_unique(&self, unique: &[&str]) -> bool {
        match self {
            Filter::And(a, b) => a.pins_unique(unique) || b.pins_unique(unique),
            _ => self.unique_key(unique).is_some(),
        }
    }

    /// The attribute and value when the whole filter is one `eq` with a string on one of the
    /// `unique` attributes (`userName eq "bjensen"`): the lookup a connector sends before it
    /// creates, answered by a read on that attribute's unique index. Meant for a filter
    /// [`Filter::validate`] returned (canonical paths).
    pub fn unique_key<'a>(&'a self, unique: &[&str]) -> Option<(&'a str, &'a str)> {
        match self {
            Filter::Compare {
                path,
                op: CompareOp::Eq,
                value: Value::String(value),
            } if path.urn.is_none()
                && path.sub_attr.is_none()
                && unique.contains(&path.attr.as_str()) =>
            {
                Some((path.attr.as_str(), value.as_str()))
            }
            _ => None,
        }
    }

    /// Check the filter against `rt`'s schemas (RFC 7644 §3.4.2.2) and return it with canonical
    /// paths (canonical names; a URN only on extension attributes, see
    /// [`crate::scim::path::Resolved::to_path`]).
    ///
    /// Refused with `invalidFilter`: unknown attributes; `gt`/`ge`/`lt`/`le` on boolean or binary
    /// attributes; `co`/`sw`/`ew` on anything but strings; a value of the wrong type
    /// (`active eq "yes"`, an unparsable dateTime); `null` with an operator other than `eq`/`ne`;
    /// a value path on a non-complex attribute.
    /// Normalised: a comparison on a complex attribute compares its `value` sub-attribute
    /// (`emails co "@x"` → `emails.value co "@x"`, Entra's `manager eq "id"` →
    /// `manager.value eq "id"`); a number compared with a string attribute becomes its decimal
    /// text (Entra's unquoted values).
    ///
    /// A string literal with a NUL or longer than its attribute's limit is `invalidValue`
    /// ([`value::check_text`]), as the same string is in a body.
    pub fn validate(self, rt: &ResourceTypeDef) -> Result<Filter, ScimError> {
        let filter = self
            .check(Scope::Resource(rt))
            .map_err(ScimError::invalid_filter)?;
        filter.check_literals(None)?;
        Ok(filter)
    }

    /// [`Filter::validate`] for the inside of a value path (RFC 7644 §3.4.2.2 `valFilter`),
    /// whose paths name sub-attributes of `parent`. Used by PATCH value paths.
    pub fn validate_within(self, parent: &AttributeDef) -> Result<Filter, ScimError> {
        let filter = self
            .check(Scope::Within(parent))
            .map_err(ScimError::invalid_filter)?;
        filter.check_literals(Some(&parent.name))?;
        Ok(filter)
    }

    /// Holds every string literal of a checked filter (canonical paths; relative to `parent`
    /// when given) to its attribute's limits, as [`value::check`] holds a stored value.
    pub(super) fn check_literals(&self, parent: Option<&str>) -> Result<(), ScimError> {
        match self {
            Filter::Compare {
                path,
                value: Value::String(text),
                ..
            } => {
                let (parent, name) = match &path.sub_attr {
                    Some(sub) => (Some(path.attr.as_str()), sub.as_str()),
                    None => (parent, path.attr.as_str()),
                };
                let label = match parent {
                    Some(parent) if path.sub_attr.is_none() => format!("{parent}.{path}"),
                    _ => path.to_string(),
                };
                value::check_text(parent, name, text, &label)
            }
            Filter::Compare { .. } | Filter::Present(_) => Ok(()),
            Filter::And(a, b) | Filter::Or(a, b) => {
                a.check_literals(parent)?;
                b.check_literals(parent)
            }
            Filter::Not(a) => a.check_literals(parent),
            Filter::ValuePath { attr, filter } => filter.check_literals(Some(&attr.attr)),
        }
    }

    pub(super) fn check(self, scope: Scope<'_>) -> Result<Filter, String> {
        Ok(match self {
            Filter::Compare { path, op, value } => {
                let (path, leaf) = resolve_in(scope, &path, true)?;
                let value = check_value(leaf, &path, op, value)?;
                Filter::Compare { path, op, value }
            }
            Filter::Present(path) => Filter::Present(resolve_in(scope, &path, false)?.0),
            Filter::And(a, b) => Filter::And(Box::new(a.check(scope)?), Box::new(b.check(scope)?)),
            Filter::Or(a, b) => Filter::Or(Box::new(a.check(scope)?), Box::new(b.check(scope)?)),
            Filter::Not(a) => Filter::Not(Box::new(a.check(scope)?)),
            Filter::ValuePath { attr, filter } => {
                let Scope::Resource(rt) = scope else {
                    return Err("value paths cannot be nested".to_owned());
                };
                if attr.sub_attr.is_some() {
                    return Err(format!("'{attr}[…]': a value path names an attribute"));
                }
                let r = attr
                    .resolve(rt)
                    .ok_or_else(|| format!("unknown attribute '{attr}'"))?;
                if r.attr.kind != AttributeType::Complex {
                    return Err(format!(
                        "'{attr}' is not complex: it has no values to select"
                    ));
                }
                Filter::ValuePath {
                    attr: r.to_path(rt),
                    filter: Box::new(filter.check(Scope::Within(r.attr))?),
                }
            }
        })
    }
}

/// Resolve a filter path in its scope; for comparisons, a complex attribute stands for its
/// `value` sub-attribute.
pub(super) fn resolve_in<'s>(
    scope: Scope<'s>,
    path: &AttrPath,
    compare: bool,
) -> Result<(AttrPath, &'s AttributeDef), String> {
    match scope {
        Scope::Resource(rt) => {
            let r = path
                .resolve(rt)
                .ok_or_else(|| format!("unknown attribute '{path}'"))?;
            let mut canonical = r.to_path(rt);
            let leaf = r.leaf();
            if compare && leaf.kind == AttributeType::Complex {
                let value = leaf.sub_attribute("value").ok_or_else(|| {
                    format!("'{path}' is complex: name one of its sub-attributes")
                })?;
                canonical.sub_attr = Some(value.name.to_owned());
                return Ok((canonical, value));
            }
            Ok((canonical, leaf))
        }
        Scope::Within(parent) => {
            if path.urn.is_some() || path.sub_attr.is_some() {
                return Err(format!(
                    "'{path}': inside '{}[…]' name a sub-attribute only",
                    parent.name
                ));
            }
            let sub = parent
                .sub_attribute(&path.attr)
                .ok_or_else(|| format!("unknown attribute '{}.{}'", parent.name, path.attr))?;
            Ok((AttrPath::new(sub.name.as_str()), sub))
        }
    }
}

pub(super) fn check_value(
    leaf: &AttributeDef,
    path: &AttrPath,
    op: CompareOp,
    value: Value,
) -> Result<Value, String> {
    let kind = leaf.kind;
    if value.is_null() {
        return if matches!(op, CompareOp::Eq | CompareOp::Ne) {
            Ok(value)
        } else {
            Err(format!(
                "'{path} {op} null': only eq and ne compare with null"
            ))
        };
    }
    let refuse_op = match kind {
        AttributeType::Boolean | AttributeType::Binary => {
            op.is_ordering() || { kind == AttributeType::Boolean && op.is_substring() }
        }
        AttributeType::Integer | AttributeType::Decimal | AttributeType::DateTime => {
            op.is_substring()
        }
        AttributeType::String | AttributeType::Reference | AttributeType::Complex => false,
    };
    if refuse_op {
        return Err(format!(
            "'{op}' is not supported on {} attribute '{path}'",
            kind_name(kind)
        ));
    }
    // Entra's unquoted values: a number compared with a string attribute is its decimal text.
    if let (AttributeType::String | AttributeType::Reference, Value::Number(n)) = (kind, &value) {
        return Ok(Value::String(n.to_string()));
    }
    // Judged as a stored value is (`"true"` is a boolean, binary must be base64).
    match value::of_type(leaf, value.clone()) {
        Some(v) => Ok(v),
        None => Err(format!(
            "'{path}' is {} and cannot be compared with {value}",
            kind_name(kind)
        )),
    }
}

pub(super) fn kind_name(kind: AttributeType) -> &'static str {
    match kind {
        AttributeType::String => "a string",
        AttributeType::Boolean => "a boolean",
        AttributeType::Decimal => "a decimal",
        AttributeType::Integer => "an integer",
        AttributeType::DateTime => "a dateTime",
        AttributeType::Binary => "binary",
        AttributeType::Reference => "a reference",
        AttributeType::Complex => "complex",
    }
}
