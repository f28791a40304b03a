//! The per-org rate limit at the HTTP edge (docs/limits.md, "Rate limits"): the SCIM scope
//! carries the [`Limited`] marker, and the `Authenticated` extractor takes a request from the
//! caller's organization's bucket ([`crate::provisioning::rate_limits`]) right after the token
//! is verified, before any database work. The admin API, `/healthz` and `/readyz` carry no
//! marker and are never limited: an admin can always reach the API that changes the limit.

use actix_web::HttpRequest;

use super::AppState;
use crate::auth::Principal;
use crate::scim::ScimError;

/// Marks a scope whose requests count against their organization's rate limit.
#[derive(Debug, Clone, Copy)]
pub struct Limited;

/// Whether `req` is under a [`Limited`] scope.
pub fn applies(req: &HttpRequest) -> bool {
    req.app_data::<Limited>().is_some()
}

/// Takes one request of `principal`'s organization from its bucket: 429 with `Retry-After`
/// and a SCIM error body beyond it.
pub fn check(state: &AppState, principal: &Principal) -> Result<(), ScimError> {
    state.connectors.admit(principal)
}
