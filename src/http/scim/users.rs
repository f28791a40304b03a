//! `/Users` and `/Users/{id}` (RFC 7644 §3.3–§3.6).

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{ResourceQuery, Search, base_url, parse_number, respond};
use crate::http::AppState;
use crate::http::extract::{Authenticated, ScimJson, if_match, if_none_match};
use std::collections::HashMap;

use crate::ids::{OrgId, UserId};
use crate::provisioning::groups;
use crate::provisioning::schema_extensions;
use crate::provisioning::search::{self as queries, QueryFilter};
use crate::provisioning::users::{self, etag};
use crate::provisioning::views::UserRow;
use crate::provisioning::{Actor, Channel};
use crate::scim::ScimError;
use crate::scim::discovery::list_response;
use crate::scim::patch::PatchRequest;
use crate::scim::resource::{self, Meta, Projection};
use crate::scim::schema::{ResourceKind, ResourceTypeDef, USER_RESOURCE};

/// Query parameters of `GET /Users` (RFC 7644 §3.4.2).
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    filter: Option<String>,
    cursor: Option<String>,
    #[serde(rename = "sortBy")]
    sort_by: Option<String>,
    #[serde(rename = "sortOrder")]
    sort_order: Option<String>,
    #[serde(rename = "startIndex")]
    start_index: Option<String>,
    count: Option<String>,
    #[serde(flatten)]
    projection: ResourceQuery,
}

impl ListQuery {
    fn into_search(self) -> Result<Search, ScimError> {
        Ok(Search {
            start_index: parse_number("startIndex", self.start_index.as_deref())?,
            count: parse_number("count", self.count.as_deref())?,
            filter: self.filter,
            cursor: self.cursor,
            sort_by: self.sort_by,
            sort_order: self.sort_order,
            projection: self.projection,
        })
    }
}

