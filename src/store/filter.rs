//! SCIM filters (RFC 7644 §3.4.2.2) translated to SQL for both backends.
//!
//! The SQL text comes only from this file (column names and operators chosen from the schema
//! data); every value from a request is a bound parameter. Each filter shape that cannot be
//! translated is named and answered with `invalidFilter`, never a full scan in memory.

use chrono::{DateTime, NaiveDateTime};
use diesel::backend::Backend;
use diesel::expression::{AppearsOnTable, Expression, ValidGrouping};
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::serialize::ToSql;
use diesel::sql_types::{Bool, HasSqlType, Text, Timestamp};
use serde_json::Value;

use crate::scim::ScimError;
use crate::scim::filter::{CompareOp, Filter};
use crate::scim::path::AttrPath;

/// A piece of a translated filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    /// SQL text written by this module, never by a client.
    Sql(&'static str),
    /// A bound text value.
    Text(String),
    /// A bound timestamp (naive UTC).
    Timestamp(NaiveDateTime),
}

/// A boolean SQL expression made of [`Part`]s, usable in `.filter()` on any table of the schema.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SqlBool(pub Vec<Part>);

impl SqlBool {
    fn push(&mut self, s: &'static str) {
        self.0.push(Part::Sql(s));
    }
    fn bind(&mut self, v: impl Into<String>) {
        self.0.push(Part::Text(v.into()));
    }
}

impl Expression for SqlBool {
    type SqlType = Bool;
}

impl<QS> AppearsOnTable<QS> for SqlBool {}

impl<GB> ValidGrouping<GB> for SqlBool {
    type IsAggregate = diesel::expression::is_aggregate::Never;
}

impl QueryId for SqlBool {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<DB> QueryFragment<DB> for SqlBool
where
    DB: Backend + HasSqlType<Text> + HasSqlType<Timestamp>,
    String: ToSql<Text, DB>,
    NaiveDateTime: ToSql<Timestamp, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> diesel::QueryResult<()> {
        out.push_sql("(");
        for part in &self.0 {
            match part {
                Part::Sql(s) => out.push_sql(s),
                Part::Text(v) => out.push_bind_param::<Text, String>(v)?,
                Part::Timestamp(v) => out.push_bind_param::<Timestamp, NaiveDateTime>(v)?,
            }
        }
        out.push_sql(")");
        Ok(())
    }
}

/// Translates a validated filter on Users (canonical paths, see `Filter::validate`) to SQL.
///
/// Translated today: `id`, `externalId`, `userName`, `displayName`, `active`, `meta.created`,
/// `meta.lastModified`, and `emails` (`value`, `type`, `primary`, also as a value path) through
/// the child table; `and`, `or`, `not`, `pr`. Any other attribute is refused with
/// `invalidFilter` naming it, never evaluated by loading users into memory.
pub fn translate(filter: &Filter) -> Result<SqlBool, ScimError> {
    let mut out = SqlBool::default();
    write_filter(&mut out, filter, Scope::Users)?;
    Ok(out)
}

/// Which rows a path is relative to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    Users,
    /// Inside `EXISTS (SELECT 1 FROM user_emails e WHERE …)`.
    Emails,
}

/// How a column compares.
#[derive(Debug, Clone, Copy)]
enum Kind {
    /// Compared exactly (caseExact).
    Exact,
    /// Compared through a lower-cased copy computed in Rust; values are folded the same way.
    Folded(fn(&str) -> String),
    /// Compared with `lower()` on both sides.
    Lower,
    Bool,
    Timestamp,
}

struct Column {
    sql: &'static str,
    kind: Kind,
    nullable: bool,
}

fn fold_lower(s: &str) -> String {
    s.to_lowercase()
}

