//! What an operator does with the `roster` command line (docs/operations.md): create an
//! organization (tokens are minted and revoked through [`super::tokens`], the same code as the
//! admin API's).
//! Each write runs in one transaction with its audit event, channel `cli`, actor
//! [`OPERATOR`] (docs/architecture.md §2, §6).
//!
//! These functions block: the command line runs them on its own thread, outside any async
//! runtime, on one connection that waits for a running server's write lock
//! (`ROSTER_CLI_LOCK_WAIT`, docs/limits.md).

use super::{Actor, Channel};
use crate::clock;
use crate::ids::OrgId;
use crate::store::audit::{self, NewEvent};
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
