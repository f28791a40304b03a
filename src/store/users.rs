//! Users: hot attributes as columns, the canonical resource as JSON, emails and phone numbers
//! mirrored into child tables for filtering. Every query is scoped by org.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde_json::{Map, Value};

use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::serialize::ToSql;
use diesel::sql_types::{BigInt, Bool, Integer, Nullable, Text, Timestamp};

use super::filter::{SqlBool, SqlOrder};
use super::json::Doc;
use super::schema::{user_emails, user_phone_numbers, users};
use super::{DbConnection, MultiBackend};
use crate::ids::{OrgId, UserId};

pub use super::caseless::user_name_key;

/// A user as stored.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct UserRow {
    pub id: String,
    pub org_id: String,
    pub user_name: String,
    pub external_id: Option<String>,
    pub display_name: Option<String>,
    pub active: bool,
    pub resource: Doc,
    pub version: i64,
    pub created_at: NaiveDateTime,
    pub last_modified: NaiveDateTime,
    pub deactivated_at: Option<NaiveDateTime>,
    pub deactivated_by: Option<String>,
    pub deactivated_via: Option<String>,
    /// When an admin put the user on hold (docs/admin-api.md, "Who decides"); `None`: no hold.
    pub held_at: Option<NaiveDateTime>,
    /// Who set the hold: the admin token's `sub` or `jti`.
    pub held_by: Option<String>,
    /// The admin's reason for the hold, if given.
    pub hold_reason: Option<String>,
}

impl UserRow {
    /// The id, typed.
    pub fn user_id(&self) -> UserId {
        UserId::from_db(self.id.clone())
    }

    /// The stored resource object (canonical SCIM attributes without id/meta/password).
    pub fn attributes(&self) -> Map<String, Value> {
        match &self.resource.0 {
            Value::Object(map) => map.clone(),
            _ => Map::new(),
        }
    }
}

/// The columns derived from a resource, written on every insert and update.
#[derive(Debug, Clone)]
pub struct UserData {
    pub user_name: String,
    pub external_id: Option<String>,
    pub display_name: Option<String>,
    pub active: bool,
    pub resource: Map<String, Value>,
}

impl UserData {
    /// Extracts the hot columns from a canonical resource. `active` defaults to true (a user
    /// created without it has access).
    pub fn from_resource(resource: Map<String, Value>) -> UserData {
        let text = |key: &str| resource.get(key).and_then(Value::as_str).map(str::to_owned);
        UserData {
            user_name: text("userName").unwrap_or_default(),
            external_id: text("externalId"),
            display_name: text("displayName"),
            active: resource
                .get("active")
                .and_then(Value::as_bool)
                .unwrap_or(true),
            resource,
        }
    }
}

/// The deactivation record written with a change of `active`.
#[derive(Debug, Clone, Default)]
pub struct Deactivation {
    pub at: Option<DateTime<Utc>>,
    pub by: Option<String>,
    pub via: Option<&'static str>,
}

/// An admin's hold on a user, written with a change; the default (all `None`) is no hold.
#[derive(Debug, Clone, Default)]
pub struct Hold {
    pub at: Option<DateTime<Utc>>,
    pub by: Option<String>,
    pub reason: Option<String>,
}

