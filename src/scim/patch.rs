//! The PATCH engine (RFC 7644 §3.5.2): a `PatchOp` request parsed into typed operations, and
//! [`apply`], a pure function from a stored resource and a request to the patched resource.
//!
//! Okta and Entra ID dialects are normalised in one place, the private `quirks` module; the
//! rest follows the RFC.

use serde_json::{Map, Value};

use super::error::ScimError;
use super::filter::{CompareOp, Filter};
use super::path::{AttrPath, PatchPath};
use super::schema::{
    AttributeDef, AttributeType, GROUP_RESOURCE, Mutability, ResourceTypeDef, SchemaDef,
};

/// URN of the PATCH request message (RFC 7644 §3.5.2).
pub const PATCH_OP_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// The most operations one PATCH request may carry; more → 400 `invalidValue`. Okta and Entra
/// send a handful; the bound keeps the work of one request proportional to a sane body.
pub const MAX_OPERATIONS: usize = 1_000;

/// The most values a multi-valued attribute may hold (`emails`, `phoneNumbers`, `roles`, …), and
/// the most one operation may list for it; more → 400 `invalidValue` naming the attribute.
/// Group `members` live in their own table and are bounded per request instead
/// ([`MAX_MEMBERS_PER_REQUEST`]).
pub const MAX_VALUES: usize = 100;

/// The most Group member values one request may name (a POST, a PUT, or all the operations of
/// a PATCH together); more → 400 `invalidValue`. A group may have any number of members: they
/// are added a request at a time, so that one request's work in the write transaction stays
/// small.
pub const MAX_MEMBERS_PER_REQUEST: usize = 1_000;

/// The `op` of a PATCH operation (RFC 7644 §3.5.2). Parsed ignoring case: Entra sends
/// `Add`, `Replace`, `Remove`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    /// RFC 7644 §3.5.2.1.
    Add,
    /// RFC 7644 §3.5.2.2.
    Remove,
    /// RFC 7644 §3.5.2.3.
    Replace,
}

impl OpKind {
    /// `add`, `remove` or `replace` in any case (RFC 7644 §3.5.2).
    pub fn parse(s: &str) -> Option<OpKind> {
        [OpKind::Add, OpKind::Remove, OpKind::Replace]
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(s))
    }

    /// The spelling of RFC 7644 §3.5.2 (lowercase).
    pub fn as_str(self) -> &'static str {
        match self {
            OpKind::Add => "add",
            OpKind::Remove => "remove",
            OpKind::Replace => "replace",
        }
    }
}

/// One element of `Operations` (RFC 7644 §3.5.2).
#[derive(Debug, Clone, PartialEq)]
pub struct PatchOperation {
    /// `add`, `remove` or `replace`.
    pub op: OpKind,
    /// The target; required for `remove` (RFC 7644 §3.5.2.2).
    pub path: Option<PatchPath>,
    /// The value as sent; `null` with a path unassigns the target (RFC 7643 §2.5).
    pub value: Option<Value>,
}

impl PatchOperation {
    /// Whether the operation writes the top-level attribute `name` of `rt` (ignoring case),
    /// through its path or, without a path, through a key of its value (RFC 7644 §3.5.2).
    pub fn targets_attribute(&self, rt: &ResourceTypeDef, name: &str) -> bool {
        match &self.path {
            Some(path) => path
                .attr
                .resolve(rt)
                .is_some_and(|r| r.attr.name.eq_ignore_ascii_case(name)),
            None => self
                .value
                .as_ref()
                .and_then(Value::as_object)
                .and_then(|obj| quirks::path_less_entries(rt, obj).ok())
                .is_some_and(|entries| {
                    entries
                        .iter()
                        .any(|(t, _)| t.attr.name.eq_ignore_ascii_case(name))
                }),
        }
    }

    /// Whether the operation touches a Group's `members` (RFC 7643 §4.2), so that membership
    /// can be routed to its own table.
    pub fn targets_members(&self) -> bool {
        self.targets_attribute(&GROUP_RESOURCE, "members")
    }
}

/// A parsed `PatchOp` request (RFC 7644 §3.5.2).
#[derive(Debug, Clone, PartialEq)]
pub struct PatchRequest {
    /// `Operations`, applied in order; never empty.
    pub operations: Vec<PatchOperation>,
}

impl PatchRequest {
    /// Parse a PATCH body (RFC 7644 §3.5.2).
    ///
    /// - Not an object, `schemas` present without [`PATCH_OP_SCHEMA`] (compared ignoring
    ///   case), `Operations` missing or not an array, an operation that is not an object, or an
    ///   unknown `op` → `invalidSyntax`. A missing `schemas` is accepted: it carries no
    ///   information the endpoint does not already have.
    /// - Member names `Operations`, `op`, `path`, `value` are matched ignoring case; `op` values
    ///   too.
    /// - Empty `Operations` → `invalidValue`; `add`/`replace` without `value` → `invalidValue`.
    /// - `path` is parsed with [`PatchPath::parse`] (`invalidPath`); an empty `path` counts as
    ///   absent; `remove` without a path → `noTarget`.
    pub fn from_json(body: Value) -> Result<PatchRequest, ScimError> {
        let Value::Object(mut body) = body else {
            return Err(ScimError::invalid_syntax(
                "a PATCH body is a JSON object with \"schemas\" and \"Operations\"",
            ));
        };
        match take(&mut body, "schemas") {
            None | Some(Value::Null) => {}
            Some(Value::Array(urns))
                if urns.iter().any(|u| {
                    u.as_str()
                        .is_some_and(|u| u.eq_ignore_ascii_case(PATCH_OP_SCHEMA))
                }) => {}
            Some(_) => {
                return Err(ScimError::invalid_syntax(format!(
                    "\"schemas\" must be [\"{PATCH_OP_SCHEMA}\"]"
                )));
            }
        }
        let operations = match take(&mut body, "Operations") {
            Some(Value::Array(ops)) => ops,
            Some(_) => {
                return Err(ScimError::invalid_syntax("\"Operations\" must be an array"));
            }
            None => return Err(ScimError::invalid_syntax("\"Operations\" is missing")),
        };
        if operations.is_empty() {
            return Err(ScimError::invalid_value("\"Operations\" is empty"));
        }
        if operations.len() > MAX_OPERATIONS {
            return Err(ScimError::invalid_value(format!(
                "\"Operations\" has {} operations; a PATCH request may carry at most \
                 {MAX_OPERATIONS}: split it into several requests",
                operations.len()
            )));
        }
        let operations = operations
            .into_iter()
            .map(parse_operation)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(PatchRequest { operations })
    }
}

fn parse_operation(op: Value) -> Result<PatchOperation, ScimError> {
    let Value::Object(mut op) = op else {
        return Err(ScimError::invalid_syntax(
            "each element of \"Operations\" is an object",
        ));
    };
    let kind = match take(&mut op, "op") {
        Some(Value::String(s)) => OpKind::parse(&s).ok_or_else(|| {
            ScimError::invalid_syntax(format!(
                "unknown op \"{s}\": expected add, remove or replace"
            ))
        })?,
        _ => return Err(ScimError::invalid_syntax("an operation needs an \"op\"")),
    };
    let path = match take(&mut op, "path") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(PatchPath::parse(&s)?),
        Some(other) => {
            return Err(ScimError::invalid_path(format!(
                "\"path\" must be a string, not {other}"
            )));
        }
    };
    let value = take(&mut op, "value");
    match kind {
        OpKind::Remove if path.is_none() => Err(ScimError::no_target(
            "remove needs a \"path\" (RFC 7644 §3.5.2.2)",
        )),
        OpKind::Add | OpKind::Replace if value.is_none() => Err(ScimError::invalid_value(format!(
            "{} needs a \"value\"",
            kind.as_str()
        ))),
        _ => Ok(PatchOperation {
            op: kind,
            path,
            value,
        }),
    }
}

