//! The `PatchOp` request (RFC 7644 §3.5.2): its body parsed into typed operations.

use serde_json::Value;

use super::path::PatchPath;
use super::target::take;
use super::{MAX_OPERATIONS, PATCH_OP_SCHEMA};
use crate::scim::error::ScimError;

/// The `op` of a PATCH operation (RFC 7644 §3.5.2). Parsed ignoring case: Entra sends
/// `Add`, `Replace`, `Remove`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    /// RFC 7644 §3.5.2.1.
    Add,
    /// RFC 7644 §3.5.2.2.
    Remove,
    /// RFC 7644 §3.5.2.3.
    Replace,
}

impl OpKind {
    /// `add`, `remove` or `replace` in any case (RFC 7644 §3.5.2).
    pub fn parse(s: &str) -> Option<OpKind> {
        [OpKind::Add, OpKind::Remove, OpKind::Replace]
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(s))
    }

    /// The spelling of RFC 7644 §3.5.2 (lowercase).
    pub fn as_str(self) -> &'static str {
        match self {
            OpKind::Add => "add",
            OpKind::Remove => "remove",
            OpKind::Replace => "replace",
        }
    }
}

/// One element of `Operations` (RFC 7644 §3.5.2).
#[derive(Debug, Clone, PartialEq)]
pub struct PatchOperation {
    /// `add`, `remove` or `replace`.
    pub op: OpKind,
    /// The target; required for `remove` (RFC 7644 §3.5.2.2).
    pub path: Option<PatchPath>,
    /// The value as sent; `null` with a path unassigns the target (RFC 7643 §2.5).
    pub value: Option<Value>,
}

/// A parsed `PatchOp` request (RFC 7644 §3.5.2).
#[derive(Debug, Clone, PartialEq)]
pub struct PatchRequest {
    /// `Operations`, applied in order; never empty.
    pub operations: Vec<PatchOperation>,
}

impl PatchRequest {
    /// Parse a PATCH body (RFC 7644 §3.5.2).
    ///
    /// - Not an object, `schemas` present without [`PATCH_OP_SCHEMA`] (compared ignoring
    ///   case), `Operations` missing or not an array, an operation that is not an object, or an
    ///   unknown `op` → `invalidSyntax`. A missing `schemas` is accepted: it carries no
    ///   information the endpoint does not already have.
    /// - Member names `Operations`, `op`, `path`, `value` are matched ignoring case; `op` values
    ///   too.
    /// - Empty `Operations` → `invalidValue`; `add`/`replace` without `value` → `invalidValue`.
    /// - `path` is parsed with [`PatchPath::parse`] (`invalidPath`); an empty `path` counts as
    ///   absent; `remove` without a path → `noTarget`.
    pub fn from_json(body: Value) -> Result<PatchRequest, ScimError> {
        let Value::Object(mut body) = body else {
            return Err(ScimError::invalid_syntax(
                "a PATCH body is a JSON object with \"schemas\" and \"Operations\"",
            ));
        };
        match take(&mut body, "schemas") {
            None | Some(Value::Null) => {}
            Some(Value::Array(urns))
                if urns.iter().any(|u| {
                    u.as_str()
                        .is_some_and(|u| u.eq_ignore_ascii_case(PATCH_OP_SCHEMA))
                }) => {}
            Some(_) => {
                return Err(ScimError::invalid_syntax(format!(
                    "\"schemas\" must be [\"{PATCH_OP_SCHEMA}\"]"
                )));
            }
        }
        let operations = match take(&mut body, "Operations") {
            Some(Value::Array(ops)) => ops,
            Some(_) => {
                return Err(ScimError::invalid_syntax("\"Operations\" must be an array"));
            }
            None => return Err(ScimError::invalid_syntax("\"Operations\" is missing")),
        };
        if operations.is_empty() {
            return Err(ScimError::invalid_value("\"Operations\" is empty"));
        }
        if operations.len() > MAX_OPERATIONS {
            return Err(ScimError::invalid_value(format!(
                "\"Operations\" has {} operations; a PATCH request may carry at most \
                 {MAX_OPERATIONS}: split it into several requests",
                operations.len()
            )));
        }
        let operations = operations
            .into_iter()
            .map(parse_operation)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(PatchRequest { operations })
    }
}

fn parse_operation(op: Value) -> Result<PatchOperation, ScimError> {
    let Value::Object(mut op) = op else {
        return Err(ScimError::invalid_syntax(
            "each element of \"Operations\" is an object",
        ));
    };
    let kind = match take(&mut op, "op") {
        Some(Value::String(s)) => OpKind::parse(&s).ok_or_else(|| {
            ScimError::invalid_syntax(format!(
                "unknown op \"{s}\": expected add, remove or replace"
            ))
        })?,
        _ => return Err(ScimError::invalid_syntax("an operation needs an \"op\"")),
    };
    let path = match take(&mut op, "path") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(PatchPath::parse(&s)?),
        Some(other) => {
            return Err(ScimError::invalid_path(format!(
                "\"path\" must be a string, not {other}"
            )));
        }
    };
    let value = take(&mut op, "value");
    match kind {
        OpKind::Remove if path.is_none() => Err(ScimError::no_target(
            "remove needs a \"path\" (RFC 7644 §3.5.2.2)",
        )),
        OpKind::Add | OpKind::Replace if value.is_none() => Err(ScimError::invalid_value(format!(
            "{} needs a \"value\"",
            kind.as_str()
        ))),
        _ => Ok(PatchOperation {
            op: kind,
            path,
            value,
        }),
    }
}
