//! The per-org rate limit at the HTTP edge (docs/limits.md, "Rate limits"): the SCIM scope
//! carries the [`Limited`] marker, and the admission middleware ([`super::admission`]) takes a
//! request from its organization's bucket ([`crate::provisioning::rate_limits`]) as soon as the
//! bearer token's signature is verified: before the request takes a share of its organization's
//! in-flight allowance, before its body is read and before any database work, so a refused
//! request costs the server next to nothing. Once answered, the request's work is charged to the
//! same bucket. The admin API, `/healthz` and `/readyz` carry no marker and are never limited:
//! an admin can always reach the API that changes the limit.

use actix_web::HttpRequest;

use super::AppState;
use crate::ids::OrgId;
use crate::scim::ScimError;

/// Marks a scope whose requests count against their organization's rate limit.
#[derive(Debug, Clone, Copy)]
pub struct Limited;

/// Whether `req` is under a [`Limited`] scope.
pub fn applies(req: &HttpRequest) -> bool {
    req.app_data::<Limited>().is_some()
}

/// Takes one request of `org` from its bucket: 429 with `Retry-After` and a SCIM error body
/// beyond it.
pub fn check(state: &AppState, org: &OrgId) -> Result<(), ScimError> {
    state.connectors.admit(org)
}