/// Apply every operation of `request`, in order, to `resource` (RFC 7644 §3.5.2).
///
/// `resource` is the stored JSON object: canonical attribute names, extension attributes under
/// the extension URN, a `schemas` array, no `id`/`meta`. The whole request is atomic: the first
/// failing operation's error is returned and nothing is changed (the input is only read).
///
/// Semantics, beyond the RFC text:
/// - Operation and attribute names ignore case; the result uses the schema's canonical names.
/// - `add`: singular values are replaced, complex values merged, multi-valued values appended
///   without duplicating an identical value (a Group member is identified by its `value`).
/// - `replace`: a complex attribute is merged sub-attribute by sub-attribute (§3.5.2.3); a
///   multi-valued attribute named by a path, or by a key of a path-less value, is replaced
///   whole; a value filter that matches nothing → `noTarget`, except as listed in `quirks`.
/// - `remove`: a value filter that matches nothing, or an unassigned attribute, is a no-op
///   (idempotent retries by the IdPs); an element left empty is dropped; an attribute left
///   without values is unassigned.
/// - A `null` value with a path unassigns the target, like `remove` (RFC 7643 §2.5).
/// - Path-less values: unknown attribute names and readOnly attributes are ignored
///   (RFC 7643 §7), as are readOnly or unknown sub-attributes inside any value.
/// - Mutability (RFC 7643 §7): a path to a readOnly attribute or sub-attribute → `mutability`;
///   an immutable (sub-)attribute may be set while unassigned, any later change →
///   `mutability`, checked on existing values (new Group members are not changes); removing
///   or nulling a required attribute → `mutability`.
/// - Types: wrong value types → `invalidValue` naming the attribute. Unknown attributes or
///   malformed filters in a path → `invalidPath`.
/// - `primary` (RFC 7643 §2.4): when an operation makes a value primary, `primary` is set to
///   `false` on the attribute's other values, so at most one stays `true`.
/// - `schemas` of the result: the core URN, plus each extension URN whose object is non-empty.
pub fn apply(
    rt: &ResourceTypeDef,
    resource: &Map<String, Value>,
    request: &PatchRequest,
) -> Result<Map<String, Value>, ScimError> {
    let mut doc = resource.clone();
    for op in &request.operations {
        apply_operation(rt, &mut doc, op)?;
    }
    let mut schemas = vec![Value::String(rt.schema.id.to_owned())];
    for (ext, _) in rt.extensions {
        let object = take_object(&mut doc, ext.id);
        if !object.is_empty() {
            doc.insert(ext.id.to_owned(), Value::Object(object));
            schemas.push(Value::String(ext.id.to_owned()));
        }
    }
    take(&mut doc, "schemas");
    doc.insert("schemas".to_owned(), Value::Array(schemas));
    Ok(doc)
}

/// What one write acts on: an attribute, maybe narrowed by a value filter, maybe down to a
/// sub-attribute.
struct Target {
    /// The extension schema whose object holds the attribute; `None` for core attributes.
    extension: Option<&'static SchemaDef>,
    attr: &'static AttributeDef,
    /// Validated value filter, paths relative to `attr`.
    filter: Option<Filter>,
    sub: Option<&'static AttributeDef>,
}

impl Target {
    fn label(&self) -> String {
        match self.sub {
            Some(sub) => format!("{}.{}", self.attr.name, sub.name),
            None => self.attr.name.to_owned(),
        }
    }
}

/// Whether a write names its target in `path` (errors on readOnly) or is a key of a path-less
/// value (readOnly ignored).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    Path,
    PathLess,
}

fn apply_operation(
    rt: &ResourceTypeDef,
    doc: &mut Map<String, Value>,
    op: &PatchOperation,
) -> Result<(), ScimError> {
    if let Some(path) = &op.path {
        let target = resolve_target(rt, path)?;
        return write(doc, op.op, &target, op.value.as_ref(), Origin::Path);
    }
    if op.op == OpKind::Remove {
        return Err(ScimError::no_target(
            "remove needs a \"path\" (RFC 7644 §3.5.2.2)",
        ));
    }
    let Some(Value::Object(value)) = &op.value else {
        return Err(ScimError::invalid_value(format!(
            "{} without a \"path\" takes an object of attributes",
            op.op.as_str()
        )));
    };
    for (target, v) in quirks::path_less_entries(rt, value)? {
        write(doc, op.op, &target, Some(v), Origin::PathLess)?;
    }
    Ok(())
}

fn resolve_target(rt: &ResourceTypeDef, path: &PatchPath) -> Result<Target, ScimError> {
    let r = path
        .attr
        .resolve(rt)
        .ok_or_else(|| ScimError::invalid_path(format!("unknown attribute '{}'", path.attr)))?;
    let sub = match &path.sub_attr {
        Some(name) => Some(r.attr.sub_attribute(name).ok_or_else(|| {
            ScimError::invalid_path(format!("unknown attribute '{}.{name}'", r.attr.name))
        })?),
        None => r.sub,
    };
    let filter = match &path.filter {
        Some(filter) => {
            if !r.attr.multi_valued || r.attr.kind != AttributeType::Complex {
                return Err(ScimError::invalid_path(format!(
                    "'{}' is not a multi-valued complex attribute: it takes no value filter",
                    r.attr.name
                )));
            }
            Some(
                filter
                    .clone()
                    .validate_within(r.attr)
                    .map_err(|e| ScimError::invalid_path(e.detail()))?,
            )
        }
        None => None,
    };
    Ok(Target {
        extension: r.is_extension(rt).then_some(r.schema),
        attr: r.attr,
        filter,
        sub,
    })
}

fn write(
    doc: &mut Map<String, Value>,
    kind: OpKind,
    target: &Target,
    value: Option<&Value>,
    origin: Origin,
) -> Result<(), ScimError> {
    if target.attr.is_read_only() || target.sub.is_some_and(AttributeDef::is_read_only) {
        return match origin {
            Origin::PathLess => Ok(()),
            Origin::Path => Err(ScimError::mutability(format!(
                "'{}' is readOnly",
                target.label()
            ))),
        };
    }
    let Some(extension) = target.extension else {
        return write_in(doc, kind, target, value);
    };
    let mut object = take_object(doc, extension.id);
    let result = write_in(&mut object, kind, target, value);
    if !object.is_empty() {
        doc.insert(extension.id.to_owned(), Value::Object(object));
    }
    result
}

/// Write `target` inside `container` (the resource, or an extension's object).
fn write_in(
    container: &mut Map<String, Value>,
    kind: OpKind,
    target: &Target,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    let attr = target.attr;
    let value = value.filter(|v| !v.is_null());
    let kind = match (kind, value) {
        (OpKind::Add | OpKind::Replace, None) => OpKind::Remove,
        (kind, _) => kind,
    };
    let current = take(container, attr.name).filter(|v| !is_unassigned(v));
    let before = (attr.mutability == Mutability::Immutable).then(|| current.clone());
    let after = match (&target.filter, target.sub, attr.multi_valued) {
        (None, None, _) => whole(attr, kind, value, current)?,
        (None, Some(sub), false) => singular_sub(attr, sub, kind, value, current)?,
        (None, Some(sub), true) => every_value_sub(attr, sub, kind, value, current)?,
        (Some(filter), sub, _) => selected(attr, filter, sub, kind, value, current)?,
    }
    .filter(|v| !is_unassigned(v));
    if let Some(Value::Array(values)) = &after
        && attr.multi_valued
    {
        check_count(attr, values.len())?;
    }
    if attr.required && after.is_none() {
        return Err(ScimError::mutability(format!(
            "'{}' is required and cannot be removed",
            attr.name
        )));
    }
    if let Some(Some(before)) = before
        && after.as_ref() != Some(&before)
    {
        return Err(ScimError::mutability(format!(
            "'{}' is immutable",
            attr.name
        )));
    }
    if let Some(after) = after {
        container.insert(attr.name.to_owned(), after);
    }
    Ok(())
}

/// The attribute as a whole: `members`, `userName`, `name`.
fn whole(
    attr: &'static AttributeDef,
    kind: OpKind,
    value: Option<&Value>,
    current: Option<Value>,
) -> Result<Option<Value>, ScimError> {
    let value = match (kind, value) {
        (OpKind::Remove, Some(listed)) if attr.multi_valued => {
            return quirks::remove_listed(attr, listed, current);
        }
        (OpKind::Remove, _) | (_, None) => return Ok(None),
        (_, Some(value)) => value,
    };
    if attr.multi_valued {
        let mut list = match kind {
            OpKind::Add => into_list(current),
            OpKind::Remove | OpKind::Replace => Vec::new(),
        };
        // Each value is looked up in an index of the list, not compared with every element:
        // the cost of an `add` grows with the values it carries, not with their square.
        let mut known = quirks::ValueIndex::of(attr, &list);
        let mut primaries = Primaries::default();
        for item in quirks::normalize_values(attr, value)? {
            // A value given again is the value as given, `primary` included: the list keeps
            // its values as they were until `finish`, so they compare as given.
            let primary = is_primary(&item);
            let index = match known.position(&list, &item) {
                Some(i) => i,
                None => {
                    list.push(item);
                    let i = list.len() - 1;
                    known.insert(&list, i);
                    i
                }
            };
            primaries.claim(primary, index, list.len());
        }
        primaries.finish(&mut list);
        return Ok(Some(Value::Array(list)));
    }
    let new = quirks::normalize_value(attr, attr.name, value)?;
    match new {
        Value::Object(fields) if attr.kind == AttributeType::Complex => {
            let mut object = into_object(current);
            merge(attr, &mut object, fields)?;
            Ok(Some(Value::Object(object)))
        }
        other => Ok(Some(other)),
    }
}

