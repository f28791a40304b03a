//! Validating and canonicalising POST and PUT bodies against the schema data (RFC 7643 §2–§4,
//! RFC 7644 §3.3, §3.5.1).

use serde_json::{Map, Value};

use crate::scim::error::ScimError;
use crate::scim::schema::{
    AttributeDef, AttributeType, COMMON_ATTRIBUTES, Mutability, ResourceTypeDef, SchemaDef,
};
use crate::scim::value;

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
///   ignored, as RFC 7644 §3.3 requires; unknown attributes are ignored too, but data under a
///   URN that is not one of `rt`'s schemas (an extension the org has not registered) is
///   `invalidValue` naming the URN ([`ScimError::unregistered_extension`]).
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
        COMMON_ATTRIBUTES.iter().chain(&rt.schema.attributes),
        existing,
        &mut gathered.core,
        "",
    )?;
    for ((schema, _), ext) in rt.extensions.iter().zip(&mut gathered.extensions) {
        let old = existing
            .get(&schema.id)
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let prefix = format!("{}:", schema.id);
        keep_immutable(schema.attributes.iter(), &old, ext, &prefix)?;
    }
    gathered.finish(rt)
}

/// Entra ID (and Microsoft's test collections) send booleans as the strings `"True"` /
/// `"False"` (Microsoft's SCIM compatibility notes); read them as booleans, ignoring case. Every
/// other string is not a boolean.
pub fn entra_boolean(s: &str) -> Option<bool> {
    value::boolean(s)
}

/// Attributes read from a body, per schema, keyed by canonical name; not yet checked for
/// required attributes nor put in canonical order.
pub(super) struct Gathered {
    pub(super) core: Map<String, Value>,
    /// One map per extension, in the order of `ResourceTypeDef::extensions`.
    pub(super) extensions: Vec<Map<String, Value>>,
    pub(super) password: Option<String>,
}

/// Where a top-level body key points.
pub(super) enum Key<'r, 'a> {
    /// A schema URN on its own: its attributes are nested under it.
    Schema(&'r SchemaDef),
    /// `<schema URN>:<attribute>`.
    Qualified(&'r SchemaDef, &'a str),
    /// A bare attribute name of the core schema or the common attributes.
    Plain(&'a str),
}

pub(super) fn classify<'r, 'a>(rt: &'r ResourceTypeDef, key: &'a str) -> Key<'r, 'a> {
    if let Some(schema) = rt.schema(key) {
        return Key::Schema(schema);
    }
    let urns = rt
        .schemas()
        .map(|s| s.id.as_str())
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

/// A body key that is not an attribute of `rt` but names a schema URN (`urn:…`, alone with an
/// object, or qualifying an attribute) carries data of a schema extension the organization has
/// not registered. Ignoring it (RFC 7643 §3.3 lets a service provider do so) would lose the
/// IdP's data without a word, so it is refused, naming the URN and how to register it
/// (docs/admin-api.md, "Schema extensions").
pub(super) fn refuse_unregistered(
    rt: &ResourceTypeDef,
    key: &str,
    value: &Value,
) -> Result<(), ScimError> {
    if !key.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:"))
        || rt.core_attribute(key).is_some()
    {
        return Ok(());
    }
    let urn = match (value, key.rfind(':')) {
        (Value::Object(_) | Value::Null, _) | (_, None) => key,
        (_, Some(i)) => &key[..i],
    };
    Err(ScimError::unregistered_extension(rt.name, urn, false))
}

pub(super) fn gather(rt: &ResourceTypeDef, body: Value) -> Result<Gathered, ScimError> {
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
            Key::Plain(name) => {
                refuse_unregistered(rt, name, &value)?;
                gathered.put(rt, rt.schema, name, value)?
            }
        }
    }
    Ok(gathered)
}

impl Gathered {
    /// Check and record one attribute of `schema` given as `name` in the body.
    pub(super) fn put(
        &mut self,
        rt: &ResourceTypeDef,
        schema: &SchemaDef,
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
                    value::check_text(None, &def.name, &s, &path)?;
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
                .position(|(s, _)| std::ptr::eq(&**s, schema))
                .and_then(|i| self.extensions.get_mut(i))
        };
        let Some(target) = target else { return Ok(()) };
        if let Some(v) = check_value(def, value, &path)?
            && target.insert(def.name.clone(), v).is_some()
        {
            return Err(ScimError::invalid_value(format!(
                "attribute '{path}' is given more than once"
            )));
        }
        Ok(())
    }

