//! The PATCH engine (RFC 7644 §3.5.2): [`apply`], a pure function from a stored resource and a
//! request to the patched resource.

use serde_json::{Map, Value};

use super::path::PatchPath;
use super::quirks;
use super::request::{OpKind, PatchOperation, PatchRequest};
use super::target::{
    Target, check_count, into_list, into_object, is_unassigned, take, take_object,
};
use crate::scim::error::ScimError;
use crate::scim::filter::Filter;
use crate::scim::schema::{
    AttributeDef, AttributeType, GROUP, GROUP_RESOURCE, Mutability, ResourceTypeDef, SchemaDef,
};

/// Apply every operation of `request`, in order, to `resource` (RFC 7644 §3.5.2).
///
/// `resource` is the stored JSON object: canonical attribute names, extension attributes under
/// the extension URN, a `schemas` array, no `id`/`meta`. The whole request is atomic: the first
/// failing operation's error is returned and nothing is changed (the input is only read).
///
/// Semantics, beyond the RFC text:
/// - Operation and attribute names ignore case; the result uses the schema's canonical names.
/// - `add`: singular values are replaced, complex values merged, multi-valued values appended
///   without duplicating an identical value.
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
///   `mutability`, checked on existing values; removing or nulling a required attribute →
///   `mutability`.
/// - Types: wrong value types → `invalidValue` naming the attribute. Unknown attributes or
///   malformed filters in a path → `invalidPath`.
/// - `primary` (RFC 7643 §2.4): when an operation makes a value primary, `primary` is set to
///   `false` on the attribute's other values, so at most one stays `true`.
/// - A bare extension URN as `path` names the extension's object: `add` merges into it,
///   `replace` replaces the attributes it names (RFC 7644 §3.5.2.3), `remove` removes it (`write_schema`); the core schema's
///   URN → `invalidPath`.
/// - `schemas` of the result: the core URN, plus each extension URN whose object is non-empty.
///
/// Group `members` are not written here: they live in their own table, and their PATCH
/// semantics have one implementation, `provisioning::membership`, to which
/// `provisioning::groups::patch` routes every operation that
/// [`PatchOperation::targets_members`]. An operation on them that reaches the engine is a bug:
/// 500, nothing written.
pub fn apply(
    rt: &ResourceTypeDef,
    resource: &Map<String, Value>,
    request: &PatchRequest,
) -> Result<Map<String, Value>, ScimError> {
    let mut doc = resource.clone();
    for op in &request.operations {
        apply_operation(rt, &mut doc, op)?;
    }
    let mut schemas = vec![Value::String(rt.schema.id.clone())];
    for (ext, _) in &rt.extensions {
        let object = take_object(&mut doc, &ext.id);
        if !object.is_empty() {
            doc.insert(ext.id.to_owned(), Value::Object(object));
            schemas.push(Value::String(ext.id.to_owned()));
        }
    }
    take(&mut doc, "schemas");
    doc.insert("schemas".to_owned(), Value::Array(schemas));
    Ok(doc)
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

/// Whether a write names its target in `path` (errors on readOnly) or is a key of a path-less
/// value (readOnly ignored).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Origin {
    Path,
    PathLess,
}

pub(super) fn apply_operation(
    rt: &ResourceTypeDef,
    doc: &mut Map<String, Value>,
    op: &PatchOperation,
) -> Result<(), ScimError> {
    if let Some(path) = &op.path {
        if let Some(schema) = schema_named(rt, path) {
            return write_schema(rt, doc, op, schema);
        }
        // A bare URN the org has not registered, with an object of its attributes: name the
        // whole path as the URN (not its head, as an attribute path would be read).
        let bare = path.filter.is_none() && path.sub_attr.is_none() && path.attr.sub_attr.is_none();
        let unknown = path
            .attr
            .urn
            .as_deref()
            .is_some_and(|u| rt.schema(u).is_none());
        if bare && unknown && matches!(op.value, Some(Value::Object(_))) {
            return Err(ScimError::unregistered_extension(
                rt.name,
                &path.attr.to_string(),
                true,
            ));
        }
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

/// The schema a path names when it is a bare schema URN (no filter, no sub-attribute):
/// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User`. Parsed as an attribute path, the
/// text before the last `:` is the URN and the last segment the "attribute"; put back together
/// it is looked up among `rt`'s schemas (ignoring case, RFC 7643 §2.1).
pub(super) fn schema_named<'r>(rt: &'r ResourceTypeDef, path: &PatchPath) -> Option<&'r SchemaDef> {
    if path.filter.is_some() || path.sub_attr.is_some() || path.attr.sub_attr.is_some() {
        return None;
    }
    rt.schema(&path.attr.to_string())
}