/// `name.givenName`: a sub-attribute of a singular complex attribute.
fn singular_sub(
    attr: &'static AttributeDef,
    sub: &'static AttributeDef,
    kind: OpKind,
    value: Option<&Value>,
    current: Option<Value>,
) -> Result<Option<Value>, ScimError> {
    let mut object = into_object(current);
    match (kind, value) {
        (OpKind::Add | OpKind::Replace, Some(value)) => {
            let v = quirks::normalize_value(sub, &label(attr, sub), value)?;
            set_sub(attr, &mut object, sub, v)?;
        }
        _ => set_sub(attr, &mut object, sub, Value::Null)?,
    }
    Ok(Some(Value::Object(object)))
}

/// `emails.type` without a filter: every value of the multi-valued attribute; with no value
/// yet, add/replace creates one.
fn every_value_sub(
    attr: &'static AttributeDef,
    sub: &'static AttributeDef,
    kind: OpKind,
    value: Option<&Value>,
    current: Option<Value>,
) -> Result<Option<Value>, ScimError> {
    let mut list = into_list(current);
    let v = match (kind, value) {
        (OpKind::Add | OpKind::Replace, Some(value)) => {
            quirks::normalize_value(sub, &label(attr, sub), value)?
        }
        _ => Value::Null,
    };
    if list.is_empty() && !v.is_null() {
        list.push(Value::Object(Map::from_iter([(sub.name.to_owned(), v)])));
        return Ok(Some(Value::Array(list)));
    }
    for element in &mut list {
        if let Value::Object(object) = element {
            set_sub(attr, object, sub, v.clone())?;
        }
    }
    list.retain(|e| !is_unassigned(e));
    if let Some(last) = list.len().checked_sub(1) {
        claim_primary(&mut list, last);
    }
    Ok(Some(Value::Array(list)))
}

/// `emails[type eq "work"]` and `emails[type eq "work"].value`.
fn selected(
    attr: &'static AttributeDef,
    filter: &Filter,
    sub: Option<&'static AttributeDef>,
    kind: OpKind,
    value: Option<&Value>,
    current: Option<Value>,
) -> Result<Option<Value>, ScimError> {
    let mut list = into_list(current);
    let hits: Vec<usize> = (0..list.len())
        .filter(|&i| list.get(i).is_some_and(|e| filter.matches_within(attr, e)))
        .collect();
    let value = match (kind, value) {
        (OpKind::Add | OpKind::Replace, Some(value)) => value,
        _ => {
            match sub {
                None => {
                    let hit: std::collections::HashSet<usize> = hits.into_iter().collect();
                    let mut i = 0;
                    list.retain(|_| {
                        i += 1;
                        !hit.contains(&(i - 1))
                    });
                }
                Some(sub) => {
                    for &i in &hits {
                        if let Some(Value::Object(object)) = list.get_mut(i) {
                            set_sub(attr, object, sub, Value::Null)?;
                        }
                    }
                }
            }
            list.retain(|e| !is_unassigned(e));
            return Ok(Some(Value::Array(list)));
        }
    };
    let fields = match sub {
        Some(sub) => Map::from_iter([(
            sub.name.to_owned(),
            quirks::normalize_value(sub, &label(attr, sub), value)?,
        )]),
        None => quirks::normalize_one(attr, value)?,
    };
    if hits.is_empty() {
        if !quirks::creates_on_unmatched_filter(kind, sub) {
            return Err(ScimError::no_target(format!(
                "no value of '{}' matches the filter",
                attr.name
            )));
        }
        let mut element = quirks::seed_from_filter(filter).ok_or_else(|| {
            ScimError::no_target(format!(
                "no value of '{}' matches the filter, and it is not a conjunction of eq \
                 comparisons a value could be created from",
                attr.name
            ))
        })?;
        for (k, v) in fields {
            if !v.is_null() {
                element.insert(k, v);
            }
        }
        append(attr, &mut list, Value::Object(element));
        return Ok(Some(Value::Array(list)));
    }
    let mut primaries = Primaries::default();
    for &i in &hits {
        // Clear what an earlier hit's claim to `primary` cleared, before this element changes.
        primaries.settle(&mut list, i);
        let Some(element) = list.get_mut(i) else {
            continue;
        };
        if kind == OpKind::Replace && sub.is_none() {
            let old = into_object(Some(std::mem::take(element)));
            let mut new: Map<String, Value> = fields
                .iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            for s in attr.sub_attributes {
                if s.mutability == Mutability::Immutable
                    && let Some(was) = old.get(s.name)
                    && new.get(s.name) != Some(was)
                {
                    return Err(ScimError::mutability(format!(
                        "'{}' is immutable",
                        label(attr, s)
                    )));
                }
            }
            for s in attr.sub_attributes.iter().filter(|s| s.is_read_only()) {
                if let Some(kept) = old.get(s.name) {
                    new.insert(s.name.to_owned(), kept.clone());
                }
            }
            *element = Value::Object(new);
        } else if let Value::Object(object) = element {
            merge(attr, object, fields.clone())?;
        }
        primaries.claim(list.get(i).is_some_and(is_primary), i, list.len());
    }
    primaries.finish(&mut list);
    list.retain(|e| !is_unassigned(e));
    Ok(Some(Value::Array(list)))
}

/// Merge sub-attribute values into a complex value; `null` unassigns (RFC 7644 §3.5.2.1,
/// §3.5.2.3).
fn merge(
    attr: &'static AttributeDef,
    object: &mut Map<String, Value>,
    fields: Map<String, Value>,
) -> Result<(), ScimError> {
    for (name, v) in fields {
        if let Some(sub) = attr.sub_attribute(&name) {
            set_sub(attr, object, sub, v)?;
        }
    }
    Ok(())
}

/// Set (or, with `null`, unassign) one sub-attribute, enforcing `immutable`.
fn set_sub(
    attr: &'static AttributeDef,
    object: &mut Map<String, Value>,
    sub: &'static AttributeDef,
    v: Value,
) -> Result<(), ScimError> {
    let old = take(object, sub.name).filter(|o| !is_unassigned(o));
    if sub.mutability == Mutability::Immutable
        && let Some(old) = &old
        && *old != v
    {
        return Err(ScimError::mutability(format!(
            "'{}' is immutable",
            label(attr, sub)
        )));
    }
    if !is_unassigned(&v) {
        object.insert(sub.name.to_owned(), v);
    }
    Ok(())
}

/// Append a value unless an identical one is there (RFC 7644 §3.5.2.1); a Group member is
/// identified by its `value`.
fn append(attr: &'static AttributeDef, list: &mut Vec<Value>, item: Value) {
    let index = match list.iter().position(|e| quirks::same_value(attr, e, &item)) {
        Some(i) => i,
        None => {
            list.push(item);
            list.len() - 1
        }
    };
    claim_primary(list, index);
}

/// If `list[keep]` is primary, make every other value non-primary (RFC 7643 §2.4).
fn claim_primary(list: &mut [Value], keep: usize) {
    if !list.get(keep).is_some_and(is_primary) {
        return;
    }
    for (i, v) in list.iter_mut().enumerate() {
        if i != keep
            && is_primary(v)
            && let Value::Object(object) = v
        {
            object.insert("primary".to_owned(), Value::Bool(false));
        }
    }
}

fn is_primary(v: &Value) -> bool {
    v.get("primary") == Some(&Value::Bool(true))
}

/// [`claim_primary`] for a sequence of claims, in time linear in the list: the claims of one
/// operation are recorded, and the values they make non-primary are cleared once, by
/// [`Primaries::finish`] (or, for a value about to change, by [`Primaries::settle`]). The
/// result is the one [`claim_primary`] after each claim gives.
#[derive(Debug, Default)]
struct Primaries {
    /// The last value that claimed `primary`.
    winner: Option<usize>,
    /// The list's length at that claim: values at or past it came later and were not cleared.
    cleared_below: usize,
}

impl Primaries {
    /// Makes `list[k]` what the claims so far made it: non-primary, if a claim of another
    /// value cleared it.
    fn settle(&self, list: &mut [Value], k: usize) {
        if self.winner.is_some_and(|w| w != k)
            && k < self.cleared_below
            && let Some(Value::Object(object)) = list.get_mut(k)
            && object.get("primary") == Some(&Value::Bool(true))
        {
            object.insert("primary".to_owned(), Value::Bool(false));
        }
    }

    /// `claim_primary(list, k)`, recorded: `primary` is whether `list[k]` is primary now (as
    /// given by the request, or as [`Primaries::settle`]d and then changed).
    fn claim(&mut self, primary: bool, k: usize, len: usize) {
        if primary {
            self.winner = Some(k);
            self.cleared_below = len;
        }
    }

    /// Applies the recorded claims: the last value that claimed `primary` keeps it.
    fn finish(self, list: &mut [Value]) {
        if let Some(w) = self.winner {
            claim_primary(list, w);
        }
    }
}

