//! The SCIM filter language (RFC 7644 §3.4.2.2): a plain AST, a bounded parser, validation
//! against the schema data, and an in-memory evaluator.
//!
//! The translation of a validated [`Filter`] to SQL belongs to `store/`, not here. The parser
//! also serves the value filter of a PATCH path (RFC 7644 §3.5.2), see
//! [`super::path::PatchPath`].

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde_json::Value;

use super::error::ScimError;
use super::path::{self, AttrPath, PatchPath};
use super::schema::{AttributeDef, AttributeType, ResourceTypeDef, Uniqueness};
use super::value;

/// Longest filter (or PATCH path) text the parser accepts, in bytes; longer → `invalidFilter`
/// (RFC 7644 §3.4.2.2 sets no limit; §7.2 asks servers to bound request processing).
pub const MAX_FILTER_LENGTH: usize = 8 * 1024;

/// Deepest nesting the parser accepts: `(`, `[` and `not` levels, and also the height of the
/// resulting tree (chains of `and`/`or` are built balanced, so they add only log₂ of their
/// length). Deeper → `invalidFilter` (RFC 7644 §3.4.2.2). Every walk over a parsed [`Filter`]
/// is bounded by it.
pub const MAX_FILTER_DEPTH: usize = 64;

/// Most comparisons (`attrPath op value` and `attrPath pr`, counted inside `[ ]` too) a filter
/// may hold; more → 400 `tooMany`. A query costs about one evaluation of each comparison per
/// resource of the organization it scans, so this bounds the work per resource. Connectors
/// send one or two; the bound leaves room for generated queries of dozens.
pub const MAX_FILTER_TERMS: usize = 50;

/// Most substring comparisons (`co`, `sw`, `ew`) a filter may hold; more → 400 `tooMany`.
/// No index serves them on either backend (`LIKE '%x%'`): each one is evaluated against every
/// resource the query reaches, often through the JSON document or a child table.
pub const MAX_FILTER_SUBSTRING_TERMS: usize = 5;

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

    fn parse(word: &str) -> Option<Self> {
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
/// evaluation, SQL translation) may recurse: parsed filters are at most [`MAX_FILTER_DEPTH`] high.
///
/// Build one with [`str::parse`] / [`Filter::from_str`], then [`Filter::validate`] it against a
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

impl FromStr for Filter {
    type Err = ScimError;

    /// Parse filter text (RFC 7644 §3.4.2.2). Attribute names, operators and `and`/`or`/`not`
    /// ignore case; precedence is `not` > `and` > `or`; `( )` groups and `[ ]` selects values
    /// (not nested). Values are JSON strings, numbers, `true`, `false`, `null`, or a bare word
    /// taken as a string (Entra's legacy `externalId eq jyoung`). Entra's
    /// `emails[type eq "work"].value eq "x"` becomes a [`Filter::ValuePath`] whose filter is
    /// `type eq "work" and value eq "x"`. Text longer than [`MAX_FILTER_LENGTH`] or nested deeper
    /// than [`MAX_FILTER_DEPTH`] is refused. Every error is `invalidFilter`.
    ///
    /// A filter of more than [`MAX_FILTER_TERMS`] comparisons or [`MAX_FILTER_SUBSTRING_TERMS`]
    /// substring comparisons is `tooMany` (RFC 7644 §3.12: more than the server is willing to
    /// process).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let filter = parse_filter(s).map_err(ScimError::invalid_filter)?;
        check_cost(&filter).map_err(ScimError::too_many)?;
        Ok(filter)
    }
}

/// Refuses a filter whose evaluation per resource is more than the server is willing to do
/// ([`MAX_FILTER_TERMS`], [`MAX_FILTER_SUBSTRING_TERMS`]); the error is a detail message.
fn check_cost(filter: &Filter) -> Result<(), String> {
    /// Counts comparisons and substring comparisons; the recursion is bounded by the tree's
    /// height ([`MAX_FILTER_DEPTH`]).
    fn count(f: &Filter, terms: &mut usize, substrings: &mut usize) {
        match f {
            Filter::And(a, b) | Filter::Or(a, b) => {
                count(a, terms, substrings);
                count(b, terms, substrings);
            }
            Filter::Not(a) | Filter::ValuePath { filter: a, .. } => count(a, terms, substrings),
            Filter::Present(_) => *terms += 1,
            Filter::Compare { op, .. } => {
                *terms += 1;
                if op.is_substring() {
                    *substrings += 1;
                }
            }
        }
    }
    let (mut terms, mut substrings) = (0, 0);
    count(filter, &mut terms, &mut substrings);
    if terms > MAX_FILTER_TERMS {
        return Err(format!(
            "the filter has {terms} comparisons; this server evaluates at most {MAX_FILTER_TERMS} \
             per query: split it into several queries"
        ));
    }
    if substrings > MAX_FILTER_SUBSTRING_TERMS {
        return Err(format!(
            "the filter has {substrings} substring comparisons (co, sw, ew); this server evaluates \
             at most {MAX_FILTER_SUBSTRING_TERMS} per query, as no index serves them: use eq where \
             you can, or split the query"
        ));
    }
    Ok(())
}

