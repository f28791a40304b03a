//! The `attributes` / `excludedAttributes` projection (RFC 7644 §3.4.2.5, §3.9).

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::scim::error::ScimError;
use crate::scim::filter::{Filter, check_cost, parse_value_path};
use crate::scim::path::AttrPath;
use crate::scim::schema::{AttributeDef, AttributeType, ResourceTypeDef, Returned, SchemaDef};

/// `attributes` / `excludedAttributes` of a query (RFC 7644 §3.4.2.5, §3.9), parsed once.
///
/// Attribute names that the resource type does not know are ignored: the RFC does not say what
/// to do with them, and refusing would break clients that send one list to every endpoint
/// (`excludedAttributes=members` on `/Users`). A name that is not an attribute path at all is
/// `invalidValue`. An empty parameter counts as absent. When both parameters are given, an
/// attribute is returned if `attributes` selects it and `excludedAttributes` does not.
///
/// Extension of §3.4.2.5: an entry may be a value path, `emails[type eq "work"]` or
/// `emails[type eq "work"].value`, on a multi-valued complex attribute. In `attributes` it
/// selects the values its filter matches (and, with `.sub`, only that sub-attribute of them);
/// in `excludedAttributes` it drops the values its filter matches (with `.sub`, only that
/// sub-attribute of them). Selections add up: `emails.value,emails[type eq "work"]` returns the
/// `value` of every email and the whole work ones. A filter entry is held to what a `filter`
/// is: its inner attributes must be sub-attributes of the attribute, the attribute must be
/// multi-valued and complex (else `invalidFilter`), and all the filters of both parameters
/// together count toward the filter bounds ([`crate::scim::filter::MAX_FILTER_TERMS`], …).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Projection {
    pub(super) attributes: Option<Vec<Selector>>,
    pub(super) excluded: Vec<Selector>,
}

/// One entry of `attributes` / `excludedAttributes`, by canonical names.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Selector {
    /// The extension URN; `None` for the core schema and the common attributes.
    pub(super) ext: Option<String>,
    /// `None` selects every attribute of the schema (the parameter named the schema URN).
    pub(super) attr: Option<String>,
    pub(super) sub: Option<String>,
    /// The value filter of `emails[type eq "work"]` (validated, paths relative to `attr`):
    /// the selector names only the values it matches.
    pub(super) filter: Option<Arc<Filter>>,
}

impl Selector {
    /// Names `attr` as a whole (all its values).
    pub(super) fn names_whole(&self, ext: Option<&str>, attr: &str) -> bool {
        self.filter.is_none()
            && self.ext.as_deref() == ext
            && self.attr.as_deref().is_none_or(|a| a == attr)
            && self.sub.is_none()
    }
    /// Names `attr` or a part of it (some values, a sub-attribute).
    pub(super) fn names_within(&self, ext: Option<&str>, attr: &str) -> bool {
        self.ext.as_deref() == ext && self.attr.as_deref().is_none_or(|a| a == attr)
    }
    /// Names the sub-attribute `attr.sub` (of every value, or of those its filter matches).
    pub(super) fn names_sub(&self, ext: Option<&str>, attr: &str, sub: &str) -> bool {
        self.ext.as_deref() == ext
            && self.attr.as_deref() == Some(attr)
            && self.sub.as_deref() == Some(sub)
    }
    /// Whether the selector speaks of `element` (one value of a multi-valued attribute `def`;
    /// `None`: the attribute's value as a whole). Without a filter it speaks of every value.
    fn applies(&self, def: &AttributeDef, element: Option<&Value>) -> bool {
        match &self.filter {
            None => true,
            Some(filter) => element.is_some_and(|e| filter.matches_within(def, e)),
        }
    }
}

