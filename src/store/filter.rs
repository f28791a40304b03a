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
//!   `primary eq true` and requires a value, see [`child_table_fits`]), group `members` and a
//!   user's `groups`;
//! - everything else in the JSON resource: `resource->'name'->>'familyName'` on PostgreSQL,
//!   `json_extract(resource, '$."name"."familyName"')` on SQLite, extension attributes under their
//!   URN key, multi-valued attributes through `jsonb_array_elements` / `json_each`.
//!
//! Each shape that cannot be translated is named and answered with `invalidFilter`, never
//! evaluated by loading resources into memory.

use chrono::{DateTime, NaiveDateTime};
use diesel::backend::Backend;
use diesel::expression::{AppearsOnTable, Expression, ValidGrouping};
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::serialize::ToSql;
use diesel::sql_types::{Bool, HasSqlType, Text, Timestamp};
use diesel::sqlite::Sqlite;
use serde_json::Value;

use super::MultiBackend;
use crate::ids::OrgId;
use crate::scim::ScimError;
use crate::scim::filter::{CompareOp, Filter};
use crate::scim::path::{AttrPath, Resolved};
use crate::scim::schema::{
    AttributeDef, AttributeType, GROUP_RESOURCE, ResourceTypeDef, Returned, USER_RESOURCE,
};

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
}

impl Part {
    /// The part with [`Part::Org`] bound to `org`.
    fn for_org(&self, org: &OrgId) -> Part {
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

    fn push(&mut self, s: &'static str) {
        self.0.push(Part::Sql(s));
    }
    fn owned(&mut self, s: String) {
        self.0.push(Part::Owned(s));
    }
    fn bind(&mut self, v: impl Into<String>) {
        self.0.push(Part::Text(v.into()));
    }
    fn dialect(&mut self, pg: SqlBool, sqlite: SqlBool) {
        self.0.push(Part::Dialect {
            pg: pg.0,
            sqlite: sqlite.0,
        });
    }
    fn append(&mut self, other: SqlBool) {
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

// ---------------------------------------------------------------------------------------------
// Where attributes are stored

/// The resource types with a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Res {
    User,
    Group,
}

impl Res {
    fn of(rt: &ResourceTypeDef) -> Result<Res, ScimError> {
        if std::ptr::eq(rt, &USER_RESOURCE) {
            Ok(Res::User)
        } else if std::ptr::eq(rt, &GROUP_RESOURCE) {
            Ok(Res::Group)
        } else {
            Err(ScimError::invalid_filter(format!(
                "filtering {} resources is not supported",
                rt.name
            )))
        }
    }

    fn rt(self) -> &'static ResourceTypeDef {
        match self {
            Res::User => &USER_RESOURCE,
            Res::Group => &GROUP_RESOURCE,
        }
    }

    fn table(self) -> &'static str {
        match self {
            Res::User => "users",
            Res::Group => "groups",
        }
    }
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

/// A column (or an expression over columns) holding one attribute.
#[derive(Debug, Clone, Copy)]
struct Column {
    sql: &'static str,
    kind: Kind,
    nullable: bool,
}

const fn col(sql: &'static str, kind: Kind, nullable: bool) -> Column {
    Column {
        sql,
        kind,
        nullable,
    }
}

fn fold_lower(s: &str) -> String {
    s.to_lowercase()
}

/// The column of a singular attribute of the resource row, if it has one.
fn resource_column(res: Res, attr: &str, sub: Option<&str>) -> Option<Column> {
    use Kind::*;
    Some(match (res, attr, sub) {
        (Res::User, "id", None) => col("users.id", Exact, false),
        (Res::User, "externalId", None) => col("users.external_id", Exact, true),
        (Res::User, "userName", None) => col(
            "users.user_name_ci",
            Folded(super::users::user_name_key),
            false,
        ),
        (Res::User, "displayName", None) => col("users.display_name", Lower, true),
        (Res::User, "active", None) => col("users.active", Bool, false),
        (Res::User, "meta", Some("created")) => col("users.created_at", Timestamp, false),
        (Res::User, "meta", Some("lastModified")) => col("users.last_modified", Timestamp, false),
        (Res::User, "meta", Some("version")) => {
            col("('W/\"' || users.version || '\"')", Exact, false)
        }
        (Res::User, "meta", Some("resourceType")) => col("'User'", Exact, false),
        (Res::Group, "id", None) => col("groups.id", Exact, false),
        (Res::Group, "externalId", None) => col("groups.external_id", Exact, true),
        (Res::Group, "displayName", None) => col(
            "groups.display_name_ci",
            Folded(super::users::user_name_key),
            false,
        ),
        (Res::Group, "meta", Some("created")) => col("groups.created_at", Timestamp, false),
        (Res::Group, "meta", Some("lastModified")) => col("groups.last_modified", Timestamp, false),
        (Res::Group, "meta", Some("version")) => {
            col("('W/\"' || groups.version || '\"')", Exact, false)
        }
        (Res::Group, "meta", Some("resourceType")) => col("'Group'", Exact, false),
        _ => return None,
    })
}

/// A child table mirroring a multi-valued attribute, one row per value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Child {
    Emails,
    PhoneNumbers,
    /// A group's `members` (`group_members` by `group_id`).
    Members,
    /// A user's `groups` (`group_members` by `member_id`): direct memberships.
    Memberships,
}

