//! The data of an organization's extension schemas in the store: the string values of users'
//! extension attributes mirrored in `user_extension_values` (so that a filter on one is an index
//! lookup, [`super::filter`]), and the removal of an extension's data when an admin removes the
//! extension with it.
//!
//! A resource's extension data is the object under an extension URN key of its JSON resource;
//! which keys those are needs no registry: every `urn:` key of a stored resource but the
//! built-in Enterprise User extension is an organization's own (validation stores no other).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde_json::{Map, Value};

use super::DbConnection;
use super::json::Doc;
use super::schema::{groups, user_extension_values, users};
use crate::ids::{OrgId, UserId};
use crate::scim::schema::{BUILT_IN_EXTENSIONS, ResourceKind};
use crate::scim::value::MAX_INDEXED_BYTES;

/// Rows read per statement while scanning an org for an extension's data.
const SCAN_PAGE: i64 = 500;

/// Whether `key` of a stored resource holds an organization's own extension.
fn is_custom_key(key: &str) -> bool {
    key.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:"))
        && !BUILT_IN_EXTENSIONS
            .iter()
            .any(|b| b.eq_ignore_ascii_case(key))
}

/// The mirrored values of a resource: (`<urn>:<attr>[.<sub>]` in lower case, value), for every
/// string of an organization's extension no longer than an index entry may be (longer strings
/// are of types that are never looked up by the index, such as `binary`).
pub fn values(resource: &Map<String, Value>) -> Vec<(String, &str)> {
    let mut out = Vec::new();
    for (urn, data) in resource.iter().filter(|(k, _)| is_custom_key(k)) {
        let Value::Object(data) = data else { continue };
        for (attr, value) in data {
            let path = format!("{urn}:{attr}").to_lowercase();
            let items: &[Value] = match value {
                Value::Array(items) => items,
                single => std::slice::from_ref(single),
            };
            for item in items {
                match item {
                    Value::String(s) => out.push((path.clone(), s.as_str())),
                    Value::Object(subs) => {
                        for (sub, v) in subs {
                            if let Value::String(s) = v {
                                out.push((format!("{path}.{sub}").to_lowercase(), s.as_str()));
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    out.retain(|(_, s)| s.len() <= MAX_INDEXED_BYTES);
    out
}

/// Whether two stored forms differ in their organization's extension data.
pub fn differ(before: &Map<String, Value>, after: &Map<String, Value>) -> bool {
    let custom = |m: &Map<String, Value>| -> Vec<(String, Value)> {
        m.iter()
            .filter(|(k, _)| is_custom_key(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    custom(before) != custom(after)
}

/// Mirrors the user's extension values (after [`delete`] on an update).
pub fn write(
    conn: &mut DbConnection,
    org: &OrgId,
    id: &UserId,
    resource: &Map<String, Value>,
) -> QueryResult<()> {
    for (attr, value) in values(resource) {
        let row = diesel::insert_into(user_extension_values::table).values((
            user_extension_values::user_id.eq(id.as_str()),
            user_extension_values::org_id.eq(org.as_str()),
            user_extension_values::attr.eq(attr),
            user_extension_values::value.eq(value),
            user_extension_values::value_ci.eq(crate::store::caseless::fold_lower(value)),
        ));
        native!(&mut *conn, |c| row.execute(c))?;
    }
    Ok(())
}

/// Deletes the user's mirrored values.
pub fn delete(conn: &mut DbConnection, org: &OrgId, id: &UserId) -> QueryResult<()> {
    diesel::delete(
        user_extension_values::table
            .filter(user_extension_values::org_id.eq(org.as_str()))
            .filter(user_extension_values::user_id.eq(id.as_str())),
    )
    .execute(conn)
    .map(drop)
}

/// A page of (id, resource) of the org's users or groups after `after`, in id order.
fn page(
    conn: &mut DbConnection,
    kind: ResourceKind,
    org: &OrgId,
    after: &str,
) -> QueryResult<Vec<(String, Doc)>> {
    match kind {
        ResourceKind::User => users::table
            .filter(users::org_id.eq(org.as_str()))
            .filter(users::id.gt(after))
            .order(users::id)
            .limit(SCAN_PAGE)
            .select((users::id, users::resource))
            .load(conn),
        ResourceKind::Group => groups::table
            .filter(groups::org_id.eq(org.as_str()))
            .filter(groups::id.gt(after))
            .order(groups::id)
            .limit(SCAN_PAGE)
            .select((groups::id, groups::resource))
            .load(conn),
    }
}

fn holds(doc: &Doc, urn: &str) -> bool {
    doc.0
        .as_object()
        .is_some_and(|m| m.keys().any(|k| k.eq_ignore_ascii_case(urn)))
}

/// Whether any of the org's resources of `kind` holds data of the extension `urn`: a scan of
/// the org in pages, stopped at the first one found.
pub fn has_data(
    conn: &mut DbConnection,
    kind: ResourceKind,
    org: &OrgId,
    urn: &str,
) -> QueryResult<bool> {
    let mut after = String::new();
    loop {
        let rows = page(conn, kind, org, &after)?;
        if rows.iter().any(|(_, doc)| holds(doc, urn)) {
            return Ok(true);
        }
        match rows.last() {
            Some((id, _)) if rows.len() as i64 == SCAN_PAGE => after = id.clone(),
            _ => return Ok(false),
        }
    }
}

/// Removes the data of the extension `urn` from every resource of `kind` in the org (its object
/// and its URN in `schemas`; a new version and `lastModified` for each one changed, and the
/// mirrored values of users). Returns the ids of the resources changed.
pub fn strip(
    conn: &mut DbConnection,
    kind: ResourceKind,
    org: &OrgId,
    urn: &str,
    now: DateTime<Utc>,
) -> QueryResult<Vec<String>> {
    let mut changed = Vec::new();
    let mut after = String::new();
    loop {
        let rows = page(conn, kind, org, &after)?;
        for (id, doc) in rows.iter().filter(|(_, doc)| holds(doc, urn)) {
            let Value::Object(mut resource) = doc.0.clone() else {
                continue;
            };
            resource.retain(|k, _| !k.eq_ignore_ascii_case(urn));
            if let Some(Value::Array(schemas)) = resource.get_mut("schemas") {
                schemas.retain(|s| !s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(urn)));
            }
            let resource = Doc(Value::Object(resource));
            let now = now.naive_utc();
            match kind {
                ResourceKind::User => {
                    diesel::update(
                        users::table
                            .filter(users::org_id.eq(org.as_str()))
                            .filter(users::id.eq(id)),
                    )
                    .set((
                        users::resource.eq(&resource),
                        users::version.eq(users::version + 1),
                        users::last_modified.eq(now),
                    ))
                    .execute(conn)?;
                    let prefix = format!("{}:", urn.to_lowercase())
                        .replace('\\', "\\\\")
                        .replace('%', "\\%")
                        .replace('_', "\\_");
                    diesel::delete(
                        user_extension_values::table
                            .filter(user_extension_values::org_id.eq(org.as_str()))
                            .filter(user_extension_values::user_id.eq(id))
                            .filter(
                                user_extension_values::attr
                                    .like(format!("{prefix}%"))
                                    .escape('\\'),
                            ),
                    )
                    .execute(conn)?;
                }
                ResourceKind::Group => {
                    diesel::update(
                        groups::table
                            .filter(groups::org_id.eq(org.as_str()))
                            .filter(groups::id.eq(id)),
                    )
                    .set((
                        groups::resource.eq(&resource),
                        groups::version.eq(groups::version + 1),
                        groups::last_modified.eq(now),
                    ))
                    .execute(conn)?;
                }
            }
            changed.push(id.clone());
        }
        match rows.last() {
            Some((id, _)) if rows.len() as i64 == SCAN_PAGE => after = id.clone(),
            _ => return Ok(changed),
        }
    }
}
