//! The lifecycle rule (docs/architecture.md §6): a user's `active` state changes only here, whoever asks —
//! a SCIM PATCH in any IdP's dialect, a SCIM PUT, or an admin through the admin API.
//!
//! A change runs in the same transaction as the rest of the write: the new state, the
//! deactivation record (when, by whom, through which channel), the version bump and one audit
//! event. Asking for the state a user already has changes nothing and records nothing.
//!
//! Authority: the last writer wins, unless an admin put the user on hold. An admin may
//! deactivate a user that an IdP manages; if the IdP later sends `active: true`, the user is
//! reactivated, and both changes are in the audit log with their channel. An admin who
//! deactivates with `"hold": true` decides for good: while the hold stands, a request of any
//! other channel that would reactivate the user is refused as a whole ([`hold_refusal`]) and the
//! refusal is audited; only an admin's release or activation lifts the hold
//! (docs/admin-api.md, "Who decides").

use chrono::{DateTime, Utc};

use super::{Actor, Channel};
use crate::scim::ScimError;
use crate::store::users::{Deactivation, Hold, UserRow};

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

/// What a write asks of the user's hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HoldIntent {
    /// Leave it as it is (every SCIM write, an admin deactivation without a hold).
    Keep,
    /// Put the user on hold (an admin deactivation with `"hold": true`), with the admin's reason.
    /// A hold already there is replaced: the latest admin's reason stands.
    Set { reason: Option<String> },
    /// Lift the hold, if there is one (an admin's release or activation).
    Release,
}

/// A change of the hold a write makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HoldChange {
    /// A hold is set, with this reason.
    Set(Option<String>),
    /// The hold there is lifted.
    Release,
}

impl HoldChange {
    /// The change `intent` makes to `current`; `None` when it changes nothing.
    pub fn of(intent: &HoldIntent, current: &UserRow) -> Option<HoldChange> {
        match intent {
            HoldIntent::Keep => None,
            HoldIntent::Set { reason } => Some(HoldChange::Set(reason.clone())),
            HoldIntent::Release => current.held_at.is_some().then_some(HoldChange::Release),
        }
    }

    /// The audit action recorded for it.
    pub fn action(&self) -> &'static str {
        match self {
            HoldChange::Set(_) => "user.hold",
            HoldChange::Release => "user.release",
        }
    }

    /// The hold stored with the change: set by `actor` at `now`, or cleared.
    pub fn record(&self, actor: &Actor, now: DateTime<Utc>) -> Hold {
        match self {
            HoldChange::Set(reason) => Hold {
                at: Some(now),
                by: Some(actor.id.clone()),
                reason: reason.clone(),
            },
            HoldChange::Release => Hold::default(),
        }
    }
}

/// The audit action of a reactivation refused because of a hold (no change was made; it is not
/// a lifecycle event).
pub const REFUSED_ACTION: &str = "user.reactivate_refused";

/// Whether a write by `actor` that makes `transition` of `current` is refused by a hold: a
/// held user is reactivated only by an admin (whose activation lifts the hold, `lifts`).
pub fn refused_by_hold(
    current: &UserRow,
    transition: Option<Transition>,
    actor: &Actor,
    lifts: bool,
) -> bool {
    current.held_at.is_some()
        && transition == Some(Transition::Reactivate)
        && !(lifts && actor.channel == Channel::Admin)
}

/// The hold as the audit detail of a refusal or a release names it: who set it, when, why.
pub fn hold_detail(current: &UserRow) -> serde_json::Value {
    serde_json::json!({
        "heldBy": current.held_by,
        "heldAt": current.held_at.map(|t| t.and_utc().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        "holdReason": current.hold_reason,
    })
}

/// The error a request that would reactivate a held user gets: 400 `mutability` (RFC 7644
/// §3.12: "not compatible with … the target attribute's … current state"). A 4xx, so Okta and
/// Entra show it in their provisioning errors and do not retry it as a transient failure; not
/// 409, which RFC 7644 keeps for uniqueness and version conflicts (and which a connector may
/// answer by re-reading and retrying); not 403, which connectors read as a token without
/// permission. The detail names the hold, who set it, when and why, and how it is lifted.
pub fn hold_refusal(current: &UserRow) -> ScimError {
    let at = current
        .held_at
        .map(|t| {
            t.and_utc()
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        })
        .unwrap_or_else(|| "?".to_owned());
    let by = current.held_by.as_deref().unwrap_or("?");
    let reason = match &current.hold_reason {
        Some(r) => format!(
            "reason: {}",
            serde_json::to_string(r).unwrap_or_else(|_| String::from("\"?\""))
        ),
        None => "no reason given".to_owned(),
    };
    ScimError::mutability(format!(
        "user '{}' is on an admin hold and cannot be reactivated over SCIM: an admin of roster \
         deactivated it with a hold (set by {by} at {at}, {reason}). Nothing in this request was \
         applied. A roster admin lifts the hold with POST /admin/v1/users/{}/release, or \
         activates the user; until then remove the user's assignment in the IdP or leave it \
         deactivated.",
        current.id, current.id
    ))
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