impl Child {
    fn of(res: Res, attr: &str) -> Option<Child> {
        match (res, attr) {
            (Res::User, "emails") => Some(Child::Emails),
            (Res::User, "phoneNumbers") => Some(Child::PhoneNumbers),
            (Res::User, "groups") => Some(Child::Memberships),
            (Res::Group, "members") => Some(Child::Members),
            _ => None,
        }
    }

    /// Writes `<resource id> IN (SELECT <key> FROM <table> c WHERE c.org_id = <org> AND (`,
    /// closed by `))`: uncorrelated, so that the child table's own index (e.g. on `value_ci`)
    /// drives the query, and scoped by org as every statement is.
    /// Opens the subquery (closed by the caller with `))`). Its `WHERE` starts with the budget
    /// check (an uncorrelated subquery runs on its own, before the rows of the outer query),
    /// then the org.
    fn open(self, out: &mut SqlBool) {
        out.push(self.opening());
        out.0.push(budget_check());
        out.push("c.org_id = ");
        out.0.push(Part::Org);
        out.push(" AND (");
    }

    fn opening(self) -> &'static str {
        match self {
            Child::Emails => "users.id IN (SELECT c.user_id FROM user_emails c WHERE ",
            Child::PhoneNumbers => "users.id IN (SELECT c.user_id FROM user_phone_numbers c WHERE ",
            Child::Members => "groups.id IN (SELECT c.group_id FROM group_members c WHERE ",
            Child::Memberships => "users.id IN (SELECT c.member_id FROM group_members c WHERE ",
        }
    }

    /// Whether the table holds every value of the attribute (else only values with a `value`).
    fn is_complete(self) -> bool {
        matches!(self, Child::Members | Child::Memberships)
    }

    fn column(self, sub: &str) -> Option<Column> {
        use Kind::*;
        Some(match (self, sub) {
            (Child::Emails, "value") => col("c.value_ci", Folded(fold_lower), false),
            (Child::Emails | Child::PhoneNumbers, "type") => col("c.type", Lower, true),
            (Child::Emails | Child::PhoneNumbers, "primary") => col("c.is_primary", Bool, false),
            (Child::PhoneNumbers, "value") => col("c.value", Lower, false),
            // Ids are server-assigned lower-case UUIDs; `value` ignores case (RFC 7643 §4.2).
            (Child::Members, "value") => col("c.member_id", Folded(fold_lower), false),
            (Child::Members, "type") => col("c.member_type", Lower, false),
            (Child::Memberships, "value") => col("c.group_id", Folded(fold_lower), false),
            _ => return None,
        })
    }
}

/// Whether a value filter (relative to a multi-valued attribute mirrored in `child`) can run on
/// the child table with exactly the evaluator's meaning. Emails and phone numbers have a row
/// only for values with a `value`, and `is_primary` is false when `primary` is absent, so the
/// filter must require a `value` and may test `primary` only for `true`.
fn child_table_fits(child: Child, filter: &Filter) -> bool {
    fn atoms_fit(child: Child, f: &Filter) -> bool {
        match f {
            Filter::And(a, b) | Filter::Or(a, b) => atoms_fit(child, a) && atoms_fit(child, b),
            Filter::Not(a) => atoms_fit(child, a),
            Filter::ValuePath { .. } => false,
            Filter::Present(p) => {
                p.sub_attr.is_none()
                    && child.column(&p.attr).is_some()
                    && (child.is_complete() || p.attr == "value")
            }
            Filter::Compare { path, op, value } => {
                let Some(column) = child.column(&path.attr) else {
                    return false;
                };
                if path.sub_attr.is_some() {
                    return false;
                }
                if child.is_complete() {
                    return true;
                }
                if value.is_null() {
                    return false;
                }
                match column.kind {
                    Kind::Bool => {
                        value.as_bool() == Some(*op == CompareOp::Eq)
                            && matches!(op, CompareOp::Eq | CompareOp::Ne)
                    }
                    _ => true,
                }
            }
        }
    }
    fn requires_value(f: &Filter) -> bool {
        match f {
            Filter::And(a, b) => requires_value(a) || requires_value(b),
            Filter::Or(a, b) => requires_value(a) && requires_value(b),
            Filter::Not(_) | Filter::ValuePath { .. } => false,
            Filter::Present(p) => p.attr == "value",
            Filter::Compare { path, value, .. } => path.attr == "value" && !value.is_null(),
        }
    }
    atoms_fit(child, filter) && (child.is_complete() || requires_value(filter))
}