fn column(scope: Scope, path: &AttrPath) -> Option<Column> {
    let attr = path.attr.as_str();
    let sub = path.sub_attr.as_deref();
    let col = |sql, kind, nullable| {
        Some(Column {
            sql,
            kind,
            nullable,
        })
    };
    match (scope, path.urn.is_some(), attr, sub) {
        (Scope::Users, false, "id", None) => col("users.id", Kind::Exact, false),
        (Scope::Users, false, "externalId", None) => col("users.external_id", Kind::Exact, true),
        (Scope::Users, false, "userName", None) => col(
            "users.user_name_ci",
            Kind::Folded(super::users::user_name_key),
            false,
        ),
        (Scope::Users, false, "displayName", None) => col("users.display_name", Kind::Lower, true),
        (Scope::Users, false, "active", None) => col("users.active", Kind::Bool, false),
        (Scope::Users, false, "meta", Some("created")) => {
            col("users.created_at", Kind::Timestamp, false)
        }
        (Scope::Users, false, "meta", Some("lastModified")) => {
            col("users.last_modified", Kind::Timestamp, false)
        }
        (Scope::Emails, false, "value", None) => col("e.value_ci", Kind::Folded(fold_lower), false),
        (Scope::Emails, false, "type", None) => col("e.type", Kind::Lower, true),
        (Scope::Emails, false, "primary", None) => col("e.is_primary", Kind::Bool, false),
        _ => None,
    }
}

fn unsupported(path: &AttrPath) -> ScimError {
    ScimError::invalid_filter(format!(
        "filtering on '{path}' is not supported by this server yet"
    ))
}

fn write_filter(out: &mut SqlBool, filter: &Filter, scope: Scope) -> Result<(), ScimError> {
    match filter {
        Filter::And(a, b) | Filter::Or(a, b) => {
            out.push("(");
            write_filter(out, a, scope)?;
            out.push(if matches!(filter, Filter::And(..)) {
                ") AND ("
            } else {
                ") OR ("
            });
            write_filter(out, b, scope)?;
            out.push(")");
        }
        Filter::Not(inner) => {
            out.push("NOT (");
            write_filter(out, inner, scope)?;
            out.push(")");
        }
        Filter::ValuePath { attr, filter } if scope == Scope::Users && is_emails(attr) => {
            out.push("EXISTS (SELECT 1 FROM user_emails e WHERE e.user_id = users.id AND (");
            write_filter(out, filter, Scope::Emails)?;
            out.push("))");
        }
        Filter::ValuePath { attr, .. } => return Err(unsupported(attr)),
        Filter::Present(path) | Filter::Compare { path, .. }
            if scope == Scope::Users && is_emails(path) =>
        {
            // `emails.value eq "x"`: any email matches.
            let inner = match filter {
                Filter::Present(p) => Filter::Present(relative(p)),
                Filter::Compare { path, op, value } => Filter::Compare {
                    path: relative(path),
                    op: *op,
                    value: value.clone(),
                },
                _ => return Err(unsupported(path)),
            };
            out.push("EXISTS (SELECT 1 FROM user_emails e WHERE e.user_id = users.id AND (");
            write_filter(out, &inner, Scope::Emails)?;
            out.push("))");
        }
        Filter::Present(path) => {
            let col = column(scope, path).ok_or_else(|| unsupported(path))?;
            match (col.nullable, col.kind) {
                (false, _) => out.push("1 = 1"),
                (true, Kind::Bool | Kind::Timestamp) => {
                    out.push(col.sql);
                    out.push(" IS NOT NULL");
                }
                (true, _) => {
                    out.push(col.sql);
                    out.push(" IS NOT NULL AND ");
                    out.push(col.sql);
                    out.push(" <> ''");
                }
            }
        }
        Filter::Compare { path, op, value } => {
            let col = column(scope, path).ok_or_else(|| unsupported(path))?;
            write_compare(out, &col, path, *op, value)?;
        }
    }
    Ok(())
}

fn is_emails(path: &AttrPath) -> bool {
    path.urn.is_none() && path.attr == "emails"
}

/// `emails.value` → `value`, relative to one email.
fn relative(path: &AttrPath) -> AttrPath {
    AttrPath::new(path.sub_attr.clone().unwrap_or_else(|| "value".to_owned()))
}

