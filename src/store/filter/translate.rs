//! A validated filter translated to a condition on its resource table (RFC 7644 §3.4.2.2).

use serde_json::Value;

use crate::scim::ScimError;
use crate::scim::filter::{CompareOp, Filter};
use crate::scim::path::{AttrPath, Resolved};
use crate::scim::schema::{
    AttributeDef, AttributeType, BUILT_IN_EXTENSIONS, ResourceTypeDef, Returned,
};
use crate::store::caseless;

use super::columns::*;
use super::json_path::*;
use super::sql::*;

/// Translates a filter validated against `rt` (canonical paths, see `Filter::validate`) to a
/// condition on `rt`'s table (`users` or `groups`), RFC 7644 §3.4.2.2.
///
/// Every attribute of the schema is translated, with the evaluator's semantics (see the module
/// documentation). Refused with `invalidFilter`, naming the reason: `meta.location` (it depends
/// on the URL the client used), group `members.display` / `members.$ref` and a user's
/// `groups.display` / `groups.$ref` / `groups.type` (computed when rendering, not stored).
///
/// On SQLite the condition starts with the [`crate::store::budget`] check, so that a read run within
/// a time budget is stopped on the rows it visits once the budget is spent (PostgreSQL has its
/// `statement_timeout`).
pub fn translate(rt: &ResourceTypeDef, filter: &Filter) -> Result<SqlBool, ScimError> {
    let res = Res::of(rt)?;
    let mut out = SqlBool::default();
    out.0.push(budget_check());
    out.push("(");
    write_filter(&mut out, rt, res, filter)?;
    out.push(")");
    Ok(out)
}