// ---------------------------------------------------------------------------------------------
// Translation

/// Translates a filter validated against `rt` (canonical paths, see `Filter::validate`) to a
/// condition on `rt`'s table (`users` or `groups`), RFC 7644 §3.4.2.2.
///
/// Every attribute of the schema is translated, with the evaluator's semantics (see the module
/// documentation). Refused with `invalidFilter`, naming the reason: `meta.location` (it depends
/// on the URL the client used), group `members.display` / `members.$ref` and a user's
/// `groups.display` / `groups.$ref` / `groups.type` (computed when rendering, not stored).
///
/// On SQLite the condition starts with the [`super::budget`] check, so that a read run within
/// a time budget is stopped on the rows it visits once the budget is spent (PostgreSQL has its
/// `statement_timeout`).
pub fn translate(rt: &ResourceTypeDef, filter: &Filter) -> Result<SqlBool, ScimError> {
    let res = Res::of(rt)?;
    let mut out = SqlBool::default();
    out.0.push(budget_check());
    out.push("(");
    write_filter(&mut out, res, filter)?;
    out.push(")");
    Ok(out)
}

/// `roster_within_budget() AND ` on SQLite, nothing on PostgreSQL: the first term of every
/// `WHERE` a filter writes, where SQLite evaluates it once per row visited.
fn budget_check() -> Part {
    Part::Dialect {
        pg: Vec::new(),
        sqlite: vec![Part::Sql(super::budget::CHECK_SQL), Part::Sql(" AND ")],
    }
}

fn write_filter(out: &mut SqlBool, res: Res, filter: &Filter) -> Result<(), ScimError> {
    match filter {
        Filter::And(a, b) | Filter::Or(a, b) => {
            out.push("(");
            write_filter(out, res, a)?;
            out.push(if matches!(filter, Filter::And(..)) {
                ") AND ("
            } else {
                ") OR ("
            });
            write_filter(out, res, b)?;
            out.push(")");
        }
        Filter::Not(inner) => {
            // A NULL inside (a comparison with an absent attribute) means false, as in the
            // evaluator; COALESCE keeps NOT from turning it into "unknown".
            out.push("NOT COALESCE((");
            write_filter(out, res, inner)?;
            out.push("), FALSE)");
        }
        Filter::ValuePath { attr, filter } => {
            let r = resolve(res, attr)?;
            write_value_path(out, res, &r, attr, filter)?;
        }
        Filter::Present(path) => {
            let r = resolve(res, path)?;
            write_present(out, res, &r, path)?;
        }
        Filter::Compare { path, op, value } => {
            let r = resolve(res, path)?;
            if value.is_null() {
                // `eq null` matches an absent attribute, `ne null` a present one (RFC 7643 §2.5).
                if *op == CompareOp::Eq {
                    out.push("NOT (");
                    write_present(out, res, &r, path)?;
                    out.push(")");
                } else {
                    write_present(out, res, &r, path)?;
                }
            } else {
                write_compare_attr(out, res, &r, path, *op, value)?;
            }
        }
    }
    Ok(())
}

fn resolve(res: Res, path: &AttrPath) -> Result<Resolved, ScimError> {
    path.resolve(res.rt())
        .ok_or_else(|| ScimError::invalid_filter(format!("unknown attribute '{path}'")))
}

fn not_translatable(path: &AttrPath, why: &str) -> ScimError {
    ScimError::invalid_filter(format!("'{path}' cannot be filtered: {why}"))
}

/// A `returned: never` attribute (`password`) is not a value a client can see, so it cannot be
/// searched either (RFC 7643 §7): a filter on it is refused rather than silently empty.
fn refuse_never_returned(r: &Resolved, path: &AttrPath) -> Result<(), ScimError> {
    if r.attr.returned == Returned::Never || r.leaf().returned == Returned::Never {
        return Err(not_translatable(path, "it is never returned"));
    }
    Ok(())
}