impl Projection {
    /// Parse the two query parameters (comma-separated attribute paths, URN-qualified allowed,
    /// RFC 7644 §3.10) against the resource type.
    pub fn parse(
        rt: &ResourceTypeDef,
        attributes: Option<&str>,
        excluded: Option<&str>,
    ) -> Result<Projection, ScimError> {
        let attributes = match attributes.filter(|s| !s.trim().is_empty()) {
            Some(list) => Some(parse_selectors(rt, "attributes", list)?),
            None => None,
        };
        let excluded = match excluded {
            Some(list) => parse_selectors(rt, "excludedAttributes", list)?,
            None => Vec::new(),
        };
        let filters = attributes
            .iter()
            .flatten()
            .chain(&excluded)
            .filter_map(|s| s.filter.as_deref());
        check_cost(filters).map_err(|e| {
            ScimError::too_many(format!(
                "the value filters of attributes/excludedAttributes: {e}"
            ))
        })?;
        Ok(Projection {
            attributes,
            excluded,
        })
    }

    /// Whether the top-level attribute `attr` (canonical name such as `members`, or an extension
    /// URN) would appear, at least in part, in the projected resource: lets the store skip loading
    /// it.
    pub fn includes(&self, rt: &ResourceTypeDef, attr: &str) -> bool {
        if let Some(ext) = extension_named(rt, attr) {
            let listed = self
                .attributes
                .as_ref()
                .is_none_or(|list| list.iter().any(|s| s.ext.as_deref() == Some(&ext.id)));
            let dropped = self
                .excluded
                .iter()
                .any(|s| s.ext.as_deref() == Some(&ext.id) && s.attr.is_none());
            return listed && !dropped;
        }
        let Some(def) = rt.core_attribute(attr) else {
            return self.attributes.is_none();
        };
        match def.returned {
            Returned::Always => true,
            Returned::Never => false,
            Returned::Default | Returned::Request => {
                if self.excluded.iter().any(|s| s.names_whole(None, &def.name)) {
                    return false;
                }
                match &self.attributes {
                    Some(list) => list.iter().any(|s| s.names_within(None, &def.name)),
                    None => def.returned == Returned::Default,
                }
            }
        }
    }

    /// Apply to a rendered resource, honouring `returned` (RFC 7643 §7): `always` (`id`,
    /// `schemas`) can't be excluded; `never` (`password`) is never shown; `default` is shown unless
    /// excluded or left out of a given `attributes`; `request` only when `attributes` names it.
    /// Sub-attribute selections (`name.givenName`, `emails.value`, `meta.lastModified`) select
    /// within the complex value, or within each value of a multi-valued attribute. Extension URNs
    /// whose data is projected away are dropped from `schemas`.
    pub fn apply(&self, rt: &ResourceTypeDef, resource: Value) -> Value {
        let Value::Object(map) = resource else {
            return resource;
        };
        let mut out = Map::new();
        for (key, value) in map {
            if key == "schemas" {
                out.insert(key, value);
            } else if let Some(ext) = extension_named(rt, &key) {
                let Value::Object(inner) = value else {
                    continue;
                };
                let kept: Map<String, Value> = inner
                    .into_iter()
                    .filter_map(|(k, v)| match ext.attribute(&k) {
                        Some(def) => self.project(Some(&ext.id), def, v).map(|v| (k, v)),
                        None => self.attributes.is_none().then_some((k, v)),
                    })
                    .collect();
                if !kept.is_empty() {
                    out.insert(key, Value::Object(kept));
                }
            } else {
                match rt.core_attribute(&key) {
                    Some(def) => {
                        if let Some(v) = self.project(None, def, value) {
                            out.insert(key, v);
                        }
                    }
                    // Not in the schema: treat as `returned: default`.
                    None => {
                        if self.attributes.is_none() {
                            out.insert(key, value);
                        }
                    }
                }
            }
        }
        let present: Vec<String> = out.keys().map(|k| k.to_ascii_lowercase()).collect();
        if let Some(Value::Array(schemas)) = out.get_mut("schemas") {
            schemas.retain(
                |urn| match urn.as_str().and_then(|u| extension_named(rt, u)) {
                    Some(ext) => present.contains(&ext.id.to_ascii_lowercase()),
                    None => true,
                },
            );
        }
        Value::Object(out)
    }