/// Inserts a new user and its child rows and returns the row as stored. A taken `userName` is a
/// unique violation for the caller to map (`externalId` is not unique, RFC 7643 §3.1).
pub fn insert(
    conn: &mut DbConnection,
    org: &OrgId,
    id: &UserId,
    data: &UserData,
    password_hash: Option<&str>,
    deactivation: &Deactivation,
    now: DateTime<Utc>,
) -> QueryResult<UserRow> {
    let now = now.naive_utc();
    let row = diesel::insert_into(users::table).values((
        users::id.eq(id.as_str()),
        users::org_id.eq(org.as_str()),
        users::user_name.eq(&data.user_name),
        users::user_name_ci.eq(user_name_key(&data.user_name)),
        users::external_id.eq(data.external_id.as_deref()),
        users::display_name.eq(data.display_name.as_deref()),
        users::active.eq(data.active),
        users::resource.eq(Doc(Value::Object(data.resource.clone()))),
        users::password_hash.eq(password_hash),
        users::version.eq(1_i64),
        users::created_at.eq(now),
        users::last_modified.eq(now),
        users::deactivated_at.eq(deactivation.at.map(|t| t.naive_utc())),
        users::deactivated_by.eq(deactivation.by.as_deref()),
        users::deactivated_via.eq(deactivation.via),
    ));
    native!(&mut *conn, |c| row.execute(c))?;
    write_children(conn, org, id, &data.resource)?;
    Ok(UserRow {
        id: id.as_str().to_owned(),
        org_id: org.as_str().to_owned(),
        user_name: data.user_name.clone(),
        external_id: data.external_id.clone(),
        display_name: data.display_name.clone(),
        active: data.active,
        resource: Doc(Value::Object(data.resource.clone())),
        version: 1,
        created_at: now,
        last_modified: now,
        deactivated_at: deactivation.at.map(|t| t.naive_utc()),
        deactivated_by: deactivation.by.clone(),
        deactivated_via: deactivation.via.map(str::to_owned),
        held_at: None,
        held_by: None,
        hold_reason: None,
    })
}

/// The user `id` of `org`, if it exists.
///
/// No `LIMIT` (the key is unique): SQLite re-prepares a statement whose `LIMIT` is a bound
/// parameter on every execution, and this one runs on every read and write of a user.
pub fn find(conn: &mut DbConnection, org: &OrgId, id: &UserId) -> QueryResult<Option<UserRow>> {
    find_by(conn, org, &UserKey::Id(id.as_str().to_owned()))
}

/// A value of one of the [`UNIQUE_ATTRIBUTES`]: the key of at most one user of an org.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserKey {
    /// `id`, compared exactly.
    Id(String),
    /// `userName`, compared case-insensitively (through `user_name_ci`).
    UserName(String),
}

impl UserKey {
    /// The key a filter `attr eq "value"` names, for an attribute of [`UNIQUE_ATTRIBUTES`]
    /// (canonical name).
    pub fn of(attr: &str, value: &str) -> Option<UserKey> {
        let value = value.to_owned();
        match attr {
            "id" => Some(UserKey::Id(value)),
            "userName" => Some(UserKey::UserName(value)),
            _ => None,
        }
    }
}

/// The user of `org` with `key`, if there is one: one statement on a unique index, of a fixed
/// shape per key (kept prepared, run on the backend's own connection).
pub fn find_by(
    conn: &mut DbConnection,
    org: &OrgId,
    key: &UserKey,
) -> QueryResult<Option<UserRow>> {
    let of_org = users::table.filter(users::org_id.eq(org.as_str()));
    native!(conn, |c| match key {
        UserKey::Id(id) => of_org
            .filter(users::id.eq(id))
            .select(UserRow::as_select())
            .get_result(c),
        UserKey::UserName(name) => of_org
            .filter(users::user_name_ci.eq(user_name_key(name)))
            .select(UserRow::as_select())
            .get_result(c),
    })
    .optional()
}

/// What an update writes.
#[derive(Debug, Clone, Copy)]
pub struct Change<'a> {
    pub data: &'a UserData,
    /// A new password hash; `None` keeps the stored one.
    pub password_hash: Option<&'a str>,
    /// A new deactivation record; `None` keeps the stored one.
    pub deactivation: Option<&'a Deactivation>,
    /// A new hold (set or cleared); `None` keeps the stored one.
    pub hold: Option<&'a Hold>,
}

