//! An audited change as it is recorded: the one value both the audit log
//! ([`super::append`]) and the events outbox ([`crate::store::events::enqueue`]) are written
//! from, so that neither depends on the other's code.

use chrono::{DateTime, Utc};

use crate::ids::OrgId;

/// An event to append.
#[derive(Debug, Clone)]
pub struct NewEvent<'a> {
    pub org: &'a OrgId,
    pub occurred_at: DateTime<Utc>,
    /// Who acted: the token's `sub`, else its `jti`.
    pub actor: &'a str,
    /// `scim`, `admin` or `cli`.
    pub channel: &'a str,
    /// For example `user.create`, `user.deactivate`.
    pub action: &'a str,
    pub target_type: &'a str,
    pub target_id: &'a str,
    /// Names of the attributes the change touched (never their values).
    pub attributes: Vec<String>,
    /// Extra context, such as an admin's reason for a deactivation.
    pub detail: Option<serde_json::Value>,
}
