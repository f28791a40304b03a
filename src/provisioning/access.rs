//! Whether a verified token may still act: its org exists, its `jti` is not revoked, and the user
//! it acts as (`sub`) exists and is active. Decided in the database on every request, so a
//! deactivation or revocation on one node holds on every node from the next request on.

use crate::auth::Principal;
use crate::scim::ScimError;
use crate::store::{Store, orgs, tokens, users};

/// Checks the principal against the database; every refusal is a 401 with a reason.
pub async fn authorize(store: &Store, principal: &Principal) -> Result<(), ScimError> {
    let principal = principal.clone();
    store
        .run(move |conn| {
            if !orgs::exists(conn, &principal.org)? {
                return Err(ScimError::unauthorized(format!(
                    "the token's organization '{}' does not exist",
                    principal.org
                )));
            }
            if tokens::is_revoked(conn, &principal.token_id)? {
                return Err(ScimError::unauthorized("the token has been revoked"));
            }
            if let Some(subject) = &principal.subject
                && !users::is_active(conn, &principal.org, subject)?
            {
                return Err(ScimError::unauthorized(
                    "the user this token acts as is deactivated or no longer exists",
                ));
            }
            Ok(())
        })
        .await
}
