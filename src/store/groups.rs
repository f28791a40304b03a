//! Groups (RFC 7643 §4.2): hot attributes as columns, the rest of the resource (without
//! `members`) as JSON, and membership as one `group_members` row per (group, member), so that
//! adding or removing a member touches that member's row and never the whole list.
//!
//! Every query is scoped by org. A member is a user or a group of the same org. A membership row
//! names it twice: by `member_id` (the key every membership query and `members.value` filter
//! uses) and by the foreign key of its kind (`member_user_id` or `member_group_id`, the other
//! one NULL, a CHECK ties them), whose `ON DELETE CASCADE` means no row outlives its member.
//! The callers in `provisioning/` still remove a deleted resource's rows themselves, to version
//! and audit the groups it leaves, after [`lock_member`].

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Integer, Text};
use serde_json::{Map, Value};

use super::filter::{Part, SqlBool, SqlOrder};
use super::json::Doc;
use super::schema::{group_members, groups, users};
use super::{DbConnection, MultiBackend};
use crate::ids::{OrgId, UserId};

pub use crate::ids::GroupId;

/// Most ids bound in one `IN (…)` list; longer lists are queried in chunks (SQLite and
/// PostgreSQL both cap the number of bound parameters of a statement).
const CHUNK: usize = 500;

/// What a member is (RFC 7643 §4.2 `members.type`): the stored spelling is the canonical value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MemberType {
    User,
    Group,
}

impl MemberType {
    /// `User` or `Group`, as stored and rendered.
    pub fn as_str(self) -> &'static str {
        match self {
            MemberType::User => "User",
            MemberType::Group => "Group",
        }
    }

    /// The endpoint of this resource type, for `$ref` (`Users` or `Groups`).
    pub fn endpoint(self) -> &'static str {
        match self {
            MemberType::User => "Users",
            MemberType::Group => "Groups",
        }
    }

    /// Reads a `type` value ignoring case (RFC 7643 §2.1 canonical values).
    pub fn parse(s: &str) -> Option<MemberType> {
        [MemberType::User, MemberType::Group]
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(s))
    }
}

pub use super::caseless::display_name_key;

/// A group as stored (without its members).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = groups)]
pub struct GroupRow {
    pub id: String,
    pub org_id: String,
    pub display_name: String,
    pub external_id: Option<String>,
    pub resource: Doc,
    pub version: i64,
    pub created_at: NaiveDateTime,
    pub last_modified: NaiveDateTime,
}

impl GroupRow {
    /// The id, typed.
    pub fn group_id(&self) -> GroupId {
        GroupId::from_db(self.id.clone())
    }

    /// The stored resource object (canonical attributes without id, meta or members).
    pub fn attributes(&self) -> Map<String, Value> {
        match &self.resource.0 {
            Value::Object(map) => map.clone(),
            _ => Map::new(),
        }
    }
}

/// The columns derived from a resource (stored form, `members` already taken out).
#[derive(Debug, Clone)]
pub struct GroupData {
    pub display_name: String,
    pub external_id: Option<String>,
    pub resource: Map<String, Value>,
}

impl GroupData {
    /// Extracts the hot columns; a `members` key left in `resource` is dropped (membership is
    /// stored in `group_members` only).
    pub fn from_resource(mut resource: Map<String, Value>) -> GroupData {
        resource.remove("members");
        let text = |key: &str| resource.get(key).and_then(Value::as_str).map(str::to_owned);
        GroupData {
            display_name: text("displayName").unwrap_or_default(),
            external_id: text("externalId"),
            resource,
        }
    }
}

/// Inserts a new group at version 1.
pub fn insert(
    conn: &mut DbConnection,
    org: &OrgId,
    id: &GroupId,
    data: &GroupData,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    let now = now.naive_utc();
    diesel::insert_into(groups::table)
        .values((
            groups::id.eq(id.as_str()),
            groups::org_id.eq(org.as_str()),
            groups::display_name.eq(&data.display_name),
            groups::display_name_ci.eq(display_name_key(&data.display_name)),
            groups::external_id.eq(data.external_id.as_deref()),
            groups::resource.eq(Doc(Value::Object(data.resource.clone()))),
            groups::version.eq(1_i64),
            groups::created_at.eq(now),
            groups::last_modified.eq(now),
        ))
        .execute(conn)
        .map(drop)
}