fn write_compare(
    out: &mut SqlBool,
    col: &Column,
    path: &AttrPath,
    op: CompareOp,
    value: &Value,
) -> Result<(), ScimError> {
    if value.is_null() {
        // `eq null` matches an absent attribute, `ne null` a present one (RFC 7643 §2.5).
        out.push(col.sql);
        out.push(if op == CompareOp::Eq {
            " IS NULL"
        } else {
            " IS NOT NULL"
        });
        return Ok(());
    }
    match col.kind {
        Kind::Bool => {
            let wanted = value.as_bool().ok_or_else(|| {
                ScimError::invalid_filter(format!("'{path}' compares with true or false"))
            })?;
            let negate = (op == CompareOp::Ne) == wanted;
            // A keyword, not a bound value, so that the partial index on inactive users applies.
            if negate {
                out.push("NOT ");
            }
            out.push(col.sql);
        }
        Kind::Timestamp => {
            let text = value.as_str().unwrap_or_default();
            let at = DateTime::parse_from_rfc3339(text)
                .map_err(|_| {
                    ScimError::invalid_filter(format!("'{text}' is not an RFC 3339 dateTime"))
                })?
                .naive_utc();
            let sql_op = ordering_sql(op).ok_or_else(|| {
                ScimError::invalid_filter(format!("'{op}' does not apply to the dateTime '{path}'"))
            })?;
            out.push(col.sql);
            out.push(sql_op);
            out.0.push(Part::Timestamp(at));
        }
        Kind::Exact | Kind::Folded(_) | Kind::Lower => {
            let raw = match value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let (lhs_lower, v) = match col.kind {
                Kind::Folded(fold) => (false, fold(&raw)),
                _ => (matches!(col.kind, Kind::Lower), raw),
            };
            let lower = |out: &mut SqlBool, open: bool| {
                if lhs_lower {
                    out.push(if open { "lower(" } else { ")" });
                }
            };
            lower(out, true);
            out.push(col.sql);
            lower(out, false);
            if let Some(sql_op) = ordering_sql(op) {
                out.push(sql_op);
                lower(out, true);
                out.bind(v);
                lower(out, false);
            } else {
                let pattern = match op {
                    CompareOp::Co => format!("%{}%", escape_like(&v)),
                    CompareOp::Sw => format!("{}%", escape_like(&v)),
                    _ => format!("%{}", escape_like(&v)),
                };
                out.push(" LIKE ");
                lower(out, true);
                out.bind(pattern);
                lower(out, false);
                out.push(" ESCAPE '\\'");
            }
        }
    }
    Ok(())
}

/// SQL for `eq ne gt ge lt le`; `None` for the substring operators.
fn ordering_sql(op: CompareOp) -> Option<&'static str> {
    match op {
        CompareOp::Eq => Some(" = "),
        CompareOp::Ne => Some(" <> "),
        CompareOp::Gt => Some(" > "),
        CompareOp::Ge => Some(" >= "),
        CompareOp::Lt => Some(" < "),
        CompareOp::Le => Some(" <= "),
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => None,
    }
}

/// Escapes `%`, `_` and `\` for `LIKE … ESCAPE '\'`.
fn escape_like(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The admin list's text search: `text` anywhere in userName, displayName or an email address,
/// ignoring case.
pub fn text_search(text: &str) -> SqlBool {
    let pattern = format!("%{}%", escape_like(&text.to_lowercase()));
    let mut out = SqlBool::default();
    out.push("users.user_name_ci LIKE ");
    out.bind(format!(
        "%{}%",
        escape_like(&super::users::user_name_key(text))
    ));
    out.push(" ESCAPE '\\' OR lower(users.display_name) LIKE ");
    out.bind(pattern.clone());
    out.push(
        " ESCAPE '\\' OR EXISTS (SELECT 1 FROM user_emails e WHERE e.user_id = users.id AND e.value_ci LIKE ",
    );
    out.bind(pattern);
    out.push(" ESCAPE '\\')");
    out
}