/// Where the paths of a filter are looked up.
#[derive(Clone, Copy)]
enum Scope<'a> {
    Resource(&'a ResourceTypeDef),
    Within(&'static AttributeDef),
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
    /// [`super::path::Resolved::to_path`]).
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
    pub fn validate_within(self, parent: &'static AttributeDef) -> Result<Filter, ScimError> {
        let filter = self
            .check(Scope::Within(parent))
            .map_err(ScimError::invalid_filter)?;
        filter.check_literals(Some(parent.name))?;
        Ok(filter)
    }

    /// Holds every string literal of a checked filter (canonical paths; relative to `parent`
    /// when given) to its attribute's limits, as [`value::check`] holds a stored value.
    fn check_literals(&self, parent: Option<&str>) -> Result<(), ScimError> {
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
    pub fn matches_within(&self, parent: &'static AttributeDef, element: &Value) -> bool {
        self.eval(Scope::Within(parent), element)
    }

    fn check(self, scope: Scope<'_>) -> Result<Filter, String> {
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

    fn eval(&self, scope: Scope<'_>, obj: &Value) -> bool {
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

/// Resolve a filter path in its scope; for comparisons, a complex attribute stands for its
/// `value` sub-attribute.
fn resolve_in(
    scope: Scope<'_>,
    path: &AttrPath,
    compare: bool,
) -> Result<(AttrPath, &'static AttributeDef), String> {
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
            Ok((AttrPath::new(sub.name), sub))
        }
    }
}

fn check_value(
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

fn kind_name(kind: AttributeType) -> &'static str {
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

/// The values a path selects in `obj`, flattened over multi-valued attributes, and the
/// definition they follow.
fn lookup<'v>(
    scope: Scope<'_>,
    path: &AttrPath,
    obj: &'v Value,
    compare: bool,
) -> Option<(Vec<&'v Value>, &'static AttributeDef)> {
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
            (get_ci(obj, sub.name)?, sub, None)
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
                if let Some(v) = get_ci(item, s.name) {
                    values.extend(as_slice(v));
                }
            }
            None => values.push(item),
        }
    }
    Some((values, sub.unwrap_or(attr)))
}

fn attribute_value<'v>(
    rt: &ResourceTypeDef,
    r: &path::Resolved,
    obj: &'v Value,
) -> Option<&'v Value> {
    let container = if r.is_extension(rt) {
        get_ci(obj, r.schema.id)?
    } else {
        obj
    };
    get_ci(container, r.attr.name)
}

/// Member `key` of a JSON object: the exact key if present, else any key equal ignoring case.
fn get_ci<'v>(obj: &'v Value, key: &str) -> Option<&'v Value> {
    let map = obj.as_object()?;
    map.get(key).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

fn as_slice(v: &Value) -> &[Value] {
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

fn is_present_shallow(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        Value::Bool(_) | Value::Number(_) => true,
    }
}

fn compare_all(leaf: &AttributeDef, op: CompareOp, values: &[&Value], expected: &Value) -> bool {
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

fn compare(leaf: &AttributeDef, op: CompareOp, actual: &Value, expected: &Value) -> bool {
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
                compare_str(op, &super::caseless::key(a), &super::caseless::key(&e))
            } else {
                compare_str(op, &a.to_lowercase(), &e.to_lowercase())
            }
        }
    }
}

fn text(v: &Value) -> Option<Cow<'_, str>> {
    match v {
        Value::String(s) => Some(Cow::Borrowed(s)),
        Value::Number(n) => Some(Cow::Owned(n.to_string())),
        _ => None,
    }
}

fn compare_str(op: CompareOp, a: &str, e: &str) -> bool {
    match op {
        CompareOp::Co => a.contains(e),
        CompareOp::Sw => a.starts_with(e),
        CompareOp::Ew => a.ends_with(e),
        _ => ordered(op, Some(a.cmp(e))),
    }
}

fn ordered(op: CompareOp, ord: Option<Ordering>) -> bool {
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

// ---------------------------------------------------------------------------------------------
// Lexer and parser

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Open,
    Close,
    OpenBracket,
    CloseBracket,
    Str(String),
    Word(String),
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Token::Open => f.write_str("'('"),
            Token::Close => f.write_str("')'"),
            Token::OpenBracket => f.write_str("'['"),
            Token::CloseBracket => f.write_str("']'"),
            Token::Str(s) => write!(f, "{}", Value::String(s.clone())),
            Token::Word(w) => write!(f, "'{w}'"),
        }
    }
}

fn tokenize(s: &str) -> Result<Vec<Token>, String> {
    if s.len() > MAX_FILTER_LENGTH {
        return Err(format!(
            "longer than {MAX_FILTER_LENGTH} bytes; split the query"
        ));
    }
    let bytes = s.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while let Some(&c) = bytes.get(i) {
        let single = match c {
            b' ' | b'\t' | b'\r' | b'\n' => {
                i += 1;
                continue;
            }
            b'(' => Some(Token::Open),
            b')' => Some(Token::Close),
            b'[' => Some(Token::OpenBracket),
            b']' => Some(Token::CloseBracket),
            _ => None,
        };
        if let Some(token) = single {
            tokens.push(token);
            i += 1;
            continue;
        }
        let start = i;
        if c == b'"' {
            i += 1;
            loop {
                match bytes.get(i) {
                    None => return Err("unterminated string".to_owned()),
                    Some(b'\\') => i += 2,
                    Some(b'"') => break,
                    Some(_) => i += 1,
                }
            }
            i += 1;
            let literal = s.get(start..i).unwrap_or_default();
            let text: String =
                serde_json::from_str(literal).map_err(|_| format!("invalid string {literal}"))?;
            tokens.push(Token::Str(text));
        } else {
            while bytes.get(i).is_some_and(|b| !b" \t\r\n()[]\"".contains(b)) {
                i += 1;
            }
            tokens.push(Token::Word(s.get(start..i).unwrap_or_default().to_owned()));
        }
    }
    Ok(tokens)
}

