//! `/Users` and `/Users/{id}` (RFC 7644 §3.3–§3.6).

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{ResourceQuery, base_url, respond};
use crate::http::AppState;
use crate::http::extract::{Authenticated, ScimJson, if_match, if_none_match};
use std::collections::HashMap;

use crate::ids::{OrgId, UserId};
use crate::provisioning::groups;
use crate::provisioning::users::{self, etag};
use crate::provisioning::{Actor, Channel};
use crate::scim::ScimError;
use crate::scim::discovery::list_response;
use crate::scim::filter::Filter;
use crate::scim::patch::PatchRequest;
use crate::scim::resource::{self, Meta, Projection};
use crate::scim::schema::USER_RESOURCE;
use crate::store::filter::{self as sql_filter, SortOrder};
use crate::store::users::{self as store_users, UserRow};

/// Query parameters of `GET /Users` (RFC 7644 §3.4.2).
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    filter: Option<String>,
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

/// A query of users (RFC 7644 §3.4.2), from `GET /Users` parameters or a `SearchRequest` body
/// (§3.4.3): both are answered by [`search`].
#[derive(Debug, Default)]
pub struct Search {
    pub filter: Option<String>,
    pub sort_by: Option<String>,
    pub sort_order: Option<String>,
    pub start_index: Option<i64>,
    pub count: Option<i64>,
    pub projection: ResourceQuery,
}

impl ListQuery {
    fn into_search(self) -> Result<Search, ScimError> {
        Ok(Search {
            start_index: parse_number("startIndex", self.start_index.as_deref())?,
            count: parse_number("count", self.count.as_deref())?,
            filter: self.filter,
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

/// Answers a query of users (RFC 7644 §3.4.2, §3.4.3) with a ListResponse.
///
/// - `filter`: translated to SQL (`store::filter::translate`); an empty one is no filter.
/// - `sortBy` / `sortOrder` (§3.4.2.3): see `store::filter::sort`; an unknown `sortBy` or a
///   `sortOrder` other than `ascending`/`descending` (any case) is 400 `invalidValue`;
///   `sortOrder` without `sortBy` is ignored. Ties and unsorted listings are in id order, so
///   pages are stable.
/// - `startIndex` < 1 is read as 1; `count` < 0 as 0, above `filter.maxResults` as that
///   maximum (§3.4.2.4); `totalResults` is exact.
pub async fn search(
    auth: &Authenticated,
    state: &AppState,
    req: &HttpRequest,
    query: Search,
) -> Result<HttpResponse, ScimError> {
    let projection = query.projection.projection(&USER_RESOURCE)?;
    let filter = match query.filter.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(text) => {
            let parsed: Filter = text.parse()?;
            Some(sql_filter::translate(
                &USER_RESOURCE,
                &parsed.validate(&USER_RESOURCE)?,
            )?)
        }
    };
    let order = match query.sort_order.as_deref().map(str::trim) {
        None | Some("") => SortOrder::default(),
        Some(text) => SortOrder::parse(text)?,
    };
    let order = sql_filter::sort(&USER_RESOURCE, query.sort_by.as_deref(), order)?;
    let start_index = query.start_index.unwrap_or(1).max(1);
    let max = i64::from(state.max_results());
    let count = query
        .count
        .unwrap_or(i64::from(state.capabilities.default_page_size))
        .clamp(0, max);
    let list_query = store_users::ListQuery {
        filter,
        order: Some(order),
        offset: start_index - 1,
        limit: count,
    };
    let page = users::list(&state.store, &auth.0.org, list_query).await?;
    let base = base_url(state, req);
    let mut groups = groups_of(state, &auth.0.org, &page.rows, &base, &projection).await?;
    let resources: Vec<Value> = page
        .rows
        .iter()
        .map(|row| {
            let extra = groups.remove(&row.user_id()).unwrap_or_default();
            projection.apply(&USER_RESOURCE, render(row, &base, extra))
        })
        .collect();
    let total = u64::try_from(page.total).unwrap_or_default();
    let start = u64::try_from(start_index).unwrap_or(1);
    Ok(respond(
        StatusCode::OK,
        &list_response(resources, total, start),
    ))
}

/// `POST /Users`: 201 with the created user, `Location` and `ETag`.
pub async fn create(
    auth: Authenticated,
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<ResourceQuery>,
    body: ScimJson,
) -> Result<HttpResponse, ScimError> {
    let projection = query.projection(&USER_RESOURCE)?;
    let actor = Actor::from_principal(&auth.0, Channel::Scim);
    let row = users::create(&state.store, actor, body.into_inner()).await?;
    let base = base_url(&state, &req);
    let mut response = resource_response(
        &state,
        &auth.0.org,
        StatusCode::CREATED,
        &row,
        &base,
        &projection,
    )
    .await?;
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
    let projection = query.projection(&USER_RESOURCE)?;
    let row = users::get(&state.store, &auth.0.org, &id).await?;
    if if_none_match(&req).is_some_and(|v| v.contains(&row.version)) {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, etag(row.version)))
            .finish());
    }
    let base = base_url(&state, &req);
    resource_response(
        &state,
        &auth.0.org,
        StatusCode::OK,
        &row,
        &base,
        &projection,
    )
    .await
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
    let projection = query.projection(&USER_RESOURCE)?;
    let actor = Actor::from_principal(&auth.0, Channel::Scim);
    let precondition = if_match(&req)?;
    let row = users::replace(&state.store, actor, &id, body.into_inner(), precondition).await?;
    let base = base_url(&state, &req);
    resource_response(
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
    let projection = query.projection(&USER_RESOURCE)?;
    let actor = Actor::from_principal(&auth.0, Channel::Scim);
    let precondition = if_match(&req)?;
    let request = PatchRequest::from_json(body.into_inner())?;
    let row = users::patch(&state.store, actor, &id, request, precondition).await?;
    let base = base_url(&state, &req);
    resource_response(
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
    let body = projection.apply(&USER_RESOURCE, render(row, base, groups));
    let mut response = respond(status, &body);
    if let Ok(tag) = header::HeaderValue::from_str(&etag(row.version)) {
        response.headers_mut().insert(header::ETAG, tag);
    }
    Ok(response)
}

fn parse_number(name: &str, value: Option<&str>) -> Result<Option<i64>, ScimError> {
    value
        .map(|v| {
            v.trim().parse::<i64>().map_err(|_| {
                ScimError::invalid_value(format!("{name} must be an integer, not '{v}'"))
            })
        })
        .transpose()
}
