//! `sortBy` / `sortOrder` to an `ORDER BY` (RFC 7644 §3.4.2.3).

use crate::scim::ScimError;
use crate::scim::path::{AttrPath, Resolved};
use crate::scim::schema::{AttributeType, ResourceTypeDef, Returned};

use super::columns::*;
use super::json_path::*;
use super::sql::*;

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
    match (res, r.attr.name.as_str(), r.sub.map(|s| s.name.as_str())) {
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

pub(super) fn collate_c() -> Part {
    Part::Dialect {
        pg: vec![Part::Sql(" COLLATE \"C\"")],
        sqlite: Vec::new(),
    }
}

pub(super) fn sort_json_key(key: &mut SqlOrder, res: Res, r: &Resolved) -> Result<(), ScimError> {
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
        let elem = JsonLoc::element().child(&leaf.name)?;
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
