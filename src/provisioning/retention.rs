//! How long an org's deleted users stay restorable, and the job that purges them after it
//! (docs/admin-api.md, "Deleted users"). The retention is the org's own
//! (`PUT /admin/v1/deleted-user-retention`) or [`DEFAULT_DAYS`]; every node runs
//! [`purge_expired`] every `ROSTER_DELETED_USER_PURGE_INTERVAL`.
//!
//! One node purges at a time: each batch runs in a transaction that first takes the job's
//! advisory lock without waiting ([`deleted_users::claim_purge_batch`]); a node that finds it
//! taken skips its round (SQLite has one node and one writer). Should two purges meet anyway
//! (`roster purge` beside the job), deleting a deleted user's row is the claim
//! ([`deleted_users::purge`]): the second finds nothing, writes nothing, so each user is purged
//! and audited once.

use chrono::{DateTime, Utc};

use super::{Actor, Channel};
use crate::clock;
use crate::ids::OrgId;
use crate::scim::ScimError;
use crate::store::audit::{self, NewEvent};
use crate::store::{DbConnection, Store, deleted_users, retention, write_tx};

/// Days a deleted user stays restorable in an org that set no retention of its own.
pub const DEFAULT_DAYS: i64 = 30;
/// The longest retention an org may set (ten years).
pub const MAX_DAYS: i64 = 3650;
/// The actor of the purge job's audit events (channel `system`).
pub const RETENTION_ACTOR: &str = "retention";
/// Deleted users the job purges per round trip to the writer (each in its own transaction).
const BATCH: i64 = 100;

impl Actor {
    /// Roster itself, purging deleted users past `org`'s retention (channel `system`).
    pub fn retention(org: OrgId) -> Actor {
        Actor {
            org,
            id: RETENTION_ACTOR.to_owned(),
            channel: Channel::System,
        }
    }
}

/// An org's retention of deleted users.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retention {
    /// Days a deleted user stays restorable.
    pub days: i64,
    /// Whether it is the org's own (else [`DEFAULT_DAYS`]).
    pub own: bool,
    pub updated_at: Option<DateTime<Utc>>,
    pub updated_by: Option<String>,
}

/// `org`'s retention, read on `conn`.
pub fn of(conn: &mut DbConnection, org: &OrgId) -> diesel::QueryResult<Retention> {
    Ok(match retention::find(conn, org)? {
        Some(row) => Retention {
            days: i64::from(row.days),
            own: true,
            updated_at: Some(row.updated_at.and_utc()),
            updated_by: Some(row.updated_by),
        },
        None => Retention {
            days: DEFAULT_DAYS,
            own: false,
            updated_at: None,
            updated_by: None,
        },
    })
}

/// `org`'s retention (`GET /admin/v1/deleted-user-retention`).
pub async fn get(store: &Store, org: &OrgId) -> Result<Retention, ScimError> {
    let org = org.clone();
    store
        .run_indexed(move |conn| Ok::<_, ScimError>(of(conn, &org)?))
        .await
}

/// Sets `actor`'s org's retention to `days` (1 to [`MAX_DAYS`]), audited as
/// `org.deleted_user_retention`; the purge job applies it on its next round. Returns it.
pub async fn set(store: &Store, actor: &Actor, days: i64) -> Result<Retention, ScimError> {
    let days = i32::try_from(days)
        .ok()
        .filter(|d| (1..=MAX_DAYS).contains(&i64::from(*d)))
        .ok_or_else(|| {
            ScimError::invalid_value(format!(
                "'days' must be between 1 and {MAX_DAYS}, got {days}{}",
                if days == 0 {
                    " (to erase a deleted user at once, use `roster purge --now` or `--user`)"
                } else {
                    ""
                }
            ))
        })?;
    let now = clock::now();
    let writer = actor.clone();
    store
        .run_write(move |conn| {
            write_tx(conn, |conn| {
                retention::upsert(conn, &writer.org, days, now.naive_utc(), &writer.id)?;
                audit::append(
                    conn,
                    &NewEvent {
                        org: &writer.org,
                        occurred_at: now,
                        actor: &writer.id,
                        channel: writer.channel.as_str(),
                        action: "org.deleted_user_retention",
                        target_type: "org",
                        target_id: writer.org.as_str(),
                        attributes: vec!["days".to_owned()],
                        detail: Some(serde_json::json!({ "days": days })),
                    },
                )?;
                Ok::<_, ScimError>(())
            })?;
            Ok::<_, ScimError>(of(conn, &writer.org)?)
        })
        .await
}

/// Purges the deleted user `id` of `org` in its own transaction, with its audit event
/// `user.purge` by `actor` (an event `user.purged` for subscriptions). Returns whether it was
/// there to purge (another purge may have taken it: then nothing is written).
pub fn purge_one(
    conn: &mut DbConnection,
    org: &OrgId,
    id: &str,
    actor: &Actor,
) -> Result<bool, crate::store::StoreError> {
    write_tx(conn, |conn| {
        if !deleted_users::purge(conn, org, id)? {
            return Ok(false);
        }
        audit::append(
            conn,
            &NewEvent {
                org,
                occurred_at: clock::now(),
                actor: &actor.id,
                channel: actor.channel.as_str(),
                action: "user.purge",
                target_type: "User",
                target_id: id,
                attributes: Vec::new(),
                detail: None,
            },
        )?;
        Ok(true)
    })
}

/// The purge job's round: in every org that has deleted users, purges those deleted longer
/// than the org's retention before `now` (a parameter: tests drive it without waiting), each
/// in its own transaction audited by [`RETENTION_ACTOR`] on channel `system`. Returns the
/// purged users as (org, id).
pub async fn purge_expired(
    store: &Store,
    now: DateTime<Utc>,
) -> Result<Vec<(OrgId, String)>, ScimError> {
    let orgs = store
        .run_indexed(|conn| Ok::<_, ScimError>(deleted_users::orgs(conn)?))
        .await?;
    let mut purged = Vec::new();
    for org in orgs.iter().filter_map(|o| OrgId::parse(o).ok()) {
        loop {
            let org_ = org.clone();
            // A batch per call: the writer is not held by one org's whole purge.
            let batch = store
                .run_write(move |conn| {
                    // One node at a time: the batch runs in a transaction that holds the job's
                    // lock (each user's purge a savepoint of it, as `purge_one` nests).
                    write_tx(conn, |conn| {
                        if !deleted_users::claim_purge_batch(conn)? {
                            return Ok::<_, ScimError>(None);
                        }
                        let days = of(conn, &org_)?.days;
                        let before = now
                            .checked_sub_signed(chrono::Duration::days(days))
                            .unwrap_or(now);
                        let ids = deleted_users::expired(conn, &org_, before, BATCH)?;
                        let actor = Actor::retention(org_.clone());
                        let mut done = Vec::new();
                        for id in &ids {
                            if purge_one(conn, &org_, id, &actor)? {
                                done.push(id.clone());
                            }
                        }
                        Ok(Some((ids.len(), done)))
                    })
                })
                .await?;
            let Some((seen, done)) = batch else {
                tracing::debug!("another node is purging deleted users; this round is skipped");
                return Ok(purged);
            };
            let progressed = !done.is_empty();
            purged.extend(done.into_iter().map(|id| (org.clone(), id)));
            if seen < usize::try_from(BATCH).unwrap_or(usize::MAX) || !progressed {
                break;
            }
        }
    }
    Ok(purged)
}