/// Replaces the user's data if its version is still `current.version`, bumping the version,
/// in one UPDATE (plus the child tables when emails or phone numbers changed, and the password
/// hash when a new one is given). Returns the row as now stored, or `None` when the row is gone
/// or was changed concurrently (the caller re-reads).
pub fn update(
    conn: &mut DbConnection,
    current: &UserRow,
    change: &Change<'_>,
    now: DateTime<Utc>,
) -> QueryResult<Option<UserRow>> {
    let data = change.data;
    let org = OrgId::from_db(current.org_id.clone());
    let id = current.user_id();
    let deactivation = match change.deactivation {
        Some(d) => (
            d.at.map(|t| t.naive_utc()),
            d.by.clone(),
            d.via.map(str::to_owned),
        ),
        None => (
            current.deactivated_at,
            current.deactivated_by.clone(),
            current.deactivated_via.clone(),
        ),
    };
    let now = now.naive_utc();
    let resource = Doc(Value::Object(data.resource.clone()));
    let state = SetState {
        org: org.as_str(),
        id: id.as_str(),
        version: current.version,
        next_version: current.version + 1,
        active: data.active,
        resource: &resource,
        last_modified: now,
        deactivated_at: deactivation.0,
        deactivated_by: deactivation.1.as_deref(),
        deactivated_via: deactivation.2.as_deref(),
    };
    if native!(&mut *conn, |c| state.execute(c))? == 0 {
        return Ok(None);
    }
    // Databases rewrite every index on a column the UPDATE sets, changed or not; most writes
    // (a deactivation, a new title) leave the indexed names alone, so they are set, by a
    // statement of their own in the same transaction, only when they change.
    if data.user_name != current.user_name
        || data.external_id != current.external_id
        || data.display_name != current.display_name
    {
        diesel::update(
            users::table
                .filter(users::org_id.eq(org.as_str()))
                .filter(users::id.eq(id.as_str())),
        )
        .set((
            users::user_name.eq(&data.user_name),
            users::user_name_ci.eq(user_name_key(&data.user_name)),
            users::external_id.eq(data.external_id.as_deref()),
            users::display_name.eq(data.display_name.as_deref()),
        ))
        .execute(conn)?;
    }
    if let Some(hash) = change.password_hash {
        diesel::update(
            users::table
                .filter(users::org_id.eq(org.as_str()))
                .filter(users::id.eq(id.as_str())),
        )
        .set(users::password_hash.eq(hash))
        .execute(conn)?;
    }
    // A hold changes rarely (an admin's deactivation with a hold, a release): its own
    // statement, in the same transaction, after the versioned UPDATE above won.
    let hold = match change.hold {
        Some(h) => {
            let at = h.at.map(|t| t.naive_utc());
            diesel::update(
                users::table
                    .filter(users::org_id.eq(org.as_str()))
                    .filter(users::id.eq(id.as_str())),
            )
            .set((
                users::held_at.eq(at),
                users::held_by.eq(h.by.as_deref()),
                users::hold_reason.eq(h.reason.as_deref()),
            ))
            .execute(conn)?;
            (at, h.by.clone(), h.reason.clone())
        }
        None => (
            current.held_at,
            current.held_by.clone(),
            current.hold_reason.clone(),
        ),
    };
    let before = current.attributes();
    let children = ["emails", "phoneNumbers"];
    if children
        .iter()
        .any(|k| before.get(*k) != data.resource.get(*k))
        || super::extension_values::differ(&before, &data.resource)
    {
        delete_children(conn, &org, &id)?;
        write_children(conn, &org, &id, &data.resource)?;
    }
    Ok(Some(UserRow {
        id: current.id.clone(),
        org_id: current.org_id.clone(),
        user_name: data.user_name.clone(),
        external_id: data.external_id.clone(),
        display_name: data.display_name.clone(),
        active: data.active,
        resource: Doc(Value::Object(data.resource.clone())),
        version: current.version + 1,
        created_at: current.created_at,
        last_modified: now,
        deactivated_at: deactivation.0,
        deactivated_by: deactivation.1,
        deactivated_via: deactivation.2,
        held_at: hold.0,
        held_by: hold.1,
        hold_reason: hold.2,
    }))
}

