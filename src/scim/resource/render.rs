//! A stored resource rendered as a response, with `id` and `meta` (RFC 7643 §3).

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};

use crate::scim::schema::resource_types;

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

/// `schemas` for a stored form that lacks it: the core URN of the resource type named
/// `resource_type`, then the extensions that have data.
pub(super) fn rebuild_schemas(stored: &Map<String, Value>, resource_type: &str) -> Value {
    let Some(rt) = resource_types()
        .into_iter()
        .find(|rt| rt.name == resource_type)
    else {
        return Value::Array(Vec::new());
    };
    // The core URN, then every extension with data: an object stored under a URN key (the
    // built-in extensions and the organization's own alike).
    let extensions = stored.iter().filter(|(k, v)| {
        v.is_object()
            && k.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:"))
            && !k.eq_ignore_ascii_case(&rt.schema.id)
    });
    let urns = std::iter::once(rt.schema.id.clone())
        .chain(extensions.map(|(k, _)| k.clone()))
        .map(Value::String)
        .collect();
    Value::Array(urns)
}

pub(super) fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}