/// An operation whose path is a bare schema URN (an extension of RFC 7644 §3.5.2, whose paths
/// name attributes; scim2-server and scim2-tester use it). For an extension schema the path
/// names the extension's object as a whole:
/// - `add` with an object merges it into the extension, exactly as the path-less
///   `{"<urn>": {…}}` does (RFC 7644 §3.5.2.1);
/// - `replace` with an object replaces the attributes it names and leaves the others unchanged,
///   as RFC 7644 §3.5.2.3 says of a complex attribute ("sub-attributes that are not specified in
///   the value parameter are left unchanged"); a multi-valued attribute it names is replaced whole;
/// - `remove` without a value removes every attribute of the extension.
///
/// As in the path-less form, keys the extension does not define and readOnly attributes inside
/// the value are ignored, and a `null` value removes. The core schema's URN names no attribute:
/// `invalidPath`, saying what to send instead.
pub(super) fn write_schema(
    rt: &ResourceTypeDef,
    doc: &mut Map<String, Value>,
    op: &PatchOperation,
    schema: &SchemaDef,
) -> Result<(), ScimError> {
    if std::ptr::eq(schema, rt.schema) {
        return Err(ScimError::invalid_path(format!(
            "'{}' is the core schema, not an attribute: name an attribute in \"path\" \
             (\"userName\", \"name.givenName\"), or leave \"path\" out and give an object of \
             attributes as the value (RFC 7644 §3.5.2)",
            schema.id
        )));
    }
    // Removes every attribute of the extension (and its URN from `schemas`, in `write`).
    let clear = |doc: &mut Map<String, Value>| {
        let null = Map::from_iter([(schema.id.to_owned(), Value::Null)]);
        for (target, _) in quirks::path_less_entries(rt, &null)? {
            write(doc, OpKind::Remove, &target, None, Origin::PathLess)?;
        }
        Ok::<(), ScimError>(())
    };
    let value = match (op.op, &op.value) {
        (OpKind::Remove, None) | (_, Some(Value::Null)) => return clear(doc),
        (OpKind::Remove, Some(_)) => {
            return Err(ScimError::invalid_value(format!(
                "remove with the path '{}' removes the whole extension and takes no \"value\"; \
                 to remove some of its attributes, name them: '{}:<attribute>'",
                schema.id, schema.id
            )));
        }
        (_, None) => {
            return Err(ScimError::invalid_value(format!(
                "{} with the path '{}' needs an object of the extension's attributes as \"value\"",
                op.op.as_str(),
                schema.id
            )));
        }
        (_, Some(value)) => value,
    };
    let wrapped = Map::from_iter([(schema.id.to_owned(), value.clone())]);
    for (target, v) in quirks::path_less_entries(rt, &wrapped)? {
        write(doc, op.op, &target, Some(v), Origin::PathLess)?;
    }
    Ok(())
}

pub(super) fn resolve_target<'r>(
    rt: &'r ResourceTypeDef,
    path: &PatchPath,
) -> Result<Target<'r>, ScimError> {
    let r = path.attr.resolve(rt).ok_or_else(|| match &path.attr.urn {
        Some(urn) if rt.schema(urn).is_none() => {
            ScimError::unregistered_extension(rt.name, urn, true)
        }
        _ => ScimError::invalid_path(format!("unknown attribute '{}'", path.attr)),
    })?;
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

pub(super) fn write(
    doc: &mut Map<String, Value>,
    kind: OpKind,
    target: &Target,
    value: Option<&Value>,
    origin: Origin,
) -> Result<(), ScimError> {
    if is_group_members(target.attr) {
        return Err(ScimError::internal_from(
            "the PATCH engine was given an operation on Group members, which only \
             provisioning::membership writes",
        ));
    }
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
    let mut object = take_object(doc, &extension.id);
    let result = write_in(&mut object, kind, target, value);
    if !object.is_empty() {
        doc.insert(extension.id.to_owned(), Value::Object(object));
    }
    result
}

