//! Resources as JSON: from a request body to the stored form, and from the stored form to a
//! response (RFC 7643 §2–§4; RFC 7644 §3.3, §3.5.1, §3.4.2.5, §3.9).
//!
//! What belongs here: validating and canonicalising POST and PUT bodies against the schema data of
//! [`crate::scim::schema`], rendering a stored resource with `id` and `meta`, and the
//! `attributes` / `excludedAttributes` projection. No HTTP, no storage: pure functions over
//! `serde_json` values.
//!
//! The stored form is a JSON object with canonical attribute names, the `schemas` array (core URN
//! first, then the extension URNs that carry data), extension attributes nested under their URN,
//! and no `id`, `meta`, `password` or `groups` (the storage layer keeps those elsewhere). Null,
//! empty arrays and empty objects are unassigned (RFC 7643 §2.5) and never stored; empty strings
//! are kept as sent.
//!
//! Leniency, and why: identity providers send more than the schema. Okta sends `groups: []` on
//! create, Entra's validator sends test extension URNs (`urn:msfttest:…`), and Microsoft's own test
//! collections capitalise attribute names and send booleans as `"True"`. Unknown attributes and
//! unknown extension URNs are therefore ignored rather than refused, names are matched ignoring case
//! (RFC 7643 §2.1), and the boolean quirk is normalised in [`entra_boolean`]. Values of a known
//! attribute with the wrong type are refused with `invalidValue`.
//!
//! - [`validate`]: POST and PUT bodies to the stored form;
//! - [`mod@render`]: the stored form to a response, with `id` and `meta`;
//! - [`project`]: `attributes` / `excludedAttributes`.

mod project;
mod render;
#[cfg(test)]
mod tests;
mod validate;

pub use project::{Projection, split_list};
pub use render::{Meta, render};
pub use validate::{Validated, check_value, entra_boolean, validate_create, validate_replace};