/// Deletes the user's child rows (`emails`, `phoneNumbers`, extension values), scoped by its org.
fn delete_children(conn: &mut DbConnection, org: &OrgId, id: &UserId) -> QueryResult<()> {
    diesel::delete(
        user_emails::table
            .filter(user_emails::org_id.eq(org.as_str()))
            .filter(user_emails::user_id.eq(id.as_str())),
    )
    .execute(conn)?;
    diesel::delete(
        user_phone_numbers::table
            .filter(user_phone_numbers::org_id.eq(org.as_str()))
            .filter(user_phone_numbers::user_id.eq(id.as_str())),
    )
    .execute(conn)?;
    super::extension_values::delete(conn, org, id)
}

/// Deletes the user (its child rows cascade). Returns whether it existed.
pub fn delete(conn: &mut DbConnection, org: &OrgId, id: &UserId) -> QueryResult<bool> {
    // Child rows are deleted explicitly as well: the cascade needs SQLite's foreign_keys pragma,
    // and correctness should not hang on a pragma.
    delete_children(conn, org, id)?;
    let deleted = diesel::delete(
        users::table
            .filter(users::org_id.eq(org.as_str()))
            .filter(users::id.eq(id.as_str())),
    )
    .execute(conn)?;
    Ok(deleted > 0)
}

/// The UPDATE of every user write (the indexed names follow in a statement of their own, only
/// when they change), if the row is still at `version`. Written out because diesel prepares every UPDATE
/// anew (a changeset may skip `None` fields, so diesel never caches one), and this one runs on
/// every PATCH: as a statement of fixed text it is prepared once per connection.
struct SetState<'a> {
    org: &'a str,
    id: &'a str,
    /// The version the row must still be at.
    version: i64,
    /// The version it gets.
    next_version: i64,
    active: bool,
    resource: &'a Doc,
    last_modified: NaiveDateTime,
    deactivated_at: Option<NaiveDateTime>,
    deactivated_by: Option<&'a str>,
    deactivated_via: Option<&'a str>,
}

impl QueryId for SetState<'_> {
    type QueryId = SetState<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<DB> QueryFragment<DB> for SetState<'_>
where
    DB: diesel::backend::Backend
        + diesel::sql_types::HasSqlType<Bool>
        + diesel::sql_types::HasSqlType<super::json::JsonDoc>
        + diesel::sql_types::HasSqlType<BigInt>
        + diesel::sql_types::HasSqlType<Timestamp>
        + diesel::sql_types::HasSqlType<Text>,
    bool: ToSql<Bool, DB>,
    Doc: ToSql<super::json::JsonDoc, DB>,
    i64: ToSql<BigInt, DB>,
    NaiveDateTime: ToSql<Timestamp, DB>,
    Option<NaiveDateTime>: ToSql<Nullable<Timestamp>, DB>,
    str: ToSql<Text, DB>,
    for<'s> Option<&'s str>: ToSql<Nullable<Text>, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql("UPDATE users SET active = ");
        out.push_bind_param::<Bool, _>(&self.active)?;
        out.push_sql(", resource = ");
        out.push_bind_param::<super::json::JsonDoc, _>(self.resource)?;
        out.push_sql(", version = ");
        out.push_bind_param::<BigInt, _>(&self.next_version)?;
        out.push_sql(", last_modified = ");
        out.push_bind_param::<Timestamp, _>(&self.last_modified)?;
        out.push_sql(", deactivated_at = ");
        out.push_bind_param::<Nullable<Timestamp>, _>(&self.deactivated_at)?;
        out.push_sql(", deactivated_by = ");
        out.push_bind_param::<Nullable<Text>, _>(&self.deactivated_by)?;
        out.push_sql(", deactivated_via = ");
        out.push_bind_param::<Nullable<Text>, _>(&self.deactivated_via)?;
        out.push_sql(" WHERE org_id = ");
        out.push_bind_param::<Text, _>(self.org)?;
        out.push_sql(" AND id = ");
        out.push_bind_param::<Text, _>(self.id)?;
        out.push_sql(" AND version = ");
        out.push_bind_param::<BigInt, _>(&self.version)?;
        Ok(())
    }
}

impl<Conn> RunQueryDsl<Conn> for SetState<'_> {}