pub(super) fn write_filter(
    out: &mut SqlBool,
    rt: &ResourceTypeDef,
    res: Res,
    filter: &Filter,
) -> Result<(), ScimError> {
    match filter {
        Filter::And(a, b) | Filter::Or(a, b) => {
            out.push("(");
            write_filter(out, rt, res, a)?;
            out.push(if matches!(filter, Filter::And(..)) {
                ") AND ("
            } else {
                ") OR ("
            });
            write_filter(out, rt, res, b)?;
            out.push(")");
        }
        Filter::Not(inner) => {
            // A NULL inside (a comparison with an absent attribute) means false, as in the
            // evaluator; COALESCE keeps NOT from turning it into "unknown".
            out.push("NOT COALESCE((");
            write_filter(out, rt, res, inner)?;
            out.push("), FALSE)");
        }
        Filter::ValuePath { attr, filter } => {
            let r = resolve(rt, attr)?;
            write_value_path(out, res, &r, attr, filter)?;
        }
        Filter::Present(path) => {
            let r = resolve(rt, path)?;
            write_present(out, res, &r, path)?;
        }
        Filter::Compare { path, op, value } => {
            let r = resolve(rt, path)?;
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

pub(super) fn resolve<'r>(
    rt: &'r ResourceTypeDef,
    path: &AttrPath,
) -> Result<Resolved<'r>, ScimError> {
    path.resolve(rt)
        .ok_or_else(|| ScimError::invalid_filter(format!("unknown attribute '{path}'")))
}

/// A `returned: never` attribute (`password`) is not a value a client can see, so it cannot be
/// searched either (RFC 7643 §7): a filter on it is refused rather than silently empty.
pub(super) fn refuse_never_returned(r: &Resolved, path: &AttrPath) -> Result<(), ScimError> {
    if r.attr.returned == Returned::Never || r.leaf().returned == Returned::Never {
        return Err(not_translatable(path, "it is never returned"));
    }
    Ok(())
}

/// Attributes a filter may name but whose values are not stored as such.
pub(super) fn refuse_unstored(res: Res, r: &Resolved, path: &AttrPath) -> Result<(), ScimError> {
    let sub = r.sub.map(|s| s.name.as_str());
    match (res, r.attr.name.as_str(), sub) {
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
pub(super) fn write_value_path(
    out: &mut SqlBool,
    res: Res,
    r: &Resolved,
    path: &AttrPath,
    filter: &Filter,
) -> Result<(), ScimError> {
    refuse_unstored(res, r, path)?;
    refuse_never_returned(r, path)?;
    match Child::of(res, &r.attr.name) {
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
pub(super) enum Elem<'a> {
    Child(Child),
    /// Values of `attr` in JSON; the second field is the element's JSON location.
    Json(&'a AttributeDef, &'a JsonLoc),
}

pub(super) fn write_element_filter(
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
                    let sub_loc = loc.child(&sub.name)?;
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
pub(super) fn write_present(
    out: &mut SqlBool,
    res: Res,
    r: &Resolved,
    path: &AttrPath,
) -> Result<(), ScimError> {
    refuse_unstored(res, r, path)?;
    refuse_never_returned(r, path)?;
    if let Some(column) = resource_column(res, &r.attr.name, r.sub.map(|s| s.name.as_str())) {
        write_present_column(out, &column);
        return Ok(());
    }
    if r.attr.multi_valued {
        let sub = r.sub.map(|s| s.name.as_str()).unwrap_or("value");
        if let Some(child) = Child::of(res, &r.attr.name) {
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
                Some(s) => write_present_json(out, &elem.child(&s.name)?),
                None => write_present_json(out, elem),
            }
            Ok(())
        });
    }
    write_present_json(out, &JsonLoc::resource(res, r)?);
    Ok(())
}

pub(super) fn write_compare_attr(
    out: &mut SqlBool,
    res: Res,
    r: &Resolved,
    path: &AttrPath,
    op: CompareOp,
    value: &Value,
) -> Result<(), ScimError> {
    refuse_unstored(res, r, path)?;
    refuse_never_returned(r, path)?;
    if let Some(column) = resource_column(res, &r.attr.name, r.sub.map(|s| s.name.as_str())) {
        return write_compare_column(out, &column, path, op, value);
    }
    if let Some(attr) = mirrored(res, r)
        && op != CompareOp::Ne
    {
        return write_mirrored(out, r, &attr, path, op, value);
    }
    let leaf = r.leaf();
    if r.attr.multi_valued {
        let sub_name = r.sub.map(|s| s.name.as_str());
        if let (Some(child), Some(sub)) = (Child::of(res, &r.attr.name), sub_name) {
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
                Some(s) => elem.child(&s.name)?,
                None => elem.clone(),
            };
            write_compare_json(out, &target, leaf, path, op, value)
        });
    }
    write_compare_json(out, &JsonLoc::resource(res, r)?, leaf, path, op, value)
}

/// The `user_extension_values` key of a user's attribute (`<urn>:<attr>[.<sub>]`, lower case)
/// when its string values are mirrored there: the string and reference attributes of an
/// organization's own extension schemas.
pub(super) fn mirrored(res: Res, r: &Resolved) -> Option<String> {
    let custom = !std::ptr::eq(r.schema, res.core())
        && !BUILT_IN_EXTENSIONS
            .iter()
            .any(|b| b.eq_ignore_ascii_case(&r.schema.id));
    let string = matches!(
        r.leaf().kind,
        AttributeType::String | AttributeType::Reference
    );
    if res != Res::User || !custom || !string {
        return None;
    }
    let mut key = format!("{}:{}", r.schema.id, r.attr.name);
    if let Some(sub) = r.sub {
        key.push('.');
        key.push_str(&sub.name);
    }
    Some(key.to_lowercase())
}

/// `path op value` on a mirrored attribute ([`mirrored`]): the user has a value that matches,
/// found by the index on (`org_id`, `attr`, `value_ci`). Not for `ne`, which also matches users
/// without the attribute.
pub(super) fn write_mirrored(
    out: &mut SqlBool,
    r: &Resolved,
    attr: &str,
    path: &AttrPath,
    op: CompareOp,
    value: &Value,
) -> Result<(), ScimError> {
    let column = if r.leaf().case_exact {
        col("c.value", Kind::Exact, false)
    } else {
        col("c.value_ci", Kind::Folded(caseless::fold_lower), false)
    };
    out.push("users.id IN (SELECT c.user_id FROM user_extension_values c WHERE ");
    out.0.push(budget_check());
    out.push("c.org_id = ");
    out.0.push(Part::Org);
    out.push(" AND c.attr = ");
    out.bind(attr);
    out.push(" AND (");
    write_compare_column(out, &column, path, op, value)?;
    out.push("))");
    Ok(())
}
