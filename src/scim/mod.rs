//! SCIM 2.0 as pure code (RFC 7643 schema, RFC 7644 protocol): attribute characteristics as
//! data, errors, attribute paths, filters, the PATCH engine, resource validation, projection and
//! the discovery documents. Knows nothing of HTTP or databases.

pub mod caseless;
pub mod cursor;
pub mod discovery;
pub mod error;
pub mod extension;
pub mod filter;
pub mod patch;
pub mod path;
pub mod resource;
pub mod schema;
pub mod value;

pub use error::{ScimError, ScimType};