    /// Check required attributes and build the stored form in schema order.
    pub(super) fn finish(mut self, rt: &ResourceTypeDef) -> Result<Validated, ScimError> {
        check_required(&rt.schema.attributes, &self.core, "")?;
        let mut resource = Map::new();
        let mut schemas = vec![Value::String(rt.schema.id.clone())];
        // Placeholder first so that `schemas` leads when insertion order is kept.
        resource.insert("schemas".to_owned(), Value::Null);
        for def in COMMON_ATTRIBUTES.iter().chain(&rt.schema.attributes) {
            if let Some(v) = self.core.remove(&def.name) {
                resource.insert(def.name.clone(), v);
            }
        }
        for ((schema, required), mut ext) in rt.extensions.iter().zip(self.extensions) {
            // An extension's required attributes are required of a resource that carries the
            // extension (RFC 7643 §3.3); whether it must carry it is `required` of the extension.
            if !ext.is_empty() {
                let prefix = format!("{}:", schema.id);
                check_required(&schema.attributes, &ext, &prefix)?;
            }
            let mut data = Map::new();
            for def in &schema.attributes {
                if let Some(v) = ext.remove(&def.name) {
                    data.insert(def.name.clone(), v);
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
                schemas.push(Value::String(schema.id.clone()));
                resource.insert(schema.id.clone(), Value::Object(data));
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
pub(super) fn check_schemas(rt: &ResourceTypeDef, value: &Value) -> Result<(), ScimError> {
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
pub(super) fn check_required(
    defs: &[AttributeDef],
    values: &Map<String, Value>,
    prefix: &str,
) -> Result<(), ScimError> {
    for def in defs.iter().filter(|d| d.required && !d.is_read_only()) {
        let present = match values.get(&def.name) {
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
pub(super) fn check_value_of(
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
pub(super) fn check_single(
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

pub(super) fn check_complex(
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
        if let Some(v) = check_value_of(sub, Some(&def.name), v, &sub_path)?
            && subs.insert(sub.name.clone(), v).is_some()
        {
            return Err(ScimError::invalid_value(format!(
                "attribute '{sub_path}' is given more than once"
            )));
        }
    }
    check_required(&def.sub_attributes, &subs, &format!("{path}."))?;
    let mut out = Map::new();
    for sub in &def.sub_attributes {
        if let Some(v) = subs.remove(&sub.name) {
            out.insert(sub.name.clone(), v);
        }
    }
    Ok((!out.is_empty()).then_some(Value::Object(out)))
}

pub(super) fn type_error(path: &str, kind: AttributeType) -> ScimError {
    value::type_error(path, kind)
}

/// Keep existing values of immutable attributes the body omits; refuse changed ones
/// (RFC 7644 §3.5.1). Recurses into singular complex attributes.
pub(super) fn keep_immutable<'a>(
    defs: impl Iterator<Item = &'a AttributeDef>,
    existing: &Map<String, Value>,
    new: &mut Map<String, Value>,
    prefix: &str,
) -> Result<(), ScimError> {
    for def in defs {
        let old = existing.get(&def.name).filter(|v| !v.is_null());
        let path = format!("{prefix}{}", def.name);
        match def.mutability {
            Mutability::Immutable => match (old, new.get(&def.name)) {
                (Some(o), None) => {
                    new.insert(def.name.clone(), o.clone());
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
                    .remove(&def.name)
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
                    new.insert(def.name.clone(), Value::Object(new_obj));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Equality honouring `caseExact` for strings (RFC 7643 §2.2).
pub(super) fn same_value(def: &AttributeDef, a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) if !def.case_exact => {
            x.to_lowercase() == y.to_lowercase()
        }
        _ => a == b,
    }
}
