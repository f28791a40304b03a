//! Serving a request as its organization's, so the queues it passes through (the SQLite writer,
//! the compute pool) give each organization its turn (docs/limits.md, "Sharing the server
//! between organizations"; the queues: `store::fair`).

use std::future::Future;
use std::time::Duration;

use crate::ids::OrgId;

/// Runs `work` (a request's handler) as `org`'s: the writes and compute jobs it queues take
/// `org`'s turns. Once the handler has answered and all its work has ended (work outlives its
/// handler when the client goes away), `done` is called with the time that work occupied the
/// database, the SQLite writer and the compute pool, waiting for them not counted: the caller
/// charges it to the organization's rate limit ([`super::rate_limits::RateLimits::charge`]).
pub async fn serve_for<F: Future>(
    org: &OrgId,
    done: impl FnOnce(Duration) + Send + Sync + 'static,
    work: F,
) -> F::Output {
    crate::store::fair::serve_for(org.as_str(), done, work).await
}