/// [`MAX_VALUES`] for `attr`.
fn check_count(attr: &AttributeDef, count: usize) -> Result<(), ScimError> {
    if count <= MAX_VALUES {
        return Ok(());
    }
    Err(ScimError::invalid_value(format!(
        "'{}' may hold at most {MAX_VALUES} values; this request gives it {count}",
        attr.name
    )))
}

/// Checks that no multi-valued attribute of `resource` (core or extension) holds more than
/// [`MAX_VALUES`] values: what a POST or PUT is held to, as the patch engine holds a PATCH.
/// `skip` names attributes bounded elsewhere (Group `members`).
pub fn check_value_counts(
    rt: &ResourceTypeDef,
    resource: &Map<String, Value>,
    skip: &[&str],
) -> Result<(), ScimError> {
    let mut schemas = vec![(rt.schema, resource)];
    for (ext, _) in rt.extensions {
        if let Some(Value::Object(object)) = resource.get(ext.id) {
            schemas.push((ext, object));
        }
    }
    for (schema, object) in schemas {
        for attr in schema.attributes.iter().filter(|a| a.multi_valued) {
            if skip.iter().any(|s| s.eq_ignore_ascii_case(attr.name)) {
                continue;
            }
            if let Some(Value::Array(values)) = object.get(attr.name) {
                check_count(attr, values.len())?;
            }
        }
    }
    Ok(())
}

fn label(attr: &AttributeDef, sub: &AttributeDef) -> String {
    format!("{}.{}", attr.name, sub.name)
}

/// Null, `[]` and `{}` are unassigned (RFC 7643 §2.5).
fn is_unassigned(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        Value::Bool(_) | Value::Number(_) | Value::String(_) => false,
    }
}

fn into_list(current: Option<Value>) -> Vec<Value> {
    match current {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items,
        Some(other) => vec![other],
    }
}

fn into_object(current: Option<Value>) -> Map<String, Value> {
    match current {
        Some(Value::Object(object)) => object,
        _ => Map::new(),
    }
}

