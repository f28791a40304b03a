//! `/Users` and `/Users/{id}` (RFC 7644 §3.3–§3.6).

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{ResourceQuery, base_url, respond};
use crate::http::AppState;
use crate::http::extract::{Authenticated, ScimJson, if_match, if_none_match};
use crate::provisioning::users::{self, etag};
use crate::provisioning::{Actor, Channel};
use crate::scim::ScimError;
use crate::scim::discovery::list_response;
use crate::scim::filter::Filter;
use crate::scim::patch::PatchRequest;
use crate::scim::resource::{self, Meta, Projection};
use crate::scim::schema::USER_RESOURCE;
use crate::store::filter as sql_filter;
use crate::store::users::UserRow;

/// Query parameters of `GET /Users` (RFC 7644 §3.4.2).
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    filter: Option<String>,
    #[serde(rename = "startIndex")]
    start_index: Option<String>,
    count: Option<String>,
    #[serde(flatten)]
    projection: ResourceQuery,
}

/// `GET /Users`: a ListResponse of the users matching `filter`, ordered by id.
pub async fn list(
    auth: Authenticated,
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ScimError> {
    let query = query.into_inner();
    let projection = query.projection.projection(&USER_RESOURCE)?;
    let filter = match query.filter.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(text) => {
            let parsed: Filter = text.parse()?;
            Some(sql_filter::translate(&parsed.validate(&USER_RESOURCE)?)?)
        }
    };
    // RFC 7644 §3.4.2.4: startIndex < 1 is read as 1; count < 0 as 0; both clamped to the
    // server's page size.
    let start_index = parse_number("startIndex", query.start_index.as_deref())?
        .unwrap_or(1)
        .max(1);
    let max = i64::from(state.max_results());
    let count = parse_number("count", query.count.as_deref())?
        .unwrap_or(i64::from(state.capabilities.default_page_size))
        .clamp(0, max);
    let page = users::list(&state.store, &auth.0.org, filter, start_index - 1, count).await?;
    let base = base_url(&state, &req);
    let resources: Vec<Value> = page
        .rows
        .iter()
        .map(|row| projection.apply(&USER_RESOURCE, render(row, &base)))
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
    let mut response = resource_response(StatusCode::CREATED, &row, &base, &projection);
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
    Ok(resource_response(StatusCode::OK, &row, &base, &projection))
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
    Ok(resource_response(StatusCode::OK, &row, &base, &projection))
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
    Ok(resource_response(StatusCode::OK, &row, &base, &projection))
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

/// The full SCIM representation of a stored user.
pub fn render(row: &UserRow, base: &str) -> Value {
    let meta = Meta {
        resource_type: USER_RESOURCE.name,
        created: row.created_at.and_utc(),
        last_modified: row.last_modified.and_utc(),
        location: location(base, row),
        version: etag(row.version),
    };
    resource::render(&row.attributes(), &row.id, &meta, Map::new())
}

fn location(base: &str, row: &UserRow) -> String {
    format!("{base}/Users/{}", row.id)
}

fn resource_response(
    status: StatusCode,
    row: &UserRow,
    base: &str,
    projection: &Projection,
) -> HttpResponse {
    let body = projection.apply(&USER_RESOURCE, render(row, base));
    let mut response = respond(status, &body);
    if let Ok(tag) = header::HeaderValue::from_str(&etag(row.version)) {
        response.headers_mut().insert(header::ETAG, tag);
    }
    response
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
