//! What an operator does with the `roster` command line (docs/operations.md): create an
//! organization, purge deleted users (tokens are minted and revoked through [`super::tokens`], the same code as the
//! admin API's).
//! Each write runs in one transaction with its audit event, channel `cli`, actor
//! [`OPERATOR`] (docs/architecture.md §2, §6).
//!
//! These functions block: the command line runs them on its own thread, outside any async
//! runtime, on one connection that waits for a running server's write lock
//! (`ROSTER_CLI_LOCK_WAIT`, docs/limits.md).

use super::{Actor, Channel, retention};
use crate::clock;
use crate::ids::OrgId;
use crate::ids::UserId;
use crate::store::audit::{self, NewEvent};
use crate::store::deleted_users;
use crate::store::{Store, StoreError, orgs, unique_violation, write_tx};

/// The actor the command line's audit events name: whoever runs `roster` on the server.
pub const OPERATOR: &str = "operator";

impl Actor {
    /// The operator at the command line, acting in `org` (channel `cli`).
    pub fn operator(org: OrgId) -> Actor {
        Actor {
            org,
            id: OPERATOR.to_owned(),
            channel: Channel::Cli,
        }
    }
}

/// Why an operator's command was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    /// `org create` of a slug that is taken.
    #[error("organization '{0}' already exists")]
    OrgExists(OrgId),
    /// A command for an org that does not exist.
    #[error("organization '{0}' does not exist: create it with `roster org create {0}`")]
    NoSuchOrg(OrgId),
    /// `purge --user` of an id that is not a deleted user of the org.
    #[error(
        "no deleted user with id '{0}' in this organization (purged already, never deleted, or another org's)"
    )]
    NoSuchDeletedUser(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<diesel::result::Error> for OperatorError {
    fn from(err: diesel::result::Error) -> OperatorError {
        OperatorError::Store(StoreError::Query(err))
    }
}

/// `roster org create`: creates `org` named `name`, audited as `org.create` in the new org.
pub fn create_org(store: &Store, org: &OrgId, name: &str) -> Result<(), OperatorError> {
    let mut conn = store.conn()?;
    let actor = Actor::operator(org.clone());
    write_tx(&mut conn, |conn| {
        let now = clock::now();
        match orgs::create(conn, org, name, now) {
            Err(e) if unique_violation(&e).is_some() => {
                return Err(OperatorError::OrgExists(org.clone()));
            }
            other => other?,
        }
        record(
            conn,
            &actor,
            "org.create",
            "Organization",
            org.as_str(),
            now,
        )
    })
}

/// Which deleted users `roster purge` removes.
#[derive(Debug, Clone)]
pub enum PurgeScope {
    /// Those deleted before `now` minus the org's retention (`roster purge --org …`), as the
    /// purge job does.
    OrgRetention,
    /// Those deleted before `now` minus this retention (`--retention-days`).
    OlderThan(chrono::Duration),
    /// All of them, now (`--now`: a right-to-erasure request).
    All,
    /// This one, now (`--user <id>`), however recently deleted.
    User(String),
}

/// Deleted users purged per transaction (each user is its own transaction; a batch is read at
/// a time).
const PURGE_BATCH: i64 = 100;

/// `roster purge`: removes deleted users of `org` for good — their row, the free text about
/// them in audit details and their names in kept event deliveries
/// ([`deleted_users::purge`]); each in its own transaction with its audit event `user.purge`
/// (channel `cli`; an event `user.purged` for subscriptions). `now` is a parameter, so the
/// retention is decided by the caller's clock (tests drive it without waiting). Returns the
/// ids purged.
pub fn purge_deleted_users(
    store: &Store,
    org: &OrgId,
    scope: &PurgeScope,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<String>, OperatorError> {
    let mut conn = store.conn()?;
    if !orgs::exists(&mut conn, org)? {
        return Err(OperatorError::NoSuchOrg(org.clone()));
    }
    let actor = Actor::operator(org.clone());
    let before = match scope {
        PurgeScope::OlderThan(retention) => now.checked_sub_signed(*retention).unwrap_or(now),
        PurgeScope::OrgRetention => {
            let days = retention::of(&mut conn, org)?.days;
            now.checked_sub_signed(chrono::Duration::days(days))
                .unwrap_or(now)
        }
        PurgeScope::All | PurgeScope::User(_) => now,
    };
    let mut purged = Vec::new();
    loop {
        let batch = match scope {
            PurgeScope::User(id) => {
                let id = UserId::parse(id)
                    .ok_or_else(|| OperatorError::NoSuchDeletedUser(id.clone()))?;
                if deleted_users::find(&mut conn, org, &id)?.is_none() {
                    return Err(OperatorError::NoSuchDeletedUser(id.as_str().to_owned()));
                }
                vec![id.as_str().to_owned()]
            }
            _ => deleted_users::expired(&mut conn, org, before, PURGE_BATCH)?,
        };
        if batch.is_empty() {
            break;
        }
        let mut progressed = false;
        for id in batch {
            if retention::purge_one(&mut conn, org, &id, &actor)? {
                progressed = true;
                purged.push(id);
            }
        }
        if matches!(scope, PurgeScope::User(_)) || !progressed {
            break;
        }
    }
    Ok(purged)
}

/// Appends the audit event of an operator's change (no attributes: none of a resource).
fn record(
    conn: &mut crate::store::DbConnection,
    actor: &Actor,
    action: &str,
    target_type: &str,
    target_id: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), OperatorError> {
    audit::append(
        conn,
        &NewEvent {
            org: &actor.org,
            occurred_at: now,
            actor: &actor.id,
            channel: actor.channel.as_str(),
            action,
            target_type,
            target_id,
            attributes: Vec::new(),
            detail: None,
        },
    )?;
    Ok(())
}