/// `GET /Users`: a ListResponse of the users matching `filter`, in `sortBy` order (else by id).
pub async fn list(
    auth: Authenticated,
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ScimError> {
    let search_query = query.into_inner().into_search()?;
    search(&auth, &state, &req, search_query).await
}

/// Answers a query of users (RFC 7644 §3.4.2, §3.4.3) with a ListResponse; see [`Search`] for
/// filter, sort and paging. An unknown `sortBy` or a `sortOrder` other than
/// `ascending`/`descending` (any case) is 400 `invalidValue`; `totalResults` is exact.
pub async fn search(
    auth: &Authenticated,
    state: &AppState,
    req: &HttpRequest,
    query: Search,
) -> Result<HttpResponse, ScimError> {
    let rt = user_type(state, auth).await?;
    if let Some(cursor) = query.cursor.as_deref() {
        return by_cursor(auth, state, req, &query, cursor).await;
    }
    let (start_index, count) = query.bounds(state);
    let filter = query.filter(&rt)?;
    let (resources, total) =
        matching(auth, state, req, &query, filter, start_index - 1, count).await?;
    Ok(respond(
        StatusCode::OK,
        &list_response(
            resources,
            u64::try_from(total).unwrap_or_default(),
            u64::try_from(start_index).unwrap_or(1),
        ),
    ))
}

/// Cursor pagination (RFC 9865): users in id order after the position the cursor seals, and a
/// `nextCursor` while more follow. Each page is a keyset read, so it costs the same from the
/// first to the last; `totalResults` is left out for the same reason (it would count the whole
/// result every time). The cursor is bound to the organization and the filter; `startIndex` and
/// `sortBy` cannot be combined with it.
async fn by_cursor(
    auth: &Authenticated,
    state: &AppState,
    req: &HttpRequest,
    query: &Search,
    cursor: &str,
) -> Result<HttpResponse, ScimError> {
    let rt = user_type(state, auth).await?;
    if query.start_index.is_some() {
        return Err(ScimError::invalid_value(
            "page either by startIndex or by cursor, not both (RFC 9865)",
        ));
    }
    if query.sort_by.is_some() {
        return Err(ScimError::invalid_value(
            "cursor pages are in id order; sortBy needs startIndex paging",
        ));
    }
    let (_, count) = query.bounds(state);
    if count < 1 {
        return Err(ScimError::invalid_count(
            "count must be at least 1 when paging by cursor",
        ));
    }
    let bound_to = format!(
        "{}\u{0}Users\u{0}{}",
        auth.0.org,
        query.filter.as_deref().unwrap_or_default().trim()
    );
    let after = match cursor.trim() {
        "" => None,
        sealed => Some(state.cursor_key.open(&bound_to, sealed)?),
    };
    let projection = query.projection.projection(&rt)?;
    let filter = query.filter(&rt)?;
    let mut rows =
        queries::users_after(&state.store, &auth.0.org, filter, after, count + 1).await?;
    let more = i64::try_from(rows.len()).unwrap_or(i64::MAX) > count;
    rows.truncate(usize::try_from(count).unwrap_or(usize::MAX));
    let base = base_url(state, req);
    let mut groups = groups_of(state, &auth.0.org, &rows, &base, &projection).await?;
    let resources: Vec<Value> = rows
        .iter()
        .map(|row| {
            let extra = groups.remove(&row.user_id()).unwrap_or_default();
            projection.apply(&rt, render(row, &base, extra))
        })
        .collect();
    let mut body = serde_json::json!({
        "schemas": [crate::scim::discovery::LIST_RESPONSE],
        "itemsPerPage": resources.len(),
        "Resources": resources,
    });
    if let (true, Some(last), Some(map)) = (more, rows.last(), body.as_object_mut()) {
        map.insert(
            "nextCursor".to_owned(),
            Value::String(state.cursor_key.seal(&bound_to, &last.id)),
        );
    }
    Ok(respond(StatusCode::OK, &body))
}

/// One page of the users matching `filter`, rendered and projected, and the number of matches.
pub async fn matching(
    auth: &Authenticated,
    state: &AppState,
    req: &HttpRequest,
    query: &Search,
    filter: Option<QueryFilter>,
    offset: i64,
    limit: i64,
) -> Result<(Vec<Value>, i64), ScimError> {
    let rt = user_type(state, auth).await?;
    let projection = query.projection.projection(&rt)?;
    let order = query.order(&rt)?;
    let page = queries::users(&state.store, &auth.0.org, filter, order, offset, limit).await?;
    let base = base_url(state, req);
    let mut groups = groups_of(state, &auth.0.org, &page.rows, &base, &projection).await?;
    let resources = page
        .rows
        .iter()
        .map(|row| {
            let extra = groups.remove(&row.user_id()).unwrap_or_default();
            projection.apply(&rt, render(row, &base, extra))
        })
        .collect();
    Ok((resources, page.total))
}

/// `POST /Users`: 201 with the created user, `Location` and `ETag`.
pub async fn create(
    auth: Authenticated,
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<ResourceQuery>,
    body: ScimJson,
) -> Result<HttpResponse, ScimError> {
    let rt = user_type(&state, &auth).await?;
    let projection = query.projection(&rt)?;
    let actor = Actor::from_principal(&auth.0, Channel::Scim);
    let row = users::create(&state.store, actor, body.into_inner()).await?;
    let base = base_url(&state, &req);
    // A user just created is in no group yet: nothing to read for its `groups`.
    let mut response = respond_with(
        &rt,
        StatusCode::CREATED,
        &row,
        &base,
        Vec::new(),
        &projection,
    );
    if let Ok(location) = header::HeaderValue::from_str(&location(&base, &row)) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// `GET /Users/{id}`; 304 when `If-None-Match` names the current version.
pub async fn get(
    auth: Authenticated,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    query: web::Query<ResourceQuery>,
) -> Result<HttpResponse, ScimError> {
    let rt = user_type(&state, &auth).await?;
    let projection = query.projection(&rt)?;
    let base = base_url(&state, &req);
    let groups_base = projection
        .includes(&USER_RESOURCE, "groups")
        .then(|| base.clone());
    let (row, groups) = users::read(&state.store, &auth.0.org, &id, groups_base).await?;
    if if_none_match(&req).is_some_and(|v| v.contains(&row.version)) {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, etag(row.version)))
            .finish());
    }
    Ok(respond_with(
        &rt,
        StatusCode::OK,
        &row,
        &base,
        groups,
        &projection,
    ))
}

