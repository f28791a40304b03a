//! Case folding of stored names: the keys under which `userName` and group `displayName` are
//! unique per org and compared by `eq`, and the lower-cased copies of the child tables' values.
//! Computed in Rust because neither backend's SQL can (SQLite's own `lower()` folds ASCII
//! only; see [`super::lower`]).

/// The key under which `userName` is unique per org and compared by `eq`: the caseless key of
/// [`crate::scim::caseless`] (folding, compatibility normalisation, no ignorables, trimmed).
pub fn user_name_key(user_name: &str) -> String {
    crate::scim::caseless::key(user_name)
}

/// The key under which `displayName` is unique per org and compared by `eq`: the same folding
/// as a user's `userName`.
pub fn display_name_key(display_name: &str) -> String {
    user_name_key(display_name)
}

/// A lower-cased copy (Unicode's default lower-case mapping), as e-mail values and member ids
/// are kept in the child tables' `_ci` and id columns.
pub fn fold_lower(s: &str) -> String {
    s.to_lowercase()
}
