//! Group membership (RFC 7643 §4.2 `members`): the one implementation of member writes. A
//! PATCH's operations on `members` ([`PatchOperation::targets_members`]) are routed here and
//! run as inserts and deletes of the rows they name, so they cost O(changed members) whatever
//! the group's size; PUT and POST bodies name their members through the same parser. Also
//! the removal of a deleted user or group from every group it was in.

use std::collections::{BTreeSet, HashSet};

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::{Actor, audit};
use crate::ids::OrgId;
use crate::scim::ScimError;
use crate::scim::filter::{CompareOp, Filter};
use crate::scim::patch::{MAX_MEMBERS_PER_REQUEST, OpKind, PatchOperation, PatchPath};
use crate::scim::schema::{AttributeDef, GROUP, GROUP_RESOURCE};
use crate::scim::value;
use crate::store::DbConnection;
use crate::store::groups::{self, GroupId, GroupRow, MemberType};

/// How many member ids a membership audit event lists; larger changes record counts only.
pub const AUDITED_IDS: usize = 100;

/// A failed or abandoned attempt inside a write transaction; every variant rolls it back.
pub(super) enum TxError {
    Scim(ScimError),
    /// The version moved between read and write (PostgreSQL): read again and retry.
    Retry,
    /// The request changes nothing: keep the current version, record nothing.
    Unchanged,
}

impl From<diesel::result::Error> for TxError {
    fn from(e: diesel::result::Error) -> Self {
        TxError::Scim(ScimError::from(e))
    }
}

impl From<ScimError> for TxError {
    fn from(e: ScimError) -> Self {
        TxError::Scim(e)
    }
}

impl TxError {
    pub(super) fn into_scim(self) -> ScimError {
        match self {
            TxError::Scim(e) => e,
            TxError::Retry | TxError::Unchanged => ScimError::internal(),
        }
    }
}

/// The net membership change of one request: an id removed and added again is no change.
#[derive(Debug, Default)]
pub(super) struct Delta {
    pub(super) added: BTreeSet<String>,
    pub(super) removed: BTreeSet<String>,
}

impl Delta {
    pub(super) fn add(&mut self, id: String) {
        if !self.removed.remove(&id) {
            self.added.insert(id);
        }
    }

