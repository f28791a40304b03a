//! Group use cases (RFC 7643 §4.2; RFC 7644 §3.3–§3.6): create, read, list, replace (PUT),
//! patch (PATCH), delete, and the user's derived `groups` attribute (RFC 7643 §4.1.2).
//!
//! Membership lives in its own table. A PATCH is split once: operations that target `members`
//! ([`PatchOperation::targets_members`]) run as inserts and deletes of the rows they name, so
//! they cost O(changed members) whatever the group's size; every other operation goes through
//! the pure patch engine ([`patch::apply`]) on the stored resource. All operations of a request
//! run in one write transaction: all of them or none.
//!
//! Every write of a group first moves its version (compare-and-swap on the version read in the
//! same transaction; on PostgreSQL this row lock also serialises concurrent writers of one
//! group), then writes, then appends one audit event. A request that turns out to change
//! nothing is rolled back: no new version, no event.
//!
//! Audit: `group.create`, `group.update` (its `attributes` name what changed; a membership
//! change names `members` and its `detail` carries `membersAdded` / `membersRemoved` counts
//! plus the ids when at most [`AUDITED_IDS`] of them), `group.delete`. When a user or group is
//! deleted, every group it was a direct member of gets a new version and a `group.update`
//! event with `detail.reason = "member deleted"`.
//!
//! Nested groups: a group may be a member of another group of the same org, but not of itself.
//! Cycles through several groups are accepted; the derived `groups` attribute follows nesting
//! at most [`MAX_NESTING_DEPTH`] levels deep, which also ends any cycle.

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::Actor;
use super::users::{Precondition, etag};
use crate::clock;
use crate::ids::{OrgId, UserId};
use crate::scim::ScimError;
use crate::scim::filter::{CompareOp, Filter};
use crate::scim::patch::{self, MAX_MEMBERS_PER_REQUEST, OpKind, PatchOperation, PatchRequest};
use crate::scim::path::PatchPath;
use crate::scim::resource;
use crate::scim::schema::{AttributeDef, GROUP, GROUP_RESOURCE};
use crate::scim::value;
use crate::store::filter::{SqlBool, SqlOrder};
use crate::store::groups::{self, GroupData, GroupId, GroupRow, MemberRow, MemberType};
use crate::store::{DbConnection, Store, audit, unique_violation, write_tx};

/// How deep the derived `groups` attribute of a user follows nested groups (RFC 7643 §4.1.2
/// "indirect"): a user in A, A in B, … is reported in at most this many levels of groups.
pub const MAX_NESTING_DEPTH: u8 = 8;

/// How many member ids a membership audit event lists; larger changes record counts only.
pub const AUDITED_IDS: usize = 100;

/// How often a write retries after losing a race with a concurrent write of the same group
/// (PostgreSQL; SQLite serialises writers).
const MAX_WRITE_ATTEMPTS: usize = 20;

/// A group and, when the caller asked for them, its members.
#[derive(Debug, Clone)]
pub struct GroupView {
    pub row: GroupRow,
    /// `None`: not loaded (the response does not show `members`).
    pub members: Option<Vec<MemberRow>>,
}

/// `POST /Groups` (RFC 7644 §3.3). `displayName` is unique per org ignoring case (409
/// `uniqueness`); every member must be an existing user or group of the org (else 400
/// `invalidValue` and nothing is created).
pub async fn create(
    store: &Store,
    actor: Actor,
    body: Value,
    with_members: bool,
) -> Result<GroupView, ScimError> {
    let mut attributes = resource::validate_create(&GROUP_RESOURCE, body)?.resource;
    let wanted = parse_members(attributes.remove("members").as_ref())?;
    check_member_count(wanted.len())?;
    let data = GroupData::from_resource(attributes);
    store
        .run_write(move |conn| {
            let id = write_tx(conn, |conn| {
                let now = clock::now();
                let id = GroupId::generate();
                groups::insert(conn, &actor.org, &id, &data, now)
                    .map_err(|e| write_error(e, &data))?;
                let mut delta = Delta::default();
                add_members(conn, &actor.org, &id, &wanted, &mut delta)?;
                let mut changed: Vec<String> = data
                    .resource
                    .keys()
                    .filter(|k| *k != "schemas")
                    .cloned()
                    .collect();
                let mut detail = None;
                if !delta.is_empty() {
                    changed.push("members".to_owned());
                    detail = Some(delta.detail());
                }
                record(conn, &actor, "group.create", &id, changed, detail, now)?;
                Ok::<_, TxError>(id)
            })
            .map_err(TxError::into_scim)?;
            load(conn, &actor.org, &id, with_members)
        })
        .await
}

