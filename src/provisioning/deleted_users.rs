//! Deleted users: the admin's list of them and their restore (`GET /admin/v1/users?status=deleted`,
//! `POST /admin/v1/users/{id}/restore`). A SCIM DELETE moves a user to them
//! ([`super::users::delete`]); a restore brings it back with its id and attributes.

use super::{Actor, audit};
use crate::clock;
use crate::ids::{OrgId, UserId};
use crate::scim::ScimError;
use crate::store::deleted_users::{self, DeletedUserRow};
use crate::store::users::{self, UserKey, UserRow};
use crate::store::{Store, unique_violation, write_tx};

/// Why a restore failed.
#[derive(Debug)]
pub enum RestoreError {
    /// Another user took the deleted user's `userName` meanwhile.
    UserNameTaken {
        user_name: String,
        /// The id of the user that holds it now (unknown when it was taken concurrently).
        holder: Option<String>,
    },
    /// Anything else: an unknown id, the server busy, a database failure.
    Failed(ScimError),
}

impl From<ScimError> for RestoreError {
    fn from(e: ScimError) -> RestoreError {
        RestoreError::Failed(e)
    }
}

impl From<crate::store::StoreError> for RestoreError {
    fn from(e: crate::store::StoreError) -> RestoreError {
        RestoreError::Failed(ScimError::from(e))
    }
}

impl From<diesel::result::Error> for RestoreError {
    fn from(e: diesel::result::Error) -> RestoreError {
        RestoreError::Failed(ScimError::from(e))
    }
}

/// Up to `limit` deleted users of `org` after the id `after`, in id order (creation order).
pub async fn list(
    store: &Store,
    org: &OrgId,
    after: Option<UserId>,
    limit: i64,
) -> Result<Vec<DeletedUserRow>, ScimError> {
    let owned = org.clone();
    store
        .scan(org, move |conn| {
            Ok(deleted_users::list(conn, &owned, after.as_ref(), limit)?)
        })
        .await
}

/// Restores the deleted user `id`: back in `users` with the same id, attributes, password,
/// deactivation record and hold, and the next version; audited as `user.restore` (the groups
/// the deletion removed it from are named in the audit detail, not re-added: the IdP pushes
/// memberships again, and re-adding them silently could grant access the IdP has revoked since).
pub async fn restore(store: &Store, actor: Actor, id: &str) -> Result<UserRow, RestoreError> {
    let id = UserId::parse(id).ok_or_else(|| not_found(id))?;
    store
        .run_write(move |conn| {
            write_tx(conn, |conn| {
                let Some(row) = deleted_users::find(conn, &actor.org, &id)? else {
                    return Err(not_found(id.as_str()).into());
                };
                // Named before the insert: on PostgreSQL a failed insert aborts the
                // transaction, and nothing more could be read in it.
                let key = UserKey::UserName(row.user_name.clone());
                if let Some(holder) = users::find_by(conn, &actor.org, &key)? {
                    return Err(RestoreError::UserNameTaken {
                        user_name: row.user_name.clone(),
                        holder: Some(holder.id),
                    });
                }
                let now = clock::now();
                let restored =
                    deleted_users::restore(conn, &row, now).map_err(
                        |e| match unique_violation(&e) {
                            Some(_) => RestoreError::UserNameTaken {
                                user_name: row.user_name.clone(),
                                holder: None,
                            },
                            None => RestoreError::from(e),
                        },
                    )?;
                let deleted_at = row
                    .deleted_at
                    .and_utc()
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
                audit::record(
                    conn,
                    &actor,
                    "user.restore",
                    ("User", id.as_str()),
                    Vec::new(),
                    Some(serde_json::json!({
                        "deletedAt": deleted_at,
                        "deletedBy": row.deleted_by,
                        "deletedVia": row.deleted_via,
                        "removedFromGroups": row.removed_group_ids(),
                    })),
                    now,
                )?;
                Ok(restored)
            })
        })
        .await
}

fn not_found(id: &str) -> ScimError {
    ScimError::not_found(format!(
        "no deleted user with id '{id}' (GET /admin/v1/users?status=deleted lists them)"
    ))
}
