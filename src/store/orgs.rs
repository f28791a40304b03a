//! Tenants.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::DbConnection;
use super::schema::orgs;
use crate::ids::OrgId;

/// Whether the org exists.
pub fn exists(conn: &mut DbConnection, org: &OrgId) -> QueryResult<bool> {
    let exists = diesel::dsl::exists(orgs::table.filter(orgs::id.eq(org.as_str())));
    native!(conn, |c| diesel::select(exists).get_result(c))
}

/// Creates an org. A slug that is taken is a unique violation.
pub fn create(
    conn: &mut DbConnection,
    org: &OrgId,
    name: &str,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::insert_into(orgs::table)
        .values((
            orgs::id.eq(org.as_str()),
            orgs::name.eq(name),
            orgs::created_at.eq(now.naive_utc()),
        ))
        .execute(conn)
        .map(drop)
}