/// The group `id` of `org`, if it exists. No `LIMIT`, as in [`super::users::find`].
pub fn find(conn: &mut DbConnection, org: &OrgId, id: &GroupId) -> QueryResult<Option<GroupRow>> {
    groups::table
        .filter(groups::org_id.eq(org.as_str()))
        .filter(groups::id.eq(id.as_str()))
        .select(GroupRow::as_select())
        .get_result(conn)
        .optional()
}

/// Moves the group from `expected_version` to the next version (and `lastModified` to `now`).
/// False when the row is gone or was changed concurrently. Done first in every write of a
/// group, so that on PostgreSQL the row lock serialises writers of one group before they touch
/// its members.
pub fn bump(
    conn: &mut DbConnection,
    org: &OrgId,
    id: &GroupId,
    expected_version: i64,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    let updated = diesel::update(
        groups::table
            .filter(groups::org_id.eq(org.as_str()))
            .filter(groups::id.eq(id.as_str()))
            .filter(groups::version.eq(expected_version)),
    )
    .set((
        groups::version.eq(expected_version + 1),
        groups::last_modified.eq(now.naive_utc()),
    ))
    .execute(conn)?;
    Ok(updated > 0)
}

/// Moves each of `ids` to its next version, whatever it is: for groups whose membership changed
/// because a member was deleted.
pub fn bump_all(
    conn: &mut DbConnection,
    org: &OrgId,
    ids: &[GroupId],
    now: DateTime<Utc>,
) -> QueryResult<()> {
    for chunk in ids.chunks(CHUNK) {
        diesel::update(
            groups::table
                .filter(groups::org_id.eq(org.as_str()))
                .filter(groups::id.eq_any(chunk.iter().map(GroupId::as_str))),
        )
        .set((
            groups::version.eq(groups::version + 1_i64),
            groups::last_modified.eq(now.naive_utc()),
        ))
        .execute(conn)?;
    }
    Ok(())
}

/// Writes the group's columns and resource (the version is moved by [`bump`]).
pub fn write_data(
    conn: &mut DbConnection,
    org: &OrgId,
    id: &GroupId,
    data: &GroupData,
) -> QueryResult<()> {
    diesel::update(
        groups::table
            .filter(groups::org_id.eq(org.as_str()))
            .filter(groups::id.eq(id.as_str())),
    )
    .set((
        groups::display_name.eq(&data.display_name),
        groups::display_name_ci.eq(display_name_key(&data.display_name)),
        groups::external_id.eq(data.external_id.as_deref()),
        groups::resource.eq(Doc(Value::Object(data.resource.clone()))),
    ))
    .execute(conn)
    .map(drop)
}

/// Deletes the group with its own membership rows. Returns whether it existed. Rows where the
/// group is a member of other groups are the caller's (see [`remove_member_everywhere`]).
pub fn delete(conn: &mut DbConnection, org: &OrgId, id: &GroupId) -> QueryResult<bool> {
    // Explicit rather than through ON DELETE CASCADE, which needs SQLite's foreign_keys pragma.
    diesel::delete(
        group_members::table
            .filter(group_members::org_id.eq(org.as_str()))
            .filter(group_members::group_id.eq(id.as_str())),
    )
    .execute(conn)?;
    let deleted = diesel::delete(
        groups::table
            .filter(groups::org_id.eq(org.as_str()))
            .filter(groups::id.eq(id.as_str())),
    )
    .execute(conn)?;
    Ok(deleted > 0)
}

/// One page of a listing and the total number of matches.
#[derive(Debug)]
pub struct Page {
    pub total: i64,
    pub rows: Vec<GroupRow>,
}

/// Groups of `org` matching `filter`, in `order` (from [`super::filter::sort`]; by id when
/// `None`), `offset` rows skipped, at most `limit`; and the exact number of matches.
pub fn list(
    conn: &mut DbConnection,
    org: &OrgId,
    filter: Option<SqlBool>,
    order: Option<SqlOrder>,
    offset: i64,
    limit: i64,
) -> QueryResult<Page> {
    let scoped = || {
        let q = groups::table
            .filter(groups::org_id.eq(org.as_str()))
            .into_boxed();
        match &filter {
            Some(f) => q.filter(f.for_org(org)),
            None => q,
        }
    };
    let total: i64 = scoped().count().get_result(conn)?;
    let rows = if limit > 0 && offset < total {
        scoped()
            .select(GroupRow::as_select())
            .order(order.unwrap_or_else(|| SqlOrder(vec![Part::Sql("groups.id ASC")])))
            .offset(offset)
            .limit(limit)
            .load(conn)?
    } else {
        Vec::new()
    };
    Ok(Page { total, rows })
}

