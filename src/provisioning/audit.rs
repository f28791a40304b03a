//! Reading the audit log. (Events are written by the use cases that make the changes, in the
//! same transaction.)

use crate::ids::OrgId;
use crate::scim::ScimError;
use crate::store::Store;
use crate::store::audit::{self, EventRow};

/// Events of `org`, oldest first, optionally about one target, after the event id `after`.
pub async fn list(
    store: &Store,
    org: &OrgId,
    target_id: Option<String>,
    after: Option<i64>,
    limit: i64,
) -> Result<Vec<EventRow>, ScimError> {
    let org = org.clone();
    store
        .run(move |conn| Ok(audit::list(conn, &org, target_id.as_deref(), after, limit)?))
        .await
}