struct Node {
    filter: Filter,
    height: usize,
}

fn node(filter: Filter, height: usize) -> Result<Node, String> {
    if height > MAX_FILTER_DEPTH {
        return Err(format!("nested deeper than {MAX_FILTER_DEPTH} levels"));
    }
    Ok(Node { filter, height })
}

/// Join `terms` with `join` as a balanced tree, keeping their order.
fn balanced(
    terms: Vec<Node>,
    join: fn(Box<Filter>, Box<Filter>) -> Filter,
) -> Result<Node, String> {
    let mut layer = terms;
    while layer.len() > 1 {
        let mut next = Vec::with_capacity(layer.len().div_ceil(2));
        let mut items = layer.into_iter();
        while let Some(a) = items.next() {
            next.push(match items.next() {
                Some(b) => node(
                    join(Box::new(a.filter), Box::new(b.filter)),
                    a.height.max(b.height) + 1,
                )?,
                None => a,
            });
        }
        layer = next;
    }
    layer.pop().ok_or_else(|| "empty expression".to_owned())
}

struct Parser {
    tokens: std::iter::Peekable<std::vec::IntoIter<Token>>,
    depth: usize,
}

impl Parser {
    fn new(tokens: Vec<Token>) -> Self {
        Self {
            tokens: tokens.into_iter().peekable(),
            depth: 0,
        }
    }