/// Which of `ids` name a user or a group of `org`, and which. Ids of other orgs are absent,
/// exactly as ids that never existed.
pub fn member_types(
    conn: &mut DbConnection,
    org: &OrgId,
    ids: &[String],
) -> QueryResult<HashMap<String, MemberType>> {
    let mut found = HashMap::new();
    for chunk in ids.chunks(CHUNK) {
        let user_ids: Vec<String> = users::table
            .filter(users::org_id.eq(org.as_str()))
            .filter(users::id.eq_any(chunk))
            .select(users::id)
            .load(conn)?;
        found.extend(user_ids.into_iter().map(|id| (id, MemberType::User)));
        let group_ids: Vec<String> = groups::table
            .filter(groups::org_id.eq(org.as_str()))
            .filter(groups::id.eq_any(chunk))
            .select(groups::id)
            .load(conn)?;
        found.extend(group_ids.into_iter().map(|id| (id, MemberType::Group)));
    }
    Ok(found)
}

/// Which of `ids` are members of `group`: one index probe per id, whatever the group's size.
pub fn existing_members(
    conn: &mut DbConnection,
    org: &OrgId,
    group: &GroupId,
    ids: &[String],
) -> QueryResult<HashSet<String>> {
    let mut found = HashSet::new();
    for chunk in ids.chunks(CHUNK) {
        let rows: Vec<String> = group_members::table
            .filter(group_members::group_id.eq(group.as_str()))
            .filter(group_members::org_id.eq(org.as_str()))
            .filter(group_members::member_id.eq_any(chunk))
            .select(group_members::member_id)
            .load(conn)?;
        found.extend(rows);
    }
    Ok(found)
}

/// The foreign-key columns of a membership row naming `id`: the one of its kind is set.
fn member_keys(id: &str, kind: MemberType) -> (Option<&str>, Option<&str>) {
    match kind {
        MemberType::User => (Some(id), None),
        MemberType::Group => (None, Some(id)),
    }
}

/// Adds membership rows; the members must not be members yet (see [`existing_members`]).
///
/// `Ok(Some(id))` when member `id` no longer exists: it was deleted after the caller looked it
/// up, and its foreign key refused the row. The statement failed (on PostgreSQL, with the
/// transaction), so the caller must end the transaction.
pub fn insert_members(
    conn: &mut DbConnection,
    org: &OrgId,
    group: &GroupId,
    members: &[(String, MemberType)],
) -> QueryResult<Option<String>> {
    // One statement per row: diesel's MultiConnection cannot batch inserts, and a request adds
    // few members. Seeding large groups goes through `insert_members_batched`.
    for (id, kind) in members {
        let (user, group_key) = member_keys(id, *kind);
        let inserted = diesel::insert_into(group_members::table)
            .values((
                group_members::group_id.eq(group.as_str()),
                group_members::org_id.eq(org.as_str()),
                group_members::member_id.eq(id),
                group_members::member_type.eq(kind.as_str()),
                group_members::member_user_id.eq(user),
                group_members::member_group_id.eq(group_key),
            ))
            .execute(conn);
        match inserted {
            Ok(_) => {}
            Err(e) if super::foreign_key_violation(&e) => return Ok(Some(id.clone())),
            Err(e) => return Err(e),
        }
    }
    Ok(None)
}

/// [`insert_members`] with multi-row `INSERT`s of up to 500 rows on the backend's own
/// connection: for seeding large groups (benchmarks, imports).
pub fn insert_members_batched(
    conn: &mut DbConnection,
    org: &OrgId,
    group: &GroupId,
    members: &[(String, MemberType)],
) -> QueryResult<()> {
    for chunk in members.chunks(CHUNK) {
        let rows: Vec<_> = chunk
            .iter()
            .map(|(id, kind)| {
                let (user, group_key) = member_keys(id, *kind);
                (
                    group_members::group_id.eq(group.as_str()),
                    group_members::org_id.eq(org.as_str()),
                    group_members::member_id.eq(id.as_str()),
                    group_members::member_type.eq(kind.as_str()),
                    group_members::member_user_id.eq(user),
                    group_members::member_group_id.eq(group_key),
                )
            })
            .collect();
        match conn {
            DbConnection::Pg(c) => diesel::insert_into(group_members::table)
                .values(&rows)
                .execute(c)?,
            DbConnection::Sqlite(c) => diesel::insert_into(group_members::table)
                .values(&rows)
                .execute(c)?,
        };
    }
    Ok(())
}

