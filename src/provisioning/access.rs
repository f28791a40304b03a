//! Whether a verified token may still act: its org exists, its `jti` is not revoked, and the user
//! it acts as (`sub`) exists and is active. Revocation and the user's state are read from the
//! database on every request (one statement), so a deactivation or revocation on one node holds
//! on every node from the next request on. Only the existence of orgs is remembered per node:
//! orgs are never deleted, so that memory cannot go stale. The same statement tells whether the
//! org's extension schemas this node holds are current; they are read again when not.

use super::schema_extensions;
use crate::auth::Principal;
use crate::scim::ScimError;
use crate::store::{Store, orgs, tokens};

/// Checks the principal against the database; every refusal is a 401 with a reason.
pub async fn authorize(store: &Store, principal: &Principal) -> Result<(), ScimError> {
    let principal = principal.clone();
    let org_known = store.org_known(&principal.org);
    let cache = store.clone();
    let held_version = schema_extensions::held_version(store, &principal.org);
    let now = crate::clock::now();
    // One statement on indexes (and the org on first sight): a point read.
    store
        .run_indexed(move |conn| {
            if !org_known {
                if !orgs::exists(conn, &principal.org)? {
                    return Err(ScimError::unauthorized(format!(
                        "the token's organization '{}' does not exist",
                        principal.org
                    )));
                }
                cache.remember_org(&principal.org);
            }
            let standing = tokens::standing(
                conn,
                &principal.token_id,
                &principal.org,
                principal.subject.as_ref(),
                held_version,
                now,
            )?;
            if standing.revoked {
                return Err(ScimError::unauthorized("the token has been revoked"));
            }
            if standing.subject_active == Some(false) {
                return Err(ScimError::unauthorized(
                    "the user this token acts as is deactivated or no longer exists",
                ));
            }
            if !standing.schemas_current {
                schema_extensions::refresh(&cache, conn, &principal.org)?;
            }
            Ok(())
        })
        .await
}