    fn enter(&mut self) -> Result<(), String> {
        self.depth += 1;
        if self.depth > MAX_FILTER_DEPTH {
            return Err(format!("nested deeper than {MAX_FILTER_DEPTH} levels"));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    fn peek_keyword(&mut self, keyword: &str) -> bool {
        matches!(self.tokens.peek(), Some(Token::Word(w)) if w.eq_ignore_ascii_case(keyword))
    }

    fn expect(&mut self, want: Token) -> Result<(), String> {
        match self.tokens.next() {
            Some(t) if t == want => Ok(()),
            Some(t) => Err(format!("expected {want}, found {t}")),
            None => Err(format!("expected {want}, found the end")),
        }
    }

    fn end(&mut self) -> Result<(), String> {
        match self.tokens.next() {
            None => Ok(()),
            Some(t) => Err(format!("unexpected {t}")),
        }
    }

    fn or_expr(&mut self, in_value_path: bool) -> Result<Node, String> {
        let mut terms = vec![self.and_expr(in_value_path)?];
        while self.peek_keyword("or") {
            self.tokens.next();
            terms.push(self.and_expr(in_value_path)?);
        }
        balanced(terms, Filter::Or)
    }

    fn and_expr(&mut self, in_value_path: bool) -> Result<Node, String> {
        let mut terms = vec![self.unary(in_value_path)?];
        while self.peek_keyword("and") {
            self.tokens.next();
            terms.push(self.unary(in_value_path)?);
        }
        balanced(terms, Filter::And)
    }

    fn unary(&mut self, in_value_path: bool) -> Result<Node, String> {
        if !self.peek_keyword("not") {
            return self.atom(in_value_path);
        }
        self.tokens.next();
        self.enter()?;
        let inner = self.unary(in_value_path)?;
        self.leave();
        node(Filter::Not(Box::new(inner.filter)), inner.height + 1)
    }

    fn atom(&mut self, in_value_path: bool) -> Result<Node, String> {
        let word = match self.tokens.next() {
            Some(Token::Open) => {
                self.enter()?;
                let inner = self.or_expr(in_value_path)?;
                self.expect(Token::Close)?;
                self.leave();
                return Ok(inner);
            }
            Some(Token::Word(w)) => w,
            Some(t) => return Err(format!("expected an attribute path, found {t}")),
            None => return Err("unexpected end of filter".to_owned()),
        };
        let path = path::parse_attr_path(&word)?;
        if in_value_path && (path.urn.is_some() || path.sub_attr.is_some()) {
            return Err(format!("'{word}': inside '[…]' name a sub-attribute only"));
        }
        if self.tokens.peek() != Some(&Token::OpenBracket) {
            return node(self.comparison(path)?, 1);
        }
        if in_value_path {
            return Err("value paths cannot be nested".to_owned());
        }
        if path.sub_attr.is_some() {
            return Err(format!("'{word}[…]': a value path names an attribute"));
        }
        let (mut filter, mut height) = self.bracket()?;
        if let Some(sub) = self.dotted_sub_attr() {
            let tail = self.comparison(AttrPath::new(sub))?;
            filter = Filter::And(Box::new(filter), Box::new(tail));
            height += 1;
        }
        node(
            Filter::ValuePath {
                attr: path,
                filter: Box::new(filter),
            },
            height + 1,
        )
    }

    /// `"[" valFilter "]"`, the `[` being next.
    fn bracket(&mut self) -> Result<(Filter, usize), String> {
        self.expect(Token::OpenBracket)?;
        self.enter()?;
        let inner = self.or_expr(true)?;
        self.expect(Token::CloseBracket)?;
        self.leave();
        Ok((inner.filter, inner.height))
    }

    /// `.subAttr` right after `]`, consumed when present.
    fn dotted_sub_attr(&mut self) -> Option<String> {
        let sub = match self.tokens.peek() {
            Some(Token::Word(w)) => w.strip_prefix('.').filter(|s| path::is_attr_name(s))?,
            _ => return None,
        }
        .to_owned();
        self.tokens.next();
        Some(sub)
    }

    /// `pr`, or `compareOp compValue`, after a path.
    fn comparison(&mut self, path: AttrPath) -> Result<Filter, String> {
        let op = match self.tokens.next() {
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("pr") => {
                return Ok(Filter::Present(path));
            }
            Some(Token::Word(w)) => {
                CompareOp::parse(&w).ok_or_else(|| format!("unknown operator '{w}'"))?
            }
            Some(t) => return Err(format!("expected an operator after '{path}', found {t}")),
            None => return Err(format!("expected an operator after '{path}'")),
        };
        let value = match self.tokens.next() {
            Some(Token::Str(s)) => Value::String(s),
            Some(Token::Word(w)) => bare_value(w),
            Some(t) => return Err(format!("expected a value after '{op}', found {t}")),
            None => return Err(format!("expected a value after '{path} {op}'")),
        };
        Ok(Filter::Compare { path, op, value })
    }
}

/// An unquoted value: `true`, `false`, `null` (any case), a JSON number, else the word as a
/// string (Entra's legacy `externalId eq jyoung`).
fn bare_value(word: String) -> Value {
    if word.eq_ignore_ascii_case("true") {
        Value::Bool(true)
    } else if word.eq_ignore_ascii_case("false") {
        Value::Bool(false)
    } else if word.eq_ignore_ascii_case("null") {
        Value::Null
    } else if let Ok(n) = serde_json::from_str::<serde_json::Number>(&word) {
        Value::Number(n)
    } else {
        Value::String(word)
    }
}

fn parse_filter(s: &str) -> Result<Filter, String> {
    let mut parser = Parser::new(tokenize(s)?);
    if parser.tokens.peek().is_none() {
        return Err("empty filter".to_owned());
    }
    let filter = parser.or_expr(false)?.filter;
    parser.end()?;
    Ok(filter)
}

/// The PATCH path grammar `attrPath / valuePath [subAttr]` (RFC 7644 §3.5.2); the error is a
/// detail message.
pub(super) fn parse_patch_path(s: &str) -> Result<PatchPath, String> {
    let mut parser = Parser::new(tokenize(s)?);
    let attr = match parser.tokens.next() {
        Some(Token::Word(w)) => path::parse_attr_path(&w)?,
        Some(t) => return Err(format!("a path starts with an attribute name, not {t}")),
        None => return Err("empty path".to_owned()),
    };
    let mut filter = None;
    let mut sub_attr = None;
    if parser.tokens.peek() == Some(&Token::OpenBracket) {
        if attr.sub_attr.is_some() {
            return Err(format!("'{attr}[…]': a value path names an attribute"));
        }
        filter = Some(parser.bracket()?.0);
        sub_attr = parser.dotted_sub_attr();
    }
    parser.end()?;
    Ok(PatchPath {
        attr,
        filter,
        sub_attr,
    })
}

#[cfg(test)]
mod tests {
    use super::super::error::ScimType;
    use super::super::schema::{ENTERPRISE_USER_SCHEMA, GROUP_RESOURCE, USER_RESOURCE};
    use super::*;
    use serde_json::json;

    fn cmp(path: &str, op: CompareOp, value: Value) -> Filter {
        Filter::Compare {
            path: path::parse_attr_path(path).unwrap(),
            op,
            value,
        }
    }
    fn pr(path: &str) -> Filter {
        Filter::Present(path::parse_attr_path(path).unwrap())
    }
    fn and(a: Filter, b: Filter) -> Filter {
        Filter::And(Box::new(a), Box::new(b))
    }
    fn or(a: Filter, b: Filter) -> Filter {
        Filter::Or(Box::new(a), Box::new(b))
    }
    fn not(a: Filter) -> Filter {
        Filter::Not(Box::new(a))
    }
    fn vp(attr: &str, f: Filter) -> Filter {
        Filter::ValuePath {
            attr: path::parse_attr_path(attr).unwrap(),
            filter: Box::new(f),
        }
    }
    fn parse(s: &str) -> Filter {
        s.parse::<Filter>().unwrap()
    }
    fn parse_err(s: &str) -> ScimError {
        s.parse::<Filter>().unwrap_err()
    }
    use CompareOp::*;

    #[test]
    fn parses_rfc_7644_examples() {
        let cases = [
            (
                "userName eq \"bjensen\"",
                cmp("userName", Eq, json!("bjensen")),
            ),
            (
                "name.familyName co \"O'Malley\"",
                cmp("name.familyName", Co, json!("O'Malley")),
            ),
            ("userName sw \"J\"", cmp("userName", Sw, json!("J"))),
            (
                "urn:ietf:params:scim:schemas:core:2.0:User:userName sw \"J\"",
                cmp(
                    "urn:ietf:params:scim:schemas:core:2.0:User:userName",
                    Sw,
                    json!("J"),
                ),
            ),
            ("title pr", pr("title")),
            (
                "meta.lastModified gt \"2011-05-13T04:42:34Z\"",
                cmp("meta.lastModified", Gt, json!("2011-05-13T04:42:34Z")),
            ),
            (
                "meta.lastModified ge \"2011-05-13T04:42:34Z\"",
                cmp("meta.lastModified", Ge, json!("2011-05-13T04:42:34Z")),
            ),
            (
                "meta.lastModified lt \"2011-05-13T04:42:34Z\"",
                cmp("meta.lastModified", Lt, json!("2011-05-13T04:42:34Z")),
            ),
            (
                "meta.lastModified le \"2011-05-13T04:42:34Z\"",
                cmp("meta.lastModified", Le, json!("2011-05-13T04:42:34Z")),
            ),
            (
                "title pr and userType eq \"Employee\"",
                and(pr("title"), cmp("userType", Eq, json!("Employee"))),
            ),
            (
                "title pr or userType eq \"Intern\"",
                or(pr("title"), cmp("userType", Eq, json!("Intern"))),
            ),
            (
                "schemas eq \"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\"",
                cmp("schemas", Eq, json!(ENTERPRISE_USER_SCHEMA)),
            ),
            (
                "userType eq \"Employee\" and (emails co \"example.com\" or emails.value co \"example.org\")",
                and(
                    cmp("userType", Eq, json!("Employee")),
                    or(
                        cmp("emails", Co, json!("example.com")),
                        cmp("emails.value", Co, json!("example.org")),
                    ),
                ),
            ),
            (
                "userType ne \"Employee\" and not (emails co \"example.com\" or emails.value co \"example.org\")",
                and(
                    cmp("userType", Ne, json!("Employee")),
                    not(or(
                        cmp("emails", Co, json!("example.com")),
                        cmp("emails.value", Co, json!("example.org")),
                    )),
                ),
            ),
            (
                "userType eq \"Employee\" and (emails.type eq \"work\")",
                and(
                    cmp("userType", Eq, json!("Employee")),
                    cmp("emails.type", Eq, json!("work")),
                ),
            ),
            (
                "userType eq \"Employee\" and emails[type eq \"work\" and value co \"@example.com\"]",
                and(
                    cmp("userType", Eq, json!("Employee")),
                    vp(
                        "emails",
                        and(
                            cmp("type", Eq, json!("work")),
                            cmp("value", Co, json!("@example.com")),
                        ),
                    ),
                ),
            ),
            (
                "emails[type eq \"work\" and value co \"@example.com\"] or ims[type eq \"xmpp\" and value co \"@foo.com\"]",
                or(
                    vp(
                        "emails",
                        and(
                            cmp("type", Eq, json!("work")),
                            cmp("value", Co, json!("@example.com")),
                        ),
                    ),
                    vp(
                        "ims",
                        and(
                            cmp("type", Eq, json!("xmpp")),
                            cmp("value", Co, json!("@foo.com")),
                        ),
                    ),
                ),
            ),
            (
                "members[value eq \"2819c223-7f76-453a-919d-413861904646\"]",
                vp(
                    "members",
                    cmp("value", Eq, json!("2819c223-7f76-453a-919d-413861904646")),
                ),
            ),
        ];
        for (input, want) in cases {
            assert_eq!(parse(input), want, "{input}");
        }
    }

    #[test]
    fn parses_operators_values_and_precedence() {
        let cases = [
            ("USERNAME EQ \"a\"", cmp("USERNAME", Eq, json!("a"))),
            ("userName Ne \"a\"", cmp("userName", Ne, json!("a"))),
            ("displayName ew \"x\"", cmp("displayName", Ew, json!("x"))),
            ("title PR", pr("title")),
            ("active eq true", cmp("active", Eq, json!(true))),
            ("active eq False", cmp("active", Eq, json!(false))),
            ("title eq null", cmp("title", Eq, Value::Null)),
            ("x lt 10", cmp("x", Lt, json!(10))),
            ("x le -1.5e3", cmp("x", Le, json!(-1500.0))),
            (
                "externalId eq jyoung",
                cmp("externalId", Eq, json!("jyoung")),
            ),
            (
                "userName eq \"a \\\"b\\\" \\u00e9\\n\"",
                cmp("userName", Eq, json!("a \"b\" é\n")),
            ),
            (
                "userName eq \"(a) [b]\"",
                cmp("userName", Eq, json!("(a) [b]")),
            ),
            ("a pr or b pr and c pr", or(pr("a"), and(pr("b"), pr("c")))),
            ("a pr and b pr or c pr", or(and(pr("a"), pr("b")), pr("c"))),
            (
                "(a pr or b pr) and c pr",
                and(or(pr("a"), pr("b")), pr("c")),
            ),
            ("not (a pr) and b pr", and(not(pr("a")), pr("b"))),
            ("NOT(a pr)", not(pr("a"))),
            (
                "a pr AND b pr AND c pr",
                and(and(pr("a"), pr("b")), pr("c")),
            ),
            (
                "a pr or b pr or c pr or d pr",
                or(or(pr("a"), pr("b")), or(pr("c"), pr("d"))),
            ),
            ("((title pr))", pr("title")),
            (
                "emails[type eq \"work\"].value eq \"x@y\"",
                vp(
                    "emails",
                    and(
                        cmp("type", Eq, json!("work")),
                        cmp("value", Eq, json!("x@y")),
                    ),
                ),
            ),
            (
                "emails[type eq \"work\"].value pr",
                vp("emails", and(cmp("type", Eq, json!("work")), pr("value"))),
            ),
            (
                "emails[not (type eq \"work\")]",
                vp("emails", not(cmp("type", Eq, json!("work")))),
            ),
            (
                "id eq \"X\" and manager eq \"Y\"",
                and(cmp("id", Eq, json!("X")), cmp("manager", Eq, json!("Y"))),
            ),
        ];
        for (input, want) in cases {
            assert_eq!(parse(input), want, "{input}");
        }
    }

    #[test]
    fn rejects_malformed_filters() {
        for input in [
            "",
            "   ",
            "userName",
            "userName eq",
            "userName xx \"a\"",
            "userName eq \"a",
            "userName eq \"bad \\x escape\"",
            "eq \"a\"",
            "(userName eq \"a\"",
            "userName eq \"a\")",
            "userName eq \"a\" and",
            "userName eq \"a\" userName eq \"b\"",
            "emails[type eq \"work\"",
            "emails[type eq \"work\"]]",
            "emails[]",
            "emails[types[value eq \"a\"]]",
            "emails[urn:x:y:type eq \"a\"]",
            "emails[type.x eq \"a\"]",
            "emails.value[type eq \"a\"]",
            "emails[type eq \"work\"].value",
            "not",
            "1abc eq \"a\"",
            "[a pr]",
        ] {
            assert_eq!(
                parse_err(input).scim_type(),
                Some(ScimType::InvalidFilter),
                "{input}"
            );
        }
    }

    #[test]
    fn bounds_length_and_depth() {
        let deep_parens = format!("{}title pr{}", "(".repeat(500), ")".repeat(500));
        let err = parse_err(&deep_parens);
        assert_eq!(err.scim_type(), Some(ScimType::InvalidFilter));
        assert_eq!(err.detail(), "nested deeper than 64 levels");

        let deep_not = format!("{}title pr{}", "not (".repeat(500), ")".repeat(500));
        assert_eq!(
            parse_err(&deep_not).detail(),
            "nested deeper than 64 levels"
        );

        let bare_nots = format!("{}title pr", "not ".repeat(500));
        assert_eq!(
            parse_err(&bare_nots).detail(),
            "nested deeper than 64 levels"
        );

        let at_limit = format!("{}title pr{}", "(".repeat(64), ")".repeat(64));
        assert_eq!(parse(&at_limit), pr("title"));
        let over = format!("{}title pr{}", "(".repeat(65), ")".repeat(65));
        assert!(over.parse::<Filter>().is_err());

        let long = format!("userName eq \"{}\"", "a".repeat(MAX_FILTER_LENGTH));
        let err = parse_err(&long);
        assert_eq!(err.scim_type(), Some(ScimType::InvalidFilter));
        assert_eq!(err.detail(), "longer than 8192 bytes; split the query");

        // A long flat chain stays shallow: 600 terms, balanced to height 11 (and then refused
        // for its number of terms, not its depth).
        let wide = vec!["title pr"; 600].join(" or ");
        assert!(wide.len() < MAX_FILTER_LENGTH);
        assert!(parse_filter(&wide).is_ok());
    }

    #[test]
    fn bounds_the_number_of_comparisons() {
        let at_cap = vec!["title pr"; MAX_FILTER_TERMS].join(" or ");
        assert!(at_cap.parse::<Filter>().is_ok());
        let over = vec!["title pr"; MAX_FILTER_TERMS + 1].join(" or ");
        let err = parse_err(&over);
        assert_eq!(err.scim_type(), Some(ScimType::TooMany));
        assert_eq!(
            err.detail(),
            "the filter has 51 comparisons; this server evaluates at most 50 per query: \
             split it into several queries"
        );
        // Comparisons inside brackets count too.
        let inner = vec!["value eq \"x\""; MAX_FILTER_TERMS].join(" or ");
        let bracketed = format!("title pr and emails[{inner}]");
        assert_eq!(parse_err(&bracketed).scim_type(), Some(ScimType::TooMany));

        let substrings = |n: usize| vec!["title co \"x\""; n].join(" or ");
        assert!(
            substrings(MAX_FILTER_SUBSTRING_TERMS)
                .parse::<Filter>()
                .is_ok()
        );
        for op in ["co", "sw", "ew"] {
            let many =
                vec![format!("title {op} \"x\""); MAX_FILTER_SUBSTRING_TERMS + 1].join(" or ");
            let err = parse_err(&many);
            assert_eq!(err.scim_type(), Some(ScimType::TooMany), "{op}");
            assert!(
                err.detail().contains("at most 5 per query"),
                "{}",
                err.detail()
            );
        }
    }

    #[test]
    fn validates_against_the_schema() {
        let ok = [
            (
                "USERNAME eq \"a\"",
                &USER_RESOURCE,
                cmp("userName", Eq, json!("a")),
            ),
            (
                "urn:ietf:params:scim:schemas:core:2.0:User:userName sw \"J\"",
                &USER_RESOURCE,
                cmp("userName", Sw, json!("J")),
            ),
            (
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:MANAGER.VALUE eq \"m\"",
                &USER_RESOURCE,
                Filter::Compare {
                    path: AttrPath {
                        urn: Some(ENTERPRISE_USER_SCHEMA.to_owned()),
                        attr: "manager".to_owned(),
                        sub_attr: Some("value".to_owned()),
                    },
                    op: Eq,
                    value: json!("m"),
                },
            ),
            (
                "manager eq \"m\"",
                &USER_RESOURCE,
                Filter::Compare {
                    path: AttrPath {
                        urn: Some(ENTERPRISE_USER_SCHEMA.to_owned()),
                        attr: "manager".to_owned(),
                        sub_attr: Some("value".to_owned()),
                    },
                    op: Eq,
                    value: json!("m"),
                },
            ),
            (
                "emails co \"example.com\"",
                &USER_RESOURCE,
                cmp("emails.value", Co, json!("example.com")),
            ),
            (
                "Emails[TYPE eq \"work\"].Value eq \"x\"",
                &USER_RESOURCE,
                vp(
                    "emails",
                    and(cmp("type", Eq, json!("work")), cmp("value", Eq, json!("x"))),
                ),
            ),
            (
                "externalId eq 12345",
                &USER_RESOURCE,
                cmp("externalId", Eq, json!("12345")),
            ),
            (
                "active eq false",
                &USER_RESOURCE,
                cmp("active", Eq, json!(false)),
            ),
            (
                "title eq null",
                &USER_RESOURCE,
                cmp("title", Eq, Value::Null),
            ),
            ("emails pr", &USER_RESOURCE, pr("emails")),
            (
                "meta.created gt \"2024-01-01T00:00:00+02:00\"",
                &GROUP_RESOURCE,
                cmp("meta.created", Gt, json!("2024-01-01T00:00:00+02:00")),
            ),
            (
                "displayname eq \"Admins\" and members[VALUE eq \"u1\"]",
                &GROUP_RESOURCE,
                and(
                    cmp("displayName", Eq, json!("Admins")),
                    vp("members", cmp("value", Eq, json!("u1"))),
                ),
            ),
        ];
        for (input, rt, want) in ok {
            assert_eq!(parse(input).validate(rt), Ok(want), "{input}");
        }

        let bad = [
            (
                "nosuch eq \"a\"",
                &USER_RESOURCE,
                "unknown attribute 'nosuch'",
            ),
            (
                "name.nosuch eq \"a\"",
                &USER_RESOURCE,
                "unknown attribute 'name.nosuch'",
            ),
            ("members pr", &USER_RESOURCE, "unknown attribute 'members'"),
            (
                "userName pr",
                &GROUP_RESOURCE,
                "unknown attribute 'userName'",
            ),
            (
                "active gt true",
                &USER_RESOURCE,
                "'gt' is not supported on a boolean attribute 'active'",
            ),
            (
                "active co \"t\"",
                &USER_RESOURCE,
                "'co' is not supported on a boolean attribute 'active'",
            ),
            (
                "x509Certificates.value lt \"AA\"",
                &USER_RESOURCE,
                "'lt' is not supported on binary attribute 'x509Certificates.value'",
            ),
            (
                "active eq \"yes\"",
                &USER_RESOURCE,
                "'active' is a boolean and cannot be compared with \"yes\"",
            ),
            (
                "userName eq true",
                &USER_RESOURCE,
                "'userName' is a string and cannot be compared with true",
            ),
            (
                "meta.created gt \"yesterday\"",
                &USER_RESOURCE,
                "'meta.created' is a dateTime and cannot be compared with \"yesterday\"",
            ),
            (
                "meta.created sw \"2024\"",
                &USER_RESOURCE,
                "'sw' is not supported on a dateTime attribute 'meta.created'",
            ),
            (
                "title gt null",
                &USER_RESOURCE,
                "'title gt null': only eq and ne compare with null",
            ),
            (
                "name eq \"x\"",
                &USER_RESOURCE,
                "'name' is complex: name one of its sub-attributes",
            ),
            (
                "emails[nosuch eq \"x\"]",
                &USER_RESOURCE,
                "unknown attribute 'emails.nosuch'",
            ),
            (
                "userName[value eq \"x\"]",
                &USER_RESOURCE,
                "'userName' is not complex: it has no values to select",
            ),
        ];
        for (input, rt, detail) in bad {
            let err = parse(input).validate(rt).unwrap_err();
            assert_eq!(err.scim_type(), Some(ScimType::InvalidFilter), "{input}");
            assert_eq!(err.detail(), detail, "{input}");
        }
    }

    fn user() -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE_USER_SCHEMA],
            "id": "2819c223-7f76-453a-919d-413861904646",
            "externalId": "Bjensen",
            "userName": "bjensen@example.com",
            "name": {"familyName": "O'Malley", "givenName": "Barbara"},
            "title": "",
            "userType": "Employee",
            "active": true,
            "emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "babs@jensen.org", "type": "home"}
            ],
            "ims": [],
            "meta": {
                "resourceType": "User",
                "created": "2010-01-23T04:56:22Z",
                "lastModified": "2011-05-13T04:42:34Z",
                "version": "W/\"3694e05e9dff591\""
            },
            ENTERPRISE_USER_SCHEMA: {
                "employeeNumber": "701984",
                "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d"}
            }
        })
    }

    #[test]
    fn evaluates_against_a_user() {
        let resource = user();
        let cases = [
            ("userName eq \"BJENSEN@example.com\"", true),
            ("userName eq \"bjensen\"", false),
            ("externalId eq \"Bjensen\"", true),
            ("externalId eq \"bjensen\"", false),
            ("id eq \"2819C223-7F76-453A-919D-413861904646\"", false),
            ("name.familyName co \"o'mal\"", true),
            ("userName sw \"BJ\"", true),
            ("userName ew \".COM\"", true),
            ("userName gt \"a\"", true),
            ("userName lt \"a\"", false),
            ("title pr", false),
            ("userType pr", true),
            ("nickName pr", false),
            ("ims pr", false),
            ("emails pr", true),
            ("title eq null", true),
            ("userType eq null", false),
            ("userType ne null", true),
            ("nickName ne \"x\"", false),
            ("not (nickName eq \"x\")", true),
            ("active eq true", true),
            ("active ne true", false),
            ("meta.lastModified gt \"2011-05-13T04:42:33Z\"", true),
            ("meta.lastModified gt \"2011-05-13T06:42:33+02:00\"", true),
            ("meta.lastModified ge \"2011-05-13T04:42:34Z\"", true),
            ("meta.lastModified lt \"2011-05-13T04:42:34.000Z\"", false),
            ("meta.lastModified le \"2011-05-13T04:42:34Z\"", true),
            ("meta.created eq \"2010-01-23T05:56:22+01:00\"", true),
            ("title pr and userType eq \"Employee\"", false),
            ("title pr or userType eq \"Employee\"", true),
            (
                "schemas eq \"urn:ietf:params:scim:schemas:extension:enterprise:2.0:user\"",
                true,
            ),
            ("emails co \"example.com\"", true),
            ("emails.value co \"example.org\"", false),
            (
                "userType eq \"Employee\" and (emails.type eq \"work\")",
                true,
            ),
            ("emails.type ne \"work\"", true),
            (
                "emails[type eq \"work\" and value co \"@example.com\"]",
                true,
            ),
            (
                "emails[type eq \"home\" and value co \"@example.com\"]",
                false,
            ),
            (
                "emails[type eq \"home\"].value eq \"BABS@jensen.org\"",
                true,
            ),
            (
                "emails[type eq \"work\"].value eq \"babs@jensen.org\"",
                false,
            ),
            ("emails[primary eq true].type eq \"work\"", true),
            ("ims[type eq \"xmpp\"]", false),
            (
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq \"701984\"",
                true,
            ),
            ("manager eq \"26118915-6090-4610-87e4-49d8ca9f808d\"", true),
            ("manager.value pr", true),
            (
                "id eq \"2819c223-7f76-453a-919d-413861904646\" and manager eq \"nobody\"",
                false,
            ),
            (
                "userType ne \"Employee\" and not (emails co \"example.com\" or emails.value co \"example.org\")",
                false,
            ),
        ];
        for (input, want) in cases {
            let filter = parse(input).validate(&USER_RESOURCE).unwrap();
            assert_eq!(filter.matches(&USER_RESOURCE, &resource), want, "{input}");
        }
    }

    #[test]
    fn a_lone_eq_on_a_unique_attribute_is_a_key() {
        let unique = ["id", "userName", "externalId"];
        let key = |input: &str| {
            let filter = parse(input).validate(&USER_RESOURCE).unwrap();
            filter
                .unique_key(&unique)
                .map(|(attr, value)| (attr.to_owned(), value.to_owned()))
        };
        let pair = |a: &str, v: &str| Some((a.to_owned(), v.to_owned()));
        assert_eq!(key("userName eq \"Bjensen\""), pair("userName", "Bjensen"));
        assert_eq!(
            key("USERNAME eq \"b\""),
            pair("userName", "b"),
            "canonical name"
        );
        assert_eq!(key("externalId eq \"00u1\""), pair("externalId", "00u1"));
        assert_eq!(key("id eq \"42\""), pair("id", "42"));
        for other in [
            "userName eq \"b\" and active eq true",
            "userName ne \"b\"",
            "userName sw \"b\"",
            "displayName eq \"b\"",
            "emails.value eq \"b@example.org\"",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq \"7\"",
            "not (userName eq \"b\")",
        ] {
            assert_eq!(key(other), None, "{other}");
        }
    }

    #[test]
    fn evaluates_group_members_and_value_filters() {
        let group = json!({
            "displayName": "Admins",
            "members": [{"value": "u1", "display": "Babs"}, {"value": "u2"}]
        });
        let cases = [
            ("members[value eq \"u2\"]", true),
            ("members[value eq \"u3\"]", false),
            ("members.value eq \"u1\"", true),
            ("displayName eq \"admins\"", true),
            ("members pr", true),
        ];
        for (input, want) in cases {
            let filter = parse(input).validate(&GROUP_RESOURCE).unwrap();
            assert_eq!(filter.matches(&GROUP_RESOURCE, &group), want, "{input}");
        }
        let members = GROUP_RESOURCE.schema.attribute("members").unwrap();
        let inner = parse("value eq \"U1\"").validate_within(members).unwrap();
        assert!(inner.matches_within(members, &json!({"value": "u1"})));
        assert!(!inner.matches_within(members, &json!({"value": "u2"})));
        let err = parse("nosuch pr").validate_within(members).unwrap_err();
        assert_eq!(err.detail(), "unknown attribute 'members.nosuch'");
    }
}