/// One page of a listing and the total number of matches.
#[derive(Debug)]
pub struct Page {
    pub total: i64,
    pub rows: Vec<UserRow>,
}

/// What a SCIM listing asks for (RFC 7644 §3.4.2): a translated filter, an order (from
/// [`super::filter::sort`]; by id when `None`), `offset` rows skipped, at most `limit`.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub filter: Option<SqlBool>,
    pub order: Option<SqlOrder>,
    pub offset: i64,
    pub limit: i64,
    /// The filter matches at most one user through a unique index (`userName eq`, `id eq`):
    /// the listing is a point read. Not `externalId eq`: externalId is not unique (RFC 7643
    /// §3.1), so such a filter is an ordinary listing on the `(org_id, external_id)` index.
    pub point: bool,
    /// The filter is nothing but `key eq "value"` on a unique attribute (the lookup every
    /// connector sends before a create): read by [`find_by`] instead of the translated filter.
    pub key: Option<UserKey>,
}

/// The user attributes each held in a unique index per org: a filter pinning one of them with
/// `eq` matches at most one user ([`ListQuery::point`]).
/// `externalId` is not one of them: RFC 7643 §3.1 gives it no uniqueness, and IdPs (Microsoft's
/// reference collection) create several users with one.
pub const UNIQUE_ATTRIBUTES: &[&str] = &["id", "userName"];

/// The users of `org` matching `query.filter`, as one boxed query both [`list`] and
/// [`explain_list`] run.
fn scoped<'a>(org: &'a OrgId, filter: Option<&SqlBool>) -> users::BoxedQuery<'a, MultiBackend> {
    let q = users::table
        .filter(users::org_id.eq(org.as_str()))
        .into_boxed();
    match filter {
        Some(f) => q.filter(f.for_org(org)),
        None => q,
    }
}

/// One page of the users of `org` matching the query, and the exact number of matches
/// (`totalResults`, RFC 7644 §3.4.2.4). Two statements, both run by the database: `count(*)`
/// and the page itself; nothing else is loaded. A [`ListQuery::point`] query is one statement
/// that reads the (at most one) match.
pub fn list(conn: &mut DbConnection, org: &OrgId, query: &ListQuery) -> QueryResult<Page> {
    if let Some(key) = &query.key {
        let found = find_by(conn, org, key)?;
        let total = i64::from(found.is_some());
        let rows = found
            .into_iter()
            .filter(|_| query.offset == 0 && query.limit > 0)
            .collect();
        return Ok(Page { total, rows });
    }
    if query.point {
        // At most one user matches: read the match itself, once; the count is what was read.
        let matches: Vec<UserRow> = scoped(org, query.filter.as_ref())
            .select(UserRow::as_select())
            .order(query.order.clone().unwrap_or_else(by_id))
            .load(conn)?;
        let total = i64::try_from(matches.len()).unwrap_or(i64::MAX);
        let rows = matches
            .into_iter()
            .skip(usize::try_from(query.offset).unwrap_or(usize::MAX))
            .take(usize::try_from(query.limit).unwrap_or(0))
            .collect();
        return Ok(Page { total, rows });
    }
    let total: i64 = scoped(org, query.filter.as_ref())
        .count()
        .get_result(conn)?;
    let rows = if query.limit > 0 && query.offset < total {
        // A deferred join in two statements (diesel's MultiConnection cannot nest a boxed
        // subquery): the page's ids are found, and `startIndex` skipped, in the (org_id, id) or
        // filter index alone; then only the page's rows, with their JSON, are read.
        let ids: Vec<String> = scoped(org, query.filter.as_ref())
            .select(users::id)
            .order(query.order.clone().unwrap_or_else(by_id))
            .offset(query.offset)
            .limit(query.limit)
            .load(conn)?;
        rows_in_order(conn, org, &ids)?
    } else {
        Vec::new()
    };
    Ok(Page { total, rows })
}

