//! Per-org rate limits that replace the configured default (`org_rate_limits`).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DbConnection;
use super::schema::org_rate_limits;
use crate::ids::OrgId;

/// An org's own limit.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = org_rate_limits)]
pub struct RateLimitRow {
    pub org_id: String,
    pub per_second: i32,
    pub burst: i32,
    pub updated_at: NaiveDateTime,
    pub updated_by: String,
}

/// Sets `org`'s limit, replacing any earlier one.
pub fn upsert(
    conn: &mut DbConnection,
    org: &OrgId,
    per_second: i32,
    burst: i32,
    at: NaiveDateTime,
    by: &str,
) -> QueryResult<()> {
    let updated = diesel::update(org_rate_limits::table.find(org.as_str()))
        .set((
            org_rate_limits::per_second.eq(per_second),
            org_rate_limits::burst.eq(burst),
            org_rate_limits::updated_at.eq(at),
            org_rate_limits::updated_by.eq(by),
        ))
        .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(org_rate_limits::table)
            .values((
                org_rate_limits::org_id.eq(org.as_str()),
                org_rate_limits::per_second.eq(per_second),
                org_rate_limits::burst.eq(burst),
                org_rate_limits::updated_at.eq(at),
                org_rate_limits::updated_by.eq(by),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// `org`'s own limit, if it has one.
pub fn find(conn: &mut DbConnection, org: &OrgId) -> QueryResult<Option<RateLimitRow>> {
    org_rate_limits::table
        .find(org.as_str())
        .select(RateLimitRow::as_select())
        .first(conn)
        .optional()
}

/// Every org's own limit (one row per org that set one; orgs are few).
pub fn all(conn: &mut DbConnection) -> QueryResult<Vec<RateLimitRow>> {
    org_rate_limits::table
        .select(RateLimitRow::as_select())
        .load(conn)
}
