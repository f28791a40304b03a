//! Resources as JSON: from a request body to the stored form, and from the stored form to a
//! response (RFC 7643 §2–§4; RFC 7644 §3.3, §3.5.1, §3.4.2.5, §3.9).
//!
//! What belongs here: validating and canonicalising POST and PUT bodies against the schema data of
//! [`super::schema`], rendering a stored resource with `id` and `meta`, and the
//! `attributes` / `excludedAttributes` projection. No HTTP, no storage: pure functions over
//! `serde_json` values.
//!
//! The stored form is a JSON object with canonical attribute names, the `schemas` array (core URN
//! first, then the extension URNs that carry data), extension attributes nested under their URN,
//! and no `id`, `meta`, `password` or `groups` (the storage layer keeps those elsewhere). Null,
//! empty arrays and empty objects are unassigned (RFC 7643 §2.5) and never stored; empty strings
//! are kept as sent.
//!
//! Leniency, and why: identity providers send more than the schema. Okta sends `groups: []` on
//! create, Entra's validator sends test extension URNs (`urn:msfttest:…`), and Microsoft's own test
//! collections capitalise attribute names and send booleans as `"True"`. Unknown attributes and
//! unknown extension URNs are therefore ignored rather than refused, names are matched ignoring case
//! (RFC 7643 §2.1), and the boolean quirk is normalised in [`entra_boolean`]. Values of a known
//! attribute with the wrong type are refused with `invalidValue`.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};

use super::error::ScimError;
use super::path::AttrPath;
use super::schema::{
    AttributeDef, AttributeType, COMMON_ATTRIBUTES, Mutability, RESOURCE_TYPES, ResourceTypeDef,
    Returned, SchemaDef,
};
use super::value;

/// A request body validated against a resource type (RFC 7644 §3.3, §3.5.1).
#[derive(Debug, Clone, PartialEq)]
pub struct Validated {
    /// The stored form: canonical names, `schemas` rebuilt, no readOnly or writeOnly attributes.
    pub resource: Map<String, Value>,
    /// The writeOnly `password` (RFC 7643 §4.1.1), when the body carried one. `None` means "not
    /// sent": on PUT the existing password is kept, since no IdP re-sends it on profile updates.
    pub password: Option<String>,
}

/// Validate and canonicalise a POST body (RFC 7644 §3.3).
///
/// - The body must be a JSON object (else `invalidSyntax`).
/// - Attribute names are matched ignoring case and rewritten canonically.
/// - Extension data is accepted nested under its URN (matched ignoring case) and as URN-qualified
///   keys (`"urn:…:enterprise:2.0:User:employeeNumber"`).
/// - readOnly attributes and sub-attributes (`id`, `meta`, `groups`, `members.display`) are
///   ignored, as RFC 7644 §3.3 requires; unknown attributes and unknown URNs are ignored too.
/// - Values are type-checked per RFC 7643 §2.3; a wrong type is `invalidValue` naming the path,
///   e.g. `attribute 'emails[0].primary' must be a boolean`.
/// - A multi-valued attribute given a single value is read as a one-element array: the meaning is
///   unambiguous and the stored form is canonical either way.
/// - At most one `primary: true` per multi-valued attribute (RFC 7643 §2.4).
/// - Required attributes must be present and not blank (`'userName' is required`).
/// - `schemas` may be omitted; when present it must name the core schema (or an alias). The
///   output `schemas` is rebuilt.
pub fn validate_create(rt: &ResourceTypeDef, body: Value) -> Result<Validated, ScimError> {
    gather(rt, body)?.finish(rt)
}

/// Validate a PUT body as a full replacement of `existing` (stored form) (RFC 7644 §3.5.1).
///
/// Same rules as [`validate_create`]. Attributes the body omits are cleared, except `immutable`
/// ones that already have a value, which are kept; an immutable value that differs is refused
/// with `mutability`. Immutability is checked on top-level attributes and on sub-attributes of
/// singular complex attributes. Sub-attributes of multi-valued attributes (`members.value`) are
/// immutable per value (RFC 7643 §7, "at record creation"): a PUT replaces the whole collection,
/// so each value it carries is a new record and nothing is compared.
pub fn validate_replace(
    rt: &ResourceTypeDef,
    existing: &Map<String, Value>,
    body: Value,
) -> Result<Validated, ScimError> {
    let mut gathered = gather(rt, body)?;
    keep_immutable(
        COMMON_ATTRIBUTES.iter().chain(rt.schema.attributes),
        existing,
        &mut gathered.core,
        "",
    )?;
    for ((schema, _), ext) in rt.extensions.iter().zip(&mut gathered.extensions) {
        let old = existing
            .get(schema.id)
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let prefix = format!("{}:", schema.id);
        keep_immutable(schema.attributes.iter(), &old, ext, &prefix)?;
    }
    gathered.finish(rt)
}

/// Server-maintained metadata of a resource (RFC 7643 §3.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta {
    pub resource_type: &'static str,
    pub created: DateTime<Utc>,
    pub last_modified: DateTime<Utc>,
    pub location: String,
    /// Already formatted as the ETag, e.g. `W/"3"` (RFC 7644 §3.14).
    pub version: String,
}