/// Cursor pagination (RFC 9865): up to `limit` users of `org` matching `filter` whose id comes
/// after `after`, in id order. A keyset, so every page costs the same, first to last.
pub fn page_after(
    conn: &mut DbConnection,
    org: &OrgId,
    filter: Option<&SqlBool>,
    after: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<UserRow>> {
    let mut ids = scoped(org, filter)
        .select(users::id)
        .order(users::id.asc())
        .limit(limit);
    if let Some(after) = after {
        ids = ids.filter(users::id.gt(after.to_owned()));
    }
    let ids: Vec<String> = ids.load(conn)?;
    rows_in_order(conn, org, &ids)
}

/// The rows of `ids`, in that order: the second half of a deferred join (diesel's
/// MultiConnection cannot nest a boxed subquery, so the ids come from a statement of their own,
/// read from an index alone).
fn rows_in_order(
    conn: &mut DbConnection,
    org: &OrgId,
    ids: &[String],
) -> QueryResult<Vec<UserRow>> {
    let mut rows: Vec<UserRow> = users::table
        .filter(users::org_id.eq(org.as_str()))
        .filter(users::id.eq_any(ids))
        .select(UserRow::as_select())
        .load(conn)?;
    let position: std::collections::HashMap<&str, usize> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    rows.sort_by_key(|row| position.get(row.id.as_str()).copied());
    Ok(rows)
}

fn by_id() -> SqlOrder {
    SqlOrder(vec![super::filter::Part::Sql("users.id ASC")])
}

/// The database's plans for the two statements of [`list`] (`count(*)`, then the page), one
/// line per plan node: `EXPLAIN` on PostgreSQL, `EXPLAIN QUERY PLAN` on SQLite. Lets a test
/// check that a filter's SQL uses the index meant for it.
pub fn explain_list(
    conn: &mut DbConnection,
    org: &OrgId,
    query: &ListQuery,
) -> QueryResult<(Vec<String>, Vec<String>)> {
    let count = scoped(org, query.filter.as_ref()).count();
    let page = scoped(org, query.filter.as_ref())
        .select(UserRow::as_select())
        .order(query.order.clone().unwrap_or_else(by_id))
        .offset(query.offset)
        .limit(query.limit);
    Ok((explain(conn, count)?, explain(conn, page)?))
}

fn explain<Q>(conn: &mut DbConnection, query: Q) -> QueryResult<Vec<String>>
where
    Q: QueryFragment<MultiBackend>,
{
    if matches!(conn, DbConnection::Pg(_)) {
        Explain {
            query,
            prefix: "EXPLAIN ",
            _row: std::marker::PhantomData::<Text>,
        }
        .load::<String>(conn)
    } else {
        let rows: Vec<(i32, i32, i32, String)> = Explain {
            query,
            prefix: "EXPLAIN QUERY PLAN ",
            _row: std::marker::PhantomData::<(Integer, Integer, Integer, Text)>,
        }
        .load(conn)?;
        Ok(rows.into_iter().map(|(_, _, _, detail)| detail).collect())
    }
}

/// `EXPLAIN <query>`, whose rows have the SQL type `ST`.
struct Explain<Q, ST> {
    query: Q,
    prefix: &'static str,
    _row: std::marker::PhantomData<ST>,
}

impl<Q, ST> QueryId for Explain<Q, ST> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q, ST: diesel::sql_types::SqlType + diesel::query_builder::QueryId> Query for Explain<Q, ST> {
    type SqlType = ST;
}

impl<Q: QueryFragment<MultiBackend>, ST> QueryFragment<MultiBackend> for Explain<Q, ST> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, MultiBackend>) -> QueryResult<()> {
        out.push_sql(self.prefix);
        self.query.walk_ast(out.reborrow())
    }
}

impl<Q, ST> RunQueryDsl<DbConnection> for Explain<Q, ST> {}

/// What the admin "Manage users" list asks for.
#[derive(Debug, Clone, Default)]
pub struct Search {
    /// `Some(true)`: active users only; `Some(false)`: deactivated only.
    pub active: Option<bool>,
    /// `Some(true)`: users on hold only; `Some(false)`: users not on hold only.
    pub held: Option<bool>,
    /// Text to find in userName, displayName or emails.
    pub text: Option<String>,
    /// Keyset cursor: only users with an id after this one.
    pub after: Option<UserId>,
    pub limit: i64,
}