/// `GET /Groups/{id}`; members are read only when `with_members`.
pub async fn get(
    store: &Store,
    org: &OrgId,
    id: &str,
    with_members: bool,
) -> Result<GroupView, ScimError> {
    let id = parse_id(id)?;
    let org = org.clone();
    store
        .run(move |conn| load(conn, &org, &id, with_members))
        .await
}

/// Loads the members of an already read group (after an `If-None-Match` check, say).
pub async fn with_members(store: &Store, view: GroupView) -> Result<GroupView, ScimError> {
    if view.members.is_some() {
        return Ok(view);
    }
    store
        .run(move |conn| {
            let org = OrgId::parse(&view.row.org_id).map_err(|_| ScimError::internal())?;
            let members = groups::members(conn, &org, std::slice::from_ref(&view.row.id))?;
            Ok(GroupView {
                row: view.row,
                members: Some(members),
            })
        })
        .await
}

/// One page of a listing and the total number of matches.
#[derive(Debug)]
pub struct Page {
    pub total: i64,
    pub groups: Vec<GroupView>,
}

/// `GET /Groups` (RFC 7644 §3.4.2): one page of the groups matching `filter` in `order`, with the members
/// of the whole page read in one go when `with_members`.
pub async fn list(
    store: &Store,
    org: &OrgId,
    filter: Option<SqlBool>,
    order: Option<SqlOrder>,
    offset: i64,
    limit: i64,
    with_members: bool,
) -> Result<Page, ScimError> {
    let owned = org.clone();
    store
        .scan(org, move |conn| {
            let org = owned;
            let page = groups::list(conn, &org, filter, order, offset, limit)?;
            let mut members: HashMap<String, Vec<MemberRow>> = HashMap::new();
            if with_members && !page.rows.is_empty() {
                let ids: Vec<String> = page.rows.iter().map(|r| r.id.clone()).collect();
                for member in groups::members(conn, &org, &ids)? {
                    members
                        .entry(member.group_id.clone())
                        .or_default()
                        .push(member);
                }
            }
            let groups = page
                .rows
                .into_iter()
                .map(|row| {
                    let m = with_members.then(|| members.remove(&row.id).unwrap_or_default());
                    GroupView { row, members: m }
                })
                .collect();
            Ok(Page {
                total: page.total,
                groups,
            })
        })
        .await
}

/// `PUT /Groups/{id}` (RFC 7644 §3.5.1): full replace, members included (a body without
/// `members` empties the group).
pub async fn replace(
    store: &Store,
    actor: Actor,
    id: &str,
    body: Value,
    precondition: Precondition,
    with_members: bool,
) -> Result<GroupView, ScimError> {
    let id = parse_id(id)?;
    check_member_count(body.as_object().map_or(0, member_values))?;
    update(
        store,
        actor,
        id,
        precondition,
        with_members,
        move |conn, current, delta| {
            let mut next =
                resource::validate_replace(&GROUP_RESOURCE, &current.attributes(), body.clone())?
                    .resource;
            let wanted = parse_members(next.remove("members").as_ref())?;
            replace_members(conn, current, &wanted, delta)?;
            Ok(Some(next))
        },
    )
    .await
}

/// `PATCH /Groups/{id}` (RFC 7644 §3.5.2), every operation or none. Membership operations
/// touch only the rows they name; see the module documentation.
pub async fn patch(
    store: &Store,
    actor: Actor,
    id: &str,
    request: PatchRequest,
    precondition: Precondition,
    with_members: bool,
) -> Result<GroupView, ScimError> {
    let id = parse_id(id)?;
    check_member_count(
        request
            .operations
            .iter()
            .filter(|op| op.targets_members())
            .map(|op| match (&op.path, &op.value) {
                (Some(_), Some(Value::Array(values))) => values.len(),
                (Some(_), _) => 1,
                (None, Some(Value::Object(value))) => member_values(value),
                (None, _) => 0,
            })
            .sum(),
    )?;
    update(
        store,
        actor,
        id,
        precondition,
        with_members,
        move |conn, current, delta| {
            let mut other = Vec::new();
            for op in &request.operations {
                route(conn, current, op, delta, &mut other)?;
            }
            if other.is_empty() {
                return Ok(None);
            }
            let existing = current.attributes();
            let next = patch::apply(
                &GROUP_RESOURCE,
                &existing,
                &PatchRequest { operations: other },
            )?;
            // The patched group must be one a PUT would accept (required `displayName` not
            // blank, types, immutability), as for users.
            let validated =
                resource::validate_replace(&GROUP_RESOURCE, &existing, Value::Object(next))?;
            Ok(Some(validated.resource))
        },
    )
    .await
}