/// Remove member `key` from an object, under its exact name and any spelling differing only in
/// case, and return it (the exact one if present).
fn take(object: &mut Map<String, Value>, key: &str) -> Option<Value> {
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

fn take_object(object: &mut Map<String, Value>, key: &str) -> Map<String, Value> {
    into_object(take(object, key))
}

/// The IdP dialects, normalised here and nowhere else:
///
/// 1. Booleans sent as strings `"True"`/`"False"`/`"true"`/`"false"` (Entra without
///    `aadOptscim062020`, Microsoft's Postman tests) become JSON booleans for boolean
///    attributes.
/// 2. A one-element array for a singular attribute (Entra's `Add` on `manager` with
///    `[{"$ref": null, "value": "…"}]`) is taken as that element; a single value for a
///    multi-valued attribute as a one-element list.
/// 3. A string for a complex attribute that has a `value` sub-attribute (Entra's `manager`
///    as a bare id) becomes `{"value": "…"}`.
/// 4. `null` sub-attributes inside new values (Entra's `"$ref": null`) are left out; readOnly
///    sub-attributes (Okta's members `display`) and unknown ones are ignored.
/// 5. Path-less values (Okta's `{"active": false}` and group rename `{id, displayName}`,
///    Entra's `aadOptscim062020` bulk replace): keys in any case, dotted keys
///    (`"name.givenName"`), URN-prefixed keys (`"urn:…:enterprise:2.0:User:employeeNumber"`),
///    and schema-URN keys holding an object of that schema's attributes. ReadOnly attributes
///    (`id`, `meta`, `groups`, `schemas`) and unknown keys are ignored.
/// 6. `add` through a value filter that matches nothing creates the value, seeded from the
///    filter's `eq` comparisons (Entra: `emails[type eq "work"].value`); so does `replace`
///    when the path ends at a sub-attribute (Entra sends `Replace` on
///    `emails[type eq "work"].value` for users without a work email).
/// 7. `remove` on a multi-valued attribute with a value array and no filter removes the
///    values listed (Entra: `{"op":"Remove","path":"members","value":[{"value":"id"}]}`).
mod quirks {
    use super::*;

    static NULL: Value = Value::Null;

    /// The writes a path-less value stands for (quirk 5).
    pub(super) fn path_less_entries<'v>(
        rt: &ResourceTypeDef,
        value: &'v Map<String, Value>,
    ) -> Result<Vec<(Target, &'v Value)>, ScimError> {
        let mut entries = Vec::new();
        for (key, v) in value {
            let Some(schema) = rt.schema(key) else {
                entries.extend(
                    AttrPath::parse(key)
                        .ok()
                        .and_then(|p| target(rt, &p))
                        .map(|t| (t, v)),
                );
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
                    for attr in schema.attributes {
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

    fn target(rt: &ResourceTypeDef, path: &AttrPath) -> Option<Target> {
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
    pub(super) fn normalize_values(
        def: &AttributeDef,
        value: &Value,
    ) -> Result<Vec<Value>, ScimError> {
        let items = match value {
            Value::Array(items) => items.as_slice(),
            one => std::slice::from_ref(one),
        };
        // Checked before any value is looked at: the work of an operation stays bounded.
        check_count(def, items.len())?;
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            let item = if def.kind == AttributeType::Complex {
                let mut object = complex(def, def.name, item)?;
                object.retain(|_, v| !v.is_null());
                Value::Object(object)
            } else if item.is_null() {
                Value::Null
            } else {
                simple(def, None, def.name, item)?
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
        complex(def, def.name, value)
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
                        simple(sub, Some(def.name), &format!("{label}.{}", sub.name), v)?
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
    pub(super) fn creates_on_unmatched_filter(
        kind: OpKind,
        sub: Option<&'static AttributeDef>,
    ) -> bool {
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
        attr: &'static AttributeDef,
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

    /// Identity of multi-valued values for `add`: equal JSON, or, when the `value`
    /// sub-attribute is immutable (Group `members`), the same `value`.
    pub(super) fn same_value(attr: &AttributeDef, a: &Value, b: &Value) -> bool {
        if a == b {
            return true;
        }
        by_value(attr) && a.get("value").is_some_and(|v| Some(v) == b.get("value"))
    }

    fn by_value(attr: &AttributeDef) -> bool {
        attr.sub_attribute("value")
            .is_some_and(|v| v.mutability == Mutability::Immutable)
    }

    /// The values of a list by [`same_value`] identity: a hash of what identifies a value, to
    /// the positions holding values with that hash. Finding a value costs the values sharing
    /// its hash, not the list. The hasher is seeded per index, so a client cannot choose values
    /// that collide.
    pub(super) struct ValueIndex {
        attr: &'static AttributeDef,
        state: std::collections::hash_map::RandomState,
        positions: std::collections::HashMap<u64, Vec<usize>>,
    }

    impl ValueIndex {
        /// Indexes every value of `list`.
        pub(super) fn of(attr: &'static AttributeDef, list: &[Value]) -> ValueIndex {
            let mut index = ValueIndex {
                attr,
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
                .find(|&i| list.get(i).is_some_and(|e| same_value(self.attr, e, item)))
        }

        /// Equal under [`same_value`] ⇒ equal keys: by `value` alone where that identifies a
        /// value, else by the whole value (object members in any order, as JSON equality).
        fn key(&self, v: &Value) -> u64 {
            use std::hash::{BuildHasher, Hasher};
            let mut hasher = self.state.build_hasher();
            match v.get("value") {
                Some(id) if by_value(self.attr) => hash_json(id, &mut hasher),
                _ => hash_json(v, &mut hasher),
            }
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
}

#[cfg(test)]
mod tests {
    use super::super::error::ScimType;
    use super::super::schema::{
        ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, USER, USER_RESOURCE, USER_SCHEMA,
    };
    use super::*;
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

    fn group() -> Value {
        json!({
            "schemas": [GROUP_SCHEMA],
            "displayName": "Tour Guides",
            "members": [
                {"value": "2819c223-7f76-453a-919d-413861904646"},
                {"value": "902c246b-6245-4190-8e05-00816be7344a"}
            ]
        })
    }

    const BABS: &str = "2819c223-7f76-453a-919d-413861904646";
    const MANDY: &str = "902c246b-6245-4190-8e05-00816be7344a";
    const JAMES: &str = "08e1d05d-121c-4561-8b96-473d93df9210";

    #[test]
    fn rfc_7644_add_examples() {
        let empty = json!({"schemas": [GROUP_SCHEMA], "displayName": "Tour Guides"});
        let added = ok(
            &GROUP_RESOURCE,
            &empty,
            json!([{"op": "add", "path": "members", "value": [{
                "display": "Babs Jensen",
                "$ref": "https://example.com/v2/Users/2819c223-7f76-453a-919d-413861904646",
                "value": BABS
            }]}]),
        );
        assert_eq!(
            added,
            json!({"schemas": [GROUP_SCHEMA], "displayName": "Tour Guides", "members": [{
                "$ref": "https://example.com/v2/Users/2819c223-7f76-453a-919d-413861904646",
                "value": BABS
            }]})
        );

        let patched = ok(
            &USER_RESOURCE,
            &user(),
            json!([{"op": "add", "value": {
                "emails": [{"value": "babs@jensen.org", "type": "home"}],
                "nickname": "Babs"
            }}]),
        );
        assert_eq!(patched["nickName"], "Babs");
        assert_eq!(
            patched["emails"],
            json!([
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "babs@jensen.org", "type": "home"}
            ])
        );
        assert!(patched.get("nickname").is_none());
    }

    #[test]
    fn rfc_7644_remove_examples() {
        let one = ok(
            &GROUP_RESOURCE,
            &group(),
            json!([{"op": "remove", "path": format!("members[value eq \"{BABS}\"]")}]),
        );
        assert_eq!(one["members"], json!([{"value": MANDY}]));

        let all = ok(
            &GROUP_RESOURCE,
            &group(),
            json!([{"op": "remove", "path": "members"}]),
        );
        assert_eq!(
            all,
            json!({"schemas": [GROUP_SCHEMA], "displayName": "Tour Guides"})
        );

        let swapped = ok(
            &GROUP_RESOURCE,
            &group(),
            json!([
                {"op": "remove", "path": format!("members[value eq \"{BABS}\"]")},
                {"op": "add", "path": "members", "value": [{
                    "display": "James Smith",
                    "$ref": format!("https://example.com/v2/Users/{JAMES}"),
                    "value": JAMES
                }]}
            ]),
        );
        assert_eq!(
            swapped["members"],
            json!([
                {"value": MANDY},
                {"value": JAMES, "$ref": format!("https://example.com/v2/Users/{JAMES}")}
            ])
        );

        let mut two_emails = user();
        two_emails["emails"] = json!([
            {"value": "bjensen@example.com", "type": "work"},
            {"value": "babs@jensen.org", "type": "home"}
        ]);
        let filtered = ok(
            &USER_RESOURCE,
            &two_emails,
            json!([{"op": "remove", "path": "emails[type eq \"work\" and value ew \"example.com\"]"}]),
        );
        assert_eq!(
            filtered["emails"],
            json!([{"value": "babs@jensen.org", "type": "home"}])
        );

        let family = ok(
            &USER_RESOURCE,
            &user(),
            json!([{"op": "remove", "path": "name.familyName"}]),
        );
        assert_eq!(family["name"], json!({"givenName": "Barbara"}));
        let both = ok(
            &USER_RESOURCE,
            &user(),
            json!([
                {"op": "remove", "path": "name.familyName"},
                {"op": "remove", "path": "name.givenName"}
            ]),
        );
        assert!(both.get("name").is_none());
    }

    #[test]
    fn rfc_7644_replace_examples() {
        let members = ok(
            &GROUP_RESOURCE,
            &group(),
            json!([{"op": "replace", "path": "members", "value": [
                {"display": "Babs Jensen", "value": BABS},
                {"display": "James Smith", "value": JAMES}
            ]}]),
        );
        assert_eq!(
            members["members"],
            json!([{"value": BABS}, {"value": JAMES}])
        );

        let mut with_address = user();
        with_address["addresses"] = json!([
            {"type": "work", "streetAddress": "100 Universal City Plaza", "locality": "Hollywood"},
            {"type": "home", "streetAddress": "1 Home St"}
        ]);
        let address = ok(
            &USER_RESOURCE,
            &with_address,
            json!([{"op": "replace", "path": "addresses[type eq \"work\"]", "value": {
                "type": "work",
                "streetAddress": "911 Universal City Plaza",
                "locality": "Hollywood",
                "region": "CA",
                "postalCode": "91608",
                "country": "US",
                "formatted": "911 Universal City Plaza\nHollywood, CA 91608 US",
                "primary": true
            }}]),
        );
        assert_eq!(
            address["addresses"],
            json!([
                {
                    "type": "work",
                    "streetAddress": "911 Universal City Plaza",
                    "locality": "Hollywood",
                    "region": "CA",
                    "postalCode": "91608",
                    "country": "US",
                    "formatted": "911 Universal City Plaza\nHollywood, CA 91608 US",
                    "primary": true
                },
                {"type": "home", "streetAddress": "1 Home St"}
            ])
        );

        let street = ok(
            &USER_RESOURCE,
            &with_address,
            json!([{"op": "replace", "path": "addresses[type eq \"work\"].streetAddress", "value": "1111 Broad St."}]),
        );
        assert_eq!(
            street["addresses"],
            json!([
                {"type": "work", "streetAddress": "1111 Broad St.", "locality": "Hollywood"},
                {"type": "home", "streetAddress": "1 Home St"}
            ])
        );

        let pathless = ok(
            &USER_RESOURCE,
            &user(),
            json!([{"op": "replace", "value": {
                "emails": [
                    {"value": "bjensen@example.com", "type": "work", "primary": true},
                    {"value": "babs@jensen.org", "type": "home"}
                ],
                "nickName": "Babs"
            }}]),
        );
        assert_eq!(
            pathless["emails"],
            json!([
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "babs@jensen.org", "type": "home"}
            ])
        );
        assert_eq!(pathless["nickName"], "Babs");

        let given = ok(
            &USER_RESOURCE,
            &user(),
            json!([{"op": "replace", "path": "name", "value": {"givenName": "Babs", "middleName": null}}]),
        );
        assert_eq!(
            given["name"],
            json!({"givenName": "Babs", "familyName": "Jensen"})
        );

        let unassigned = ok(
            &USER_RESOURCE,
            &user(),
            json!([{"op": "replace", "path": "nickName", "value": "Babs"}]),
        );
        assert_eq!(unassigned["nickName"], "Babs");
    }

    #[test]
    fn okta_shapes() {
        let deactivated = ok(
            &USER_RESOURCE,
            &user(),
            json!([{"op": "replace", "value": {"active": false}}]),
        );
        let mut want = user();
        want["active"] = json!(false);
        assert_eq!(deactivated, want);

        let by_path = ok(
            &USER_RESOURCE,
            &user(),
            json!([{"op": "replace", "path": "active", "value": false}]),
        );
        assert_eq!(by_path, want);

        let renamed = ok(
            &GROUP_RESOURCE,
            &group(),
            json!([{"op": "replace", "value": {"id": "abf4dd94-a4c0-4f67-89c9-76b03340cb9b", "displayName": "Tour Guides 2"}}]),
        );
        let mut want = group();
        want["displayName"] = json!("Tour Guides 2");
        assert_eq!(renamed, want);

        let membership = ok(
            &GROUP_RESOURCE,
            &group(),
            json!([
                {"op": "remove", "path": format!("members[value eq \"{MANDY}\"]")},
                {"op": "add", "path": "members", "value": [
                    {"value": JAMES, "display": "james@example.com"},
                    {"value": BABS, "display": "babs@example.com"}
                ]}
            ]),
        );
        assert_eq!(
            membership["members"],
            json!([{"value": BABS}, {"value": JAMES}])
        );

        let push = ok(
            &GROUP_RESOURCE,
            &group(),
            json!([{"op": "replace", "path": "members", "value": [{"value": JAMES, "display": "James"}]}]),
        );
        assert_eq!(push["members"], json!([{"value": JAMES}]));
    }

    #[test]
    fn entra_shapes() {
        let disabled = ok(
            &USER_RESOURCE,
            &user(),
            json!([{"op": "Replace", "path": "active", "value": "False"}]),
        );
        assert_eq!(disabled["active"], json!(false));
        let enabled = ok(
            &USER_RESOURCE,
            &disabled,
            json!([{"op": "Replace", "path": "Active", "value": "True"}]),
        );
        assert_eq!(enabled["active"], json!(true));

        let optscim = ok(
            &USER_RESOURCE,
            &user(),
            json!([{"op": "replace", "value": {
                "displayName": "Babs J",
                "name.givenName": "Babs",
                "name.familyName": "Jensen-Smith",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "701984",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager": "26118915",
                "active": "False",
                "UserName": "babs"
            }}]),
        );
        assert_eq!(
            optscim,
            json!({
                "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
                "userName": "babs",
                "externalId": "bjensen-ext",
                "displayName": "Babs J",
                "name": {"givenName": "Babs", "familyName": "Jensen-Smith"},
                "active": false,
                "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}],
                ENTERPRISE_USER_SCHEMA: {"employeeNumber": "701984", "manager": {"value": "26118915"}}
            })
        );

        let urn_object = ok(
            &USER_RESOURCE,
            &user(),
            json!([{"op": "add", "value": {
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
                    "Department": "Tour Operations",
                    "manager": {"value": "m1", "displayName": "ignored: readOnly"}
                }
            }}]),
        );
        assert_eq!(
            urn_object[ENTERPRISE_USER_SCHEMA],
            json!({"department": "Tour Operations", "manager": {"value": "m1"}})
        );
        assert_eq!(
            urn_object["schemas"],
            json!([USER_SCHEMA, ENTERPRISE_USER_SCHEMA])
        );

        let removed = ok(
            &GROUP_RESOURCE,
            &group(),
            json!([{"op": "Remove", "path": "members", "value": [{"value": BABS}]}]),
        );
        assert_eq!(removed["members"], json!([{"value": MANDY}]));

        let removed = ok(
            &GROUP_RESOURCE,
            &group(),
            json!([{"op": "remove", "path": format!("members[value eq \"{MANDY}\"]")}]),
        );
        assert_eq!(removed["members"], json!([{"value": BABS}]));

        let added = ok(
            &GROUP_RESOURCE,
            &group(),
            json!([{"op": "Add", "path": "members", "value": [{"$ref": null, "value": JAMES}, {"$ref": null, "value": BABS}]}]),
        );
        assert_eq!(
            added["members"],
            json!([{"value": BABS}, {"value": MANDY}, {"value": JAMES}])
        );

        let renamed = ok(
            &GROUP_RESOURCE,
            &group(),
            json!([{"op": "Replace", "path": "displayName", "value": "Guides"}]),
        );
        assert_eq!(renamed["displayName"], "Guides");

        let no_email = json!({"schemas": [USER_SCHEMA], "userName": "jy"});
        for op in ["Add", "Replace"] {
            let created = ok(
                &USER_RESOURCE,
                &no_email,
                json!([{"op": op, "path": "emails[type eq \"work\"].value", "value": "jy@example.com"}]),
            );
            assert_eq!(
                created["emails"],
                json!([{"type": "work", "value": "jy@example.com"}]),
                "{op}"
            );
        }

        let updated = ok(
            &USER_RESOURCE,
            &user(),
            json!([
                {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "babs@example.com"},
                {"op": "Replace", "path": "name.familyName", "value": "Smith"},
                {"op": "Replace", "path": "userName", "value": "babs@example.com"}
            ]),
        );
        assert_eq!(
            updated["emails"],
            json!([{"value": "babs@example.com", "type": "work", "primary": true}])
        );
        assert_eq!(updated["name"]["familyName"], "Smith");
        assert_eq!(updated["userName"], "babs@example.com");

        let manager = ok(
            &USER_RESOURCE,
            &user(),
            json!([{"op": "Add", "path": "manager", "value": [{"$ref": null, "value": "m9"}]}]),
        );
        assert_eq!(
            manager[ENTERPRISE_USER_SCHEMA],
            json!({"manager": {"value": "m9"}})
        );
        let unmanaged = ok(
            &USER_RESOURCE,
            &manager,
            json!([{"op": "Remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"}]),
        );
        assert_eq!(unmanaged, user());
    }

    #[test]
    fn entra_documented_update_requests() {
        let without_flag = ok(
            &USER_RESOURCE,
            &user(),
            json!([
                {"op": "Replace", "path": "displayName", "value": "Pvlo"},
                {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "TestBcwqnm@test.microsoft.com"},
                {"op": "Replace", "path": "name.givenName", "value": "Gtfd"},
                {"op": "Replace", "path": "name.familyName", "value": "Pkqf"},
                {"op": "Replace", "path": "externalId", "value": "Eqpj"},
                {"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", "value": "Eqpj"}
            ]),
        );
        assert_eq!(
            without_flag,
            json!({
                "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
                "userName": "bjensen",
                "externalId": "Eqpj",
                "displayName": "Pvlo",
                "name": {"givenName": "Gtfd", "familyName": "Pkqf"},
                "active": true,
                "emails": [{"value": "TestBcwqnm@test.microsoft.com", "type": "work", "primary": true}],
                ENTERPRISE_USER_SCHEMA: {"employeeNumber": "Eqpj"}
            })
        );

        let with_flag = ok(
            &USER_RESOURCE,
            &json!({"schemas": [USER_SCHEMA], "userName": "bjensen", "active": true}),
            json!([
                {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "TestMhvaes@test.microsoft.com"},
                {"op": "replace", "value": {
                    "displayName": "Bjfe",
                    "name.givenName": "Kkom",
                    "name.familyName": "Unua",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "Aklq"
                }}
            ]),
        );
        assert_eq!(
            with_flag,
            json!({
                "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
                "userName": "bjensen",
                "displayName": "Bjfe",
                "name": {"givenName": "Kkom", "familyName": "Unua"},
                "active": true,
                "emails": [{"type": "work", "value": "TestMhvaes@test.microsoft.com"}],
                ENTERPRISE_USER_SCHEMA: {"employeeNumber": "Aklq"}
            })
        );

        for op in ["Add", "add"] {
            let nick = ok(
                &USER_RESOURCE,
                &user(),
                json!([{"op": op, "path": "nickName", "value": "Babs"}]),
            );
            assert_eq!(nick["nickName"], "Babs");
        }
    }

    #[test]
    fn removes_are_idempotent() {
        for path in [
            "members[value eq \"not-a-member\"]".to_owned(),
            "members[value eq \"not-a-member\"].type".to_owned(),
        ] {
            let same = ok(
                &GROUP_RESOURCE,
                &group(),
                json!([{"op": "remove", "path": path}]),
            );
            assert_eq!(same, group(), "{path}");
        }
        let listed = ok(
            &GROUP_RESOURCE,
            &group(),
            json!([{"op": "remove", "path": "members", "value": [{"value": "not-a-member"}]}]),
        );
        assert_eq!(listed, group());
        for path in [
            "nickName",
            "name.middleName",
            "emails[type eq \"home\"]",
            "manager",
        ] {
            let same = ok(
                &USER_RESOURCE,
                &user(),
                json!([{"op": "remove", "path": path}]),
            );
            assert_eq!(same, user(), "{path}");
        }
    }

    #[test]
    fn sub_attribute_of_every_value() {
        let mut two = user();
        two["phoneNumbers"] = json!([{"value": "1", "type": "work"}, {"value": "2"}]);
        let typed = ok(
            &USER_RESOURCE,
            &two,
            json!([{"op": "replace", "path": "phoneNumbers.type", "value": "mobile"}]),
        );
        assert_eq!(
            typed["phoneNumbers"],
            json!([{"value": "1", "type": "mobile"}, {"value": "2", "type": "mobile"}])
        );
        let untyped = ok(
            &USER_RESOURCE,
            &typed,
            json!([{"op": "remove", "path": "phoneNumbers.type"}]),
        );
        assert_eq!(
            untyped["phoneNumbers"],
            json!([{"value": "1"}, {"value": "2"}])
        );
        let created = ok(
            &USER_RESOURCE,
            &user(),
            json!([{"op": "add", "path": "phoneNumbers.value", "value": "555"}]),
        );
        assert_eq!(created["phoneNumbers"], json!([{"value": "555"}]));
        let gone = ok(
            &USER_RESOURCE,
            &created,
            json!([{"op": "remove", "path": "phoneNumbers.value"}]),
        );
        assert!(gone.get("phoneNumbers").is_none());
    }

    #[test]
    fn add_does_not_duplicate_and_moves_primary() {
        let same = ok(
            &USER_RESOURCE,
            &user(),
            json!([{"op": "add", "path": "emails", "value": [{"value": "bjensen@example.com", "type": "work", "primary": true}]}]),
        );
        assert_eq!(same, user());

        let moved = ok(
            &USER_RESOURCE,
            &user(),
            json!([{"op": "add", "path": "emails", "value": {"value": "b@home.org", "type": "home", "primary": "True"}}]),
        );
        assert_eq!(
            moved["emails"],
            json!([
                {"value": "bjensen@example.com", "type": "work", "primary": false},
                {"value": "b@home.org", "type": "home", "primary": true}
            ])
        );

        let via_filter = ok(
            &USER_RESOURCE,
            &moved,
            json!([{"op": "replace", "path": "emails[type eq \"work\"].primary", "value": true}]),
        );
        assert_eq!(
            via_filter["emails"],
            json!([
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "b@home.org", "type": "home", "primary": false}
            ])
        );
    }

    #[test]
    fn null_unassigns_and_unknown_keys_are_ignored() {
        let cleared = ok(
            &USER_RESOURCE,
            &user(),
            json!([
                {"op": "replace", "path": "externalId", "value": null},
                {"op": "replace", "value": {"emails": null, "nosuch": 1, "meta": {"created": "x"}, "groups": [{"value": "g"}], "schemas": ["x"]}}
            ]),
        );
        assert_eq!(
            cleared,
            json!({
                "schemas": [USER_SCHEMA],
                "userName": "bjensen",
                "name": {"givenName": "Barbara", "familyName": "Jensen"},
                "active": true
            })
        );

        let mut with_ext = user();
        with_ext[ENTERPRISE_USER_SCHEMA] = json!({"employeeNumber": "1"});
        with_ext["schemas"] = json!([USER_SCHEMA, ENTERPRISE_USER_SCHEMA]);
        let dropped = ok(
            &USER_RESOURCE,
            &with_ext,
            json!([{"op": "replace", "value": {ENTERPRISE_USER_SCHEMA: null}}]),
        );
        assert_eq!(dropped, user());
    }

    #[test]
    fn operations_are_atomic() {
        let original = object(user());
        let req = PatchRequest::from_json(request(json!([
            {"op": "replace", "path": "displayName", "value": "Changed"},
            {"op": "replace", "path": "active", "value": "yes"}
        ])))
        .unwrap();
        let e = apply(&USER_RESOURCE, &original, &req).unwrap_err();
        assert_eq!(e.scim_type(), Some(ScimType::InvalidValue));
        assert_eq!(e.detail(), "attribute 'active' must be a boolean");
        assert_eq!(original, object(user()));
    }

    #[test]
    fn error_cases() {
        let u = user();
        let g = group();
        let cases: Vec<(&ResourceTypeDef, &Value, Value, ScimType, &str)> = vec![
            (
                &USER_RESOURCE,
                &u,
                json!([{"op": "replace", "path": "id", "value": "x"}]),
                ScimType::Mutability,
                "'id' is readOnly",
            ),
            (
                &USER_RESOURCE,
                &u,
                json!([{"op": "replace", "path": "meta.created", "value": "2020-01-01T00:00:00Z"}]),
                ScimType::Mutability,
                "'meta.created' is readOnly",
            ),
            (
                &USER_RESOURCE,
                &u,
                json!([{"op": "add", "path": "groups", "value": [{"value": "g"}]}]),
                ScimType::Mutability,
                "'groups' is readOnly",
            ),
            (
                &USER_RESOURCE,
                &u,
                json!([{"op": "replace", "path": "manager.displayName", "value": "x"}]),
                ScimType::Mutability,
                "'manager.displayName' is readOnly",
            ),
            (
                &USER_RESOURCE,
                &u,
                json!([{"op": "remove", "path": "userName"}]),
                ScimType::Mutability,
                "'userName' is required and cannot be removed",
            ),
            (
                &USER_RESOURCE,
                &u,
                json!([{"op": "replace", "path": "userName", "value": null}]),
                ScimType::Mutability,
                "'userName' is required and cannot be removed",
            ),
            (
                &USER_RESOURCE,
                &u,
                json!([{"op": "replace", "value": {"userName": null}}]),
                ScimType::Mutability,
                "'userName' is required and cannot be removed",
            ),
            (
                &GROUP_RESOURCE,
                &g,
                json!([{"op": "remove", "path": "displayName"}]),
                ScimType::Mutability,
                "'displayName' is required and cannot be removed",
            ),
            (
                &GROUP_RESOURCE,
                &g,
                json!([{"op": "replace", "path": format!("members[value eq \"{BABS}\"].value"), "value": JAMES}]),
                ScimType::Mutability,
                "'members.value' is immutable",
            ),
            (
                &GROUP_RESOURCE,
                &g,
                json!([{"op": "replace", "path": format!("members[value eq \"{BABS}\"]"), "value": {"value": JAMES}}]),
                ScimType::Mutability,
                "'members.value' is immutable",
            ),
            (
                &USER_RESOURCE,
                &u,
                json!([{"op": "replace", "path": "emails[type eq \"home\"]", "value": {"value": "a@b"}}]),
                ScimType::NoTarget,
                "no value of 'emails' matches the filter",
            ),
            (
                &USER_RESOURCE,
                &u,
                json!([{"op": "add", "path": "emails[type eq \"home\" or type eq \"other\"].value", "value": "a@b"}]),
                ScimType::NoTarget,
                "no value of 'emails' matches the filter, and it is not a conjunction of eq comparisons a value could be created from",
            ),
            (
                &USER_RESOURCE,
                &u,
                json!([{"op": "remove"}]),
                ScimType::NoTarget,
                "remove needs a \"path\" (RFC 7644 §3.5.2.2)",
            ),
            (
                &USER_RESOURCE,
                &u,
                json!([{"op": "remove", "value": {"active": true}}]),
                ScimType::NoTarget,
                "remove needs a \"path\" (RFC 7644 §3.5.2.2)",
            ),
            (
                &USER_RESOURCE,
                &u,
                json!([{"op": "replace", "path": "nosuch", "value": 1}]),
                ScimType::InvalidPath,
                "unknown attribute 'nosuch'",
            ),
            (
                &USER_RESOURCE,
                &u,
                json!([{"op": "replace", "path": "name.nosuch", "value": 1}]),
                ScimType::InvalidPath,
                "unknown attribute 'name.nosuch'",
            ),
            (
                &USER_RESOURCE,
                &u,
                json!([{"op": "replace", "path": "emails[nosuch eq \"x\"]", "value": {}}]),
                ScimType::InvalidPath,
                "unknown attribute 'emails.nosuch'",
            ),
            (
                &USER_RESOURCE,
                &u,
                json!([{"op": "replace", "path": "emails[type eq \"work\"].nosuch", "value": 1}]),
                ScimType::InvalidPath,
                "unknown attribute 'emails.nosuch'",
            ),
            (
                &USER_RESOURCE,
                &u,
                json!([{"op": "replace", "path": "name[givenName eq \"x\"]", "value": {}}]),
                ScimType::InvalidPath,
                "'name' is not a multi-valued complex attribute: it takes no value filter",
            ),
            (
                &USER_RESOURCE,
                &u,
                json!([{"op": "replace", "path": "emails[type eq \"work\"", "value": 1}]),
                ScimType::InvalidPath,
                "expected ']', found the end",
            ),
            (
                &USER_RESOURCE,
                &u,
                json!([{"op": "replace", "path": 7, "value": 1}]),
                ScimType::InvalidPath,
                "\"path\" must be a string, not 7",
            ),
            (
                &USER_RESOURCE,
                &u,
                json!([{"op": "replace", "path": "active", "value": "yes"}]),
                ScimType::InvalidValue,
                "attribute 'active' must be a boolean",
            ),
            (
                &USER_RESOURCE,
                &u,
                json!([{"op": "replace", "path": "userName", "value": 5}]),
                ScimType::InvalidValue,
                "attribute 'userName' must be a string",
            ),
            (
                &USER_RESOURCE,
                &u,
                json!([{"op": "add", "path": "emails", "value": [{"value": 5}]}]),
                ScimType::InvalidValue,
                "attribute 'emails.value' must be a string",
            ),
            (
                &USER_RESOURCE,
                &u,
                json!([{"op": "add", "path": "name", "value": 5}]),
                ScimType::InvalidValue,
                "'name' is complex: expected an object, not 5",
            ),
            (
                &USER_RESOURCE,
                &u,
                json!([{"op": "add", "path": "userName", "value": ["a", "b"]}]),
                ScimType::InvalidValue,
                "'userName' is single-valued, not an array",
            ),
            (
                &USER_RESOURCE,
                &u,
                json!([{"op": "add", "path": "userName"}]),
                ScimType::InvalidValue,
                "add needs a \"value\"",
            ),
            (
                &USER_RESOURCE,
                &u,
                json!([{"op": "replace", "value": "x"}]),
                ScimType::InvalidValue,
                "replace without a \"path\" takes an object of attributes",
            ),
            (
                &USER_RESOURCE,
                &u,
                json!([{"op": "replace", "value": {ENTERPRISE_USER_SCHEMA: "x"}}]),
                ScimType::InvalidValue,
                "\"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\" must be an object of attributes, not \"x\"",
            ),
            (
                &USER_RESOURCE,
                &u,
                json!([]),
                ScimType::InvalidValue,
                "\"Operations\" is empty",
            ),
            (
                &USER_RESOURCE,
                &u,
                json!([{"op": "copy", "path": "userName"}]),
                ScimType::InvalidSyntax,
                "unknown op \"copy\": expected add, remove or replace",
            ),
            (
                &USER_RESOURCE,
                &u,
                json!([{"path": "userName"}]),
                ScimType::InvalidSyntax,
                "an operation needs an \"op\"",
            ),
            (
                &USER_RESOURCE,
                &u,
                json!(["add"]),
                ScimType::InvalidSyntax,
                "each element of \"Operations\" is an object",
            ),
        ];
        for (rt, resource, ops, scim_type, detail) in cases {
            assert_eq!(
                err(rt, resource, ops.clone()),
                (Some(scim_type), detail.to_owned()),
                "{ops}"
            );
        }
    }

    #[test]
    fn request_envelope() {
        let lenient = PatchRequest::from_json(json!({
            "OPERATIONS": [{"OP": "Replace", "Path": "active", "Value": false}]
        }))
        .unwrap();
        assert_eq!(
            lenient.operations,
            vec![PatchOperation {
                op: OpKind::Replace,
                path: Some(PatchPath::parse("active").unwrap()),
                value: Some(json!(false)),
            }]
        );
        let schemas_ci = PatchRequest::from_json(json!({
            "schemas": ["URN:IETF:PARAMS:SCIM:API:MESSAGES:2.0:PATCHOP"],
            "Operations": [{"op": "add", "path": "", "value": {"nickName": "x"}}]
        }))
        .unwrap();
        assert_eq!(schemas_ci.operations[0].path, None);

        for (body, scim_type, detail) in [
            (
                json!([]),
                ScimType::InvalidSyntax,
                "a PATCH body is a JSON object with \"schemas\" and \"Operations\"",
            ),
            (
                json!({"schemas": [USER_SCHEMA], "Operations": []}),
                ScimType::InvalidSyntax,
                "\"schemas\" must be [\"urn:ietf:params:scim:api:messages:2.0:PatchOp\"]",
            ),
            (
                json!({"schemas": [PATCH_OP_SCHEMA]}),
                ScimType::InvalidSyntax,
                "\"Operations\" is missing",
            ),
            (
                json!({"schemas": [PATCH_OP_SCHEMA], "Operations": {}}),
                ScimType::InvalidSyntax,
                "\"Operations\" must be an array",
            ),
        ] {
            let e = PatchRequest::from_json(body).unwrap_err();
            assert_eq!((e.scim_type(), e.detail()), (Some(scim_type), detail));
        }
    }

    #[test]
    fn tells_member_operations_apart() {
        let req = PatchRequest::from_json(request(json!([
            {"op": "add", "path": "members", "value": [{"value": "u"}]},
            {"op": "remove", "path": "MEMBERS[value eq \"u\"]"},
            {"op": "replace", "value": {"id": "g", "displayName": "x"}},
            {"op": "replace", "value": {"members": []}},
            {"op": "replace", "path": "displayName", "value": "y"}
        ])))
        .unwrap();
        let flags: Vec<bool> = req
            .operations
            .iter()
            .map(PatchOperation::targets_members)
            .collect();
        assert_eq!(flags, [true, true, false, true, false]);
        assert!(req.operations[4].targets_attribute(&GROUP_RESOURCE, "displayname"));
    }

    /// The engine as it was before values were indexed: a linear scan and a `claim_primary`
    /// per value. The indexed one must give the same lists.
    /// Except that a value is found as given (a scan of the list compared with values earlier
    /// claims had made non-primary, and stored such a value twice), and a value given again as
    /// primary is primary.
    fn naive_add(attr: &'static AttributeDef, mut list: Vec<Value>, items: &[Value]) -> Vec<Value> {
        let mut given = list.clone();
        for item in items {
            let index = match given.iter().position(|e| quirks::same_value(attr, e, item)) {
                Some(i) => i,
                None => {
                    list.push(item.clone());
                    given.push(item.clone());
                    list.len() - 1
                }
            };
            if is_primary(item)
                && let Some(Value::Object(o)) = list.get_mut(index)
            {
                o.insert("primary".to_owned(), Value::Bool(true));
            }
            claim_primary(&mut list, index);
        }
        list
    }

    #[test]
    fn indexed_add_gives_the_lists_a_scan_gives() {
        let emails = USER.attribute("emails").unwrap();
        let e = |v: &str, primary: Option<bool>| match primary {
            Some(p) => json!({"value": v, "primary": p}),
            None => json!({"value": v}),
        };
        let lists = [
            vec![],
            vec![e("a", Some(true)), e("b", Some(true))],
            vec![e("a", Some(true)), e("b", None)],
            vec![e("a", None), e("b", Some(true)), e("c", Some(false))],
        ];
        let adds = [
            vec![e("a", Some(true))],
            vec![e("b", Some(true)), e("c", Some(true))],
            vec![e("c", Some(true)), e("a", Some(true)), e("d", Some(false))],
            vec![
                e("b", Some(true)),
                e("d", None),
                e("a", Some(true)),
                e("b", Some(true)),
            ],
            vec![e("c", Some(true)), e("a", Some(true)), e("c", Some(true))],
            vec![e("x", None), e("x", None), e("y", Some(false))],
            vec![json!({"primary": true, "value": "a"}), e("z", Some(true))],
        ];
        for list in &lists {
            for add in &adds {
                let expected = naive_add(emails, list.clone(), add);
                let mut doc = Map::new();
                doc.insert("emails".to_owned(), Value::Array(list.clone()));
                doc.insert("userName".to_owned(), json!("u"));
                let got = ok(
                    &USER_RESOURCE,
                    &Value::Object(doc),
                    json!([{"op": "add", "path": "emails", "value": add}]),
                );
                let got = got.get("emails").cloned().unwrap_or(json!([]));
                assert_eq!(got, Value::Array(expected), "{list:?} + {add:?}");
            }
        }
    }

    #[test]
    fn a_value_repeated_in_one_add_is_the_value_as_given() {
        // A scan compared with values already made non-primary, and stored "c" twice; the
        // last claim wins, as for distinct values.
        let patched = ok(
            &USER_RESOURCE,
            &json!({"schemas": [USER_SCHEMA], "userName": "u"}),
            json!([{"op": "add", "path": "emails", "value": [
                {"value": "c", "primary": true},
                {"value": "a", "primary": true},
                {"value": "c", "primary": true}
            ]}]),
        );
        assert_eq!(
            patched["emails"],
            json!([{"value": "c", "primary": true}, {"value": "a", "primary": false}])
        );
    }

    #[test]
    fn group_members_are_identified_by_value_in_the_index() {
        let patched = ok(
            &GROUP_RESOURCE,
            &group(),
            json!([{"op": "add", "path": "members", "value": [
                {"value": BABS}, {"value": JAMES}, {"value": JAMES}
            ]}]),
        );
        assert_eq!(
            patched["members"],
            json!([{"value": BABS}, {"value": MANDY}, {"value": JAMES}])
        );
    }

    #[test]
    fn multi_valued_attributes_are_capped() {
        let many: Vec<Value> = (0..52_000)
            .map(|i| json!({"value": format!("u{i}@example.com")}))
            .collect();
        let (t, detail) = err(
            &USER_RESOURCE,
            &user(),
            json!([{"op": "add", "path": "emails", "value": many}]),
        );
        assert_eq!(t, Some(ScimType::InvalidValue));
        assert_eq!(
            detail,
            "'emails' may hold at most 100 values; this request gives it 52000"
        );
        // At the cap: the one stored value and 99 new ones.
        let at_cap: Vec<Value> = (1..MAX_VALUES)
            .map(|i| json!({"value": format!("u{i}@example.com")}))
            .collect();
        let patched = ok(
            &USER_RESOURCE,
            &user(),
            json!([{"op": "add", "path": "emails", "value": at_cap.clone()}]),
        );
        assert_eq!(patched["emails"].as_array().map(Vec::len), Some(MAX_VALUES));
        // One more, through a second operation, is refused.
        let (t, detail) = err(
            &USER_RESOURCE,
            &user(),
            json!([
                {"op": "add", "path": "emails", "value": at_cap},
                {"op": "add", "path": "emails[type eq \"home\"].value", "value": "h@example.com"}
            ]),
        );
        assert_eq!(t, Some(ScimType::InvalidValue));
        assert!(detail.contains("gives it 101"), "{detail}");
    }

    #[test]
    fn operations_are_capped() {
        let ops: Vec<Value> = (0..=MAX_OPERATIONS)
            .map(|_| json!({"op": "replace", "path": "nickName", "value": "x"}))
            .collect();
        let e = PatchRequest::from_json(request(Value::Array(ops))).unwrap_err();
        assert_eq!(e.scim_type(), Some(ScimType::InvalidValue));
        assert!(e.detail().contains("at most 1000"), "{}", e.detail());
    }

    #[test]
    fn filtered_remove_of_many_hits_keeps_the_rest_in_order() {
        let emails: Vec<Value> = (0..10)
            .map(|i| json!({"value": format!("{i}@x"), "type": if i % 2 == 0 { "work" } else { "home" }}))
            .collect();
        let mut doc = object(user());
        doc.insert("emails".to_owned(), Value::Array(emails));
        let patched = ok(
            &USER_RESOURCE,
            &Value::Object(doc),
            json!([{"op": "remove", "path": "emails[type eq \"work\"]"}]),
        );
        let left: Vec<&str> = patched["emails"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["value"].as_str())
            .collect();
        assert_eq!(left, ["1@x", "3@x", "5@x", "7@x", "9@x"]);
    }
}