    pub(super) fn remove(&mut self, id: String) {
        if !self.added.remove(&id) {
            self.removed.insert(id);
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty()
    }

    /// The audit `detail` of a membership change.
    pub(super) fn detail(&self) -> Value {
        let mut detail = json!({
            "membersAdded": self.added.len(),
            "membersRemoved": self.removed.len(),
        });
        if let Value::Object(map) = &mut detail {
            if !self.added.is_empty() && self.added.len() <= AUDITED_IDS {
                map.insert("added".to_owned(), json!(self.added));
            }
            if !self.removed.is_empty() && self.removed.len() <= AUDITED_IDS {
                map.insert("removed".to_owned(), json!(self.removed));
            }
        }
        detail
    }
}

/// Removes `member_id` (a user or group being deleted, in the caller's transaction) from every
/// group of the actor's org; each of those groups gets a new version and a `group.update` event.
/// The member is locked first, so no add of it can commit between this and its delete.
/// Returns the ids of those groups.
pub(crate) fn detach_member(
    conn: &mut DbConnection,
    actor: &Actor,
    member_id: &str,
    now: DateTime<Utc>,
) -> Result<Vec<String>, ScimError> {
    groups::lock_member(conn, &actor.org, member_id)?;
    let parents = groups::remove_member_everywhere(conn, &actor.org, member_id)?;
    if parents.is_empty() {
        return Ok(Vec::new());
    }
    groups::bump_all(conn, &actor.org, &parents, now)?;
    for parent in &parents {
        audit::record(
            conn,
            actor,
            "group.update",
            ("Group", parent.as_str()),
            vec!["members".to_owned()],
            Some(json!({
                "membersAdded": 0,
                "membersRemoved": 1,
                "removed": [member_id],
                "reason": "member deleted",
            })),
            now,
        )?;
    }
    Ok(parents.iter().map(|p| p.as_str().to_owned()).collect())
}

/// Sends one PATCH operation where it belongs: membership to the table, the rest (collected in
/// `other`) to the patch engine. A path-less value is split by key.
pub(super) fn route(
    conn: &mut DbConnection,
    current: &GroupRow,
    op: &PatchOperation,
    delta: &mut Delta,
    other: &mut Vec<PatchOperation>,
) -> Result<(), TxError> {
    if !op.targets_members() {
        other.push(op.clone());
        return Ok(());
    }
    if let Some(path) = &op.path {
        return member_operation(conn, current, op.op, path, op.value.as_ref(), delta);
    }
    let Some(Value::Object(value)) = &op.value else {
        other.push(op.clone());
        return Ok(());
    };
    let mut rest = Map::new();
    for (key, v) in value {
        // `{"urn:…:core:2.0:Group": {"members": […], …}}`: look inside the schema's object.
        let entries: Vec<(String, Value)> = match v {
            Value::Object(inner) if GROUP_RESOURCE.schema(key).is_some() => {
                inner.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
            }
            _ => vec![(key.clone(), v.clone())],
        };
        for (k, v) in entries {
            let single = PatchOperation {
                op: op.op,
                path: None,
                value: Some(Value::Object(Map::from_iter([(k.clone(), v.clone())]))),
            };
            if single.targets_members() {
                let wanted = parse_members(Some(&v))?;
                match op.op {
                    OpKind::Add => {
                        add_members(conn, &org_of(current)?, &current.group_id(), &wanted, delta)?
                    }
                    OpKind::Replace | OpKind::Remove => {
                        replace_members(conn, current, &wanted, delta)?
                    }
                }
            } else {
                rest.insert(k, v);
            }
        }
    }
    if !rest.is_empty() {
        other.push(PatchOperation {
            op: op.op,
            path: None,
            value: Some(Value::Object(rest)),
        });
    }
    Ok(())
}

/// One operation whose path names `members` (RFC 7644 §3.5.2.1–§3.5.2.3, with the Entra and
/// Okta forms of docs/idp-behaviour.md).
pub(super) fn member_operation(
    conn: &mut DbConnection,
    current: &GroupRow,
    kind: OpKind,
    path: &PatchPath,
    value: Option<&Value>,
    delta: &mut Delta,
) -> Result<(), TxError> {
    if let Some(sub) = path.sub() {
        return Err(ScimError::mutability(format!(
            "'members.{sub}' cannot be changed: members are added and removed whole \
             (their sub-attributes are immutable or readOnly, RFC 7643 §4.2)"
        ))
        .into());
    }
    let org = org_of(current)?;
    let group = current.group_id();
    let value = value.filter(|v| !v.is_null());
    let Some(filter) = &path.filter else {
        return match (kind, value) {
            // A null value with a path unassigns the target (RFC 7643 §2.5), as `remove`.
            (_, None) => replace_members(conn, current, &[], delta),
            (OpKind::Add, Some(v)) => {
                add_members(conn, &org, &group, &parse_members(Some(v))?, delta)
            }
            (OpKind::Replace, Some(v)) => {
                replace_members(conn, current, &parse_members(Some(v))?, delta)
            }
            // Entra: {"op":"Remove","path":"members","value":[{"value":"id"}]}.
            (OpKind::Remove, Some(v)) => {
                let ids = parse_members(Some(v))?.into_iter().map(|m| m.id).collect();
                remove_members(conn, &org, &group, ids, delta)
            }
        };
    };
    let filter = filter
        .clone()
        .validate_within(members_def()?)
        .map_err(|e| ScimError::invalid_path(e.detail()))?;
    let selected = select(conn, &org, &group, &filter)?;
    match (kind, value) {
        (OpKind::Remove, _) | (_, None) => remove_members(conn, &org, &group, selected, delta),
        (OpKind::Add, Some(_)) if selected.is_empty() => {
            // `add` through an unmatched `members[value eq "id"]` adds that member, as the patch
            // engine seeds a new value from the filter.
            let seeded = value_eq_ids(&filter).ok_or_else(|| {
                ScimError::no_target(
                    "no member matches the filter; add members with path \"members\" and a \
                     value array of {\"value\": id}",
                )
            })?;
            let wanted: Vec<NewMember> = seeded
                .into_iter()
                .map(|id| NewMember { id, kind: None })
                .collect();
            add_members(conn, &org, &group, &wanted, delta)
        }
        (OpKind::Replace, Some(_)) if selected.is_empty() => Err(ScimError::no_target(
            "no member matches the filter, so there is nothing to replace",
        )
        .into()),
        (OpKind::Add | OpKind::Replace, Some(v)) => {
            // The selected members stay; a value naming another id would change the immutable
            // `members.value`.
            for m in parse_members(Some(v))? {
                if !selected.contains(&m.id) {
                    return Err(ScimError::mutability(
                        "'members.value' is immutable: remove the member and add the new one",
                    )
                    .into());
                }
            }
            Ok(())
        }
    }
}

/// The ids of the group's members a value filter selects: `value eq "id"` (or several joined
/// by `or`) is answered from the ids alone, one index probe each; any other filter is evaluated
/// on the rendered members.
pub(super) fn select(
    conn: &mut DbConnection,
    org: &OrgId,
    group: &GroupId,
    filter: &Filter,
) -> Result<Vec<String>, TxError> {
    if let Some(ids) = value_eq_ids(filter) {
        let existing = groups::existing_members(conn, org, group, &ids)?;
        return Ok(ids.into_iter().filter(|id| existing.contains(id)).collect());
    }
    let def = members_def()?;
    let members = groups::members(conn, org, &[group.as_str().to_owned()])?;
    Ok(members
        .into_iter()
        .filter(|m| {
            let element = json!({
                "value": m.member_id,
                "display": m.display,
                "type": m.kind.as_str(),
            });
            filter.matches_within(def, &element)
        })
        .map(|m| m.member_id)
        .collect())
}

/// `value eq "a"`, `value eq "a" or value eq "b"`: the ids named; `None` for any other shape.
pub(super) fn value_eq_ids(filter: &Filter) -> Option<Vec<String>> {
    match filter {
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value: Value::String(id),
        } if path.urn.is_none()
            && path.sub_attr.is_none()
            && path.attr.eq_ignore_ascii_case("value") =>
        {
            Some(vec![id.clone()])
        }
        Filter::Or(a, b) => {
            let mut ids = value_eq_ids(a)?;
            ids.extend(value_eq_ids(b)?);
            Some(ids)
        }
        _ => None,
    }
}

