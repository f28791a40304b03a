//! Where attributes are stored: the attribute→column map of the resource rows and the child
//! tables mirroring multi-valued attributes.

use chrono::DateTime;
use serde_json::Value;

use crate::scim::ScimError;
use crate::scim::filter::{CompareOp, Filter};
use crate::scim::path::AttrPath;
use crate::scim::schema::{GROUP, ResourceKind, ResourceTypeDef, SchemaDef, USER};
use crate::store::caseless;

use super::sql::*;

/// The resource types with a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Res {
    User,
    Group,
}

impl Res {
    pub(super) fn of(rt: &ResourceTypeDef) -> Result<Res, ScimError> {
        Ok(match rt.kind {
            ResourceKind::User => Res::User,
            ResourceKind::Group => Res::Group,
        })
    }

    /// The core schema of the resource type (its extensions are the caller's `rt`'s).
    pub(super) fn core(self) -> &'static SchemaDef {
        match self {
            Res::User => &USER,
            Res::Group => &GROUP,
        }
    }

    pub(super) fn table(self) -> &'static str {
        match self {
            Res::User => "users",
            Res::Group => "groups",
        }
    }
}

/// How a column compares.
#[derive(Debug, Clone, Copy)]
pub(super) enum Kind {
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
pub(super) struct Column {
    pub(super) sql: &'static str,
    pub(super) kind: Kind,
    pub(super) nullable: bool,
}

pub(super) const fn col(sql: &'static str, kind: Kind, nullable: bool) -> Column {
    Column {
        sql,
        kind,
        nullable,
    }
}

/// The column of a singular attribute of the resource row, if it has one.
pub(super) fn resource_column(res: Res, attr: &str, sub: Option<&str>) -> Option<Column> {
    use Kind::*;
    Some(match (res, attr, sub) {
        (Res::User, "id", None) => col("users.id", Exact, false),
        (Res::User, "externalId", None) => col("users.external_id", Exact, true),
        (Res::User, "userName", None) => {
            col("users.user_name_ci", Folded(caseless::user_name_key), false)
        }
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
            Folded(caseless::user_name_key),
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
pub(super) enum Child {
    Emails,
    PhoneNumbers,
    /// A group's `members` (`group_members` by `group_id`).
    Members,
    /// A user's `groups` (`group_members` by `member_id`): direct memberships.
    Memberships,
}

impl Child {
    pub(super) fn of(res: Res, attr: &str) -> Option<Child> {
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
    pub(super) fn open(self, out: &mut SqlBool) {
        out.push(self.opening());
        out.0.push(budget_check());
        out.push("c.org_id = ");
        out.0.push(Part::Org);
        out.push(" AND (");
    }

    pub(super) fn opening(self) -> &'static str {
        match self {
            Child::Emails => "users.id IN (SELECT c.user_id FROM user_emails c WHERE ",
            Child::PhoneNumbers => "users.id IN (SELECT c.user_id FROM user_phone_numbers c WHERE ",
            Child::Members => "groups.id IN (SELECT c.group_id FROM group_members c WHERE ",
            Child::Memberships => "users.id IN (SELECT c.member_id FROM group_members c WHERE ",
        }
    }

    /// Whether the table holds every value of the attribute (else only values with a `value`).
    pub(super) fn is_complete(self) -> bool {
        matches!(self, Child::Members | Child::Memberships)
    }

    pub(super) fn column(self, sub: &str) -> Option<Column> {
        use Kind::*;
        Some(match (self, sub) {
            (Child::Emails, "value") => col("c.value_ci", Folded(caseless::fold_lower), false),
            (Child::Emails | Child::PhoneNumbers, "type") => col("c.type", Lower, true),
            (Child::Emails | Child::PhoneNumbers, "primary") => col("c.is_primary", Bool, false),
            (Child::PhoneNumbers, "value") => col("c.value", Lower, false),
            // Ids are server-assigned lower-case UUIDs; `value` ignores case (RFC 7643 §4.2).
            (Child::Members, "value") => col("c.member_id", Folded(caseless::fold_lower), false),
            (Child::Members, "type") => col("c.member_type", Lower, false),
            (Child::Memberships, "value") => col("c.group_id", Folded(caseless::fold_lower), false),
            _ => return None,
        })
    }
}

/// Whether a value filter (relative to a multi-valued attribute mirrored in `child`) can run on
/// the child table with exactly the evaluator's meaning. Emails and phone numbers have a row
/// only for values with a `value`, and `is_primary` is false when `primary` is absent, so the
/// filter must require a `value` and may test `primary` only for `true`.
pub(super) fn child_table_fits(child: Child, filter: &Filter) -> bool {
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

pub(super) fn write_present_column(out: &mut SqlBool, column: &Column) {
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

pub(super) fn write_compare_column(
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