    /// The projected value of one attribute, or `None` when it is not returned.
    pub(super) fn project(
        &self,
        ext: Option<&str>,
        def: &AttributeDef,
        value: Value,
    ) -> Option<Value> {
        match def.returned {
            Returned::Always => return Some(value),
            Returned::Never => return None,
            Returned::Default | Returned::Request => {}
        }
        if self.excluded.iter().any(|s| s.names_whole(ext, &def.name)) {
            return None;
        }
        let filtered = self
            .attributes
            .iter()
            .flatten()
            .chain(&self.excluded)
            .any(|s| s.filter.is_some() && s.names_within(ext, &def.name));
        match value {
            // Value filters select value by value: each is projected on its own.
            Value::Array(items) if filtered => {
                let kept: Vec<Value> = items
                    .into_iter()
                    .filter_map(|item| self.project_value(ext, def, item.clone(), Some(&item)))
                    .collect();
                (!kept.is_empty()).then_some(Value::Array(kept))
            }
            value => self.project_value(ext, def, value, None),
        }
    }

    /// [`Projection::project`] for the selectors that speak of `element` (one value of a
    /// multi-valued attribute, also given as `value`), or of the whole value when `None`.
    fn project_value(
        &self,
        ext: Option<&str>,
        def: &AttributeDef,
        value: Value,
        element: Option<&Value>,
    ) -> Option<Value> {
        let excluded: Vec<&Selector> = self
            .excluded
            .iter()
            .filter(|s| s.applies(def, element))
            .collect();
        if element.is_some()
            && excluded
                .iter()
                .any(|s| s.filter.is_some() && s.sub.is_none() && s.names_within(ext, &def.name))
        {
            return None;
        }
        let attributes: Option<Vec<&Selector>> = self
            .attributes
            .as_ref()
            .map(|list| list.iter().filter(|s| s.applies(def, element)).collect());
        // A selector of the attribute with no sub-attribute: the whole value (for a filtered
        // one, the whole of this element, which its filter matched).
        let whole = |s: &&Selector| s.names_within(ext, &def.name) && s.sub.is_none();
        // Which sub-attributes survive; `None` = all but `never`, `request` and excluded ones.
        let only: Option<Vec<&str>> = match &attributes {
            Some(list) if list.iter().any(whole) => None,
            Some(list) => {
                let subs: Vec<&str> = list
                    .iter()
                    .filter(|s| s.names_within(ext, &def.name))
                    .filter_map(|s| s.sub.as_deref())
                    .collect();
                if subs.is_empty() {
                    return None;
                }
                Some(subs)
            }
            None if def.returned == Returned::Request => return None,
            None => None,
        };
        if def.sub_attributes.is_empty() {
            return Some(value);
        }
        let keep = |name: &str| -> bool {
            let Some(sub) = def.sub_attribute(name) else {
                return only.is_none();
            };
            match sub.returned {
                Returned::Always => true,
                Returned::Never => false,
                Returned::Default | Returned::Request => {
                    let excluded = excluded
                        .iter()
                        .any(|s| s.names_sub(ext, &def.name, &sub.name));
                    let listed = match &only {
                        Some(subs) => subs.contains(&sub.name.as_str()),
                        None => {
                            sub.returned == Returned::Default
                                || attributes.as_ref().is_some_and(|list| {
                                    list.iter().any(|s| s.names_sub(ext, &def.name, &sub.name))
                                })
                        }
                    };
                    listed && !excluded
                }
            }
        };
        let filter_object = |obj: Map<String, Value>| -> Option<Value> {
            let kept: Map<String, Value> = obj.into_iter().filter(|(k, _)| keep(k)).collect();
            (!kept.is_empty()).then_some(Value::Object(kept))
        };
        match value {
            Value::Object(obj) => filter_object(obj),
            Value::Array(items) => {
                let kept: Vec<Value> = items
                    .into_iter()
                    .filter_map(|item| match item {
                        Value::Object(obj) => filter_object(obj),
                        other => Some(other),
                    })
                    .collect();
                (!kept.is_empty()).then_some(Value::Array(kept))
            }
            other => Some(other),
        }
    }
}

/// The extension schema of `rt` whose URN is `urn`, ignoring case.
pub(super) fn extension_named<'r>(rt: &'r ResourceTypeDef, urn: &str) -> Option<&'r SchemaDef> {
    rt.extensions
        .iter()
        .map(|(s, _)| &**s)
        .find(|s| s.id.eq_ignore_ascii_case(urn))
}

