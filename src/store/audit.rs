//! The append-only audit log. Events are written by `provisioning/` in the same transaction as
//! the change they record.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DbConnection;
use super::json::Doc;
use super::schema::audit_events;
use crate::ids::OrgId;

mod event;

pub use event::NewEvent;

/// A stored event.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = audit_events)]
pub struct EventRow {
    pub id: i64,
    pub org_id: String,
    pub occurred_at: NaiveDateTime,
    pub actor: String,
    pub channel: String,
    pub action: String,
    pub target_type: String,
    pub target_id: String,
    pub attributes: Doc,
    pub detail: Option<Doc>,
}

/// Appends an event, and makes it deliverable to the org's event subscriptions in the same
/// transaction ([`super::events::enqueue`]): every audited change passes through here.
pub fn append(conn: &mut DbConnection, event: &NewEvent<'_>) -> QueryResult<()> {
    let row = diesel::insert_into(audit_events::table).values((
        audit_events::org_id.eq(event.org.as_str()),
        audit_events::occurred_at.eq(event.occurred_at.naive_utc()),
        audit_events::actor.eq(event.actor),
        audit_events::channel.eq(event.channel),
        audit_events::action.eq(event.action),
        audit_events::target_type.eq(event.target_type),
        audit_events::target_id.eq(event.target_id),
        audit_events::attributes.eq(Doc(serde_json::Value::from(event.attributes.clone()))),
        audit_events::detail.eq(event.detail.clone().map(Doc)),
    ));
    native!(conn, |c| row.execute(c))?;
    super::events::enqueue(conn, event)?;
    metrics::counter!(
        crate::monitoring::LIFECYCLE_CHANGES,
        "action" => event.action.to_owned(),
        "channel" => event.channel.to_owned()
    )
    .increment(1);
    Ok(())
}

/// Events of `org`, oldest first, optionally for one target, after the event id `after`.
pub fn list(
    conn: &mut DbConnection,
    org: &OrgId,
    target_id: Option<&str>,
    after: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<EventRow>> {
    let mut query = audit_events::table
        .filter(audit_events::org_id.eq(org.as_str()))
        .select(EventRow::as_select())
        .order(audit_events::id.asc())
        .limit(limit)
        .into_boxed();
    if let Some(target) = target_id {
        query = query.filter(audit_events::target_id.eq(target.to_owned()));
    }
    if let Some(after) = after {
        query = query.filter(audit_events::id.gt(after));
    }
    query.load(conn)
}