/// The full representation of a stored resource (RFC 7643 §3): the stored form plus `id`, `meta`
/// and `extra` attributes computed by the server (such as a user's `groups`).
///
/// Keys are inserted `schemas`, `id`, stored attributes, `extra`, `meta`; that order shows on the
/// wire only when serde_json keeps insertion order (its `preserve_order` feature). Stray `id`,
/// `meta` or `password` keys in `stored` are dropped. dateTimes are RFC 3339 in UTC with `Z`.
pub fn render(
    stored: &Map<String, Value>,
    id: &str,
    meta: &Meta,
    extra: Map<String, Value>,
) -> Value {
    const SERVER_KEYS: [&str; 4] = ["schemas", "id", "meta", "password"];
    let is_server_key = |k: &str| SERVER_KEYS.iter().any(|s| s.eq_ignore_ascii_case(k));

    let mut out = Map::new();
    let schemas = match stored.get("schemas") {
        Some(v @ Value::Array(_)) => v.clone(),
        _ => rebuild_schemas(stored, meta.resource_type),
    };
    out.insert("schemas".to_owned(), schemas);
    out.insert("id".to_owned(), Value::String(id.to_owned()));
    for (k, v) in stored.iter().chain(&extra) {
        if !is_server_key(k) {
            out.insert(k.clone(), v.clone());
        }
    }
    let mut m = Map::new();
    m.insert("resourceType".to_owned(), meta.resource_type.into());
    m.insert("created".to_owned(), rfc3339(meta.created).into());
    m.insert(
        "lastModified".to_owned(),
        rfc3339(meta.last_modified).into(),
    );
    m.insert("location".to_owned(), meta.location.clone().into());
    m.insert("version".to_owned(), meta.version.clone().into());
    out.insert("meta".to_owned(), Value::Object(m));
    Value::Object(out)
}

/// `attributes` / `excludedAttributes` of a query (RFC 7644 §3.4.2.5, §3.9), parsed once.
///
/// Attribute names that the resource type does not know are ignored: the RFC does not say what
/// to do with them, and refusing would break clients that send one list to every endpoint
/// (`excludedAttributes=members` on `/Users`). A name that is not an attribute path at all is
/// `invalidValue`. An empty parameter counts as absent. When both parameters are given, an
/// attribute is returned if `attributes` selects it and `excludedAttributes` does not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Projection {
    attributes: Option<Vec<Selector>>,
    excluded: Vec<Selector>,
}

/// One entry of `attributes` / `excludedAttributes`, by canonical names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Selector {
    /// The extension URN; `None` for the core schema and the common attributes.
    ext: Option<&'static str>,
    /// `None` selects every attribute of the schema (the parameter named the schema URN).
    attr: Option<&'static str>,
    sub: Option<&'static str>,
}

