//! Attributes held in the JSON resource: their location as SQL on each backend, and the
//! conditions written on them.

use serde_json::Value;

use crate::scim::ScimError;
use crate::scim::filter::CompareOp;
use crate::scim::path::{AttrPath, Resolved};
use crate::scim::schema::{AttributeDef, AttributeType};

use super::columns::*;
use super::sql::*;

/// Where a value lives in the JSON resource, as SQL on each backend.
#[derive(Debug, Clone)]
pub(super) struct JsonLoc {
    /// PostgreSQL: the value as `jsonb`.
    pub(super) pg_json: String,
    /// PostgreSQL: the value as text (strings unquoted).
    pub(super) pg_text: String,
    /// SQLite: the JSON type name (`'text'`, `'true'`, `'object'`, …), NULL when absent.
    pub(super) lite_type: String,
    /// SQLite: the SQL value (text for strings, JSON text for objects and arrays).
    pub(super) lite_value: String,
    /// SQLite: for a location under a document, the document and the path; `None` for an
    /// element of `json_each` itself.
    pub(super) lite_doc: Option<(String, String)>,
}

/// JSON keys come from the schema tables; refuse anything that could leave a SQL or JSON-path
/// string literal (never the case for the built-in schemas).
pub(super) fn safe_key(key: &str) -> Result<&str, ScimError> {
    if key
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '.' | '$' | '_' | '-'))
    {
        Ok(key)
    } else {
        Err(ScimError::invalid_filter(format!(
            "the attribute '{key}' cannot be filtered"
        )))
    }
}

impl JsonLoc {
    pub(super) fn under(doc: &str, keys: &[&str]) -> Result<JsonLoc, ScimError> {
        let mut pg = doc.to_owned();
        let mut pg_text = doc.to_owned();
        let mut path = "$".to_owned();
        for (i, key) in keys.iter().enumerate() {
            let key = safe_key(key)?;
            if i + 1 == keys.len() {
                pg_text = format!("{pg}->>'{key}'");
            }
            pg = format!("{pg}->'{key}'");
            path.push_str(&format!(".\"{key}\""));
        }
        Ok(JsonLoc {
            pg_text: format!("({pg_text})"),
            pg_json: format!("({pg})"),
            lite_type: format!("json_type({doc}, '{path}')"),
            lite_value: format!("json_extract({doc}, '{path}')"),
            lite_doc: Some((doc.to_owned(), path)),
        })
    }

    /// The attribute (and sub-attribute) `r` of the resource row.
    pub(super) fn resource(res: Res, r: &Resolved) -> Result<JsonLoc, ScimError> {
        let doc = format!("{}.resource", res.table());
        let mut keys: Vec<&str> = Vec::with_capacity(3);
        if !std::ptr::eq(r.schema, res.core()) {
            keys.push(&r.schema.id);
        }
        keys.push(&r.attr.name);
        if let Some(sub) = r.sub {
            keys.push(&sub.name);
        }
        JsonLoc::under(&doc, &keys)
    }

    /// An element of `jsonb_array_elements(…) x(v)` / `json_each(…) x`.
    pub(super) fn element() -> JsonLoc {
        JsonLoc {
            pg_json: "x.v".to_owned(),
            pg_text: "(x.v #>> '{}')".to_owned(),
            lite_type: "x.type".to_owned(),
            lite_value: "x.value".to_owned(),
            lite_doc: None,
        }
    }

    /// The member `key` of this (object) value.
    pub(super) fn child(&self, key: &str) -> Result<JsonLoc, ScimError> {
        let key = safe_key(key)?;
        let (doc, path) = match &self.lite_doc {
            Some((doc, path)) => (doc.clone(), format!("{path}.\"{key}\"")),
            // json_type/json_extract need JSON text: only objects have members.
            None => (
                "(CASE WHEN x.type = 'object' THEN x.value END)".to_owned(),
                format!("$.\"{key}\""),
            ),
        };
        Ok(JsonLoc {
            pg_json: format!("({}->'{key}')", self.pg_json),
            pg_text: format!("({}->>'{key}')", self.pg_json),
            lite_type: format!("json_type({doc}, '{path}')"),
            lite_value: format!("json_extract({doc}, '{path}')"),
            lite_doc: Some((doc, path)),
        })
    }
}

/// `EXISTS (SELECT 1 FROM <values of loc> WHERE <inner>)`; a non-array has no values.
pub(super) fn write_exists_elements(
    out: &mut SqlBool,
    loc: &JsonLoc,
    inner: impl Fn(&mut SqlBool, &JsonLoc) -> Result<(), ScimError>,
) -> Result<(), ScimError> {
    let elem = JsonLoc::element();
    let mut pg = SqlBool::default();
    pg.owned(format!(
        "EXISTS (SELECT 1 FROM jsonb_array_elements(CASE WHEN jsonb_typeof({j}) = 'array' THEN {j} ELSE '[]'::jsonb END) AS x(v) WHERE ",
        j = loc.pg_json
    ));
    inner(&mut pg, &elem)?;
    pg.push(")");
    let mut sqlite = SqlBool::default();
    let (doc, path) = loc.lite_doc.clone().unwrap_or_default();
    sqlite.owned(format!(
        "EXISTS (SELECT 1 FROM json_each({doc}, '{path}') AS x WHERE {} = 'array' AND (",
        loc.lite_type
    ));
    inner(&mut sqlite, &elem)?;
    sqlite.push("))");
    out.dialect(pg, sqlite);
    Ok(())
}

