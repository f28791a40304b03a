//! The `attributes` / `excludedAttributes` projection (RFC 7644 §3.4.2.5, §3.9).

use serde_json::{Map, Value};

use crate::scim::error::ScimError;
use crate::scim::path::AttrPath;
use crate::scim::schema::{AttributeDef, ResourceTypeDef, Returned, SchemaDef};

/// `attributes` / `excludedAttributes` of a query (RFC 7644 §3.4.2.5, §3.9), parsed once.
///
/// Attribute names that the resource type does not know are ignored: the RFC does not say what
/// to do with them, and refusing would break clients that send one list to every endpoint
/// (`excludedAttributes=members` on `/Users`). A name that is not an attribute path at all is
/// `invalidValue`. An empty parameter counts as absent. When both parameters are given, an
/// attribute is returned if `attributes` selects it and `excludedAttributes` does not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Projection {
    pub(super) attributes: Option<Vec<Selector>>,
    pub(super) excluded: Vec<Selector>,
}

/// One entry of `attributes` / `excludedAttributes`, by canonical names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Selector {
    /// The extension URN; `None` for the core schema and the common attributes.
    pub(super) ext: Option<&'static str>,
    /// `None` selects every attribute of the schema (the parameter named the schema URN).
    pub(super) attr: Option<&'static str>,
    pub(super) sub: Option<&'static str>,
}

impl Selector {
    pub(super) fn names_whole(&self, ext: Option<&str>, attr: &str) -> bool {
        self.ext == ext && self.attr.is_none_or(|a| a == attr) && self.sub.is_none()
    }
    pub(super) fn names_within(&self, ext: Option<&str>, attr: &str) -> bool {
        self.ext == ext && self.attr.is_none_or(|a| a == attr)
    }
    pub(super) fn names_sub(&self, ext: Option<&str>, attr: &str, sub: &str) -> bool {
        self.ext == ext && self.attr == Some(attr) && self.sub == Some(sub)
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
                .is_none_or(|list| list.iter().any(|s| s.ext == Some(ext.id)));
            let dropped = self
                .excluded
                .iter()
                .any(|s| s.ext == Some(ext.id) && s.attr.is_none());
            return listed && !dropped;
        }
        let Some(def) = rt.core_attribute(attr) else {
            return self.attributes.is_none();
        };
        match def.returned {
            Returned::Always => true,
            Returned::Never => false,
            Returned::Default | Returned::Request => {
                if self.excluded.iter().any(|s| s.names_whole(None, def.name)) {
                    return false;
                }
                match &self.attributes {
                    Some(list) => list.iter().any(|s| s.names_within(None, def.name)),
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
                        Some(def) => self.project(Some(ext.id), def, v).map(|v| (k, v)),
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
        if self.excluded.iter().any(|s| s.names_whole(ext, def.name)) {
            return None;
        }
        // Which sub-attributes survive; `None` = all but `never`, `request` and excluded ones.
        let only: Option<Vec<&str>> = match &self.attributes {
            Some(list) if list.iter().any(|s| s.names_whole(ext, def.name)) => None,
            Some(list) => {
                let subs: Vec<&str> = list
                    .iter()
                    .filter(|s| s.names_within(ext, def.name))
                    .filter_map(|s| s.sub)
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
                    let excluded = self
                        .excluded
                        .iter()
                        .any(|s| s.names_sub(ext, def.name, sub.name));
                    let listed = match &only {
                        Some(subs) => subs.contains(&sub.name),
                        None => {
                            sub.returned == Returned::Default
                                || self.attributes.as_ref().is_some_and(|list| {
                                    list.iter().any(|s| s.names_sub(ext, def.name, sub.name))
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
pub(super) fn extension_named(rt: &ResourceTypeDef, urn: &str) -> Option<&'static SchemaDef> {
    rt.extensions
        .iter()
        .map(|(s, _)| *s)
        .find(|s| s.id.eq_ignore_ascii_case(urn))
}

pub(super) fn parse_selectors(
    rt: &ResourceTypeDef,
    param: &str,
    list: &str,
) -> Result<Vec<Selector>, ScimError> {
    let mut out = Vec::new();
    for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if let Some(schema) = rt.schema(item) {
            let ext = (!std::ptr::eq(schema, rt.schema)).then_some(schema.id);
            out.push(Selector {
                ext,
                attr: None,
                sub: None,
            });
            continue;
        }
        let path = AttrPath::parse(item)
            .map_err(|e| ScimError::invalid_value(format!("{param}: {}", e.detail())))?;
        out.extend(resolve_selector(rt, &path));
    }
    Ok(out)
}

/// Canonical names for a parsed path (resolved as filters resolve it, so an unqualified
/// `manager` finds the enterprise `manager`); `None` for names the resource type does not know.
pub(super) fn resolve_selector(rt: &ResourceTypeDef, path: &AttrPath) -> Option<Selector> {
    let resolved = path.resolve(rt)?;
    let ext = (!std::ptr::eq(resolved.schema, rt.schema)).then_some(resolved.schema.id);
    Some(Selector {
        ext,
        attr: Some(resolved.attr.name),
        sub: resolved.sub.map(|s| s.name),
    })
}