impl Selector {
    fn names_whole(&self, ext: Option<&str>, attr: &str) -> bool {
        self.ext == ext && self.attr.is_none_or(|a| a == attr) && self.sub.is_none()
    }
    fn names_within(&self, ext: Option<&str>, attr: &str) -> bool {
        self.ext == ext && self.attr.is_none_or(|a| a == attr)
    }
    fn names_sub(&self, ext: Option<&str>, attr: &str, sub: &str) -> bool {
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
    fn project(&self, ext: Option<&str>, def: &AttributeDef, value: Value) -> Option<Value> {
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

/// Entra ID (and Microsoft's test collections) send booleans as the strings `"True"` /
/// `"False"` (Microsoft's SCIM compatibility notes); read them as booleans, ignoring case. Every
/// other string is not a boolean.
pub fn entra_boolean(s: &str) -> Option<bool> {
    value::boolean(s)
}

/// Attributes read from a body, per schema, keyed by canonical name; not yet checked for
/// required attributes nor put in canonical order.
struct Gathered {
    core: Map<String, Value>,
    /// One map per extension, in the order of `ResourceTypeDef::extensions`.
    extensions: Vec<Map<String, Value>>,
    password: Option<String>,
}

/// Where a top-level body key points.
enum Key<'a> {
    /// A schema URN on its own: its attributes are nested under it.
    Schema(&'static SchemaDef),
    /// `<schema URN>:<attribute>`.
    Qualified(&'static SchemaDef, &'a str),
    /// A bare attribute name of the core schema or the common attributes.
    Plain(&'a str),
}

fn classify<'a>(rt: &ResourceTypeDef, key: &'a str) -> Key<'a> {
    if let Some(schema) = rt.schema(key) {
        return Key::Schema(schema);
    }
    let urns = rt
        .schemas()
        .map(|s| s.id)
        .chain(rt.schema_aliases.iter().copied());
    for urn in urns {
        let qualified = key
            .get(..urn.len())
            .filter(|prefix| prefix.eq_ignore_ascii_case(urn))
            .and_then(|_| key.get(urn.len()..))
            .and_then(|rest| rest.strip_prefix(':'));
        if let (Some(name), Some(schema)) = (qualified, rt.schema(urn)) {
            return Key::Qualified(schema, name);
        }
    }
    Key::Plain(key)
}

fn gather(rt: &ResourceTypeDef, body: Value) -> Result<Gathered, ScimError> {
    let Value::Object(body) = body else {
        return Err(ScimError::invalid_syntax(
            "the request body must be a JSON object",
        ));
    };
    let mut gathered = Gathered {
        core: Map::new(),
        extensions: vec![Map::new(); rt.extensions.len()],
        password: None,
    };
    for (key, value) in body {
        if key.eq_ignore_ascii_case("schemas") {
            check_schemas(rt, &value)?;
            continue;
        }
        match classify(rt, &key) {
            Key::Schema(schema) => match value {
                Value::Null => {}
                Value::Object(inner) => {
                    for (name, v) in inner {
                        gathered.put(rt, schema, &name, v)?;
                    }
                }
                _ => {
                    return Err(ScimError::invalid_value(format!(
                        "attribute '{}' must be an object",
                        schema.id
                    )));
                }
            },
            Key::Qualified(schema, name) => gathered.put(rt, schema, name, value)?,
            Key::Plain(name) => gathered.put(rt, rt.schema, name, value)?,
        }
    }
    Ok(gathered)
}

impl Gathered {
    /// Check and record one attribute of `schema` given as `name` in the body.
    fn put(
        &mut self,
        rt: &ResourceTypeDef,
        schema: &'static SchemaDef,
        name: &str,
        value: Value,
    ) -> Result<(), ScimError> {
        let is_core = std::ptr::eq(schema, rt.schema);
        let def = if is_core {
            rt.core_attribute(name)
        } else {
            schema.attribute(name)
        };
        // Unknown attributes are ignored (see the module documentation).
        let Some(def) = def else { return Ok(()) };
        if def.is_read_only() {
            return Ok(());
        }
        let path = if is_core {
            def.name.to_owned()
        } else {
            format!("{}:{}", schema.id, def.name)
        };
        if is_core && def.mutability == Mutability::WriteOnly && def.name == "password" {
            self.password = match value {
                Value::Null => None,
                Value::String(s) => {
                    value::check_text(None, def.name, &s, &path)?;
                    Some(s)
                }
                _ => return Err(type_error(&path, def.kind)),
            };
            return Ok(());
        }
        let target = if is_core {
            Some(&mut self.core)
        } else {
            rt.extensions
                .iter()
                .position(|(s, _)| std::ptr::eq(*s, schema))
                .and_then(|i| self.extensions.get_mut(i))
        };
        let Some(target) = target else { return Ok(()) };
        if let Some(v) = check_value(def, value, &path)?
            && target.insert(def.name.to_owned(), v).is_some()
        {
            return Err(ScimError::invalid_value(format!(
                "attribute '{path}' is given more than once"
            )));
        }
        Ok(())
    }

    /// Check required attributes and build the stored form in schema order.
    fn finish(mut self, rt: &ResourceTypeDef) -> Result<Validated, ScimError> {
        check_required(rt.schema.attributes, &self.core, "")?;
        let mut resource = Map::new();
        let mut schemas = vec![Value::String(rt.schema.id.to_owned())];
        // Placeholder first so that `schemas` leads when insertion order is kept.
        resource.insert("schemas".to_owned(), Value::Null);
        for def in COMMON_ATTRIBUTES.iter().chain(rt.schema.attributes) {
            if let Some(v) = self.core.remove(def.name) {
                resource.insert(def.name.to_owned(), v);
            }
        }
        for ((schema, required), mut ext) in rt.extensions.iter().zip(self.extensions) {
            let prefix = format!("{}:", schema.id);
            check_required(schema.attributes, &ext, &prefix)?;
            let mut data = Map::new();
            for def in schema.attributes {
                if let Some(v) = ext.remove(def.name) {
                    data.insert(def.name.to_owned(), v);
                }
            }
            if data.is_empty() {
                if *required {
                    return Err(ScimError::invalid_value(format!(
                        "'{}' is required",
                        schema.id
                    )));
                }
            } else {
                schemas.push(Value::String(schema.id.to_owned()));
                resource.insert(schema.id.to_owned(), Value::Object(data));
            }
        }
        resource.insert("schemas".to_owned(), Value::Array(schemas));
        Ok(Validated {
            resource,
            password: self.password,
        })
    }
}

/// `schemas` may be absent (lenient); when present it must be an array of strings naming the core
/// schema of `rt` or one of its aliases (RFC 7643 §3).
fn check_schemas(rt: &ResourceTypeDef, value: &Value) -> Result<(), ScimError> {
    let urns = match value {
        Value::Null => return Ok(()),
        Value::Array(items) => items
            .iter()
            .map(Value::as_str)
            .collect::<Option<Vec<&str>>>(),
        _ => None,
    };
    let Some(urns) = urns else {
        return Err(ScimError::invalid_value(
            "'schemas' must be an array of schema URNs",
        ));
    };
    let names_core = urns
        .iter()
        .any(|u| rt.schema(u).is_some_and(|s| std::ptr::eq(s, rt.schema)));
    if names_core {
        Ok(())
    } else {
        Err(ScimError::invalid_value(format!(
            "'schemas' must contain '{}'",
            rt.schema.id
        )))
    }
}

/// Required attributes must be present and, when strings, not blank (RFC 7643 §2.2, §7).
fn check_required(
    defs: &[AttributeDef],
    values: &Map<String, Value>,
    prefix: &str,
) -> Result<(), ScimError> {
    for def in defs.iter().filter(|d| d.required && !d.is_read_only()) {
        let present = match values.get(def.name) {
            None | Some(Value::Null) => false,
            Some(Value::String(s)) => !s.trim().is_empty(),
            Some(_) => true,
        };
        if !present {
            return Err(ScimError::invalid_value(format!(
                "'{prefix}{}' is required",
                def.name
            )));
        }
    }
    Ok(())
}

/// Type-check and canonicalise one value of the attribute `def` (RFC 7643 §2.3, §2.4, §2.5), as
/// POST and PUT do: sub-attribute names made canonical, readOnly and unknown sub-attributes
/// dropped, string booleans read by [`entra_boolean`], a lone value of a multi-valued attribute
/// wrapped in an array, at most one `primary: true`. `path` names the value in error details
/// (`emails[0].primary`). `None` when the value is unassigned (null, `[]`, `{}`).
///
/// Exposed for the PATCH engine, so that a value is judged the same way whichever verb sent it.
pub fn check_value(
    def: &AttributeDef,
    value: Value,
    path: &str,
) -> Result<Option<Value>, ScimError> {
    check_value_of(def, None, value, path)
}

/// [`check_value`] for an attribute that is a sub-attribute of `parent` (when given), whose
/// name decides the length limit (see [`value::max_bytes`]).
fn check_value_of(
    def: &AttributeDef,
    parent: Option<&str>,
    value: Value,
    path: &str,
) -> Result<Option<Value>, ScimError> {
    if value.is_null() {
        return Ok(None);
    }
    if !def.multi_valued {
        return check_single(def, parent, value, path);
    }
    let (items, wrapped) = match value {
        Value::Array(items) => (items, false),
        single => (vec![single], true),
    };
    let mut out = Vec::with_capacity(items.len());
    let mut primaries = 0;
    for (i, item) in items.into_iter().enumerate() {
        let item_path = if wrapped {
            path.to_owned()
        } else {
            format!("{path}[{i}]")
        };
        if let Some(v) = check_single(def, parent, item, &item_path)? {
            if v.get("primary") == Some(&Value::Bool(true)) {
                primaries += 1;
            }
            out.push(v);
        }
    }
    if primaries > 1 {
        return Err(ScimError::invalid_value(format!(
            "attribute '{path}' has more than one value with 'primary' true"
        )));
    }
    Ok((!out.is_empty()).then_some(Value::Array(out)))
}

/// Check one (non-array) value of `def`: complex values here, simple ones by [`value::check`].
fn check_single(
    def: &AttributeDef,
    parent: Option<&str>,
    value: Value,
    path: &str,
) -> Result<Option<Value>, ScimError> {
    match (def.kind, value) {
        (_, Value::Null) => Ok(None),
        (AttributeType::Complex, Value::Object(obj)) => check_complex(def, obj, path),
        (AttributeType::Complex, _) => Err(type_error(path, def.kind)),
        (_, v) => value::check(def, parent, v, path).map(Some),
    }
}

fn check_complex(
    def: &AttributeDef,
    obj: Map<String, Value>,
    path: &str,
) -> Result<Option<Value>, ScimError> {
    let mut subs = Map::new();
    for (name, v) in obj {
        // Unknown and readOnly sub-attributes (`members.display`) are ignored.
        let Some(sub) = def.sub_attribute(&name).filter(|s| !s.is_read_only()) else {
            continue;
        };
        let sub_path = format!("{path}.{}", sub.name);
        if let Some(v) = check_value_of(sub, Some(def.name), v, &sub_path)?
            && subs.insert(sub.name.to_owned(), v).is_some()
        {
            return Err(ScimError::invalid_value(format!(
                "attribute '{sub_path}' is given more than once"
            )));
        }
    }
    check_required(def.sub_attributes, &subs, &format!("{path}."))?;
    let mut out = Map::new();
    for sub in def.sub_attributes {
        if let Some(v) = subs.remove(sub.name) {
            out.insert(sub.name.to_owned(), v);
        }
    }
    Ok((!out.is_empty()).then_some(Value::Object(out)))
}

fn type_error(path: &str, kind: AttributeType) -> ScimError {
    value::type_error(path, kind)
}

/// Keep existing values of immutable attributes the body omits; refuse changed ones
/// (RFC 7644 §3.5.1). Recurses into singular complex attributes.
fn keep_immutable<'a>(
    defs: impl Iterator<Item = &'a AttributeDef>,
    existing: &Map<String, Value>,
    new: &mut Map<String, Value>,
    prefix: &str,
) -> Result<(), ScimError> {
    for def in defs {
        let old = existing.get(def.name).filter(|v| !v.is_null());
        let path = format!("{prefix}{}", def.name);
        match def.mutability {
            Mutability::Immutable => match (old, new.get(def.name)) {
                (Some(o), None) => {
                    new.insert(def.name.to_owned(), o.clone());
                }
                (Some(o), Some(n)) if !same_value(def, o, n) => {
                    return Err(ScimError::mutability(format!(
                        "attribute '{path}' is immutable and cannot be changed"
                    )));
                }
                _ => {}
            },
            Mutability::ReadWrite | Mutability::WriteOnly
                if def.kind == AttributeType::Complex
                    && !def.multi_valued
                    && def
                        .sub_attributes
                        .iter()
                        .any(|s| s.mutability == Mutability::Immutable) =>
            {
                let old_obj = old.and_then(Value::as_object).cloned().unwrap_or_default();
                let mut new_obj = new
                    .remove(def.name)
                    .and_then(|v| match v {
                        Value::Object(o) => Some(o),
                        _ => None,
                    })
                    .unwrap_or_default();
                keep_immutable(
                    def.sub_attributes.iter(),
                    &old_obj,
                    &mut new_obj,
                    &format!("{path}."),
                )?;
                if !new_obj.is_empty() {
                    new.insert(def.name.to_owned(), Value::Object(new_obj));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Equality honouring `caseExact` for strings (RFC 7643 §2.2).
fn same_value(def: &AttributeDef, a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) if !def.case_exact => {
            x.to_lowercase() == y.to_lowercase()
        }
        _ => a == b,
    }
}

/// `schemas` for a stored form that lacks it: the core URN of the resource type named
/// `resource_type`, then the extensions that have data.
fn rebuild_schemas(stored: &Map<String, Value>, resource_type: &str) -> Value {
    let Some(rt) = RESOURCE_TYPES.iter().find(|rt| rt.name == resource_type) else {
        return Value::Array(Vec::new());
    };
    let urns = rt
        .schemas()
        .filter(|s| std::ptr::eq(*s, rt.schema) || stored.contains_key(s.id))
        .map(|s| Value::String(s.id.to_owned()))
        .collect();
    Value::Array(urns)
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// The extension schema of `rt` whose URN is `urn`, ignoring case.
fn extension_named(rt: &ResourceTypeDef, urn: &str) -> Option<&'static SchemaDef> {
    rt.extensions
        .iter()
        .map(|(s, _)| *s)
        .find(|s| s.id.eq_ignore_ascii_case(urn))
}

fn parse_selectors(
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
fn resolve_selector(rt: &ResourceTypeDef, path: &AttrPath) -> Option<Selector> {
    let resolved = path.resolve(rt)?;
    let ext = (!std::ptr::eq(resolved.schema, rt.schema)).then_some(resolved.schema.id);
    Some(Selector {
        ext,
        attr: Some(resolved.attr.name),
        sub: resolved.sub.map(|s| s.name),
    })
}

#[cfg(test)]
mod tests {
    use super::super::schema::{
        ENTERPRISE_USER_SCHEMA, GROUP_RESOURCE, GROUP_SCHEMA, USER_RESOURCE, USER_SCHEMA,
    };
    use super::*;
    use chrono::TimeZone as _;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            other => panic!("not an object: {other}"),
        }
    }

    fn stored(v: Value) -> Validated {
        Validated {
            resource: obj(v),
            password: None,
        }
    }

    /// Okta's create request (okta.md, "Create (on assignment)" step 4).
    #[test]
    fn okta_create_body() {
        let body = json!({
            "schemas": [USER_SCHEMA],
            "userName": "isabella.jones@example.com",
            "name": {"givenName": "Isabella", "familyName": "Jones"},
            "emails": [{"primary": true, "value": "isabella.jones@example.com", "type": "work"}],
            "displayName": "Isabella Jones",
            "locale": "en-US",
            "externalId": "00ujl29u0le5T6Aj10h7",
            "groups": [],
            "password": "1mz050nq",
            "active": true
        });
        let want = Validated {
            resource: obj(json!({
                "schemas": [USER_SCHEMA],
                "externalId": "00ujl29u0le5T6Aj10h7",
                "userName": "isabella.jones@example.com",
                "name": {"familyName": "Jones", "givenName": "Isabella"},
                "displayName": "Isabella Jones",
                "locale": "en-US",
                "active": true,
                "emails": [{"value": "isabella.jones@example.com", "type": "work", "primary": true}],
            })),
            password: Some("1mz050nq".to_owned()),
        };
        assert_eq!(validate_create(&USER_RESOURCE, body), Ok(want));
    }

    /// Entra ID's create request (docs/idp-behaviour.md, "Microsoft Entra ID", "Documented requests").
    #[test]
    fn entra_create_body() {
        let body = json!({
            "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
            "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
            "userName": "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1",
            "active": true,
            "emails": [{
                "primary": true,
                "type": "work",
                "value": "Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com"
            }],
            "meta": {"resourceType": "User"},
            "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
            "roles": []
        });
        let want = stored(json!({
            "schemas": [USER_SCHEMA],
            "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
            "userName": "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1",
            "active": true,
            "emails": [{
                "primary": true,
                "type": "work",
                "value": "Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com"
            }],
            "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
        }));
        assert_eq!(validate_create(&USER_RESOURCE, body), Ok(want));
    }

    /// Microsoft's Postman collection: capitalised names, `"True"` strings
    /// (scim2-server tests/integration/test_ms_entra.py).
    #[test]
    fn capitalised_names_and_string_booleans() {
        let body = json!({
            "schemas": ["URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:USER"],
            "UserName": "UserName123",
            "Active": "True",
            "DisplayName": "BobIsAmazing",
            "Emails": [{"Primary": "true", "Type": "work", "Value": "bob@example.com"}],
            "Name": {"GivenName": "Bob", "FamilyName": "Smith"},
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:Department": "Sales"
        });
        let want = stored(json!({
            "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
            "userName": "UserName123",
            "active": true,
            "displayName": "BobIsAmazing",
            "emails": [{"primary": true, "type": "work", "value": "bob@example.com"}],
            "name": {"givenName": "Bob", "familyName": "Smith"},
            ENTERPRISE_USER_SCHEMA: {"department": "Sales"},
        }));
        assert_eq!(validate_create(&USER_RESOURCE, body), Ok(want));
        assert_eq!(entra_boolean("FALSE"), Some(false));
        assert_eq!(entra_boolean("no"), None);
    }

    #[test]
    fn extension_nested_or_urn_qualified_gives_the_same_stored_form() {
        let nested = json!({
            "userName": "a",
            "urn:ietf:params:scim:schemas:extension:ENTERPRISE:2.0:User": {
                "EmployeeNumber": "701984",
                "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d", "displayName": "John Smith"}
            }
        });
        let qualified = json!({
            "userName": "a",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "701984",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager":
                {"value": "26118915-6090-4610-87e4-49d8ca9f808d"}
        });
        let want = stored(json!({
            "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
            "userName": "a",
            ENTERPRISE_USER_SCHEMA: {
                "employeeNumber": "701984",
                "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d"}
            },
        }));
        assert_eq!(validate_create(&USER_RESOURCE, nested), Ok(want.clone()));
        assert_eq!(validate_create(&USER_RESOURCE, qualified), Ok(want));
    }

    #[test]
    fn read_only_and_unknown_attributes_are_ignored() {
        let body = json!({
            "id": "client-chosen",
            "meta": {"created": "2020-01-01T00:00:00Z"},
            "userName": "a",
            "groups": [{"value": "g1"}],
            "nickname_custom": "x",
            "urn:msfttest:cloud:scim:schemas:extension:custom:2.0:User": {"foo": "bar"},
            "urn:msfttest:cloud:scim:schemas:extension:custom:2.0:User:foo": "bar",
            "emails": [{"value": "a@example.com", "kind": "x"}]
        });
        let want = stored(json!({
            "schemas": [USER_SCHEMA],
            "userName": "a",
            "emails": [{"value": "a@example.com"}],
        }));
        assert_eq!(validate_create(&USER_RESOURCE, body), Ok(want));
    }

    /// Entra creates groups with its own schema URN and sends `"$ref": null` in members.
    #[test]
    fn entra_group_with_alias_schema_and_null_refs() {
        let body = json!({
            "schemas": ["http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
            "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
            "displayName": "Group1DisplayName",
            "members": [{"$ref": null, "value": "u1", "display": "ignored"}],
            "meta": {"resourceType": "Group"}
        });
        let want = stored(json!({
            "schemas": [GROUP_SCHEMA],
            "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
            "displayName": "Group1DisplayName",
            "members": [{"value": "u1"}],
        }));
        assert_eq!(validate_create(&GROUP_RESOURCE, body), Ok(want));
    }

    #[test]
    fn unassigned_values_are_omitted_and_empty_strings_kept() {
        let body = json!({
            "userName": "a",
            "nickName": "",
            "title": null,
            "name": {"givenName": null},
            "phoneNumbers": [],
            "emails": [null, {}],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {}
        });
        let want = stored(json!({"schemas": [USER_SCHEMA], "userName": "a", "nickName": ""}));
        assert_eq!(validate_create(&USER_RESOURCE, body), Ok(want));
    }

    #[test]
    fn a_single_value_of_a_multi_valued_attribute_is_wrapped() {
        let body = json!({"userName": "a", "emails": {"value": "a@example.com", "primary": true}});
        let want = stored(json!({
            "schemas": [USER_SCHEMA],
            "userName": "a",
            "emails": [{"value": "a@example.com", "primary": true}],
        }));
        assert_eq!(validate_create(&USER_RESOURCE, body), Ok(want));
        assert_eq!(
            validate_create(
                &USER_RESOURCE,
                json!({"userName": "a", "emails": "a@example.com"})
            ),
            Err(ScimError::invalid_value(
                "attribute 'emails' must be an object"
            ))
        );
    }

    #[test]
    fn wrong_types_name_the_attribute_path() {
        let cases = [
            (
                json!({"userName": "a", "emails": [{"value": "x"}, {"value": "y", "primary": "yes"}]}),
                "attribute 'emails[1].primary' must be a boolean",
            ),
            (
                json!({"userName": 5}),
                "attribute 'userName' must be a string",
            ),
            (
                json!({"userName": "a", "active": 1}),
                "attribute 'active' must be a boolean",
            ),
            (
                json!({"userName": "a", "name": "Bob"}),
                "attribute 'name' must be an object",
            ),
            (
                json!({"userName": "a", "name": {"givenName": ["Bob"]}}),
                "attribute 'name.givenName' must be a string",
            ),
            (
                json!({"userName": "a", "emails": ["x"]}),
                "attribute 'emails[0]' must be an object",
            ),
            (
                json!({"userName": "a", "x509Certificates": [{"value": "not base64!"}]}),
                "attribute 'x509Certificates[0].value' must be a base64 string",
            ),
            (
                json!({"userName": "a", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": 42}}),
                "attribute 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber' must be a string",
            ),
            (
                json!({"userName": "a", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": "x"}),
                "attribute 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User' must be an object",
            ),
            (
                json!({"userName": "a", "password": true}),
                "attribute 'password' must be a string",
            ),
        ];
        for (body, detail) in cases {
            assert_eq!(
                validate_create(&USER_RESOURCE, body),
                Err(ScimError::invalid_value(detail)),
                "{detail}"
            );
        }
        assert_eq!(
            validate_create(&USER_RESOURCE, json!(["userName"])),
            Err(ScimError::invalid_syntax(
                "the request body must be a JSON object"
            ))
        );
    }

    #[test]
    fn two_primary_values_are_refused() {
        let body = json!({"userName": "a", "emails": [
            {"value": "a@example.com", "primary": true},
            {"value": "b@example.com", "Primary": "True"}
        ]});
        assert_eq!(
            validate_create(&USER_RESOURCE, body),
            Err(ScimError::invalid_value(
                "attribute 'emails' has more than one value with 'primary' true"
            ))
        );
    }

    #[test]
    fn required_attributes_must_be_present_and_not_blank() {
        for body in [
            json!({"active": true}),
            json!({"userName": "  "}),
            json!({"userName": null}),
        ] {
            assert_eq!(
                validate_create(&USER_RESOURCE, body),
                Err(ScimError::invalid_value("'userName' is required"))
            );
        }
        assert_eq!(
            validate_create(&GROUP_RESOURCE, json!({"members": []})),
            Err(ScimError::invalid_value("'displayName' is required"))
        );
    }

    #[test]
    fn schemas_must_name_the_core_schema_when_present() {
        assert_eq!(
            validate_create(
                &USER_RESOURCE,
                json!({"schemas": [GROUP_SCHEMA], "userName": "a"})
            ),
            Err(ScimError::invalid_value(format!(
                "'schemas' must contain '{USER_SCHEMA}'"
            )))
        );
        assert_eq!(
            validate_create(
                &USER_RESOURCE,
                json!({"schemas": USER_SCHEMA, "userName": "a"})
            ),
            Err(ScimError::invalid_value(
                "'schemas' must be an array of schema URNs"
            ))
        );
        let lenient = validate_create(&USER_RESOURCE, json!({"userName": "a"}));
        assert_eq!(
            lenient,
            Ok(stored(json!({"schemas": [USER_SCHEMA], "userName": "a"})))
        );
    }

    #[test]
    fn duplicate_attributes_differing_in_case_are_refused() {
        assert_eq!(
            validate_create(&USER_RESOURCE, json!({"userName": "a", "UserName": "b"})),
            Err(ScimError::invalid_value(
                "attribute 'userName' is given more than once"
            ))
        );
    }

    #[test]
    fn put_clears_omitted_attributes_and_keeps_no_read_only_input() {
        let existing = obj(json!({
            "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
            "userName": "a",
            "displayName": "A",
            "active": true,
            ENTERPRISE_USER_SCHEMA: {"department": "Sales"},
        }));
        let body = json!({"schemas": [USER_SCHEMA], "id": "x", "userName": "a", "title": "CTO"});
        let want = stored(json!({"schemas": [USER_SCHEMA], "userName": "a", "title": "CTO"}));
        assert_eq!(validate_replace(&USER_RESOURCE, &existing, body), Ok(want));
        assert_eq!(
            validate_replace(&USER_RESOURCE, &existing, json!({"displayName": "A"})),
            Err(ScimError::invalid_value("'userName' is required"))
        );
    }

    static BADGE: SchemaDef = SchemaDef {
        id: "urn:example:schemas:Badge",
        name: "Badge",
        description: "A test resource with immutable attributes",
        attributes: &[
            AttributeDef {
                mutability: Mutability::Immutable,
                ..AttributeDef::new("serial", AttributeType::String)
            },
            AttributeDef::new("label", AttributeType::String),
            AttributeDef {
                sub_attributes: &[
                    AttributeDef {
                        mutability: Mutability::Immutable,
                        case_exact: true,
                        ..AttributeDef::new("chip", AttributeType::String)
                    },
                    AttributeDef::new("colour", AttributeType::String),
                ],
                ..AttributeDef::new("device", AttributeType::Complex)
            },
        ],
    };
    static BADGE_RESOURCE: ResourceTypeDef = ResourceTypeDef {
        name: "Badge",
        endpoint: "/Badges",
        description: "Badge",
        schema: &BADGE,
        extensions: &[],
        schema_aliases: &[],
    };

    #[test]
    fn put_keeps_omitted_immutable_values_and_refuses_changes() {
        let existing = obj(json!({
            "schemas": ["urn:example:schemas:Badge"],
            "serial": "SN-1",
            "label": "old",
            "device": {"chip": "C1", "colour": "red"},
        }));
        let kept = validate_replace(&BADGE_RESOURCE, &existing, json!({"label": "new"}));
        let want = stored(json!({
            "schemas": ["urn:example:schemas:Badge"],
            "serial": "SN-1",
            "label": "new",
            "device": {"chip": "C1"},
        }));
        assert_eq!(kept, Ok(want));
        // caseExact false: a change of case is the same value.
        let same = validate_replace(&BADGE_RESOURCE, &existing, json!({"serial": "sn-1"}));
        assert!(same.is_ok());
        assert_eq!(
            validate_replace(&BADGE_RESOURCE, &existing, json!({"serial": "SN-2"})),
            Err(ScimError::mutability(
                "attribute 'serial' is immutable and cannot be changed"
            ))
        );
        assert_eq!(
            validate_replace(
                &BADGE_RESOURCE,
                &existing,
                json!({"device": {"chip": "c1"}})
            ),
            Err(ScimError::mutability(
                "attribute 'device.chip' is immutable and cannot be changed"
            ))
        );
        // Unset before: any value may be set.
        let empty = obj(json!({"schemas": ["urn:example:schemas:Badge"]}));
        assert!(validate_replace(&BADGE_RESOURCE, &empty, json!({"serial": "SN-9"})).is_ok());
    }

    fn meta() -> Meta {
        Meta {
            resource_type: "User",
            created: Utc.with_ymd_and_hms(2024, 5, 1, 8, 30, 0).unwrap(),
            last_modified: Utc.with_ymd_and_hms(2024, 5, 2, 9, 0, 0).unwrap()
                + chrono::Duration::milliseconds(250),
            location: "https://example.com/scim/v2/Users/u1".to_owned(),
            version: "W/\"3\"".to_owned(),
        }
    }

    fn rendered_user() -> Value {
        let stored = obj(json!({
            "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
            "userName": "bjensen",
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "babs@example.org", "type": "home"}
            ],
            "active": true,
            ENTERPRISE_USER_SCHEMA: {"employeeNumber": "701984", "department": "Tour Operations"},
            "password": "leaked into storage by mistake",
        }));
        let extra = obj(json!({"groups": [{"value": "g1", "display": "Admins"}], "id": "ignored"}));
        render(&stored, "u1", &meta(), extra)
    }

    #[test]
    fn render_adds_id_meta_and_extra() {
        assert_eq!(
            rendered_user(),
            json!({
                "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
                "id": "u1",
                "userName": "bjensen",
                "name": {"givenName": "Barbara", "familyName": "Jensen"},
                "emails": [
                    {"value": "bjensen@example.com", "type": "work", "primary": true},
                    {"value": "babs@example.org", "type": "home"}
                ],
                "active": true,
                ENTERPRISE_USER_SCHEMA: {"employeeNumber": "701984", "department": "Tour Operations"},
                "groups": [{"value": "g1", "display": "Admins"}],
                "meta": {
                    "resourceType": "User",
                    "created": "2024-05-01T08:30:00Z",
                    "lastModified": "2024-05-02T09:00:00.250Z",
                    "location": "https://example.com/scim/v2/Users/u1",
                    "version": "W/\"3\""
                }
            })
        );
        let bare = render(&obj(json!({"userName": "x"})), "u2", &meta(), Map::new());
        assert_eq!(bare["schemas"], json!([USER_SCHEMA]));
    }

    fn project(attributes: Option<&str>, excluded: Option<&str>) -> Value {
        let p = Projection::parse(&USER_RESOURCE, attributes, excluded).unwrap();
        p.apply(&USER_RESOURCE, rendered_user())
    }

    #[test]
    fn attributes_user_name_keeps_id_and_schemas() {
        assert_eq!(
            project(Some("userName"), None),
            json!({"schemas": [USER_SCHEMA], "id": "u1", "userName": "bjensen"})
        );
    }

    #[test]
    fn excluded_attributes_drop_what_they_name() {
        let mut want = rendered_user();
        if let Some(m) = want.as_object_mut() {
            m.remove("emails");
            m.remove("groups");
        }
        assert_eq!(project(None, Some("emails, GROUPS,nosuch")), want);
        // `always` can't be excluded.
        assert_eq!(project(None, Some("id,schemas")), rendered_user());
    }

    #[test]
    fn sub_attribute_selections() {
        assert_eq!(
            project(Some("name.givenName,emails.value,meta.lastModified"), None),
            json!({
                "schemas": [USER_SCHEMA],
                "id": "u1",
                "name": {"givenName": "Barbara"},
                "emails": [{"value": "bjensen@example.com"}, {"value": "babs@example.org"}],
                "meta": {"lastModified": "2024-05-02T09:00:00.250Z"}
            })
        );
        let excluded = project(None, Some("emails.type,emails.primary,name"));
        assert_eq!(
            excluded["emails"],
            json!([{"value": "bjensen@example.com"}, {"value": "babs@example.org"}])
        );
        assert!(excluded.get("name").is_none());
    }

    #[test]
    fn extension_selections() {
        assert_eq!(
            project(
                Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber"),
                None
            ),
            json!({
                "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
                "id": "u1",
                ENTERPRISE_USER_SCHEMA: {"employeeNumber": "701984"}
            })
        );
        let dropped = project(None, Some(ENTERPRISE_USER_SCHEMA));
        assert!(dropped.get(ENTERPRISE_USER_SCHEMA).is_none());
        assert_eq!(dropped["schemas"], json!([USER_SCHEMA]));
    }

    #[test]
    fn password_is_never_shown() {
        assert!(rendered_user().get("password").is_none());
        let with_password = json!({"schemas": [USER_SCHEMA], "id": "u1", "password": "p"});
        for p in [
            Projection::default(),
            Projection::parse(&USER_RESOURCE, Some("password,userName"), None).unwrap(),
        ] {
            assert_eq!(
                p.apply(&USER_RESOURCE, with_password.clone()),
                json!({"schemas": [USER_SCHEMA], "id": "u1"})
            );
        }
    }

    #[test]
    fn excluded_members_and_includes() {
        let group = render(
            &obj(
                json!({"schemas": [GROUP_SCHEMA], "displayName": "Admins", "members": [{"value": "u1"}]}),
            ),
            "g1",
            &Meta {
                resource_type: "Group",
                ..meta()
            },
            Map::new(),
        );
        let p = Projection::parse(&GROUP_RESOURCE, None, Some("members")).unwrap();
        assert!(!p.includes(&GROUP_RESOURCE, "members"));
        assert!(p.includes(&GROUP_RESOURCE, "displayName"));
        assert!(p.includes(&GROUP_RESOURCE, "id"));
        let shown = p.apply(&GROUP_RESOURCE, group);
        assert!(shown.get("members").is_none());
        assert_eq!(shown["displayName"], "Admins");

        let only = Projection::parse(&USER_RESOURCE, Some("emails.value"), None).unwrap();
        assert!(only.includes(&USER_RESOURCE, "emails"));
        assert!(!only.includes(&USER_RESOURCE, "groups"));
        assert!(!only.includes(&USER_RESOURCE, "password"));
        assert!(!only.includes(&USER_RESOURCE, ENTERPRISE_USER_SCHEMA));
        let all = Projection::default();
        assert!(all.includes(&USER_RESOURCE, "groups"));
        assert!(all.includes(&USER_RESOURCE, ENTERPRISE_USER_SCHEMA));
    }

    #[test]
    fn projection_syntax_errors_are_invalid_value() {
        let err = Projection::parse(&USER_RESOURCE, Some("emails[type eq \"work\"]"), None);
        assert_eq!(
            err.map(|_| ()).map_err(|e| e.scim_type()),
            Err(Some(super::super::error::ScimType::InvalidValue))
        );
        assert_eq!(
            Projection::parse(&USER_RESOURCE, Some(" "), Some("")),
            Ok(Projection::default())
        );
    }
}