pub(super) fn members_def() -> Result<&'static AttributeDef, ScimError> {
    GROUP.attribute("members").ok_or_else(ScimError::internal)
}

/// A member named in a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct NewMember {
    pub(super) id: String,
    /// The `type` the client sent, checked against what the id names.
    pub(super) kind: Option<MemberType>,
}

/// Reads member values: an array (or one value) of `{"value": id}` objects, as Okta and Entra
/// send them (`$ref: null`, `display` and unknown keys ignored; a bare id string accepted).
/// `null` or `[]` is no member.
pub(super) fn parse_members(value: Option<&Value>) -> Result<Vec<NewMember>, ScimError> {
    let items = match value {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items.as_slice(),
        Some(one) => std::slice::from_ref(one),
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let (id, kind) = match item {
            Value::String(id) => {
                value::check_text(Some("members"), "value", id, "members.value")?;
                (id.clone(), None)
            }
            Value::Object(fields) => {
                let get = |name: &str| {
                    fields
                        .iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case(name))
                        .map(|(_, v)| v)
                };
                let id = match get("value") {
                    Some(Value::String(id)) => {
                        value::check_text(Some("members"), "value", id, "members.value")?;
                        id.clone()
                    }
                    _ => {
                        return Err(ScimError::invalid_value(
                            "each member needs a \"value\": the id of a User or Group of this \
                             organization, e.g. {\"value\": \"<id>\"}",
                        ));
                    }
                };
                let kind = match get("type") {
                    None | Some(Value::Null) => None,
                    Some(Value::String(t)) => Some(MemberType::parse(t).ok_or_else(|| {
                        ScimError::invalid_value(format!(
                            "member type \"{t}\" is not \"User\" or \"Group\""
                        ))
                    })?),
                    Some(other) => {
                        return Err(ScimError::invalid_value(format!(
                            "member type must be \"User\" or \"Group\", not {other}"
                        )));
                    }
                };
                (id, kind)
            }
            Value::Null => continue,
            other => {
                return Err(ScimError::invalid_value(format!(
                    "a member is an object {{\"value\": id}}, not {other}"
                )));
            }
        };
        out.push(NewMember { id, kind });
    }
    Ok(out)
}

