//! The SCIM request log (`scim_requests`): written in batches by the request log's flusher,
//! read by the admin API, purged past its retention.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DbConnection;
use super::schema::scim_requests;
use crate::ids::OrgId;

/// One logged request.
#[derive(Debug, Clone, PartialEq, Eq, Insertable)]
#[diesel(table_name = scim_requests)]
pub struct NewRequest {
    pub org_id: String,
    pub occurred_at: NaiveDateTime,
    pub token_jti: String,
    pub method: String,
    pub path: String,
    pub status: i32,
    pub scim_type: Option<String>,
    pub duration_us: i64,
    pub resource_id: Option<String>,
    /// JSON array of attribute names.
    pub body_summary: Option<String>,
    pub request_id: Option<String>,
}

/// A stored record.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = scim_requests)]
pub struct RequestRow {
    pub id: i64,
    pub org_id: String,
    pub occurred_at: NaiveDateTime,
    pub token_jti: String,
    pub method: String,
    pub path: String,
    pub status: i32,
    pub scim_type: Option<String>,
    pub duration_us: i64,
    pub resource_id: Option<String>,
    pub body_summary: Option<String>,
    pub request_id: Option<String>,
}

/// Appends records in one statement per 100 rows (multi-row inserts need the backend's own
/// connection: diesel's `MultiConnection` cannot batch them).
pub fn insert(conn: &mut DbConnection, rows: &[NewRequest]) -> QueryResult<()> {
    for chunk in rows.chunks(100) {
        let statement = diesel::insert_into(scim_requests::table).values(chunk);
        native!(conn, |c| statement.execute(c))?;
    }
    Ok(())
}

/// What to list.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// Only statuses in `from..=to`.
    pub status: Option<(i32, i32)>,
    /// Only requests made with one of these tokens.
    pub jtis: Option<Vec<String>>,
    pub resource_id: Option<String>,
    /// Records after this id (a page's cursor).
    pub after_id: Option<i64>,
    /// Records before this id (a newest-first page's cursor).
    pub before_id: Option<i64>,
    /// Records at or after this time.
    pub since: Option<NaiveDateTime>,
    /// Newest first instead of oldest first.
    pub newest_first: bool,
    pub limit: i64,
}

/// Records of `org`, oldest first (newest first with `q.newest_first`).
pub fn list(conn: &mut DbConnection, org: &OrgId, q: &Query) -> QueryResult<Vec<RequestRow>> {
    let mut query = scim_requests::table
        .filter(scim_requests::org_id.eq(org.as_str().to_owned()))
        .select(RequestRow::as_select())
        .limit(q.limit)
        .into_boxed();
    query = if q.newest_first {
        query.order(scim_requests::id.desc())
    } else {
        query.order(scim_requests::id.asc())
    };
    if let Some(before) = q.before_id {
        query = query.filter(scim_requests::id.lt(before));
    }
    if let Some((from, to)) = q.status {
        query = query.filter(scim_requests::status.between(from, to));
    }
    if let Some(jtis) = &q.jtis {
        query = query.filter(scim_requests::token_jti.eq_any(jtis.clone()));
    }
    if let Some(id) = &q.resource_id {
        query = query.filter(scim_requests::resource_id.eq(id.clone()));
    }
    if let Some(after) = q.after_id {
        query = query.filter(scim_requests::id.gt(after));
    }
    if let Some(since) = q.since {
        query = query.filter(scim_requests::occurred_at.ge(since));
    }
    query.load(conn)
}

/// Deletes at most `batch` records older than `before`; returns how many.
pub fn purge(conn: &mut DbConnection, before: NaiveDateTime, batch: i64) -> QueryResult<usize> {
    let ids = scim_requests::table
        .filter(scim_requests::occurred_at.lt(before))
        .select(scim_requests::id)
        .order(scim_requests::id.asc())
        .limit(batch);
    let ids: Vec<i64> = ids.load(conn)?;
    if ids.is_empty() {
        return Ok(0);
    }
    diesel::delete(scim_requests::table.filter(scim_requests::id.eq_any(ids))).execute(conn)
}