/// Adds `members` (ids of users or groups of the org) to the group: the Bulk executor's way to
/// add members whose `bulkId` was resolved after the group was created (RFC 7644 §3.7.1).
pub async fn add(
    store: &Store,
    actor: Actor,
    id: &GroupId,
    members: Vec<String>,
) -> Result<GroupView, ScimError> {
    check_member_count(members.len())?;
    let wanted: Vec<NewMember> = members
        .into_iter()
        .map(|id| NewMember { id, kind: None })
        .collect();
    update(
        store,
        actor,
        id.clone(),
        Precondition::None,
        false,
        move |conn, current, delta| {
            add_members(conn, &org_of(current)?, &current.group_id(), &wanted, delta)?;
            Ok(None)
        },
    )
    .await
}

/// `DELETE /Groups/{id}` (RFC 7644 §3.6): removes the group, its membership rows and its rows
/// as a member of other groups (which get a new version each), all audited.
pub async fn delete(
    store: &Store,
    actor: Actor,
    id: &str,
    precondition: Precondition,
) -> Result<(), ScimError> {
    let id = parse_id(id)?;
    store
        .run_write(move |conn| {
            write_tx(conn, |conn| {
                let current = groups::find(conn, &actor.org, &id)?.ok_or_else(|| not_found(&id))?;
                check(&precondition, current.version)?;
                let now = clock::now();
                detach_member(conn, &actor, id.as_str(), now)?;
                // Recorded before the row goes, so that its event can name the group.
                record(conn, &actor, "group.delete", &id, Vec::new(), None, now)?;
                groups::delete(conn, &actor.org, &id)?;
                Ok(())
            })
        })
        .await
}

