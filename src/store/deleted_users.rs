//! Deleted users: a user deleted over SCIM moves here, in the transaction of its deletion, and
//! stays until an admin restores it or it is purged. A table of its own, so that no query of
//! `users` can forget to leave deleted users out and their `userName` is free at once.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde_json::Value;

use super::DbConnection;
use super::json::Doc;
use super::schema::{audit_events, deleted_users, event_deliveries, users};
use super::users::{UserRow, user_name_key};
use crate::ids::{OrgId, UserId};

/// A deleted user as kept.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = deleted_users)]
pub struct DeletedUserRow {
    pub id: String,
    pub org_id: String,
    pub user_name: String,
    pub external_id: Option<String>,
    pub display_name: Option<String>,
    pub active: bool,
    pub resource: Doc,
    pub password_hash: Option<String>,
    pub version: i64,
    pub created_at: NaiveDateTime,
    pub deactivated_at: Option<NaiveDateTime>,
    pub deactivated_by: Option<String>,
    pub deactivated_via: Option<String>,
    pub held_at: Option<NaiveDateTime>,
    pub held_by: Option<String>,
    pub hold_reason: Option<String>,
    pub deleted_at: NaiveDateTime,
    /// Who deleted it: the token's `sub` or `jti`.
    pub deleted_by: String,
    /// Through which surface: `scim`, `admin` or `cli`.
    pub deleted_via: String,
    /// The ids of the groups the deletion removed it from (a JSON array).
    pub removed_groups: Doc,
}

impl DeletedUserRow {
    /// The group ids the deletion removed the user from.
    pub fn removed_group_ids(&self) -> Vec<String> {
        self.removed_groups
            .0
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()
    }
}

/// Who deleted a user, when, and the groups it was removed from.
#[derive(Debug, Clone)]
pub struct Deletion<'a> {
    pub at: DateTime<Utc>,
    pub by: &'a str,
    pub via: &'a str,
    pub removed_groups: &'a [String],
}

/// Keeps `row` (about to be deleted from `users`, in the caller's transaction) as deleted.
pub fn keep(conn: &mut DbConnection, row: &UserRow, deletion: &Deletion<'_>) -> QueryResult<()> {
    let hash_query = users::table
        .filter(users::org_id.eq(&row.org_id))
        .filter(users::id.eq(&row.id))
        .select(users::password_hash);
    let password_hash: Option<String> = hash_query.get_result(conn).optional()?.flatten();
    let groups = Value::from(deletion.removed_groups.to_vec());
    diesel::insert_into(deleted_users::table)
        .values((
            deleted_users::id.eq(&row.id),
            deleted_users::org_id.eq(&row.org_id),
            deleted_users::user_name.eq(&row.user_name),
            deleted_users::external_id.eq(row.external_id.as_deref()),
            deleted_users::display_name.eq(row.display_name.as_deref()),
            deleted_users::active.eq(row.active),
            deleted_users::resource.eq(row.resource.clone()),
            deleted_users::password_hash.eq(password_hash),
            deleted_users::version.eq(row.version),
            deleted_users::created_at.eq(row.created_at),
            deleted_users::deactivated_at.eq(row.deactivated_at),
            deleted_users::deactivated_by.eq(row.deactivated_by.as_deref()),
            deleted_users::deactivated_via.eq(row.deactivated_via.as_deref()),
            deleted_users::held_at.eq(row.held_at),
            deleted_users::held_by.eq(row.held_by.as_deref()),
            deleted_users::hold_reason.eq(row.hold_reason.as_deref()),
            deleted_users::deleted_at.eq(deletion.at.naive_utc()),
            deleted_users::deleted_by.eq(deletion.by),
            deleted_users::deleted_via.eq(deletion.via),
            deleted_users::removed_groups.eq(Doc(groups)),
        ))
        .execute(conn)
        .map(drop)
}

/// The deleted user `id` of `org`, if it is kept.
pub fn find(
    conn: &mut DbConnection,
    org: &OrgId,
    id: &UserId,
) -> QueryResult<Option<DeletedUserRow>> {
    deleted_users::table
        .filter(deleted_users::org_id.eq(org.as_str()))
        .filter(deleted_users::id.eq(id.as_str()))
        .select(DeletedUserRow::as_select())
        .get_result(conn)
        .optional()
}

/// Up to `limit` deleted users of `org` with an id after `after`, in id order.
pub fn list(
    conn: &mut DbConnection,
    org: &OrgId,
    after: Option<&UserId>,
    limit: i64,
) -> QueryResult<Vec<DeletedUserRow>> {
    let mut query = deleted_users::table
        .filter(deleted_users::org_id.eq(org.as_str()))
        .select(DeletedUserRow::as_select())
        .order(deleted_users::id.asc())
        .limit(limit)
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(deleted_users::id.gt(after.as_str().to_owned()));
    }
    query.load(conn)
}