/// [`MAX_MEMBERS_PER_REQUEST`].
pub(super) fn check_member_count(count: usize) -> Result<(), ScimError> {
    if count <= MAX_MEMBERS_PER_REQUEST {
        return Ok(());
    }
    Err(ScimError::invalid_value(format!(
        "'members': a request may name at most {MAX_MEMBERS_PER_REQUEST} members; this one \
         names {count}: add or remove them in several requests"
    )))
}

/// How many member values an object of attributes names under `members` (any case), directly
/// or inside the core schema's object (a path-less PATCH value).
pub(super) fn member_values(object: &Map<String, Value>) -> usize {
    object
        .iter()
        .map(|(key, value)| match value {
            Value::Null => 0,
            Value::Array(values) if key.eq_ignore_ascii_case("members") => values.len(),
            _ if key.eq_ignore_ascii_case("members") => 1,
            Value::Object(inner) if GROUP_RESOURCE.schema(key).is_some() => member_values(inner),
            _ => 0,
        })
        .sum()
}

/// Adds members, checking that each is a user or group of the org (not the group itself);
/// members already present are left as they are. Costs O(`wanted`).
pub(super) fn add_members(
    conn: &mut DbConnection,
    org: &OrgId,
    group: &GroupId,
    wanted: &[NewMember],
    delta: &mut Delta,
) -> Result<(), TxError> {
    if wanted.is_empty() {
        return Ok(());
    }
    let mut seen = HashSet::new();
    let wanted: Vec<&NewMember> = wanted.iter().filter(|m| seen.insert(&m.id)).collect();
    if wanted.iter().any(|m| m.id == group.as_str()) {
        return Err(ScimError::invalid_value(format!(
            "group '{group}' cannot be a member of itself"
        ))
        .into());
    }
    let ids: Vec<String> = wanted.iter().map(|m| m.id.clone()).collect();
    let types = groups::member_types(conn, org, &ids)?;
    let unknown: Vec<&str> = ids
        .iter()
        .filter(|id| !types.contains_key(*id))
        .map(String::as_str)
        .collect();
    if !unknown.is_empty() {
        return Err(unknown_members(&unknown).into());
    }
    for m in &wanted {
        if let (Some(said), Some(is)) = (m.kind, types.get(&m.id))
            && said != *is
        {
            return Err(ScimError::invalid_value(format!(
                "member '{}' is a {}, not a {}",
                m.id,
                is.as_str(),
                said.as_str()
            ))
            .into());
        }
    }
    let existing = groups::existing_members(conn, org, group, &ids)?;
    let new: Vec<(String, MemberType)> = ids
        .into_iter()
        .filter(|id| !existing.contains(id))
        .filter_map(|id| types.get(&id).map(|t| (id, *t)))
        .collect();
    // A member deleted since it was looked up (a delete that committed in between, PostgreSQL)
    // is refused by its foreign key, and answered as an id that never existed.
    if let Some(gone) = groups::insert_members(conn, org, group, &new)? {
        return Err(unknown_members(&[gone.as_str()]).into());
    }
    for (id, _) in new {
        delta.add(id);
    }
    Ok(())
}

