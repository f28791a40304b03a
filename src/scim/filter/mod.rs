//! The SCIM filter language (RFC 7644 §3.4.2.2): a plain AST, a bounded parser, validation
//! against the schema data, and an in-memory evaluator.
//!
//! The translation of a validated [`Filter`] to SQL belongs to `store/`, not here. The parser
//! also serves the value filter of a PATCH path (RFC 7644 §3.5.2), see
//! [`crate::scim::patch::PatchPath`].
//!
//! - [`ast`]: the AST ([`Filter`], [`CompareOp`]) and its validation against the schema data;
//! - [`parser`]: the bounded parser (also of PATCH paths);
//! - [`eval`]: the in-memory evaluator.

mod ast;
mod eval;
mod parser;
#[cfg(test)]
mod tests;

pub use ast::{CompareOp, Filter};
pub(in crate::scim) use parser::{check_cost, parse_value_path};

/// Longest filter (or PATCH path) text the parser accepts, in bytes; longer → `invalidFilter`
/// (RFC 7644 §3.4.2.2 sets no limit; §7.2 asks servers to bound request processing).
pub const MAX_FILTER_LENGTH: usize = 8 * 1024;

/// Deepest nesting the parser accepts: `(`, `[` and `not` levels, and also the height of the
/// resulting tree (chains of `and`/`or` are built balanced, so they add only log₂ of their
/// length). Deeper → `invalidFilter` (RFC 7644 §3.4.2.2). Every walk over a parsed [`Filter`]
/// is bounded by it.
pub const MAX_FILTER_DEPTH: usize = 64;

/// Most comparisons (`attrPath op value` and `attrPath pr`, counted inside `[ ]` too) a filter
/// may hold; more → 400 `tooMany`. A query costs about one evaluation of each comparison per
/// resource of the organization it scans, so this bounds the work per resource. Connectors
/// send one or two; the bound leaves room for generated queries of dozens.
pub const MAX_FILTER_TERMS: usize = 50;

/// Most substring comparisons (`co`, `sw`, `ew`) a filter may hold; more → 400 `tooMany`.
/// No index serves them on either backend (`LIKE '%x%'`): each one is evaluated against every
/// resource the query reaches, often through the JSON document or a child table.
pub const MAX_FILTER_SUBSTRING_TERMS: usize = 5;
