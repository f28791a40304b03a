//! An organization's registered extension schemas (table `schema_extensions`) and the version
//! of that registry (`orgs.schema_version`), by which every node knows when to read it again.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde_json::Value;

use super::DbConnection;
use super::json::Doc;
use super::schema::{orgs, schema_extensions};
use crate::ids::OrgId;

/// One registered extension, as stored.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = schema_extensions)]
pub struct ExtensionRow {
    pub org_id: String,
    pub urn_ci: String,
    pub urn: String,
    pub resource_type: String,
    pub definition: Doc,
    pub created_at: chrono::NaiveDateTime,
    pub created_by: String,
}

impl ExtensionRow {
    /// The definition as registered (RFC 7643 §7 schema resource plus `resourceType`).
    pub fn definition(&self) -> &Value {
        &self.definition.0
    }
}

/// The org's registry version and its extensions, in the order they were registered.
pub fn load(conn: &mut DbConnection, org: &OrgId) -> QueryResult<(i64, Vec<ExtensionRow>)> {
    let version: i64 = orgs::table
        .filter(orgs::id.eq(org.as_str()))
        .select(orgs::schema_version)
        .first(conn)
        .optional()?
        .unwrap_or(0);
    let rows = schema_extensions::table
        .filter(schema_extensions::org_id.eq(org.as_str()))
        .order((schema_extensions::created_at, schema_extensions::urn_ci))
        .select(ExtensionRow::as_select())
        .load(conn)?;
    Ok((version, rows))
}

/// The extension `urn` (matched ignoring case), if registered.
pub fn get(conn: &mut DbConnection, org: &OrgId, urn: &str) -> QueryResult<Option<ExtensionRow>> {
    schema_extensions::table
        .filter(schema_extensions::org_id.eq(org.as_str()))
        .filter(schema_extensions::urn_ci.eq(urn.to_ascii_lowercase()))
        .select(ExtensionRow::as_select())
        .first(conn)
        .optional()
}

/// How many extensions the org has registered.
pub fn count(conn: &mut DbConnection, org: &OrgId) -> QueryResult<i64> {
    schema_extensions::table
        .filter(schema_extensions::org_id.eq(org.as_str()))
        .count()
        .get_result(conn)
}

/// Registers an extension; a URN registered already (ignoring case) is a unique violation.
pub fn insert(
    conn: &mut DbConnection,
    org: &OrgId,
    urn: &str,
    resource_type: &str,
    definition: &Value,
    by: &str,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::insert_into(schema_extensions::table)
        .values((
            schema_extensions::org_id.eq(org.as_str()),
            schema_extensions::urn_ci.eq(urn.to_ascii_lowercase()),
            schema_extensions::urn.eq(urn),
            schema_extensions::resource_type.eq(resource_type),
            schema_extensions::definition.eq(Doc(definition.clone())),
            schema_extensions::created_at.eq(now.naive_utc()),
            schema_extensions::created_by.eq(by),
        ))
        .execute(conn)
        .map(drop)
}

/// Removes the extension `urn`; whether it was registered.
pub fn delete(conn: &mut DbConnection, org: &OrgId, urn: &str) -> QueryResult<bool> {
    diesel::delete(
        schema_extensions::table
            .filter(schema_extensions::org_id.eq(org.as_str()))
            .filter(schema_extensions::urn_ci.eq(urn.to_ascii_lowercase())),
    )
    .execute(conn)
    .map(|n| n > 0)
}

/// Moves the org's registry to a new version (every node reads it again on its next request).
pub fn bump_version(conn: &mut DbConnection, org: &OrgId) -> QueryResult<()> {
    diesel::update(orgs::table.filter(orgs::id.eq(org.as_str())))
        .set(orgs::schema_version.eq(orgs::schema_version + 1))
        .execute(conn)
        .map(drop)
}
