//! Per-org retention of deleted users that replaces the default of 30 days
//! (`org_deleted_user_retention`).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DbConnection;
use super::schema::org_deleted_user_retention as retention;
use crate::ids::OrgId;

/// An org's own retention.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = retention)]
pub struct RetentionRow {
    pub org_id: String,
    pub days: i32,
    pub updated_at: NaiveDateTime,
    pub updated_by: String,
}

/// Sets `org`'s retention, replacing any earlier one.
pub fn upsert(
    conn: &mut DbConnection,
    org: &OrgId,
    days: i32,
    at: NaiveDateTime,
    by: &str,
) -> QueryResult<()> {
    let updated = diesel::update(retention::table.find(org.as_str()))
        .set((
            retention::days.eq(days),
            retention::updated_at.eq(at),
            retention::updated_by.eq(by),
        ))
        .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(retention::table)
            .values((
                retention::org_id.eq(org.as_str()),
                retention::days.eq(days),
                retention::updated_at.eq(at),
                retention::updated_by.eq(by),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// `org`'s own retention, if it set one.
pub fn find(conn: &mut DbConnection, org: &OrgId) -> QueryResult<Option<RetentionRow>> {
    retention::table
        .find(org.as_str())
        .select(RetentionRow::as_select())
        .first(conn)
        .optional()
}
