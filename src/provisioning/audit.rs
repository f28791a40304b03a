//! The audit log: [`record`], the one way the use cases write an event (in the transaction of
//! the change it records), and reading the log.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::Actor;
use crate::ids::OrgId;
use crate::scim::ScimError;
use crate::store::audit::{self, EventRow};
use crate::store::{DbConnection, Store};

/// Appends the event of a change `actor` made to `target` (its type, `User` or `Group`, and its
/// id), in the caller's transaction: `attributes` names what changed (never values), `detail`
/// adds context (a membership delta, an admin's reason).
pub(crate) fn record(
    conn: &mut DbConnection,
    actor: &Actor,
    action: &str,
    target: (&str, &str),
    attributes: Vec<String>,
    detail: Option<Value>,
    now: DateTime<Utc>,
) -> Result<(), ScimError> {
    let (target_type, target_id) = target;
    audit::append(
        conn,
        &audit::NewEvent {
            org: &actor.org,
            occurred_at: now,
            actor: &actor.id,
            channel: actor.channel.as_str(),
            action,
            target_type,
            target_id,
            attributes,
            detail,
        },
    )?;
    Ok(())
}

/// Events of `org`, oldest first, optionally about one target, after the event id `after`.
pub async fn list(
    store: &Store,
    org: &OrgId,
    target_id: Option<String>,
    after: Option<i64>,
    limit: i64,
) -> Result<Vec<EventRow>, ScimError> {
    let org = org.clone();
    store
        .run(move |conn| Ok(audit::list(conn, &org, target_id.as_deref(), after, limit)?))
        .await
}