/// Removes `ids` from `group`; returns how many rows went.
pub fn delete_members(
    conn: &mut DbConnection,
    org: &OrgId,
    group: &GroupId,
    ids: &[String],
) -> QueryResult<usize> {
    let mut deleted = 0;
    for chunk in ids.chunks(CHUNK) {
        deleted += diesel::delete(
            group_members::table
                .filter(group_members::group_id.eq(group.as_str()))
                .filter(group_members::org_id.eq(org.as_str()))
                .filter(group_members::member_id.eq_any(chunk)),
        )
        .execute(conn)?;
    }
    Ok(deleted)
}

/// Every member id of `group`, in id order.
pub fn member_ids(
    conn: &mut DbConnection,
    org: &OrgId,
    group: &GroupId,
) -> QueryResult<Vec<String>> {
    group_members::table
        .filter(group_members::group_id.eq(group.as_str()))
        .filter(group_members::org_id.eq(org.as_str()))
        .select(group_members::member_id)
        .order(group_members::member_id.asc())
        .load(conn)
}

/// One member of a group, with what `members.display` shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRow {
    pub group_id: String,
    pub member_id: String,
    pub kind: MemberType,
    /// A user's `displayName` (else its `userName`), a group's `displayName`.
    pub display: Option<String>,
}

/// The members of each of `group_ids`, ordered by group then member id: two queries (user
/// members, group members) per chunk of groups, never one per group.
pub fn members(
    conn: &mut DbConnection,
    org: &OrgId,
    group_ids: &[String],
) -> QueryResult<Vec<MemberRow>> {
    let mut out = Vec::new();
    for chunk in group_ids.chunks(CHUNK) {
        let user_members: Vec<(String, String, Option<String>, String)> = group_members::table
            .inner_join(users::table.on(users::id.eq(group_members::member_id)))
            .filter(group_members::org_id.eq(org.as_str()))
            .filter(users::org_id.eq(org.as_str()))
            .filter(group_members::group_id.eq_any(chunk))
            .filter(group_members::member_type.eq(MemberType::User.as_str()))
            .select((
                group_members::group_id,
                group_members::member_id,
                users::display_name,
                users::user_name,
            ))
            .load(conn)?;
        out.extend(
            user_members
                .into_iter()
                .map(|(g, m, display, name)| MemberRow {
                    group_id: g,
                    member_id: m,
                    kind: MemberType::User,
                    display: Some(display.unwrap_or(name)),
                }),
        );
        let group_members_rows: Vec<(String, String, String)> = group_members::table
            .inner_join(groups::table.on(groups::id.eq(group_members::member_id)))
            .filter(group_members::org_id.eq(org.as_str()))
            .filter(groups::org_id.eq(org.as_str()))
            .filter(group_members::group_id.eq_any(chunk))
            .filter(group_members::member_type.eq(MemberType::Group.as_str()))
            .select((
                group_members::group_id,
                group_members::member_id,
                groups::display_name,
            ))
            .load(conn)?;
        out.extend(
            group_members_rows
                .into_iter()
                .map(|(g, m, display)| MemberRow {
                    group_id: g,
                    member_id: m,
                    kind: MemberType::Group,
                    display: Some(display),
                }),
        );
    }
    out.sort_by(|a, b| (&a.group_id, &a.member_id).cmp(&(&b.group_id, &b.member_id)));
    Ok(out)
}

/// Locks the user or group `member_id` of `org` against new memberships until the transaction
/// ends: a delete takes it before [`remove_member_everywhere`], so an add of the member either
/// committed before (and its row is found and removed, audited) or waits and then fails on the
/// foreign key ([`insert_members`]). On PostgreSQL `FOR UPDATE` conflicts with the `KEY SHARE`
/// lock a foreign-key check takes; SQLite has one writer at a time and needs no lock.
pub fn lock_member(conn: &mut DbConnection, org: &OrgId, member_id: &str) -> QueryResult<()> {
    if let DbConnection::Pg(c) = conn {
        users::table
            .filter(users::org_id.eq(org.as_str()))
            .filter(users::id.eq(member_id))
            .select(users::id)
            .for_update()
            .load::<String>(c)?;
        groups::table
            .filter(groups::org_id.eq(org.as_str()))
            .filter(groups::id.eq(member_id))
            .select(groups::id)
            .for_update()
            .load::<String>(c)?;
    }
    Ok(())
}

