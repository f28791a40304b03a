//! Use cases: what roster does when a connector, an admin or an operator asks for something.
//! The only code that opens write transactions and writes audit events, and the only door to
//! the store: `http` and `cli` call these functions with validated SCIM values and render what
//! they return ([`views`]), and never name `store` (docs/architecture.md §2; `tests/layers.rs`).

pub mod access;
pub mod audit;
pub mod bulk;
pub mod bulk_lifecycle;
pub mod connectors;
pub mod console;
pub mod deleted_users;
pub mod delivery;
pub mod event_key;
pub mod events;
pub mod fairness;
pub mod groups;
pub mod last_used;
pub mod lifecycle;
pub mod membership;
pub mod operator;
pub mod rate_limits;
pub mod request_log;
pub mod retention;
pub mod schema_extensions;
pub mod search;
pub mod tokens;
pub mod users;
pub mod versioning;
pub mod views;

use crate::auth::Principal;
use crate::ids::OrgId;
use crate::scim::ScimError;
use crate::store::StoreError;

/// The handle every use case takes: the database with its pools, queues and limits, opened by
/// `startup`. `http` keeps it in its state and `cli` opens one per command; both only pass it
/// back to the functions of this module.
pub use crate::store::Store;

/// Through which surface a change arrived; recorded with every audit event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// The SCIM API (`/scim/v2`): an IdP connector or a conformance suite.
    Scim,
    /// The admin API (`/admin/v1`): an org admin.
    Admin,
    /// The `roster` command line, run by an operator.
    Cli,
    /// Work roster does by itself (the purge of deleted users past their org's retention).
    System,
}

impl Channel {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Scim => "scim",
            Channel::Admin => "admin",
            Channel::Cli => "cli",
            Channel::System => "system",
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

/// What a client is told when the database is busy or unreachable.
const UNAVAILABLE: &str = "the database is busy or unreachable; retry shortly";

impl From<StoreError> for ScimError {
    /// Every storage failure by name, the store error kept as the cause: the HTTP edge logs it
    /// once, with the request id (docs/architecture.md §9); the client sees only the status.
    fn from(err: StoreError) -> ScimError {
        let answer = match &err {
            StoreError::Unavailable(_) | StoreError::Busy(_) => ScimError::unavailable(UNAVAILABLE),
            StoreError::Overloaded {
                why,
                retry_after_secs,
            } => ScimError::overloaded(
                format!("the server is at capacity ({why}); retry after {retry_after_secs} s"),
                *retry_after_secs,
            ),
            StoreError::TooCostly { limit } => ScimError::too_many(format!(
                "the query took longer than the {} this server allows and was stopped; \
                 narrow the filter (eq on userName, externalId or emails.value is fastest), \
                 avoid co/sw/ew and sortBy, or ask for fewer results",
                humantime::format_duration(*limit)
            )),
            StoreError::Query(_) | StoreError::Migration(_) | StoreError::Task(_) => {
                ScimError::internal()
            }
        };
        answer.caused_by(err)
    }
}

impl From<diesel::result::Error> for ScimError {
    /// A failed query: 500, the diesel error kept as the cause (logged at the edge).
    fn from(err: diesel::result::Error) -> ScimError {
        ScimError::internal_from(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(err: &ScimError) -> Vec<String> {
        std::iter::successors(std::error::Error::source(err), |e| e.source())
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn a_storage_failure_keeps_its_cause_chain_up_to_the_response_mapping() {
        let diesel = diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::Unknown,
            Box::new("relation \"users\" does not exist".to_owned()),
        );
        let err = ScimError::from(StoreError::Query(diesel));
        assert_eq!(err.status(), 500);
        assert_eq!(
            chain(&err),
            [
                "database query failed: relation \"users\" does not exist",
                "relation \"users\" does not exist",
            ]
        );
        // The response stays opaque.
        assert_eq!(err.detail(), "internal server error");
        assert!(!err.body().to_string().contains("relation"));

        let err = ScimError::from(StoreError::Task("the writer thread has stopped".to_owned()));
        assert_eq!(err.status(), 500);
        assert_eq!(
            chain(&err),
            ["database task failed: the writer thread has stopped"]
        );

        let err = ScimError::from(StoreError::Busy("no write lock in 5s".to_owned()));
        assert_eq!(err.status(), 503);
        assert_eq!(chain(&err), ["the database is busy: no write lock in 5s"]);
        assert!(!err.detail().contains("write lock"));

        let err = ScimError::from(StoreError::Overloaded {
            why: "too many writes".to_owned(),
            retry_after_secs: 2,
        });
        assert_eq!((err.status(), err.retry_after()), (503, Some(2)));
        assert!(err.cause().is_some());
    }

    #[test]
    fn a_diesel_error_is_a_500_with_its_cause() {
        let err = ScimError::from(diesel::result::Error::RollbackTransaction);
        assert_eq!(err.status(), 500);
        assert_eq!(chain(&err).len(), 1);
    }
}