/// Puts `row` back into `users` (same id, attributes, password, deactivation record and hold;
/// the next version) and forgets it as deleted, in the caller's transaction. A `userName` taken
/// meanwhile is a unique violation for the caller to map.
pub fn restore(
    conn: &mut DbConnection,
    row: &DeletedUserRow,
    now: DateTime<Utc>,
) -> QueryResult<UserRow> {
    let now = now.naive_utc();
    let org = OrgId::from_db(row.org_id.clone());
    let id = UserId::from_db(row.id.clone());
    let version = row.version + 1;
    diesel::insert_into(users::table)
        .values((
            users::id.eq(&row.id),
            users::org_id.eq(&row.org_id),
            users::user_name.eq(&row.user_name),
            users::user_name_ci.eq(user_name_key(&row.user_name)),
            users::external_id.eq(row.external_id.as_deref()),
            users::display_name.eq(row.display_name.as_deref()),
            users::active.eq(row.active),
            users::resource.eq(row.resource.clone()),
            users::password_hash.eq(row.password_hash.as_deref()),
            users::version.eq(version),
            users::created_at.eq(row.created_at),
            users::last_modified.eq(now),
            users::deactivated_at.eq(row.deactivated_at),
            users::deactivated_by.eq(row.deactivated_by.as_deref()),
            users::deactivated_via.eq(row.deactivated_via.as_deref()),
            users::held_at.eq(row.held_at),
            users::held_by.eq(row.held_by.as_deref()),
            users::hold_reason.eq(row.hold_reason.as_deref()),
        ))
        .execute(conn)?;
    let attributes = match &row.resource.0 {
        Value::Object(map) => map.clone(),
        _ => serde_json::Map::new(),
    };
    super::users::write_children(conn, &org, &id, &attributes)?;
    diesel::delete(
        deleted_users::table
            .filter(deleted_users::org_id.eq(org.as_str()))
            .filter(deleted_users::id.eq(id.as_str())),
    )
    .execute(conn)?;
    Ok(UserRow {
        id: row.id.clone(),
        org_id: row.org_id.clone(),
        user_name: row.user_name.clone(),
        external_id: row.external_id.clone(),
        display_name: row.display_name.clone(),
        active: row.active,
        resource: row.resource.clone(),
        version,
        created_at: row.created_at,
        last_modified: now,
        deactivated_at: row.deactivated_at,
        deactivated_by: row.deactivated_by.clone(),
        deactivated_via: row.deactivated_via.clone(),
        held_at: row.held_at,
        held_by: row.held_by.clone(),
        hold_reason: row.hold_reason.clone(),
    })
}

/// The ids of `org`'s deleted users deleted before `before`, at most `limit`, oldest id first.
pub fn expired(
    conn: &mut DbConnection,
    org: &OrgId,
    before: DateTime<Utc>,
    limit: i64,
) -> QueryResult<Vec<String>> {
    deleted_users::table
        .filter(deleted_users::org_id.eq(org.as_str()))
        .filter(deleted_users::deleted_at.lt(before.naive_utc()))
        .select(deleted_users::id)
        .order(deleted_users::id.asc())
        .limit(limit)
        .load(conn)
}

/// The PostgreSQL advisory lock of the purge job (`roster-purge` in ASCII).
pub const PURGE_LOCK: i64 = 0x7275_7267_6500;

/// Whether this transaction may run a batch of the purge job: on PostgreSQL it takes the job's
/// transaction-scoped advisory lock without waiting (`false` while another node holds it: that
/// node is purging, and this one skips its round); SQLite has one node, whose writer runs one
/// write at a time, so it always may. Call it inside the batch's transaction.
pub fn claim_purge_batch(conn: &mut DbConnection) -> QueryResult<bool> {
    match conn {
        DbConnection::Sqlite(_) => Ok(true),
        DbConnection::Pg(pg) => {
            #[derive(QueryableByName)]
            struct Claimed {
                #[diesel(sql_type = diesel::sql_types::Bool)]
                claimed: bool,
            }
            let row: Claimed = diesel::sql_query(format!(
                "SELECT pg_try_advisory_xact_lock({PURGE_LOCK}) AS claimed"
            ))
            .get_result(pg)?;
            Ok(row.claimed)
        }
    }
}

/// The orgs that have deleted users (the purge job visits only those).
pub fn orgs(conn: &mut DbConnection) -> QueryResult<Vec<String>> {
    deleted_users::table
        .select(deleted_users::org_id)
        .distinct()
        .order(deleted_users::org_id.asc())
        .load(conn)
}