/// Attributes a filter may name but whose values are not stored as such.
fn refuse_unstored(res: Res, r: &Resolved, path: &AttrPath) -> Result<(), ScimError> {
    let sub = r.sub.map(|s| s.name);
    match (res, r.attr.name, sub) {
        (_, "meta", Some("location")) => Err(not_translatable(
            path,
            "it depends on the URL the client used; filter on 'id' instead",
        )),
        (Res::Group, "members", Some("display" | "$ref")) => Err(not_translatable(
            path,
            "it is computed when the group is rendered; filter on 'members.value' instead",
        )),
        (Res::User, "groups", Some("display" | "$ref" | "type")) => Err(not_translatable(
            path,
            "it is computed when the user is rendered; filter on 'groups.value' instead",
        )),
        _ => Ok(()),
    }
}

/// `attr[filter]`.
fn write_value_path(
    out: &mut SqlBool,
    res: Res,
    r: &Resolved,
    path: &AttrPath,
    filter: &Filter,
) -> Result<(), ScimError> {
    refuse_unstored(res, r, path)?;
    refuse_never_returned(r, path)?;
    match Child::of(res, r.attr.name) {
        Some(child) if child_table_fits(child, filter) => {
            child.open(out);
            write_element_filter(out, &Elem::Child(child), filter)?;
            out.push("))");
            Ok(())
        }
        Some(child) if child.is_complete() => Err(not_translatable(
            path,
            "this sub-attribute is computed when rendering; use 'value' or 'type'",
        )),
        _ => {
            let loc = JsonLoc::resource(res, r)?;
            write_exists_elements(out, &loc, |out, elem| {
                write_element_filter(out, &Elem::Json(r.attr, elem), filter)
            })
        }
    }
}

/// Inside a value filter: each value of a multi-valued attribute.
enum Elem<'a> {
    Child(Child),
    /// Values of `attr` in JSON; the second field is the element's JSON location.
    Json(&'static AttributeDef, &'a JsonLoc),
}

fn write_element_filter(
    out: &mut SqlBool,
    elem: &Elem<'_>,
    filter: &Filter,
) -> Result<(), ScimError> {
    match filter {
        Filter::And(a, b) | Filter::Or(a, b) => {
            out.push("(");
            write_element_filter(out, elem, a)?;
            out.push(if matches!(filter, Filter::And(..)) {
                ") AND ("
            } else {
                ") OR ("
            });
            write_element_filter(out, elem, b)?;
            out.push(")");
        }
        Filter::Not(inner) => {
            out.push("NOT COALESCE((");
            write_element_filter(out, elem, inner)?;
            out.push("), FALSE)");
        }
        Filter::ValuePath { attr, .. } => {
            return Err(ScimError::invalid_filter(format!(
                "'{attr}[…]': value paths cannot be nested"
            )));
        }
        Filter::Present(path) | Filter::Compare { path, .. } => {
            let (op, value) = match filter {
                Filter::Compare { op, value, .. } => (Some(*op), Some(value)),
                _ => (None, None),
            };
            match elem {
                Elem::Child(child) => {
                    let column = child.column(&path.attr).ok_or_else(|| {
                        not_translatable(path, "it is not stored with the values")
                    })?;
                    match (op, value) {
                        (Some(op), Some(v)) if !v.is_null() => {
                            write_compare_column(out, &column, path, op, v)?
                        }
                        (Some(CompareOp::Eq), Some(_)) => {
                            out.push("NOT (");
                            write_present_column(out, &column);
                            out.push(")");
                        }
                        _ => write_present_column(out, &column),
                    }
                }
                Elem::Json(parent, loc) => {
                    let sub = parent.sub_attribute(&path.attr).ok_or_else(|| {
                        ScimError::invalid_filter(format!(
                            "unknown attribute '{}.{}'",
                            parent.name, path.attr
                        ))
                    })?;
                    let sub_loc = loc.child(sub.name)?;
                    match (op, value) {
                        (Some(op), Some(v)) if !v.is_null() => {
                            write_compare_json(out, &sub_loc, sub, path, op, v)?
                        }
                        (Some(CompareOp::Eq), Some(_)) => {
                            out.push("NOT (");
                            write_present_json(out, &sub_loc);
                            out.push(")");
                        }
                        _ => write_present_json(out, &sub_loc),
                    }
                }
            }
        }
    }
    Ok(())
}

