//! The lifecycle rule (docs/architecture.md §6): a user's `active` state changes only here, whoever asks —
//! a SCIM PATCH in any IdP's dialect, a SCIM PUT, or an admin through the admin API.
//!
//! A change runs in the same transaction as the rest of the write: the new state, the
//! deactivation record (when, by whom, through which channel), the version bump and one audit
//! event. Asking for the state a user already has changes nothing and records nothing.
//!
//! Authority: the last writer wins. An admin may deactivate a user that an IdP manages; if the
//! IdP later sends `active: true`, the user is reactivated. Both changes are in the audit log
//! with their channel, so an admin can see who reactivated whom (docs/admin-api.md, "Who decides").

use chrono::{DateTime, Utc};

use super::Actor;
use crate::store::users::Deactivation;

/// A change of `active`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// `active` true → false: every token acting as the user is refused from the next request.
    Deactivate,
    /// `active` false → true: the user's tokens work again.
    Reactivate,
}

impl Transition {
    /// The transition from `current` to `requested`, or `None` when they are the same.
    pub fn between(current: bool, requested: bool) -> Option<Transition> {
        match (current, requested) {
            (true, false) => Some(Transition::Deactivate),
            (false, true) => Some(Transition::Reactivate),
            _ => None,
        }
    }

    /// The audit action recorded for it.
    pub fn action(self) -> &'static str {
        match self {
            Transition::Deactivate => "user.deactivate",
            Transition::Reactivate => "user.reactivate",
        }
    }

    /// The deactivation record stored with the new state: set on deactivation, cleared on
    /// reactivation.
    pub fn record(self, actor: &Actor, now: DateTime<Utc>) -> Deactivation {
        match self {
            Transition::Deactivate => Deactivation {
                at: Some(now),
                by: Some(actor.id.clone()),
                via: Some(actor.channel.as_str()),
            },
            Transition::Reactivate => Deactivation::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_state_is_no_transition() {
        assert_eq!(Transition::between(true, true), None);
        assert_eq!(Transition::between(false, false), None);
        assert_eq!(
            Transition::between(true, false),
            Some(Transition::Deactivate)
        );
        assert_eq!(
            Transition::between(false, true),
            Some(Transition::Reactivate)
        );
    }
}