/// `PUT /Users/{id}`: full replace (RFC 7644 §3.5.1).
pub async fn replace(
    auth: Authenticated,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    query: web::Query<ResourceQuery>,
    body: ScimJson,
) -> Result<HttpResponse, ScimError> {
    let rt = user_type(&state, &auth).await?;
    let projection = query.projection(&rt)?;
    let actor = Actor::from_principal(&auth.0, Channel::Scim);
    let precondition = if_match(&req)?;
    let row = users::replace(&state.store, actor, &id, body.into_inner(), precondition).await?;
    let base = base_url(&state, &req);
    resource_response(
        &rt,
        &state,
        &auth.0.org,
        StatusCode::OK,
        &row,
        &base,
        &projection,
    )
    .await
}

/// `PATCH /Users/{id}` (RFC 7644 §3.5.2): 200 with the user.
pub async fn patch(
    auth: Authenticated,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    query: web::Query<ResourceQuery>,
    body: ScimJson,
) -> Result<HttpResponse, ScimError> {
    let rt = user_type(&state, &auth).await?;
    let projection = query.projection(&rt)?;
    let actor = Actor::from_principal(&auth.0, Channel::Scim);
    let precondition = if_match(&req)?;
    let request = PatchRequest::from_json(body.into_inner())?;
    let row = users::patch(&state.store, actor, &id, request, precondition).await?;
    let base = base_url(&state, &req);
    resource_response(
        &rt,
        &state,
        &auth.0.org,
        StatusCode::OK,
        &row,
        &base,
        &projection,
    )
    .await
}

/// `DELETE /Users/{id}`: 204.
pub async fn delete(
    auth: Authenticated,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ScimError> {
    let actor = Actor::from_principal(&auth.0, Channel::Scim);
    let precondition = if_match(&req)?;
    users::delete(&state.store, actor, &id, precondition).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The org's User resource type, with the org's own extension schemas.
async fn user_type(
    state: &AppState,
    auth: &Authenticated,
) -> Result<std::sync::Arc<ResourceTypeDef>, ScimError> {
    schema_extensions::resource_type(&state.store, &auth.0.org, ResourceKind::User).await
}

/// The full SCIM representation of a stored user, with its `groups` (RFC 7643 §4.1.2: derived
/// from membership, direct and indirect; omitted when empty).
pub fn render(row: &UserRow, base: &str, groups: Vec<Value>) -> Value {
    let meta = Meta {
        resource_type: USER_RESOURCE.name,
        created: row.created_at.and_utc(),
        last_modified: row.last_modified.and_utc(),
        location: location(base, row),
        version: etag(row.version),
    };
    let mut extra = Map::new();
    if !groups.is_empty() {
        extra.insert("groups".to_owned(), Value::Array(groups));
    }
    resource::render(&row.attributes(), &row.id, &meta, extra)
}

/// The `groups` of each of `rows`, in one query, unless the projection leaves them out.
async fn groups_of(
    state: &AppState,
    org: &OrgId,
    rows: &[UserRow],
    base: &str,
    projection: &Projection,
) -> Result<HashMap<UserId, Vec<Value>>, ScimError> {
    if rows.is_empty() || !projection.includes(&USER_RESOURCE, "groups") {
        return Ok(HashMap::new());
    }
    let ids: Vec<UserId> = rows.iter().map(UserRow::user_id).collect();
    groups::groups_of_users(&state.store, org, &ids, base).await
}

fn location(base: &str, row: &UserRow) -> String {
    format!("{base}/Users/{}", row.id)
}

async fn resource_response(
    rt: &ResourceTypeDef,
    state: &AppState,
    org: &OrgId,
    status: StatusCode,
    row: &UserRow,
    base: &str,
    projection: &Projection,
) -> Result<HttpResponse, ScimError> {
    let groups = groups_of(state, org, std::slice::from_ref(row), base, projection)
        .await?
        .remove(&row.user_id())
        .unwrap_or_default();
    Ok(respond_with(rt, status, row, base, groups, projection))
}

fn respond_with(
    rt: &ResourceTypeDef,
    status: StatusCode,
    row: &UserRow,
    base: &str,
    groups: Vec<Value>,
    projection: &Projection,
) -> HttpResponse {
    let body = projection.apply(rt, render(row, base, groups));
    let mut response = respond(status, &body);
    if let Ok(tag) = header::HeaderValue::from_str(&etag(row.version)) {
        response.headers_mut().insert(header::ETAG, tag);
    }
    response
}
