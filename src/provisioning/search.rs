//! Queries of resources (RFC 7644 §3.4.2, §3.4.3; RFC 9865): `http` hands over a filter it has
//! parsed and validated against the resource type (`scim::filter`) and the `sortBy` /
//! `sortOrder` it was sent; here they become SQL (`store::filter`) and run in the store, so
//! that no handler names a SQL fragment (docs/architecture.md §2, §3).

use crate::ids::OrgId;
use crate::scim::ScimError;
use crate::scim::filter::Filter;
use crate::scim::schema::ResourceTypeDef;
use crate::store::Store;
use crate::store::filter::{self as sql, SortOrder, SqlBool, SqlOrder};
use crate::store::users::{self, ListQuery, UNIQUE_ATTRIBUTES, UserKey};

pub use super::groups::Page as GroupPage;
pub use crate::store::users::Page as UserPage;
/// The query of the admin "Manage users" list ([`super::users::search`]): status, text,
/// keyset cursor, limit.
pub use crate::store::users::Search as AdminUserSearch;

/// A query's filter, validated once against its resource type: its SQL, and the validated form
/// for the questions the SQL cannot answer (does it pin a unique attribute?
/// [`Filter::pins_unique`]).
#[derive(Debug, Clone)]
pub struct QueryFilter {
    sql: SqlBool,
    valid: Filter,
}

impl QueryFilter {
    /// The filter `valid` (already validated against `rt`: [`Filter::validate`]), translated to
    /// SQL for `rt`. A filter the translation refuses is the SCIM error it gives
    /// (`invalidFilter`, `tooMany`).
    pub fn new(rt: &ResourceTypeDef, valid: Filter) -> Result<QueryFilter, ScimError> {
        Ok(QueryFilter {
            sql: sql::translate(rt, &valid)?,
            valid,
        })
    }

    /// The validated filter.
    pub fn valid(&self) -> &Filter {
        &self.valid
    }
}

/// The order of a listing (RFC 7644 §3.4.2.3): `sortBy` for a resource type and `sortOrder`;
/// ties, and a listing without `sortBy`, in id order so that pages are stable.
#[derive(Debug, Clone)]
pub struct Order(SqlOrder);

impl Order {
    /// `sort_by` and `sort_order` as sent (`None` or blank: absent). A `sortOrder` other than
    /// `ascending` / `descending` (any case) and a `sortBy` that names no sortable attribute of
    /// `rt` are 400 `invalidValue`.
    pub fn new(
        rt: &ResourceTypeDef,
        sort_by: Option<&str>,
        sort_order: Option<&str>,
    ) -> Result<Order, ScimError> {
        let order = match sort_order.map(str::trim) {
            None | Some("") => SortOrder::default(),
            Some(text) => SortOrder::parse(text)?,
        };
        Ok(Order(sql::sort(rt, sort_by, order)?))
    }
}

/// `GET /Users`: one page of the users of `org` matching `filter`, in `order`, `offset` users
/// skipped, at most `limit`, and the number of matches. A filter that pins a unique attribute
/// (`userName eq`, `id eq`) is a point read; one that is nothing but such a comparison is read
/// through its key. `externalId eq` is an ordinary listing on its (non-unique) index.
pub async fn users(
    store: &Store,
    org: &OrgId,
    filter: Option<QueryFilter>,
    order: Order,
    offset: i64,
    limit: i64,
) -> Result<UserPage, ScimError> {
    let point = filter
        .as_ref()
        .is_some_and(|f| f.valid.pins_unique(UNIQUE_ATTRIBUTES));
    let key = filter
        .as_ref()
        .and_then(|f| f.valid.unique_key(UNIQUE_ATTRIBUTES))
        .and_then(|(attr, value)| UserKey::of(attr, value));
    let query = ListQuery {
        filter: filter.map(|f| f.sql),
        order: Some(order.0),
        offset,
        limit,
        point,
        key,
    };
    super::users::list(store, org, query).await
}

/// A cursor page (RFC 9865) of the users of `org` matching `filter`, in id order after the user
/// `after`, at most `limit`.
pub async fn users_after(
    store: &Store,
    org: &OrgId,
    filter: Option<QueryFilter>,
    after: Option<String>,
    limit: i64,
) -> Result<Vec<users::UserRow>, ScimError> {
    super::users::page_after(store, org, filter.map(|f| f.sql), after, limit).await
}

/// `GET /Groups`: one page of the groups of `org` matching `filter`, in `order`, and the number
/// of matches; the members of the whole page read at once when `with_members`.
pub async fn groups(
    store: &Store,
    org: &OrgId,
    filter: Option<QueryFilter>,
    order: Order,
    offset: i64,
    limit: i64,
    with_members: bool,
) -> Result<GroupPage, ScimError> {
    super::groups::list(
        store,
        org,
        filter.map(|f| f.sql),
        Some(order.0),
        offset,
        limit,
        with_members,
    )
    .await
}