/// Removes `member_id` (a user or group being deleted, in the caller's transaction) from every
/// group of the actor's org; each of those groups gets a new version and a `group.update` event.
/// The member is locked first, so no add of it can commit between this and its delete.
pub(crate) fn detach_member(
    conn: &mut DbConnection,
    actor: &Actor,
    member_id: &str,
    now: DateTime<Utc>,
) -> Result<(), ScimError> {
    groups::lock_member(conn, &actor.org, member_id)?;
    let parents = groups::remove_member_everywhere(conn, &actor.org, member_id)?;
    if parents.is_empty() {
        return Ok(());
    }
    groups::bump_all(conn, &actor.org, &parents, now)?;
    for parent in &parents {
        record(
            conn,
            actor,
            "group.update",
            parent,
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
    Ok(())
}

/// The read-only `groups` attribute (RFC 7643 §4.1.2) of each of `ids`: the groups the user is
/// in directly (`type: "direct"`) or through nested groups (`"indirect"`, at most
/// [`MAX_NESTING_DEPTH`] levels), as `{value, $ref, display, type}` with `$ref` under `base`
/// (the SCIM base URL). One query for the whole page. Every id is a key; users in no group map
/// to an empty list (which renders as an unassigned attribute, RFC 7643 §2.5).
pub async fn groups_of_users(
    store: &Store,
    org: &OrgId,
    ids: &[UserId],
    base: &str,
) -> Result<HashMap<UserId, Vec<Value>>, ScimError> {
    let owned = org.clone();
    // One user's groups are a point read; a page's grow with it (a scan: the org's permit and
    // the time limit).
    let one = ids.len() <= 1;
    let ids = ids.to_vec();
    let base = base.to_owned();
    store
        .read(org, one, move |conn| {
            Ok(groups_of_users_in(conn, &owned, &ids, &base)?)
        })
        .await
}

/// [`groups_of_users`] on a connection the caller holds, so a read can fetch a user and its
/// groups in one trip to the database.
pub fn groups_of_users_in(
    conn: &mut DbConnection,
    org: &OrgId,
    ids: &[UserId],
    base: &str,
) -> diesel::QueryResult<HashMap<UserId, Vec<Value>>> {
    let rows = groups::memberships(conn, org, ids, MAX_NESTING_DEPTH)?;
    let mut out: HashMap<UserId, Vec<Value>> =
        ids.iter().map(|id| (id.clone(), Vec::new())).collect();
    for m in rows {
        let kind = if m.depth <= 1 { "direct" } else { "indirect" };
        out.entry(UserId::from_db(m.user_id))
            .or_default()
            .push(json!({
                "value": m.group_id,
                "$ref": format!("{base}/Groups/{}", m.group_id),
                "display": m.display_name,
                "type": kind,
            }));
    }
    Ok(out)
}

/// Parses a group id from a URL or a Bulk path; anything else is a 404.
pub fn parse_id(id: &str) -> Result<GroupId, ScimError> {
    GroupId::parse(id).ok_or_else(|| ScimError::not_found(format!("no group with id '{id}'")))
}

/// A failed or abandoned attempt inside a write transaction; every variant rolls it back.
enum TxError {
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
    fn into_scim(self) -> ScimError {
        match self {
            TxError::Scim(e) => e,
            TxError::Retry | TxError::Unchanged => ScimError::internal(),
        }
    }
}

/// The net membership change of one request: an id removed and added again is no change.
#[derive(Debug, Default)]
struct Delta {
    added: BTreeSet<String>,
    removed: BTreeSet<String>,
}

impl Delta {
    fn add(&mut self, id: String) {
        if !self.removed.remove(&id) {
            self.added.insert(id);
        }
    }

    fn remove(&mut self, id: String) {
        if !self.added.remove(&id) {
            self.removed.insert(id);
        }
    }

    fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty()
    }

    /// The audit `detail` of a membership change.
    fn detail(&self) -> Value {
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

/// Reads the group (and, when asked, its members).
fn load(
    conn: &mut DbConnection,
    org: &OrgId,
    id: &GroupId,
    with_members: bool,
) -> Result<GroupView, ScimError> {
    let row = groups::find(conn, org, id)?.ok_or_else(|| not_found(id))?;
    let members = if with_members {
        Some(groups::members(conn, org, std::slice::from_ref(&row.id))?)
    } else {
        None
    };
    Ok(GroupView { row, members })
}

/// Runs one write of an existing group: read, check `If-Match`, move the version, let `change`
/// write members and compute the next resource (`None` = the resource is unchanged), then save
/// and audit. Retries when a concurrent write moved the version first.
async fn update<F>(
    store: &Store,
    actor: Actor,
    id: GroupId,
    precondition: Precondition,
    with_members: bool,
    change: F,
) -> Result<GroupView, ScimError>
where
    F: Fn(&mut DbConnection, &GroupRow, &mut Delta) -> Result<Option<Map<String, Value>>, TxError>
        + Send
        + 'static,
{
    store
        .run_write(move |conn| {
            for _ in 0..MAX_WRITE_ATTEMPTS {
                let attempt = write_tx(conn, |conn| {
                    let current =
                        groups::find(conn, &actor.org, &id)?.ok_or_else(|| not_found(&id))?;
                    check(&precondition, current.version)?;
                    let now = clock::now();
                    if !groups::bump(conn, &actor.org, &id, current.version, now)? {
                        return Err(TxError::Retry);
                    }
                    let mut delta = Delta::default();
                    let next = change(conn, &current, &mut delta)?;
                    save(conn, &actor, &current, next, &delta, now)
                });
                match attempt {
                    Ok(()) | Err(TxError::Unchanged) => {
                        return load(conn, &actor.org, &id, with_members);
                    }
                    Err(TxError::Retry) => continue,
                    Err(TxError::Scim(e)) => return Err(e),
                }
            }
            tracing::warn!(group = %id, "gave up after repeated concurrent modifications");
            Err(ScimError::conflict(
                "the group is being modified concurrently; retry the request",
            ))
        })
        .await
}

/// Writes the next resource (if it differs) and the audit event; `Unchanged` when neither the
/// resource nor the membership changed.
fn save(
    conn: &mut DbConnection,
    actor: &Actor,
    current: &GroupRow,
    next: Option<Map<String, Value>>,
    delta: &Delta,
    now: DateTime<Utc>,
) -> Result<(), TxError> {
    let id = current.group_id();
    let mut changed = BTreeSet::new();
    if let Some(mut next) = next {
        next.remove("members");
        changed = changed_attributes(&current.attributes(), &next);
        if !changed.is_empty() {
            let data = GroupData::from_resource(next);
            groups::write_data(conn, &actor.org, &id, &data).map_err(|e| write_error(e, &data))?;
        }
    }
    let mut detail = None;
    if !delta.is_empty() {
        changed.insert("members".to_owned());
        detail = Some(delta.detail());
    }
    if changed.is_empty() {
        return Err(TxError::Unchanged);
    }
    record(
        conn,
        actor,
        "group.update",
        &id,
        changed.into_iter().collect(),
        detail,
        now,
    )?;
    Ok(())
}

/// Sends one PATCH operation where it belongs: membership to the table, the rest (collected in
/// `other`) to the patch engine. A path-less value is split by key.
fn route(
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
fn member_operation(
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
fn select(
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
fn value_eq_ids(filter: &Filter) -> Option<Vec<String>> {
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

fn members_def() -> Result<&'static AttributeDef, ScimError> {
    GROUP.attribute("members").ok_or_else(ScimError::internal)
}

/// A member named in a request.
#[derive(Debug, Clone, PartialEq, Eq)]
struct NewMember {
    id: String,
    /// The `type` the client sent, checked against what the id names.
    kind: Option<MemberType>,
}

/// Reads member values: an array (or one value) of `{"value": id}` objects, as Okta and Entra
/// send them (`$ref: null`, `display` and unknown keys ignored; a bare id string accepted).
/// `null` or `[]` is no member.
fn parse_members(value: Option<&Value>) -> Result<Vec<NewMember>, ScimError> {
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
fn check_member_count(count: usize) -> Result<(), ScimError> {
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
fn member_values(object: &Map<String, Value>) -> usize {
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
fn add_members(
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
fn unknown_members(unknown: &[&str]) -> ScimError {
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
fn remove_members(
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
fn replace_members(
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

fn org_of(row: &GroupRow) -> Result<OrgId, ScimError> {
    OrgId::parse(&row.org_id).map_err(|e| {
        tracing::error!(error = %e, "stored org id is not a valid slug");
        ScimError::internal()
    })
}

/// The `If-Match` check (RFC 7644 §3.14): 412 when the group has moved on.
fn check(precondition: &Precondition, version: i64) -> Result<(), ScimError> {
    match precondition {
        Precondition::None | Precondition::Any => Ok(()),
        Precondition::Versions(v) if v.contains(&version) => Ok(()),
        Precondition::Versions(_) => Err(ScimError::precondition_failed(format!(
            "the group has changed: its current version is {}; GET it again and retry",
            etag(version)
        ))),
    }
}

/// Top-level attribute names whose values differ.
fn changed_attributes(before: &Map<String, Value>, after: &Map<String, Value>) -> BTreeSet<String> {
    before
        .keys()
        .chain(after.keys())
        .filter(|k| *k != "schemas" && before.get(*k) != after.get(*k))
        .cloned()
        .collect()
}

fn record(
    conn: &mut DbConnection,
    actor: &Actor,
    action: &str,
    target: &GroupId,
    attributes: Vec<String>,
    detail: Option<Value>,
    now: DateTime<Utc>,
) -> Result<(), ScimError> {
    audit::append(
        conn,
        &audit::NewEvent {
            org: &actor.org,
            occurred_at: now,
            actor: &actor.id,
            channel: actor.channel.as_str(),
            action,
            target_type: "Group",
            target_id: target.as_str(),
            attributes,
            detail,
        },
    )?;
    Ok(())
}

fn not_found(id: &GroupId) -> ScimError {
    ScimError::not_found(format!("no group with id '{id}'"))
}

/// Uniqueness clashes become 409 `uniqueness` naming the attribute.
fn write_error(err: diesel::result::Error, data: &GroupData) -> ScimError {
    match unique_violation(&err) {
        Some(constraint) if constraint.contains("external_id") => ScimError::uniqueness(format!(
            "externalId '{}' is already used by another group in this organization",
            data.external_id.as_deref().unwrap_or_default()
        )),
        Some(_) => ScimError::uniqueness(format!(
            "a group named '{}' already exists in this organization (displayName is unique \
             ignoring case)",
            data.display_name
        )),
        None => ScimError::from(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