/// Purges the deleted user `id` of `org`, in the caller's transaction: its row goes (the claim:
/// of two purges racing, one deletes it and the other finds nothing and does nothing), and the
/// personal data that stays about it elsewhere is removed — free text in the details of the
/// audit events about it (`reason`, `holdReason`; the events themselves, their ids, actions,
/// times and attribute names stay), and `userName`, `externalId` and `displayName` of it in
/// the bodies of the event deliveries kept. Returns whether it was there to purge.
pub fn purge(conn: &mut DbConnection, org: &OrgId, id: &str) -> QueryResult<bool> {
    let deleted = diesel::delete(
        deleted_users::table
            .filter(deleted_users::org_id.eq(org.as_str()))
            .filter(deleted_users::id.eq(id)),
    )
    .execute(conn)?;
    if deleted == 0 {
        return Ok(false);
    }
    let events: Vec<(i64, Option<Doc>)> = audit_events::table
        .filter(audit_events::org_id.eq(org.as_str()))
        .filter(audit_events::target_id.eq(id))
        .filter(audit_events::detail.is_not_null())
        .select((audit_events::id, audit_events::detail))
        .load(conn)?;
    for (event, detail) in events {
        let Some(Doc(mut detail)) = detail else {
            continue;
        };
        if scrub_free_text(&mut detail) {
            diesel::update(audit_events::table.filter(audit_events::id.eq(event)))
                .set(audit_events::detail.eq(Some(Doc(detail))))
                .execute(conn)?;
        }
    }
    // Ids are UUIDs: a body that names one is about that user (as the resource or a member).
    let deliveries: Vec<(i64, String)> = event_deliveries::table
        .filter(event_deliveries::org_id.eq(org.as_str()))
        .filter(event_deliveries::body.like(format!("%{id}%")))
        .select((event_deliveries::id, event_deliveries::body))
        .load(conn)?;
    for (delivery, body) in deliveries {
        let Ok(mut json) = serde_json::from_str::<Value>(&body) else {
            continue;
        };
        if scrub_names_of(&mut json, id) {
            diesel::update(event_deliveries::table.filter(event_deliveries::id.eq(delivery)))
                .set(event_deliveries::body.eq(json.to_string()))
                .execute(conn)?;
        }
    }
    Ok(true)
}

/// Removes the free-text fields an admin wrote about a person (`reason`, `holdReason`) from an
/// audit detail, at any depth. Returns whether anything was removed.
fn scrub_free_text(value: &mut Value) -> bool {
    match value {
        Value::Object(map) => {
            let mut changed = false;
            for key in ["reason", "holdReason"] {
                changed |= map.remove(key).is_some();
            }
            for v in map.values_mut() {
                changed |= scrub_free_text(v);
            }
            changed
        }
        Value::Array(items) => items.iter_mut().fold(false, |c, v| scrub_free_text(v) | c),
        _ => false,
    }
}

/// Removes `userName`, `externalId` and `displayName` from every object of `value` whose `id`
/// is `id` (a webhook's `data`, a SET's `sub_id`). Returns whether anything was removed.
fn scrub_names_of(value: &mut Value, id: &str) -> bool {
    match value {
        Value::Object(map) => {
            let mut changed = false;
            if map.get("id").and_then(Value::as_str) == Some(id) {
                for key in ["userName", "externalId", "displayName"] {
                    changed |= map.remove(key).is_some();
                }
            }
            for v in map.values_mut() {
                changed |= scrub_names_of(v, id);
            }
            changed
        }
        Value::Array(items) => items
            .iter_mut()
            .fold(false, |c, v| scrub_names_of(v, id) | c),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scrubbing_removes_names_of_the_user_only_and_free_text() {
        let mut body = json!({"type": "user.deleted", "data": {"id": "u1", "userName": "a@x", "externalId": "e", "actor": {"id": "u2", "userName": "keep"}}});
        assert!(scrub_names_of(&mut body, "u1"));
        assert_eq!(
            body,
            json!({"type": "user.deleted", "data": {"id": "u1", "actor": {"id": "u2", "userName": "keep"}}})
        );
        assert!(!scrub_names_of(&mut body, "u1"), "nothing left to remove");
        let mut detail = json!({"reason": "left", "hold": {"heldBy": "admin", "holdReason": "fraud"}, "removedFromGroups": ["g"]});
        assert!(scrub_free_text(&mut detail));
        assert_eq!(
            detail,
            json!({"hold": {"heldBy": "admin"}, "removedFromGroups": ["g"]})
        );
    }
}