pub(super) fn parse_selectors(
    rt: &ResourceTypeDef,
    param: &str,
    list: &str,
) -> Result<Vec<Selector>, ScimError> {
    let mut out = Vec::new();
    for item in split_list(list) {
        if let Some(schema) = rt.schema(item) {
            let ext = (!std::ptr::eq(schema, rt.schema)).then(|| schema.id.clone());
            out.push(Selector {
                ext,
                attr: None,
                sub: None,
                filter: None,
            });
            continue;
        }
        if item.contains('[') {
            out.extend(filtered_selector(rt, param, item)?);
            continue;
        }
        let path = AttrPath::parse(item)
            .map_err(|e| ScimError::invalid_value(format!("{param}: {}", e.detail())))?;
        out.extend(resolve_selector(rt, &path));
    }
    Ok(out)
}

/// The entries of an `attributes` / `excludedAttributes` list: split at the commas that are
/// outside `[ ]` and outside quoted strings (a value filter may hold both), trimmed, empty
/// entries dropped.
pub fn split_list(list: &str) -> Vec<&str> {
    let (mut entries, mut start, mut depth) = (Vec::new(), 0, 0_usize);
    let (mut quoted, mut escaped) = (false, false);
    for (i, c) in list.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '[' if !quoted => depth += 1,
            ']' if !quoted => depth = depth.saturating_sub(1),
            ',' if !quoted && depth == 0 => {
                entries.push(&list[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    entries.push(&list[start..]);
    entries
        .into_iter()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}

/// `emails[type eq "work"]` or `emails[type eq "work"].value` (RFC 7644 §3.4.2.2 `valuePath`,
/// as an extension of §3.4.2.5). An attribute the resource type does not know is ignored, as in
/// any entry; everything else wrong is `invalidFilter` naming the parameter.
fn filtered_selector(
    rt: &ResourceTypeDef,
    param: &str,
    item: &str,
) -> Result<Option<Selector>, ScimError> {
    let refuse = |detail: String| ScimError::invalid_filter(format!("{param}: {detail}"));
    let (path, filter, sub) =
        parse_value_path(item).map_err(|e| refuse(format!("'{item}': {e}")))?;
    let Some(filter) = filter else {
        return Err(refuse(format!("'{item}' is not an attribute path")));
    };
    let Some(resolved) = path.resolve(rt) else {
        return Ok(None);
    };
    let attr = resolved.attr;
    if !attr.multi_valued || attr.kind != AttributeType::Complex {
        return Err(refuse(format!(
            "'{item}': '{}' is not a multi-valued complex attribute, so it has no values for \
             a filter to select (a value filter applies to attributes such as emails: \
             emails[type eq \"work\"])",
            attr.name
        )));
    }
    let filter = filter
        .validate_within(attr)
        .map_err(|e| refuse(format!("'{item}': {}", e.detail())))?;
    let sub = match sub {
        Some(name) => Some(
            attr.sub_attribute(&name)
                .ok_or_else(|| {
                    refuse(format!(
                        "'{item}': unknown attribute '{}.{name}'",
                        attr.name
                    ))
                })?
                .name
                .clone(),
        ),
        None => None,
    };
    Ok(Some(Selector {
        ext: resolved
            .is_extension(rt)
            .then(|| resolved.schema.id.clone()),
        attr: Some(attr.name.clone()),
        sub,
        filter: Some(Arc::new(filter)),
    }))
}

/// Canonical names for a parsed path (resolved as filters resolve it, so an unqualified
/// `manager` finds the enterprise `manager`); `None` for names the resource type does not know.
pub(super) fn resolve_selector(rt: &ResourceTypeDef, path: &AttrPath) -> Option<Selector> {
    let resolved = path.resolve(rt)?;
    let ext = (!std::ptr::eq(resolved.schema, rt.schema)).then(|| resolved.schema.id.clone());
    Some(Selector {
        ext,
        attr: Some(resolved.attr.name.clone()),
        sub: resolved.sub.map(|s| s.name.clone()),
        filter: None,
    })
}