/// `path pr`: some value of the attribute is present. Always true or false, never NULL.
fn write_present(
    out: &mut SqlBool,
    res: Res,
    r: &Resolved,
    path: &AttrPath,
) -> Result<(), ScimError> {
    refuse_unstored(res, r, path)?;
    refuse_never_returned(r, path)?;
    if let Some(column) = resource_column(res, r.attr.name, r.sub.map(|s| s.name)) {
        write_present_column(out, &column);
        return Ok(());
    }
    if r.attr.multi_valued {
        let sub = r.sub.map(|s| s.name).unwrap_or("value");
        if let Some(child) = Child::of(res, r.attr.name) {
            let as_filter = match r.sub {
                Some(_) => Filter::Present(AttrPath::new(sub)),
                None => Filter::Present(AttrPath::new("value")),
            };
            // `emails pr` also counts values without `value`: only the JSON knows them.
            let whole = r.sub.is_none() && !child.is_complete();
            if !whole && child_table_fits(child, &as_filter) {
                child.open(out);
                write_element_filter(out, &Elem::Child(child), &as_filter)?;
                out.push("))");
                return Ok(());
            }
            if child.is_complete() {
                child.open(out);
                out.push("1 = 1))");
                return Ok(());
            }
        }
        let loc = JsonLoc::resource(res, &Resolved { sub: None, ..*r })?;
        return write_exists_elements(out, &loc, |out, elem| {
            match r.sub {
                Some(s) => write_present_json(out, &elem.child(s.name)?),
                None => write_present_json(out, elem),
            }
            Ok(())
        });
    }
    write_present_json(out, &JsonLoc::resource(res, r)?);
    Ok(())
}

fn write_compare_attr(
    out: &mut SqlBool,
    res: Res,
    r: &Resolved,
    path: &AttrPath,
    op: CompareOp,
    value: &Value,
) -> Result<(), ScimError> {
    refuse_unstored(res, r, path)?;
    refuse_never_returned(r, path)?;
    if let Some(column) = resource_column(res, r.attr.name, r.sub.map(|s| s.name)) {
        return write_compare_column(out, &column, path, op, value);
    }
    let leaf = r.leaf();
    if r.attr.multi_valued {
        let sub_name = r.sub.map(|s| s.name);
        if let (Some(child), Some(sub)) = (Child::of(res, r.attr.name), sub_name) {
            let as_filter = Filter::Compare {
                path: AttrPath::new(sub),
                op,
                value: value.clone(),
            };
            if child_table_fits(child, &as_filter) {
                child.open(out);
                write_element_filter(out, &Elem::Child(child), &as_filter)?;
                out.push("))");
                return Ok(());
            }
            if child.is_complete() {
                return Err(not_translatable(path, "it is not stored with the values"));
            }
        }
        let loc = JsonLoc::resource(res, &Resolved { sub: None, ..*r })?;
        return write_exists_elements(out, &loc, |out, elem| {
            let target = match r.sub {
                Some(s) => elem.child(s.name)?,
                None => elem.clone(),
            };
            write_compare_json(out, &target, leaf, path, op, value)
        });
    }
    write_compare_json(out, &JsonLoc::resource(res, r)?, leaf, path, op, value)
}

// ---------------------------------------------------------------------------------------------
// Columns

fn write_present_column(out: &mut SqlBool, column: &Column) {
    match (column.nullable, column.kind) {
        (false, Kind::Bool | Kind::Timestamp) => out.push("1 = 1"),
        (false, _) => {
            out.push(column.sql);
            out.push(" <> ''");
        }
        (true, Kind::Bool | Kind::Timestamp) => {
            out.push(column.sql);
            out.push(" IS NOT NULL");
        }
        (true, _) => {
            out.push("(");
            out.push(column.sql);
            out.push(" IS NOT NULL AND ");
            out.push(column.sql);
            out.push(" <> '')");
        }
    }
}

fn write_compare_column(
    out: &mut SqlBool,
    column: &Column,
    path: &AttrPath,
    op: CompareOp,
    value: &Value,
) -> Result<(), ScimError> {
    match column.kind {
        Kind::Bool => {
            let wanted = value.as_bool().ok_or_else(|| {
                ScimError::invalid_filter(format!("'{path}' compares with true or false"))
            })?;
            let negate = match op {
                CompareOp::Eq => !wanted,
                CompareOp::Ne => wanted,
                _ => {
                    return Err(ScimError::invalid_filter(format!(
                        "'{op}' is not supported on a boolean attribute '{path}'"
                    )));
                }
            };
            // A keyword, not a bound value, so that the partial index on inactive users applies.
            if negate {
                out.push("NOT ");
            }
            out.push(column.sql);
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
            out.push(column.sql);
            out.push(sql_op);
            out.0.push(Part::Timestamp(at));
        }
        Kind::Exact | Kind::Folded(_) | Kind::Lower => {
            let raw = text_value(path, value)?;
            let (lhs, v) = match column.kind {
                Kind::Folded(fold) => (Part::Sql(column.sql), fold(&raw)),
                Kind::Lower => (Part::Owned(format!("lower({})", column.sql)), raw),
                _ => (Part::Sql(column.sql), raw),
            };
            write_string_op(out, lhs, op, v, matches!(column.kind, Kind::Lower));
        }
    }
    Ok(())
}

