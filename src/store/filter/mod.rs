//! SCIM filters (RFC 7644 §3.4.2.2) and sort keys (§3.4.2.3) translated to SQL for both
//! backends.
//!
//! The SQL text comes only from this file: column names and JSON keys are taken from the schema
//! data (`scim::schema`), never from the request; every value from a request is a bound
//! parameter. The result has the semantics of the in-memory evaluator `Filter::matches`:
//! strings compare per `caseExact`, dateTimes chronologically, a multi-valued attribute matches
//! when any of its values does, an absent attribute matches nothing but `eq null`, and `pr` is
//! false for `null`, `""`, `[]` and `{}`.
//!
//! Where attributes live:
//! - hot columns (`userName` through its Rust-folded copy, `externalId`, `displayName`,
//!   `active`, `meta.created`, `meta.lastModified`, `meta.version`; group `displayName`);
//! - child tables: `emails` and `phoneNumbers` (when the filter only needs `value`, `type` and
//!   `primary eq true` and requires a value, see [`columns::child_table_fits`]), group `members` and a
//!   user's `groups`;
//! - everything else in the JSON resource: `resource->'name'->>'familyName'` on PostgreSQL,
//!   `json_extract(resource, '$."name"."familyName"')` on SQLite, extension attributes under their
//!   URN key, multi-valued attributes through `jsonb_array_elements` / `json_each`.
//!
//! Each shape that cannot be translated is named and answered with `invalidFilter`, never
//! evaluated by loading resources into memory.
//!
//! - [`sql`]: the SQL fragments ([`SqlBool`], [`SqlOrder`]) and the string operators;
//! - [`columns`]: where each attribute is stored (the attribute→column map, child tables);
//! - [`mod@translate`]: a validated filter to a condition;
//! - [`json_path`]: attributes held in the JSON resource, on each backend;
//! - [`mod@sort`]: `sortBy` / `sortOrder` to an `ORDER BY`;
//! - [`mod@search`]: the admin list's text search, served by trigram indexes.

mod columns;
mod json_path;
mod search;
mod sort;
mod sql;
#[cfg(test)]
mod tests;
mod translate;

pub use search::{Page as SearchPage, text_search};
pub use sort::{SortOrder, sort};
pub use sql::{Part, SqlBool, SqlDialect, SqlOrder};
pub use translate::translate;
