//! SQL fragments: the pieces a translated filter or sort key is made of, and the string
//! comparisons written with them.

use chrono::NaiveDateTime;
use diesel::backend::Backend;
use diesel::expression::{AppearsOnTable, Expression, ValidGrouping};
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::serialize::ToSql;
use diesel::sql_types::{Bool, HasSqlType, Text, Timestamp};
use diesel::sqlite::Sqlite;
use serde_json::Value;

use crate::ids::OrgId;
use crate::scim::ScimError;
use crate::scim::filter::CompareOp;
use crate::scim::path::AttrPath;
use crate::store::MultiBackend;

/// A piece of a translated filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    /// SQL text written by this module, never by a client.
    Sql(&'static str),
    /// SQL text composed by this module from schema names (JSON keys), never from a request.
    Owned(String),
    /// A bound text value.
    Text(String),
    /// A bound timestamp (naive UTC).
    Timestamp(NaiveDateTime),
    /// Pieces that differ per backend (JSON functions, pattern matching).
    Dialect { pg: Vec<Part>, sqlite: Vec<Part> },
    /// The org the query is scoped to, bound by [`SqlBool::for_org`] (child-table subqueries
    /// name it as well as the outer query). A filter not yet scoped fails to render.
    Org,
    /// No SQL: the statement is not kept prepared, so PostgreSQL plans it for its values each
    /// time (an unnamed statement) rather than settling on a generic plan after five runs on a
    /// connection. For a condition whose best plan depends on a value (a `LIKE` pattern: how
    /// many rows it matches).
    PlanPerValues,
}

impl Part {
    /// The part with [`Part::Org`] bound to `org`.
    pub(super) fn for_org(&self, org: &OrgId) -> Part {
        match self {
            Part::Org => Part::Text(org.as_str().to_owned()),
            Part::Dialect { pg, sqlite } => Part::Dialect {
                pg: pg.iter().map(|p| p.for_org(org)).collect(),
                sqlite: sqlite.iter().map(|p| p.for_org(org)).collect(),
            },
            other => other.clone(),
        }
    }
}

/// The SQL dialect a query is being written for, as seen while walking it.
pub trait SqlDialect {
    /// Whether the query is written for PostgreSQL (else SQLite).
    fn is_postgres(&self) -> bool;
}

impl SqlDialect for Pg {
    fn is_postgres(&self) -> bool {
        true
    }
}

impl SqlDialect for Sqlite {
    fn is_postgres(&self) -> bool {
        false
    }
}

impl SqlDialect for MultiBackend {
    fn is_postgres(&self) -> bool {
        matches!(self, MultiBackend::Pg(_))
    }
}

/// A boolean SQL expression made of [`Part`]s, usable in `.filter()` on the table it was
/// translated for (`users` or `groups`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SqlBool(pub Vec<Part>);

impl SqlBool {
    /// The condition scoped to `org`: every statement is, the subqueries of child tables
    /// included, even though their ids are server-made.
    pub fn for_org(&self, org: &OrgId) -> SqlBool {
        SqlBool(self.0.iter().map(|p| p.for_org(org)).collect())
    }

    pub(super) fn push(&mut self, s: &'static str) {
        self.0.push(Part::Sql(s));
    }
    pub(super) fn owned(&mut self, s: String) {
        self.0.push(Part::Owned(s));
    }
    pub(super) fn bind(&mut self, v: impl Into<String>) {
        self.0.push(Part::Text(v.into()));
    }
    pub(super) fn dialect(&mut self, pg: SqlBool, sqlite: SqlBool) {
        self.0.push(Part::Dialect {
            pg: pg.0,
            sqlite: sqlite.0,
        });
    }
    pub(super) fn append(&mut self, other: SqlBool) {
        self.0.extend(other.0);
    }
}

fn walk_parts<'b, DB>(
    parts: &'b [Part],
    pg: bool,
    out: &mut AstPass<'_, 'b, DB>,
) -> diesel::QueryResult<()>
where
    DB: Backend + HasSqlType<Text> + HasSqlType<Timestamp>,
    String: ToSql<Text, DB>,
    NaiveDateTime: ToSql<Timestamp, DB>,
{
    for part in parts {
        match part {
            Part::Sql(s) => out.push_sql(s),
            Part::Owned(s) => out.push_sql(s),
            Part::Text(v) => out.push_bind_param::<Text, String>(v)?,
            Part::Timestamp(v) => out.push_bind_param::<Timestamp, NaiveDateTime>(v)?,
            Part::Dialect { pg: p, sqlite: s } => walk_parts(if pg { p } else { s }, pg, out)?,
            Part::PlanPerValues => out.unsafe_to_cache_prepared(),
            Part::Org => {
                return Err(diesel::result::Error::QueryBuilderError(
                    "a filter was run without being scoped to an org (SqlBool::for_org)".into(),
                ));
            }
        }
    }
    Ok(())
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
    DB: Backend + HasSqlType<Text> + HasSqlType<Timestamp> + SqlDialect,
    String: ToSql<Text, DB>,
    NaiveDateTime: ToSql<Timestamp, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> diesel::QueryResult<()> {
        let pg = out.backend().is_postgres();
        out.push_sql("(");
        walk_parts(&self.0, pg, &mut out)?;
        out.push_sql(")");
        Ok(())
    }
}

