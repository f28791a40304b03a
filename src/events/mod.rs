//! Lifecycle events as pure code (docs/events.md): the event types and how audit actions map
//! to them, the Standard Webhooks signature, Security Event Tokens (the `set` format) and their
//! signing, and the retry schedule. No I/O and no clock: the
//! outbox that stores events is `store::events`, the worker that delivers them
//! `provisioning::delivery`.

pub mod set;
pub mod webhook;

use std::fmt;
use std::time::Duration;

/// A kind of lifecycle event a subscription can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventType {
    UserCreated,
    UserUpdated,
    UserDeactivated,
    UserReactivated,
    UserDeleted,
    /// An admin put a user on hold (no SCIM request can reactivate it).
    UserHeld,
    /// An admin lifted a user's hold.
    UserReleased,
    /// An admin restored a deleted user.
    UserRestored,
    /// A deleted user was purged for good.
    UserPurged,
    GroupCreated,
    GroupUpdated,
    GroupDeleted,
}

impl EventType {
    /// Every type, in the order the documentation lists them.
    pub const ALL: [EventType; 12] = [
        EventType::UserCreated,
        EventType::UserUpdated,
        EventType::UserDeactivated,
        EventType::UserReactivated,
        EventType::UserDeleted,
        EventType::UserHeld,
        EventType::UserReleased,
        EventType::UserRestored,
        EventType::UserPurged,
        EventType::GroupCreated,
        EventType::GroupUpdated,
        EventType::GroupDeleted,
    ];

    /// The name receivers see in `type`, e.g. `user.deactivated`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::UserCreated => "user.created",
            EventType::UserUpdated => "user.updated",
            EventType::UserDeactivated => "user.deactivated",
            EventType::UserReactivated => "user.reactivated",
            EventType::UserDeleted => "user.deleted",
            EventType::UserHeld => "user.held",
            EventType::UserReleased => "user.released",
            EventType::UserRestored => "user.restored",
            EventType::UserPurged => "user.purged",
            EventType::GroupCreated => "group.created",
            EventType::GroupUpdated => "group.updated",
            EventType::GroupDeleted => "group.deleted",
        }
    }

    /// The type named `name` (exact spelling), or `None`.
    pub fn parse(name: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// The event an audit action (`user.create`, `group.update`, …) makes deliverable; `None`
    /// for actions that are not lifecycle events. Membership changes are `group.update`.
    pub fn of_audit_action(action: &str) -> Option<EventType> {
        Some(match action {
            "user.create" => EventType::UserCreated,
            "user.update" => EventType::UserUpdated,
            "user.deactivate" => EventType::UserDeactivated,
            "user.reactivate" => EventType::UserReactivated,
            "user.delete" => EventType::UserDeleted,
            "user.hold" => EventType::UserHeld,
            "user.release" => EventType::UserReleased,
            "user.restore" => EventType::UserRestored,
            "user.purge" => EventType::UserPurged,
            "group.create" => EventType::GroupCreated,
            "group.update" => EventType::GroupUpdated,
            "group.delete" => EventType::GroupDeleted,
            _ => return None,
        })
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `type` of the event `POST /admin/v1/event-subscriptions/{id}/test` sends. Not a
/// lifecycle event: every subscription gets it when asked, whatever its `events`.
pub const PING: &str = "ping";

/// The wait before the next attempt after `failures` failed attempts (1 for the first retry):
/// "full jitter" over an exponential ceiling, `random` in `[0, 1)` picking the point.
/// The ceiling is `base · 2^(failures-1)`, capped at `cap`; a `Retry-After` the receiver sent
/// is a floor (itself capped). With full jitter, retries of many failing subscriptions spread
/// out instead of arriving in waves.
pub fn retry_delay(
    failures: u32,
    base: Duration,
    cap: Duration,
    retry_after: Option<Duration>,
    random: f64,
) -> Duration {
    let exponent = failures.saturating_sub(1).min(30);
    let ceiling = base.saturating_mul(1u32 << exponent).min(cap);
    let jittered = ceiling.mul_f64(random.clamp(0.0, 1.0));
    match retry_after {
        Some(floor) => jittered.max(floor.min(cap)),
        None => jittered,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_round_trips_and_maps_from_its_audit_action() {
        for t in EventType::ALL {
            assert_eq!(EventType::parse(t.as_str()), Some(t));
            let action = t
                .as_str()
                .replace("created", "create")
                .replace("updated", "update")
                .replace("deactivated", "deactivate")
                .replace("reactivated", "reactivate")
                .replace("deleted", "delete")
                .replace("held", "hold")
                .replace("released", "release")
                .replace("restored", "restore")
                .replace("purged", "purge");
            assert_eq!(EventType::of_audit_action(&action), Some(t));
        }
        assert_eq!(EventType::parse("User.Created"), None);
        assert_eq!(EventType::of_audit_action("token.revoke"), None);
        // A refused reactivation changed nothing: audited, not a lifecycle event.
        assert_eq!(EventType::of_audit_action("user.reactivate_refused"), None);
    }

    #[test]
    fn retry_delays_grow_exponentially_under_full_jitter_and_are_capped() {
        let base = Duration::from_secs(2);
        let cap = Duration::from_secs(3600);
        assert_eq!(retry_delay(1, base, cap, None, 0.999_999).as_secs(), 1);
        assert_eq!(retry_delay(1, base, cap, None, 0.0), Duration::ZERO);
        assert_eq!(
            retry_delay(4, base, cap, None, 0.5),
            Duration::from_secs(8),
            "half of 2 s · 2^3"
        );
        assert_eq!(retry_delay(40, base, cap, None, 1.0), cap);
        assert_eq!(
            retry_delay(1, base, cap, Some(Duration::from_secs(30)), 0.1),
            Duration::from_secs(30),
            "Retry-After is a floor"
        );
        assert_eq!(
            retry_delay(1, base, cap, Some(Duration::from_secs(86_400)), 0.1),
            cap,
            "and is capped too"
        );
    }
}
