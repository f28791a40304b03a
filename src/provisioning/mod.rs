//! Use cases: what roster does when a connector or an admin asks for something. The only code
//! that opens write transactions and writes audit events (docs/architecture.md §2, §6).

pub mod access;
pub mod audit;
pub mod bulk;
pub mod bulk_lifecycle;
pub mod console;
pub mod delivery;
pub mod events;
pub mod groups;
pub mod lifecycle;
pub mod users;

use crate::auth::Principal;
use crate::ids::OrgId;
use crate::scim::ScimError;
use crate::store::StoreError;

/// Through which surface a change arrived; recorded with every audit event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// The SCIM API (`/scim/v2`): an IdP connector or a conformance suite.
    Scim,
    /// The admin API (`/admin/v1`): an org admin.
    Admin,
    /// The `roster` command line, run by an operator.
    Cli,
}

impl Channel {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Scim => "scim",
            Channel::Admin => "admin",
            Channel::Cli => "cli",
        }
    }
}

/// Who is acting, in which org, through which surface.
#[derive(Debug, Clone)]
pub struct Actor {
    pub org: OrgId,
    /// The token's `sub` when it acts as a user, else its `jti`.
    pub id: String,
    pub channel: Channel,
}

impl Actor {
    /// The actor behind a verified token, acting through `channel`.
    pub fn from_principal(principal: &Principal, channel: Channel) -> Actor {
        Actor {
            org: principal.org.clone(),
            id: principal
                .subject
                .as_ref()
                .map(|s| s.to_string())
                .unwrap_or_else(|| principal.token_id.clone()),
            channel,
        }
    }
}

impl From<StoreError> for ScimError {
    fn from(err: StoreError) -> ScimError {
        match err {
            StoreError::Unavailable(e) => {
                tracing::warn!(error = %e, "no database connection available");
                ScimError::unavailable("the database is busy or unreachable; retry shortly")
            }
            StoreError::Busy(why) => {
                tracing::warn!(error = %why, "the database writer is busy");
                ScimError::unavailable("the database is busy or unreachable; retry shortly")
            }
            StoreError::Query(e) => ScimError::from(e),
            StoreError::Overloaded {
                why,
                retry_after_secs,
            } => {
                tracing::warn!(reason = %why, "work refused: the server is at capacity");
                ScimError::overloaded(
                    format!("the server is at capacity ({why}); retry after {retry_after_secs} s"),
                    retry_after_secs,
                )
            }
            StoreError::TooCostly { limit } => {
                tracing::warn!(?limit, "a query was stopped at the query timeout");
                ScimError::too_many(format!(
                    "the query took longer than the {} this server allows and was stopped; \
                     narrow the filter (eq on userName, externalId or emails.value is fastest), \
                     avoid co/sw/ew and sortBy, or ask for fewer results",
                    humantime::format_duration(limit)
                ))
            }
            other => {
                tracing::error!(error = %other, "storage failure");
                ScimError::internal()
            }
        }
    }
}

impl From<diesel::result::Error> for ScimError {
    fn from(err: diesel::result::Error) -> ScimError {
        tracing::error!(error = %err, "database query failed");
        ScimError::internal()
    }
}