/// Users of `org` matching `search`, ordered by id (creation order, as ids are UUIDv7).
pub fn search(conn: &mut DbConnection, org: &OrgId, search: &Search) -> QueryResult<Vec<UserRow>> {
    search_query(org, search).load(conn)
}

/// The database's plan for [`search`], one line per plan node (as [`explain_list`]).
pub fn explain_search(
    conn: &mut DbConnection,
    org: &OrgId,
    search: &Search,
) -> QueryResult<Vec<String>> {
    explain(conn, search_query(org, search))
}

fn search_query<'a>(
    org: &'a OrgId,
    search: &'a Search,
) -> users::BoxedQuery<
    'a,
    MultiBackend,
    diesel::dsl::SqlTypeOf<diesel::dsl::AsSelect<UserRow, MultiBackend>>,
> {
    let mut query = users::table
        .filter(users::org_id.eq(org.as_str()))
        .select(UserRow::as_select())
        .order(users::id.asc())
        .limit(search.limit)
        .into_boxed();
    match search.active {
        // Keywords rather than a bound value, so the partial index on inactive users applies.
        Some(true) => query = query.filter(users::active),
        Some(false) => query = query.filter(diesel::dsl::not(users::active)),
        None => {}
    }
    match search.held {
        // `IS NOT NULL` as written, so the partial index on held users applies.
        Some(true) => query = query.filter(users::held_at.is_not_null()),
        Some(false) => query = query.filter(users::held_at.is_null()),
        None => {}
    }
    if let Some(text) = search.text.as_deref().filter(|t| !t.is_empty()) {
        let page = super::filter::SearchPage {
            active: search.active,
            held: search.held,
            after: search.after.as_ref().map(UserId::as_str),
            limit: search.limit,
        };
        query = query.filter(super::filter::text_search(text, page).for_org(org));
    }
    if let Some(after) = &search.after {
        query = query.filter(users::id.gt(after.as_str().to_owned()));
    }
    query
}

/// Mirrors `emails`, `phoneNumbers` and extension values of a resource into their child tables.
pub(super) fn write_children(
    conn: &mut DbConnection,
    org: &OrgId,
    id: &UserId,
    resource: &Map<String, Value>,
) -> QueryResult<()> {
    for email in multi_values(resource, "emails") {
        let row = diesel::insert_into(user_emails::table).values((
            user_emails::user_id.eq(id.as_str()),
            user_emails::org_id.eq(org.as_str()),
            user_emails::value.eq(email.value),
            user_emails::value_ci.eq(email.value.to_lowercase()),
            user_emails::kind.eq(email.kind),
            user_emails::is_primary.eq(email.primary),
        ));
        native!(&mut *conn, |c| row.execute(c))?;
    }
    for phone in multi_values(resource, "phoneNumbers") {
        let row = diesel::insert_into(user_phone_numbers::table).values((
            user_phone_numbers::user_id.eq(id.as_str()),
            user_phone_numbers::org_id.eq(org.as_str()),
            user_phone_numbers::value.eq(phone.value),
            user_phone_numbers::kind.eq(phone.kind),
            user_phone_numbers::is_primary.eq(phone.primary),
        ));
        native!(&mut *conn, |c| row.execute(c))?;
    }
    super::extension_values::write(conn, org, id, resource)
}

struct MultiValue<'a> {
    value: &'a str,
    kind: Option<&'a str>,
    primary: bool,
}

fn multi_values<'a>(resource: &'a Map<String, Value>, attr: &str) -> Vec<MultiValue<'a>> {
    resource
        .get(attr)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| {
            Some(MultiValue {
                value: v.get("value")?.as_str()?,
                kind: v.get("type").and_then(Value::as_str),
                primary: v.get("primary").and_then(Value::as_bool).unwrap_or(false),
            })
        })
        .collect()
}