/// Write `target` inside `container` (the resource, or an extension's object).
pub(super) fn write_in(
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
    let current = take(container, &attr.name).filter(|v| !is_unassigned(v));
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

/// The attribute as a whole: `emails`, `userName`, `name`.
pub(super) fn whole(
    attr: &AttributeDef,
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
        let mut known = quirks::ValueIndex::of(&list);
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
    let new = quirks::normalize_value(attr, &attr.name, value)?;
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
pub(super) fn singular_sub(
    attr: &AttributeDef,
    sub: &AttributeDef,
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
pub(super) fn every_value_sub(
    attr: &AttributeDef,
    sub: &AttributeDef,
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
pub(super) fn selected(
    attr: &AttributeDef,
    filter: &Filter,
    sub: Option<&AttributeDef>,
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
        append(&mut list, Value::Object(element));
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
            for s in &attr.sub_attributes {
                if s.mutability == Mutability::Immutable
                    && let Some(was) = old.get(&s.name)
                    && new.get(&s.name) != Some(was)
                {
                    return Err(ScimError::mutability(format!(
                        "'{}' is immutable",
                        label(attr, s)
                    )));
                }
            }
            for s in attr.sub_attributes.iter().filter(|s| s.is_read_only()) {
                if let Some(kept) = old.get(&s.name) {
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
pub(super) fn merge(
    attr: &AttributeDef,
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
pub(super) fn set_sub(
    attr: &AttributeDef,
    object: &mut Map<String, Value>,
    sub: &AttributeDef,
    v: Value,
) -> Result<(), ScimError> {
    let old = take(object, &sub.name).filter(|o| !is_unassigned(o));
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

/// Append a value unless an identical one is there (RFC 7644 §3.5.2.1).
pub(super) fn append(list: &mut Vec<Value>, item: Value) {
    let index = match list.iter().position(|e| quirks::same_value(e, &item)) {
        Some(i) => i,
        None => {
            list.push(item);
            list.len() - 1
        }
    };
    claim_primary(list, index);
}

/// If `list[keep]` is primary, make every other value non-primary (RFC 7643 §2.4).
pub(super) fn claim_primary(list: &mut [Value], keep: usize) {
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

pub(super) fn is_primary(v: &Value) -> bool {
    v.get("primary") == Some(&Value::Bool(true))
}

/// [`claim_primary`] for a sequence of claims, in time linear in the list: the claims of one
/// operation are recorded, and the values they make non-primary are cleared once, by
/// [`Primaries::finish`] (or, for a value about to change, by [`Primaries::settle`]). The
/// result is the one [`claim_primary`] after each claim gives.
#[derive(Debug, Default)]
pub(super) struct Primaries {
    /// The last value that claimed `primary`.
    pub(super) winner: Option<usize>,
    /// The list's length at that claim: values at or past it came later and were not cleared.
    pub(super) cleared_below: usize,
}

impl Primaries {
    /// Makes `list[k]` what the claims so far made it: non-primary, if a claim of another
    /// value cleared it.
    pub(super) fn settle(&self, list: &mut [Value], k: usize) {
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
    pub(super) fn claim(&mut self, primary: bool, k: usize, len: usize) {
        if primary {
            self.winner = Some(k);
            self.cleared_below = len;
        }
    }

    /// Applies the recorded claims: the last value that claimed `primary` keeps it.
    pub(super) fn finish(self, list: &mut [Value]) {
        if let Some(w) = self.winner {
            claim_primary(list, w);
        }
    }
}

/// Checks that no multi-valued attribute of `resource` (core or extension) holds more than
/// [`super::MAX_VALUES`] values: what a POST or PUT of a user is held to, as the patch engine
/// holds a PATCH. (Group `members` are bounded per request instead,
/// [`super::MAX_MEMBERS_PER_REQUEST`].)
pub fn check_value_counts(
    rt: &ResourceTypeDef,
    resource: &Map<String, Value>,
) -> Result<(), ScimError> {
    let mut schemas = vec![(rt.schema, resource)];
    for (ext, _) in &rt.extensions {
        if let Some(Value::Object(object)) = resource.get(&ext.id) {
            schemas.push((&**ext, object));
        }
    }
    for (schema, object) in schemas {
        for attr in schema.attributes.iter().filter(|a| a.multi_valued) {
            if let Some(Value::Array(values)) = object.get(&attr.name) {
                check_count(attr, values.len())?;
            }
        }
    }
    Ok(())
}

/// Whether `attr` is the Group schema's `members` (RFC 7643 §4.2), which the engine never writes.
pub(super) fn is_group_members(attr: &AttributeDef) -> bool {
    GROUP
        .attribute("members")
        .is_some_and(|members| std::ptr::eq(members, attr))
}

pub(super) fn label(attr: &AttributeDef, sub: &AttributeDef) -> String {
    format!("{}.{}", attr.name, sub.name)
}
