//! Optimistic concurrency for Users and Groups (docs/architecture.md §8.1): the `If-Match`
//! precondition, ETags, and the one retry loop of a write that lost a race.
//!
//! A write reads the resource, checks the precondition against the version read, computes, and
//! writes conditionally on that version. A write that finds the version moved (a concurrent
//! writer got there first) is an [`Attempt::Lost`]: [`retry`] runs it again, at most
//! [`MAX_WRITE_ATTEMPTS`] times, then answers 409.

use std::future::Future;

use crate::scim::ScimError;

/// How often a write reads, recomputes and tries again after losing a race with a concurrent
/// write of the same resource (its version moved between the read and the conditional write).
pub const MAX_WRITE_ATTEMPTS: usize = 20;

/// An `If-Match` precondition (RFC 7644 §3.14).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Precondition {
    /// No `If-Match` header.
    #[default]
    None,
    /// `If-Match: *`.
    Any,
    /// `If-Match: W/"3", "4"`: the versions accepted.
    Versions(Vec<i64>),
}

impl Precondition {
    /// The `If-Match` check (RFC 7644 §3.14) of a `resource` ("user", "group") at `version`:
    /// 412 `preconditionFailed` when it has moved on.
    pub fn check(&self, resource: &str, version: i64) -> Result<(), ScimError> {
        match self {
            Precondition::None | Precondition::Any => Ok(()),
            Precondition::Versions(v) if v.contains(&version) => Ok(()),
            Precondition::Versions(_) => Err(ScimError::precondition_failed(format!(
                "the {resource} has changed: its current version is {}; GET it again and retry",
                etag(version)
            ))),
        }
    }
}

/// The ETag of a version: `W/"<version>"` (also `meta.version`).
pub fn etag(version: i64) -> String {
    format!("W/\"{version}\"")
}

/// The version an ETag of ours names: `W/"3"` or `"3"` → 3 (weak comparison, RFC 9110
/// §8.8.3.2); `None` for anything else.
pub fn parse_etag(tag: &str) -> Option<i64> {
    let tag = tag.trim();
    let tag = tag.strip_prefix("W/").unwrap_or(tag);
    tag.strip_prefix('"')?.strip_suffix('"')?.parse().ok()
}

/// The version a Bulk operation's `version` names (RFC 7644 §3.7): an ETag of ours, read
/// leniently (`W/"3"`, `"3"`, `3`, quotes unbalanced or not), as Bulk clients write it.
pub fn parse_version(v: &str) -> Option<i64> {
    let t = v.trim();
    let t = t.strip_prefix("W/").unwrap_or(t).trim_matches('"');
    t.parse().ok()
}

/// The outcome of one attempt of a write.
#[derive(Debug)]
pub enum Attempt<T> {
    /// Written (or nothing to write): the answer.
    Done(T),
    /// The version moved between the read and the conditional write: read again and retry.
    Lost,
}

/// Runs `attempt` until it is [`Attempt::Done`], at most [`MAX_WRITE_ATTEMPTS`] times; then
/// 409 naming the `resource` ("user", "group") `id` being modified concurrently.
pub async fn retry<T, F, Fut>(resource: &str, id: &str, mut attempt: F) -> Result<T, ScimError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Attempt<T>, ScimError>>,
{
    for _ in 0..MAX_WRITE_ATTEMPTS {
        if let Attempt::Done(value) = attempt().await? {
            return Ok(value);
        }
    }
    tracing::warn!(
        resource,
        id,
        "gave up after repeated concurrent modifications"
    );
    Err(ScimError::conflict(format!(
        "the {resource} is being modified concurrently; retry the request"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags() {
        assert_eq!(parse_etag(&etag(3)), Some(3));
        assert_eq!(parse_etag(" \"12\" "), Some(12));
        assert_eq!(parse_etag("3"), None);
        assert_eq!(parse_etag("W/\"x\""), None);
        assert_eq!(parse_version("3"), Some(3));
        assert_eq!(parse_version(&etag(4)), Some(4));
        assert_eq!(parse_version("W/x"), None);
    }

    #[test]
    fn preconditions() {
        assert!(Precondition::None.check("user", 3).is_ok());
        assert!(Precondition::Any.check("user", 3).is_ok());
        assert!(Precondition::Versions(vec![2, 3]).check("user", 3).is_ok());
        let err = Precondition::Versions(vec![2])
            .check("group", 3)
            .unwrap_err();
        assert_eq!(err.status(), 412);
        assert!(
            err.detail().contains("the group has changed"),
            "{}",
            err.detail()
        );
    }
}
