//! What the use cases hand back for `http` and `cli` to render, named here so that neither
//! names `store` (docs/architecture.md §2). Today they are the store's row types, re-exported:
//! a renderer reads their fields and never runs a query with them.

pub use super::groups::GroupView;
pub use crate::store::audit::EventRow;
pub use crate::store::deleted_users::DeletedUserRow;
pub use crate::store::events::{DeliveryRow, SubscriptionRow};
pub use crate::store::users::UserRow;

/// The `status` of a delivery still to be made (or retried).
pub const DELIVERY_PENDING: &str = crate::store::events::PENDING;
