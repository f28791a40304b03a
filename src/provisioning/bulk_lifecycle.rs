//! Deactivating or activating several users at once, for the admin API's
//! `POST /admin/v1/users/deactivate|activate` and the console's "Deactivate selected". Each user
//! is its own lifecycle change ([`super::users::set_active`]): its own transaction and audit
//! event, so one user's failure changes nothing for the others, and the answer reports each.

use super::Actor;
use super::users;
use crate::scim::ScimError;
use crate::store::Store;
use crate::store::users::UserRow;

/// The most users one request may name.
pub const MAX_IDS: usize = 100;

/// What happened to one user.
#[derive(Debug)]
pub enum Outcome {
    /// The state changed; the user as stored now.
    Changed(UserRow),
    /// The user already had the asked state; nothing was written.
    Unchanged(UserRow),
    /// The change failed (unknown id, a conflict, the server busy); nothing was written.
    Failed(ScimError),
}

/// Sets `active` on each of `ids` in turn, in the order given (a repeated id is done once);
/// a deactivation with `hold` puts each on hold too (a user already deactivated and on hold is
/// unchanged), an activation lifts any hold.
/// Refuses more than [`MAX_IDS`] ids, or none, before changing anything.
pub async fn set_active_many(
    store: &Store,
    actor: &Actor,
    ids: &[String],
    active: bool,
    reason: Option<String>,
    hold: bool,
) -> Result<Vec<(String, Outcome)>, ScimError> {
    if ids.is_empty() {
        return Err(ScimError::bad_request("'ids' names no user"));
    }
    if ids.len() > MAX_IDS {
        return Err(ScimError::bad_request(format!(
            "'ids' names {} users; at most {MAX_IDS} per request",
            ids.len()
        )));
    }
    let mut seen = std::collections::HashSet::new();
    let mut outcomes = Vec::with_capacity(ids.len());
    for id in ids {
        if !seen.insert(id.as_str()) {
            continue;
        }
        let outcome = match users::get(store, &actor.org, id).await {
            Err(e) => Outcome::Failed(e),
            Ok(row) if row.active == active && (active || !hold || row.held_at.is_some()) => {
                Outcome::Unchanged(row)
            }
            Ok(_) => {
                match users::set_active(store, actor.clone(), id, active, reason.clone(), hold)
                    .await
                {
                    Ok(row) => Outcome::Changed(row),
                    Err(e) => Outcome::Failed(e),
                }
            }
        };
        outcomes.push((id.clone(), outcome));
    }
    Ok(outcomes)
}