/// Removes `member_id` (a user or group being deleted) from every group of `org`; returns the
/// groups it was a member of.
pub fn remove_member_everywhere(
    conn: &mut DbConnection,
    org: &OrgId,
    member_id: &str,
) -> QueryResult<Vec<GroupId>> {
    let group_ids: Vec<String> = group_members::table
        .filter(group_members::org_id.eq(org.as_str()))
        .filter(group_members::member_id.eq(member_id))
        .select(group_members::group_id)
        .order(group_members::group_id.asc())
        .load(conn)?;
    if !group_ids.is_empty() {
        diesel::delete(
            group_members::table
                .filter(group_members::org_id.eq(org.as_str()))
                .filter(group_members::member_id.eq(member_id)),
        )
        .execute(conn)?;
    }
    Ok(group_ids.into_iter().map(GroupId::from_db).collect())
}

/// A user's membership of a group, directly (`depth` 1) or through nested groups.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct Membership {
    #[diesel(sql_type = Text)]
    pub user_id: String,
    #[diesel(sql_type = Text)]
    pub group_id: String,
    #[diesel(sql_type = Text)]
    pub display_name: String,
    /// 1 for a direct membership; n when the user is in a group that is n-1 levels below.
    #[diesel(sql_type = Integer)]
    pub depth: i32,
}

/// The groups each of `user_ids` belongs to, directly or through groups nested up to
/// `max_depth` levels (RFC 7643 §4.1.2 `groups`): one recursive query per chunk of users,
/// whatever the page size. Membership cycles end at the depth bound. Ordered by user, then
/// depth, then group name.
pub fn memberships(
    conn: &mut DbConnection,
    org: &OrgId,
    user_ids: &[UserId],
    max_depth: u8,
) -> QueryResult<Vec<Membership>> {
    let mut out = Vec::new();
    for chunk in user_ids.chunks(CHUNK) {
        // Most users of most organizations are in no group: answer those from the membership
        // index without the recursive query (which is also planned anew every time).
        let of_users = group_members::table
            .filter(group_members::org_id.eq(org.as_str()))
            .filter(group_members::member_type.eq("User"));
        // One user (a GET, a write's response) with `=`, a statement SQLite keeps prepared;
        // `IN (…)` has as many parameters as the chunk and is prepared anew each time.
        let direct: bool = match chunk {
            [one] => {
                let exists =
                    diesel::dsl::exists(of_users.filter(group_members::member_id.eq(one.as_str())));
                native!(&mut *conn, |c| diesel::select(exists).get_result(c))?
            }
            _ => diesel::select(diesel::dsl::exists(
                of_users.filter(group_members::member_id.eq_any(chunk.iter().map(UserId::as_str))),
            ))
            .get_result(conn)?,
        };
        if !direct {
            continue;
        }
        // `$n` placeholders work on both backends (SQLite reads them as named parameters, in
        // order of first appearance, which is their numeric order here).
        let ids: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 2)).collect();
        let org_again = chunk.len() + 2;
        let sql = format!(
            "WITH RECURSIVE reach(user_id, group_id, depth) AS ( \
               SELECT gm.member_id, gm.group_id, 1 FROM group_members gm \
                WHERE gm.org_id = $1 AND gm.member_type = 'User' AND gm.member_id IN ({ids}) \
               UNION \
               SELECT r.user_id, gm.group_id, r.depth + 1 FROM reach r \
                 JOIN group_members gm ON gm.member_id = r.group_id AND gm.member_type = 'Group' \
                WHERE gm.org_id = ${org_again} AND r.depth < {max_depth} \
             ) \
             SELECT r.user_id AS user_id, r.group_id AS group_id, g.display_name AS display_name, \
                    MIN(r.depth) AS depth \
               FROM reach r JOIN groups g ON g.id = r.group_id AND g.org_id = $1 \
              GROUP BY r.user_id, r.group_id, g.display_name \
              ORDER BY r.user_id, MIN(r.depth), g.display_name",
            ids = ids.join(", "),
        );
        let mut query = diesel::sql_query(sql)
            .into_boxed::<MultiBackend>()
            .bind::<Text, _>(org.as_str().to_owned());
        for id in chunk {
            query = query.bind::<Text, _>(id.as_str().to_owned());
        }
        query = query.bind::<Text, _>(org.as_str().to_owned());
        out.extend(query.load::<Membership>(conn)?);
    }
    Ok(out)
}