/// Present: not null, `""`, `[]` or `{}` (RFC 7644 §3.4.2.2 `pr`). Never NULL.
pub(super) fn write_present_json(out: &mut SqlBool, loc: &JsonLoc) {
    let mut pg = SqlBool::default();
    pg.owned(format!(
        "COALESCE({} NOT IN ('null'::jsonb, '\"\"'::jsonb, '[]'::jsonb, '{{}}'::jsonb), FALSE)",
        loc.pg_json
    ));
    let mut sqlite = SqlBool::default();
    sqlite.owned(format!(
        "COALESCE({t} IN ('true', 'false', 'integer', 'real') OR ({t} = 'text' AND {v} <> '') \
         OR ({t} = 'object' AND {v} <> '{{}}') OR ({t} = 'array' AND {v} <> '[]'), FALSE)",
        t = loc.lite_type,
        v = loc.lite_value
    ));
    out.dialect(pg, sqlite);
}

pub(super) fn write_compare_json(
    out: &mut SqlBool,
    loc: &JsonLoc,
    leaf: &AttributeDef,
    path: &AttrPath,
    op: CompareOp,
    value: &Value,
) -> Result<(), ScimError> {
    match leaf.kind {
        AttributeType::Boolean => {
            let wanted = value.as_bool().ok_or_else(|| {
                ScimError::invalid_filter(format!("'{path}' compares with true or false"))
            })?;
            // `ne` matches a boolean of the other value, not an absent one.
            let target = match op {
                CompareOp::Eq => wanted,
                CompareOp::Ne => !wanted,
                _ => {
                    return Err(ScimError::invalid_filter(format!(
                        "'{op}' is not supported on a boolean attribute '{path}'"
                    )));
                }
            };
            let mut pg = SqlBool::default();
            pg.owned(format!(
                "{} = '{}'::jsonb",
                loc.pg_json,
                if target { "true" } else { "false" }
            ));
            let mut sqlite = SqlBool::default();
            sqlite.owned(format!(
                "{} = '{}'",
                loc.lite_type,
                if target { "true" } else { "false" }
            ));
            out.dialect(pg, sqlite);
        }
        AttributeType::String | AttributeType::Reference | AttributeType::Binary => {
            let raw = text_value(path, value)?;
            let (pg_lhs, lite_lhs, v) = if leaf.case_exact {
                (loc.pg_text.clone(), loc.lite_value.clone(), raw)
            } else {
                (
                    format!("lower({})", loc.pg_text),
                    format!("lower({})", loc.lite_value),
                    raw,
                )
            };
            let mut pg = SqlBool::default();
            write_string_op(
                &mut pg,
                Part::Owned(pg_lhs),
                op,
                v.clone(),
                !leaf.case_exact,
            );
            let mut sqlite = SqlBool::default();
            // Only JSON strings compare as strings (the evaluator ignores other types).
            sqlite.owned(format!("{} = 'text' AND ", loc.lite_type));
            write_string_op(&mut sqlite, Part::Owned(lite_lhs), op, v, !leaf.case_exact);
            let mut pg_guarded = SqlBool::default();
            pg_guarded.owned(format!("jsonb_typeof({}) = 'string' AND ", loc.pg_json));
            pg_guarded.append(pg);
            out.push("(");
            out.dialect(pg_guarded, sqlite);
            out.push(")");
        }
        AttributeType::Integer | AttributeType::Decimal => {
            // A number the filter parser read (serde_json's text of it: digits, sign, point,
            // exponent), not text from a request: safe to write as a literal.
            let Some(number) = value.as_number() else {
                return Err(ScimError::invalid_filter(format!(
                    "'{path}' compares with a number"
                )));
            };
            let sql_op = ordering_sql(op).ok_or_else(|| {
                ScimError::invalid_filter(format!("'{op}' is not supported on the number '{path}'"))
            })?;
            let mut pg = SqlBool::default();
            pg.owned(format!(
                "(jsonb_typeof({j}) = 'number' AND ({j})::numeric{sql_op}{number})",
                j = loc.pg_json
            ));
            let mut sqlite = SqlBool::default();
            sqlite.owned(format!(
                "({t} IN ('integer', 'real') AND {v}{sql_op}{number})",
                t = loc.lite_type,
                v = loc.lite_value
            ));
            out.dialect(pg, sqlite);
        }
        AttributeType::DateTime | AttributeType::Complex => {
            return Err(not_translatable(
                path,
                "no stored attribute of this type is filterable in this server",
            ));
        }
    }
    Ok(())
}