/// An `ORDER BY` list made of [`Part`]s (RFC 7644 §3.4.2.3), usable in `.order()`: the sort key
/// with its direction and null placement, then the id as tie-break.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SqlOrder(pub Vec<Part>);

impl Expression for SqlOrder {
    type SqlType = Text;
}

impl<QS> AppearsOnTable<QS> for SqlOrder {}

impl<GB> ValidGrouping<GB> for SqlOrder {
    type IsAggregate = diesel::expression::is_aggregate::Never;
}

impl QueryId for SqlOrder {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<DB> QueryFragment<DB> for SqlOrder
where
    DB: Backend + HasSqlType<Text> + HasSqlType<Timestamp> + SqlDialect,
    String: ToSql<Text, DB>,
    NaiveDateTime: ToSql<Timestamp, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> diesel::QueryResult<()> {
        let pg = out.backend().is_postgres();
        walk_parts(&self.0, pg, &mut out)
    }
}
pub(super) fn not_translatable(path: &AttrPath, why: &str) -> ScimError {
    ScimError::invalid_filter(format!("'{path}' cannot be filtered: {why}"))
}

pub(super) fn text_value(path: &AttrPath, value: &Value) -> Result<String, ScimError> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(ScimError::invalid_filter(format!(
            "'{path}' is a string and cannot be compared with {other}"
        ))),
    }
}

/// `lhs <op> value` for strings (both already folded as the attribute's `caseExact` asks).
/// Orderings compare code points (`COLLATE "C"` on PostgreSQL, SQLite's default), as the
/// evaluator does; substrings use `LIKE` on PostgreSQL and the case-sensitive `GLOB` on SQLite
/// (whose `LIKE` ignores ASCII case), with their special characters escaped.
pub(super) fn write_string_op(
    out: &mut SqlBool,
    lhs: Part,
    op: CompareOp,
    value: String,
    lower: bool,
) {
    // The value goes through the same `lower()` as the column, so both sides fold alike on
    // each backend (SQLite's folds ASCII only).
    let bind = |out: &mut SqlBool, v: String| {
        if lower {
            out.push("lower(");
        }
        out.bind(v);
        if lower {
            out.push(")");
        }
    };
    if let Some(sql_op) = ordering_sql(op) {
        out.0.push(lhs);
        if op.is_ordering() {
            out.dialect(
                SqlBool(vec![Part::Sql(" COLLATE \"C\"")]),
                SqlBool::default(),
            );
        }
        out.push(sql_op);
        bind(out, value);
        return;
    }
    let (like, glob) = match op {
        CompareOp::Co => (
            format!("%{}%", escape_like(&value)),
            format!("*{}*", escape_glob(&value)),
        ),
        CompareOp::Sw => (
            format!("{}%", escape_like(&value)),
            format!("{}*", escape_glob(&value)),
        ),
        _ => (
            format!("%{}", escape_like(&value)),
            format!("*{}", escape_glob(&value)),
        ),
    };
    let mut pg = SqlBool(vec![lhs.clone()]);
    pg.push(" LIKE ");
    bind(&mut pg, like);
    pg.push(" ESCAPE '\\'");
    let mut sqlite = SqlBool(vec![lhs]);
    sqlite.push(" GLOB ");
    bind(&mut sqlite, glob);
    out.dialect(pg, sqlite);
}

/// SQL for `eq ne gt ge lt le`; `None` for the substring operators.
pub(super) fn ordering_sql(op: CompareOp) -> Option<&'static str> {
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
pub(super) fn escape_like(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Escapes `*`, `?` and `[` for SQLite's `GLOB` (a bracket holding one character is literal).
pub(super) fn escape_glob(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '*' | '?' | '[' => {
                out.push('[');
                out.push(c);
                out.push(']');
            }
            _ => out.push(c),
        }
    }
    out
}

/// `roster_within_budget() AND ` on SQLite, nothing on PostgreSQL: the first term of every
/// `WHERE` a filter writes, where SQLite evaluates it once per row visited.
pub(super) fn budget_check() -> Part {
    Part::Dialect {
        pg: Vec::new(),
        sqlite: vec![
            Part::Sql(crate::store::budget::CHECK_SQL),
            Part::Sql(" AND "),
        ],
    }
}
