//! Serving a request as its organization's, so the queues it passes through (the SQLite writer,
//! the compute pool) give each organization its turn (docs/limits.md, "Sharing the server
//! between organizations"; the queues: `store::fair`).

use std::future::Future;

use crate::ids::OrgId;

/// Runs `work` (a request's handler) as `org`'s: the writes and compute jobs it queues take
/// `org`'s turns.
pub async fn serve_for<F: Future>(org: &OrgId, work: F) -> F::Output {
    crate::store::fair::serve_for(org.as_str(), work).await
}
