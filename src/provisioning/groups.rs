//! Group use cases (RFC 7643 §4.2; RFC 7644 §3.3–§3.6): create, read, list, replace (PUT),
//! patch (PATCH), delete, and the user's derived `groups` attribute (RFC 7643 §4.1.2).
//!
//! Membership lives in its own table and its writes in [`super::membership`]. A PATCH is split
//! once: operations that target `members` run there as inserts and deletes of the rows they
//! name, so they cost O(changed members) whatever the group's size; every other operation goes
//! through the pure patch engine ([`patch::apply`]) on the stored resource. All operations of a request
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

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::membership::{
    Delta, NewMember, TxError, add_members, check_member_count, member_values, org_of,
    parse_members, replace_members, route,
};
use super::versioning::{self, Attempt, Precondition};
use super::{Actor, audit};
use crate::clock;
use crate::ids::{OrgId, UserId};
use crate::scim::ScimError;
use crate::scim::patch::{self, PatchRequest};
use crate::scim::resource;
use crate::scim::schema::{ResourceKind, ResourceTypeDef};
use crate::store::filter::{SqlBool, SqlOrder};
use crate::store::groups::{self, GroupData, GroupId, GroupRow, MemberRow};
use crate::store::{DbConnection, Store, unique_violation, write_tx};

pub use super::membership::AUDITED_IDS;

/// How deep the derived `groups` attribute of a user follows nested groups (RFC 7643 §4.1.2
/// "indirect"): a user in A, A in B, … is reported in at most this many levels of groups.
pub const MAX_NESTING_DEPTH: u8 = 8;

/// A group and, when the caller asked for them, its members.
#[derive(Debug, Clone)]
pub struct GroupView {
    pub row: GroupRow,
    /// `None`: not loaded (the response does not show `members`).
    pub members: Option<Vec<MemberRow>>,
}

/// The org's Group resource type (with its own extension schemas) that `actor` writes against.
async fn group_type(
    store: &Store,
    actor: &Actor,
) -> Result<std::sync::Arc<ResourceTypeDef>, ScimError> {
    super::schema_extensions::resource_type(store, &actor.org, ResourceKind::Group).await
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
    let rt = group_type(store, &actor).await?;
    let mut attributes = resource::validate_create(&rt, body)?.resource;
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
                audit::record(
                    conn,
                    &actor,
                    "group.create",
                    ("Group", id.as_str()),
                    changed,
                    detail,
                    now,
                )?;
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
    let rt = group_type(store, &actor).await?;
    update(
        store,
        actor,
        id,
        precondition,
        with_members,
        move |conn, current, delta| {
            let mut next =
                resource::validate_replace(&rt, &current.attributes(), body.clone())?.resource;
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
    let rt = group_type(store, &actor).await?;
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
            let next = patch::apply(&rt, &existing, &PatchRequest { operations: other })?;
            // The patched group must be one a PUT would accept (required `displayName` not
            // blank, types, immutability), as for users.
            let validated = resource::validate_replace(&rt, &existing, Value::Object(next))?;
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
                precondition.check("group", current.version)?;
                let now = clock::now();
                super::membership::detach_member(conn, &actor, id.as_str(), now)?;
                // Recorded before the row goes, so that its event can name the group.
                audit::record(
                    conn,
                    &actor,
                    "group.delete",
                    ("Group", id.as_str()),
                    Vec::new(),
                    None,
                    now,
                )?;
                groups::delete(conn, &actor.org, &id)?;
                Ok(())
            })
        })
        .await
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

/// Runs one write of an existing group: read, check `If-Match`, move the version (a write
/// conditional on the version read, as a user's is), let `change` write members and compute the
/// next resource (`None` = the resource is unchanged), then save and audit, all in one
/// transaction. A write that lost the race to a concurrent one is run again, through the same
/// loop as a user's ([`versioning::retry`]).
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
        + Sync
        + 'static,
{
    let shared = Arc::new((actor, id, precondition, change));
    versioning::retry("group", shared.1.as_str(), || {
        let shared = Arc::clone(&shared);
        store.run_write(move |conn| {
            let (actor, id, precondition, change) = &*shared;
            let attempt = write_tx(conn, |conn| {
                let current = groups::find(conn, &actor.org, id)?.ok_or_else(|| not_found(id))?;
                precondition.check("group", current.version)?;
                let now = clock::now();
                if !groups::bump(conn, &actor.org, id, current.version, now)? {
                    return Err(TxError::Retry);
                }
                let mut delta = Delta::default();
                let next = change(conn, &current, &mut delta)?;
                save(conn, actor, &current, next, &delta, now)
            });
            match attempt {
                Ok(()) | Err(TxError::Unchanged) => {
                    Ok(Attempt::Done(load(conn, &actor.org, id, with_members)?))
                }
                Err(TxError::Retry) => Ok(Attempt::Lost),
                Err(TxError::Scim(e)) => Err(e),
            }
        })
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
    audit::record(
        conn,
        actor,
        "group.update",
        ("Group", id.as_str()),
        changed.into_iter().collect(),
        detail,
        now,
    )?;
    Ok(())
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

fn not_found(id: &GroupId) -> ScimError {
    ScimError::not_found(format!("no group with id '{id}'"))
}

/// Uniqueness clashes become 409 `uniqueness` naming the attribute.
fn write_error(err: diesel::result::Error, data: &GroupData) -> ScimError {
    match unique_violation(&err) {
        Some(_) => ScimError::uniqueness(format!(
            "a group named '{}' already exists in this organization (displayName is unique \
             ignoring case)",
            data.display_name
        )),
        None => ScimError::from(err),
    }
}
