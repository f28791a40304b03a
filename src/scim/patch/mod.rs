//! The PATCH engine (RFC 7644 §3.5.2): a `PatchOp` request parsed into typed operations, and
//! [`apply`], a pure function from a stored resource and a request to the patched resource.
//!
//! Okta and Entra ID dialects are normalised in one place, the private `quirks` module; the
//! rest follows the RFC.

mod engine;
mod path;
mod quirks;
mod request;
mod target;
#[cfg(test)]
mod tests;

pub use engine::{apply, check_value_counts};
pub use path::PatchPath;
pub use request::{OpKind, PatchOperation, PatchRequest};

/// URN of the PATCH request message (RFC 7644 §3.5.2).
pub const PATCH_OP_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// The most operations one PATCH request may carry; more → 400 `invalidValue`. Okta and Entra
/// send a handful; the bound keeps the work of one request proportional to a sane body.
pub const MAX_OPERATIONS: usize = 1_000;

/// The most values a multi-valued attribute may hold (`emails`, `phoneNumbers`, `roles`, …), and
/// the most one operation may list for it; more → 400 `invalidValue` naming the attribute.
/// Group `members` live in their own table and are bounded per request instead
/// ([`MAX_MEMBERS_PER_REQUEST`]).
pub const MAX_VALUES: usize = 100;

/// The most Group member values one request may name (a POST, a PUT, or all the operations of
/// a PATCH together); more → 400 `invalidValue`. A group may have any number of members: they
/// are added a request at a time, so that one request's work in the write transaction stays
/// small.
pub const MAX_MEMBERS_PER_REQUEST: usize = 1_000;