fn text_value(path: &AttrPath, value: &Value) -> Result<String, ScimError> {
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
fn write_string_op(out: &mut SqlBool, lhs: Part, op: CompareOp, value: String, lower: bool) {
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

/// Escapes `*`, `?` and `[` for SQLite's `GLOB` (a bracket holding one character is literal).
fn escape_glob(s: &str) -> String {
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

// ---------------------------------------------------------------------------------------------
// JSON

/// Where a value lives in the JSON resource, as SQL on each backend.
#[derive(Debug, Clone)]
struct JsonLoc {
    /// PostgreSQL: the value as `jsonb`.
    pg_json: String,
    /// PostgreSQL: the value as text (strings unquoted).
    pg_text: String,
    /// SQLite: the JSON type name (`'text'`, `'true'`, `'object'`, …), NULL when absent.
    lite_type: String,
    /// SQLite: the SQL value (text for strings, JSON text for objects and arrays).
    lite_value: String,
    /// SQLite: for a location under a document, the document and the path; `None` for an
    /// element of `json_each` itself.
    lite_doc: Option<(String, String)>,
}

/// JSON keys come from the schema tables; refuse anything that could leave a SQL or JSON-path
/// string literal (never the case for the built-in schemas).
fn safe_key(key: &str) -> Result<&str, ScimError> {
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
    fn under(doc: &str, keys: &[&str]) -> Result<JsonLoc, ScimError> {
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
    fn resource(res: Res, r: &Resolved) -> Result<JsonLoc, ScimError> {
        let doc = format!("{}.resource", res.table());
        let mut keys = Vec::with_capacity(3);
        if r.is_extension(res.rt()) {
            keys.push(r.schema.id);
        }
        keys.push(r.attr.name);
        if let Some(sub) = r.sub {
            keys.push(sub.name);
        }
        JsonLoc::under(&doc, &keys)
    }

    /// An element of `jsonb_array_elements(…) x(v)` / `json_each(…) x`.
    fn element() -> JsonLoc {
        JsonLoc {
            pg_json: "x.v".to_owned(),
            pg_text: "(x.v #>> '{}')".to_owned(),
            lite_type: "x.type".to_owned(),
            lite_value: "x.value".to_owned(),
            lite_doc: None,
        }
    }

    /// The member `key` of this (object) value.
    fn child(&self, key: &str) -> Result<JsonLoc, ScimError> {
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
fn write_exists_elements(
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
fn write_present_json(out: &mut SqlBool, loc: &JsonLoc) {
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

fn write_compare_json(
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
        AttributeType::Integer
        | AttributeType::Decimal
        | AttributeType::DateTime
        | AttributeType::Complex => {
            return Err(not_translatable(
                path,
                "no stored attribute of this type is filterable in this server",
            ));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Sorting

/// `sortOrder` (RFC 7644 §3.4.2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortOrder {
    /// The default.
    #[default]
    Ascending,
    Descending,
}

impl SortOrder {
    /// Parses `ascending` / `descending`, ignoring case; anything else is `invalidValue`.
    pub fn parse(text: &str) -> Result<SortOrder, ScimError> {
        if text.eq_ignore_ascii_case("ascending") {
            Ok(SortOrder::Ascending)
        } else if text.eq_ignore_ascii_case("descending") {
            Ok(SortOrder::Descending)
        } else {
            Err(ScimError::invalid_value(format!(
                "sortOrder must be 'ascending' or 'descending', not '{text}'"
            )))
        }
    }
}

/// The `ORDER BY` for `sortBy` / `sortOrder` on `rt`'s table (RFC 7644 §3.4.2.3), always ending
/// with the id so that pages are stable. Without `sort_by`, the order is by id.
///
/// - Any singular attribute or sub-attribute; strings compare per `caseExact` (lower-cased
///   otherwise), by code point.
/// - A multi-valued attribute sorts by its primary value, else its first value (`emails` means
///   `emails.value`; `emails.type` the type of that value).
/// - Resources without a value come last in ascending order and first in descending order.
/// - Refused with `invalidValue`: unknown attributes, attributes that are never returned
///   (`password`), `schemas`, and the computed `members`/`groups`.
pub fn sort(
    rt: &ResourceTypeDef,
    sort_by: Option<&str>,
    order: SortOrder,
) -> Result<SqlOrder, ScimError> {
    let res = Res::of(rt).map_err(|e| ScimError::invalid_value(e.detail().to_owned()))?;
    let tie = match res {
        Res::User => "users.id ASC",
        Res::Group => "groups.id ASC",
    };
    let Some(text) = sort_by.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(SqlOrder(vec![Part::Sql(tie)]));
    };
    let bad = |why: &str| ScimError::invalid_value(format!("sortBy '{text}': {why}"));
    let path = AttrPath::parse(text).map_err(|_| bad("not an attribute path"))?;
    let r = path.resolve(rt).ok_or_else(|| bad("unknown attribute"))?;
    let (dir, nulls) = match order {
        SortOrder::Ascending => (" ASC", " NULLS LAST, "),
        SortOrder::Descending => (" DESC", " NULLS FIRST, "),
    };
    let mut key = SqlOrder::default();
    match (res, r.attr.name, r.sub.map(|s| s.name)) {
        (_, "meta", Some("location")) | (_, "id", None) => {
            return Ok(SqlOrder(vec![Part::Owned(format!(
                "{}.id{dir}",
                res.table()
            ))]));
        }
        (_, "meta", Some("resourceType")) => return Ok(SqlOrder(vec![Part::Sql(tie)])),
        (_, "meta", Some("version")) => {
            key.0.push(Part::Owned(format!("{}.version", res.table())));
        }
        (_, "schemas", _) | (Res::Group, "members", _) | (Res::User, "groups", _) => {
            return Err(bad("sorting by this attribute is not supported"));
        }
        _ if r.attr.returned == Returned::Never => {
            return Err(bad("the attribute is never returned"));
        }
        (_, attr, sub) => {
            if let Some(column) = resource_column(res, attr, sub) {
                let expr = match column.kind {
                    Kind::Lower => format!("lower({})", column.sql),
                    _ => column.sql.to_owned(),
                };
                key.0.push(Part::Owned(expr));
                if matches!(column.kind, Kind::Exact | Kind::Folded(_) | Kind::Lower) {
                    key.0.push(collate_c());
                }
            } else {
                sort_json_key(&mut key, res, &r).map_err(|e| bad(e.detail()))?;
            }
        }
    }
    key.0.push(Part::Sql(dir));
    key.0.push(Part::Sql(nulls));
    key.0.push(Part::Sql(tie));
    Ok(key)
}

fn collate_c() -> Part {
    Part::Dialect {
        pg: vec![Part::Sql(" COLLATE \"C\"")],
        sqlite: Vec::new(),
    }
}

fn sort_json_key(key: &mut SqlOrder, res: Res, r: &Resolved) -> Result<(), ScimError> {
    let leaf = match (r.attr.kind, r.sub) {
        (AttributeType::Complex, None) => r
            .attr
            .sub_attribute("value")
            .ok_or_else(|| ScimError::invalid_value("name one of its sub-attributes"))?,
        _ => r.leaf(),
    };
    let fold = |s: String| {
        if leaf.case_exact || leaf.kind == AttributeType::Boolean {
            s
        } else {
            format!("lower({s})")
        }
    };
    if r.attr.multi_valued {
        let loc = JsonLoc::resource(res, &Resolved { sub: None, ..*r })?;
        let elem = JsonLoc::element().child(leaf.name)?;
        let primary = JsonLoc::element().child("primary")?;
        let pg = format!(
            "(SELECT {} FROM jsonb_array_elements(CASE WHEN jsonb_typeof({j}) = 'array' THEN {j} ELSE '[]'::jsonb END) WITH ORDINALITY AS x(v, n) \
             ORDER BY ({} = 'true'::jsonb) IS NOT TRUE, x.n LIMIT 1)",
            fold(elem.pg_text),
            primary.pg_json,
            j = loc.pg_json
        );
        let (doc, path) = loc.lite_doc.unwrap_or_default();
        let sqlite = format!(
            "(SELECT {} FROM json_each({doc}, '{path}') AS x \
             ORDER BY COALESCE({} = 'true', 0) DESC, x.id LIMIT 1)",
            fold(elem.lite_value),
            primary.lite_type
        );
        key.0.push(Part::Dialect {
            pg: vec![Part::Owned(pg)],
            sqlite: vec![Part::Owned(sqlite)],
        });
    } else {
        let loc = JsonLoc::resource(res, r)?;
        key.0.push(Part::Dialect {
            pg: vec![Part::Owned(fold(loc.pg_text))],
            sqlite: vec![Part::Owned(fold(loc.lite_value))],
        });
    }
    if leaf.kind != AttributeType::Boolean {
        key.0.push(collate_c());
    }
    Ok(())
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
        " ESCAPE '\\' OR EXISTS (SELECT 1 FROM user_emails e WHERE e.org_id = users.org_id \
         AND e.user_id = users.id AND e.value_ci LIKE ",
    );
    out.bind(pattern);
    out.push(" ESCAPE '\\')");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::debug_query;
    use diesel::prelude::*;

    use crate::store::schema::users;

    fn expr(filter: &str) -> SqlBool {
        let f: Filter = filter.parse().unwrap();
        let f = f.validate(&USER_RESOURCE).unwrap();
        let org = crate::ids::OrgId::parse("default").unwrap();
        translate(&USER_RESOURCE, &f).unwrap().for_org(&org)
    }

    fn pg(filter: &str) -> String {
        let q = users::table.select(users::id).filter(expr(filter));
        debug_query::<Pg, _>(&q).to_string()
    }

    fn lite(filter: &str) -> String {
        let q = users::table.select(users::id).filter(expr(filter));
        debug_query::<Sqlite, _>(&q).to_string()
    }

    #[test]
    fn hot_columns_keep_index_friendly_shapes() {
        let out = pg("userName eq \"A\"");
        assert!(out.contains("users.user_name_ci = $1"), "{out}");
        let out = lite("active eq false");
        assert!(out.contains("(NOT users.active)"), "{out}");
        let out = lite("emails[type eq \"work\"].value eq \"x@y\"");
        assert!(
            out.contains("users.id IN (SELECT c.user_id FROM user_emails c WHERE"),
            "{out}"
        );
        assert!(out.contains("c.value_ci = ?"), "{out}");
    }

    #[test]
    fn sqlite_checks_the_time_budget_first_in_every_where() {
        let out = lite("title co \"x\" or emails.value co \"y\"");
        assert!(
            out.starts_with("SELECT `users`.`id` FROM `users` WHERE (roster_within_budget() AND ("),
            "{out}"
        );
        assert!(
            out.contains("FROM user_emails c WHERE roster_within_budget() AND "),
            "{out}"
        );
        assert!(!pg("title co \"x\"").contains("roster_within_budget"));
    }

    #[test]
    fn json_paths_come_from_the_schema() {
        let out = pg("name.FAMILYNAME sw \"o'\"");
        assert!(
            out.contains("lower((users.resource->'name'->>'familyName')) LIKE lower($1)"),
            "{out}"
        );
        let out = lite(
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq \"1\"",
        );
        assert!(
            out.contains(
                "json_extract(users.resource, '$.\"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\".\"employeeNumber\"')"
            ),
            "{out}"
        );
        let out = pg("ims[type eq \"xmpp\" and primary eq true]");
        assert!(out.contains("jsonb_array_elements"), "{out}");
        let out = lite("ims[type eq \"xmpp\" and primary eq true]");
        assert!(
            out.contains("json_each(users.resource, '$.\"ims\"')"),
            "{out}"
        );
    }

    #[test]
    fn child_tables_only_when_exact() {
        let f = |s: &str| -> Filter { s.parse().unwrap() };
        assert!(child_table_fits(
            Child::Emails,
            &f("type eq \"work\" and value co \"@x\"")
        ));
        assert!(child_table_fits(Child::Emails, &f("value pr")));
        assert!(!child_table_fits(Child::Emails, &f("type eq \"work\"")));
        assert!(!child_table_fits(
            Child::Emails,
            &f("value eq \"a\" and primary eq false")
        ));
        assert!(child_table_fits(
            Child::Emails,
            &f("value eq \"a\" and primary eq true")
        ));
        assert!(!child_table_fits(
            Child::Emails,
            &f("value eq \"a\" or type eq \"b\"")
        ));
        assert!(!child_table_fits(
            Child::Emails,
            &f("value eq \"a\" and display pr")
        ));
        assert!(child_table_fits(Child::Members, &f("type eq \"User\"")));
    }

    #[test]
    fn escapes_patterns() {
        assert_eq!(escape_like("50%_a\\"), "50\\%\\_a\\\\");
        assert_eq!(escape_glob("a*b?[c]"), "a[*]b[?][[]c]");
    }

    #[test]
    fn sort_keys() {
        let s = |by: &str, o| {
            let order = sort(&USER_RESOURCE, Some(by), o).unwrap();
            let q = users::table.select(users::id).order(order);
            debug_query::<Pg, _>(&q).to_string()
        };
        let out = s("userName", SortOrder::Descending);
        assert!(
            out.contains(
                "ORDER BY users.user_name_ci COLLATE \"C\" DESC NULLS FIRST, users.id ASC"
            ),
            "{out}"
        );
        let out = s("emails", SortOrder::Ascending);
        assert!(out.contains("WITH ORDINALITY"), "{out}");
        for bad in ["nosuch", "password", "schemas", "groups", "a b"] {
            let err = sort(&USER_RESOURCE, Some(bad), SortOrder::Ascending).unwrap_err();
            assert_eq!(err.status(), 400, "{bad}");
        }
        assert!(SortOrder::parse("DESCENDING").is_ok());
        assert!(SortOrder::parse("down").is_err());
    }
}