/// 400 `invalidValue` for member ids that name no user or group of the org.
pub(super) fn unknown_members(unknown: &[&str]) -> ScimError {
    let shown: Vec<String> = unknown.iter().take(5).map(|id| format!("'{id}'")).collect();
    let more = unknown.len().saturating_sub(5);
    let more = if more > 0 {
        format!(" (and {more} more)")
    } else {
        String::new()
    };
    ScimError::invalid_value(format!(
        "no User or Group with id {}{more} in this organization; members must be existing \
         users or groups of the same organization, named by their SCIM id",
        shown.join(", ")
    ))
}

/// Removes the listed members; ids that are not members are ignored (idempotent retries).
pub(super) fn remove_members(
    conn: &mut DbConnection,
    org: &OrgId,
    group: &GroupId,
    ids: Vec<String>,
    delta: &mut Delta,
) -> Result<(), TxError> {
    if ids.is_empty() {
        return Ok(());
    }
    let existing = groups::existing_members(conn, org, group, &ids)?;
    let gone: Vec<String> = existing.into_iter().collect();
    groups::delete_members(conn, org, group, &gone)?;
    for id in gone {
        delta.remove(id);
    }
    Ok(())
}

/// Makes `wanted` the whole membership (Okta's full push, PUT): removes the others, adds the
/// missing. Reads the current member ids, so it costs O(group size), as replacing a list must.
pub(super) fn replace_members(
    conn: &mut DbConnection,
    current: &GroupRow,
    wanted: &[NewMember],
    delta: &mut Delta,
) -> Result<(), TxError> {
    let org = org_of(current)?;
    let group = current.group_id();
    let keep: HashSet<&str> = wanted.iter().map(|m| m.id.as_str()).collect();
    let gone: Vec<String> = groups::member_ids(conn, &org, &group)?
        .into_iter()
        .filter(|id| !keep.contains(id.as_str()))
        .collect();
    groups::delete_members(conn, &org, &group, &gone)?;
    for id in gone {
        delta.remove(id);
    }
    add_members(conn, &org, &group, wanted, delta)
}

pub(super) fn org_of(row: &GroupRow) -> Result<OrgId, ScimError> {
    OrgId::parse(&row.org_id).map_err(|e| {
        tracing::error!(error = %e, "stored org id is not a valid slug");
        ScimError::internal()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::filter::Filter;

    #[test]
    fn member_values_in_every_dialect() {
        let parsed = parse_members(Some(&json!([
            {"value": "a", "$ref": null},
            {"value": "b", "display": "Bee", "type": "group"},
            "c",
            null,
        ])))
        .unwrap_or_default();
        let ids: Vec<&str> = parsed.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ids, ["a", "b", "c"]);
        assert_eq!(parsed.get(1).and_then(|m| m.kind), Some(MemberType::Group));
        assert!(parse_members(Some(&json!([{"display": "x"}]))).is_err());
        assert!(parse_members(Some(&json!([{"value": "a", "type": "Robot"}]))).is_err());
        assert!(parse_members(None).is_ok_and(|m| m.is_empty()));
    }

    #[test]
    fn value_eq_filters_name_ids() {
        let f: Result<Filter, _> = "value eq \"a\" or value eq \"b\"".parse();
        let ids = f.ok().as_ref().and_then(value_eq_ids);
        assert_eq!(ids, Some(vec!["a".to_owned(), "b".to_owned()]));
        let f: Result<Filter, _> = "type eq \"User\"".parse();
        assert_eq!(f.ok().as_ref().and_then(value_eq_ids), None);
    }

    #[test]
    fn delta_nets_out() {
        let mut d = Delta::default();
        d.add("a".to_owned());
        d.remove("a".to_owned());
        assert!(d.is_empty());
        d.remove("b".to_owned());
        d.add("b".to_owned());
        assert!(d.is_empty());
        d.add("c".to_owned());
        assert_eq!(d.detail()["membersAdded"], 1);
        assert_eq!(d.detail()["added"], json!(["c"]));
    }
}
