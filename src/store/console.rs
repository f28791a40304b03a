//! The admin console's tables: sessions and one-time sign-in links (docs/console.md), and the
//! audit log reads of its pages. Only hashes of session ids and link tokens are stored.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::DbConnection;
use super::audit::EventRow;
use super::schema::{audit_events, console_links, console_sessions};
use crate::ids::OrgId;

/// A stored console session.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = console_sessions)]
pub struct SessionRow {
    pub id_hash: String,
    pub org_id: String,
    pub admin_sub: Option<String>,
    pub token_jti: String,
    pub csrf_token: String,
    pub created_at: NaiveDateTime,
    pub last_seen_at: NaiveDateTime,
    pub idle_expires_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

/// A session to store.
#[derive(Debug, Clone)]
pub struct NewSession<'a> {
    pub id_hash: &'a str,
    pub org: &'a OrgId,
    pub admin_sub: Option<&'a str>,
    pub token_jti: &'a str,
    pub csrf_token: &'a str,
    pub now: DateTime<Utc>,
    pub idle_expires_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// Stores a new session, and removes the sessions whose absolute expiry has passed.
pub fn insert_session(conn: &mut DbConnection, session: &NewSession<'_>) -> QueryResult<()> {
    let now = session.now.naive_utc();
    diesel::delete(console_sessions::table.filter(console_sessions::expires_at.le(now)))
        .execute(conn)?;
    diesel::insert_into(console_sessions::table)
        .values((
            console_sessions::id_hash.eq(session.id_hash),
            console_sessions::org_id.eq(session.org.as_str()),
            console_sessions::admin_sub.eq(session.admin_sub),
            console_sessions::token_jti.eq(session.token_jti),
            console_sessions::csrf_token.eq(session.csrf_token),
            console_sessions::created_at.eq(now),
            console_sessions::last_seen_at.eq(now),
            console_sessions::idle_expires_at.eq(session.idle_expires_at.naive_utc()),
            console_sessions::expires_at.eq(session.expires_at.naive_utc()),
        ))
        .execute(conn)
        .map(drop)
}

/// The session whose id hashes to `id_hash`, if any (expired or not).
pub fn find_session(conn: &mut DbConnection, id_hash: &str) -> QueryResult<Option<SessionRow>> {
    native!(conn, |c| console_sessions::table
        .filter(console_sessions::id_hash.eq(id_hash))
        .select(SessionRow::as_select())
        .first(c)
        .optional())
}

/// Records a use of the session: `last_seen_at` and the idle expiry move forward.
pub fn touch_session(
    conn: &mut DbConnection,
    id_hash: &str,
    now: DateTime<Utc>,
    idle_expires_at: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::update(console_sessions::table.filter(console_sessions::id_hash.eq(id_hash)))
        .set((
            console_sessions::last_seen_at.eq(now.naive_utc()),
            console_sessions::idle_expires_at.eq(idle_expires_at.naive_utc()),
        ))
        .execute(conn)
        .map(drop)
}

/// Ends a session. Returns whether it existed.
pub fn delete_session(conn: &mut DbConnection, id_hash: &str) -> QueryResult<bool> {
    diesel::delete(console_sessions::table.filter(console_sessions::id_hash.eq(id_hash)))
        .execute(conn)
        .map(|n| n > 0)
}

/// Stores a one-time sign-in link.
pub fn insert_link(
    conn: &mut DbConnection,
    id_hash: &str,
    org: &OrgId,
    jti: &str,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::insert_into(console_links::table)
        .values((
            console_links::id_hash.eq(id_hash),
            console_links::org_id.eq(org.as_str()),
            console_links::jti.eq(jti),
            console_links::created_at.eq(now.naive_utc()),
            console_links::expires_at.eq(expires_at.naive_utc()),
        ))
        .execute(conn)
        .map(drop)
}

/// Marks the link used, if it is unused and unexpired, in one statement (so two redemptions
/// racing cannot both succeed); returns its org and `jti`.
pub fn redeem_link(
    conn: &mut DbConnection,
    id_hash: &str,
    now: DateTime<Utc>,
) -> QueryResult<Option<(String, String)>> {
    let now = now.naive_utc();
    let update = diesel::update(
        console_links::table
            .filter(console_links::id_hash.eq(id_hash))
            .filter(console_links::used_at.is_null())
            .filter(console_links::expires_at.gt(now)),
    )
    .set(console_links::used_at.eq(now));
    // Through the backend's own connection: diesel's `MultiConnection` has no RETURNING.
    native!(conn, |c| update
        .returning((console_links::org_id, console_links::jti))
        .get_result(c)
        .optional())
}

/// What the audit log page asks for.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only events about this target (a user id).
    pub target_id: Option<String>,
    /// Only events with one of these actions (empty: any).
    pub actions: Vec<String>,
    /// Only events through this channel.
    pub channel: Option<String>,
    /// Keyset cursor: only events older than this id.
    pub before: Option<i64>,
    pub limit: i64,
}

/// Events of `org` matching `filter`, newest first.
pub fn audit_page(
    conn: &mut DbConnection,
    org: &OrgId,
    filter: &AuditFilter,
) -> QueryResult<Vec<EventRow>> {
    let mut query = audit_events::table
        .filter(audit_events::org_id.eq(org.as_str()))
        .select(EventRow::as_select())
        .order(audit_events::id.desc())
        .limit(filter.limit)
        .into_boxed();
    if let Some(target) = &filter.target_id {
        query = query.filter(audit_events::target_id.eq(target.clone()));
    }
    if !filter.actions.is_empty() {
        query = query.filter(audit_events::action.eq_any(filter.actions.clone()));
    }
    if let Some(channel) = &filter.channel {
        query = query.filter(audit_events::channel.eq(channel.clone()));
    }
    if let Some(before) = filter.before {
        query = query.filter(audit_events::id.lt(before));
    }
    query.load(conn)
}

/// The newest event with one of `actions` about each of `targets` (a page of users): one
/// indexed lookup per target.
pub fn latest_events(
    conn: &mut DbConnection,
    org: &OrgId,
    targets: &[String],
    actions: &[&str],
) -> QueryResult<Vec<EventRow>> {
    let mut found = Vec::with_capacity(targets.len());
    for target in targets {
        let row = audit_events::table
            .filter(audit_events::org_id.eq(org.as_str()))
            .filter(audit_events::target_id.eq(target))
            .filter(audit_events::action.eq_any(actions.to_vec()))
            .select(EventRow::as_select())
            .order(audit_events::id.desc())
            .first(conn)
            .optional()?;
        found.extend(row);
    }
    Ok(found)
}
