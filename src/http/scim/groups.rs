//! `/Groups` and `/Groups/{id}` (RFC 7644 §3.3–§3.6; RFC 7643 §4.2).
//!
//! Members are read only when the response shows them (`excludedAttributes=members`, or an
//! `attributes` list without `members`, never loads them). PATCH answers 204 with the new `ETag`
//! (RFC 7644 §3.5.2 allows it; Entra asks for it, Okta accepts it) so that a membership change
//! costs what it changes; a PATCH that names `attributes` or `excludedAttributes` gets 200 with
//! the projected group.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{ResourceQuery, Search, base_url, parse_number, respond};
use crate::http::AppState;
use crate::http::extract::{Authenticated, ScimJson, if_match, if_none_match};
use crate::provisioning::groups::{self, GroupView};
use crate::provisioning::schema_extensions;
use crate::provisioning::search::{self as queries, QueryFilter};
use crate::provisioning::users::etag;
use crate::provisioning::{Actor, Channel};
use crate::scim::ScimError;
use crate::scim::discovery::list_response;
use crate::scim::patch::PatchRequest;
use crate::scim::resource::{self, Meta, Projection};
use crate::scim::schema::{GROUP_RESOURCE, ResourceKind, ResourceTypeDef};

/// Query parameters of `GET /Groups` (RFC 7644 §3.4.2).
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

/// `GET /Groups`: a ListResponse of the groups matching `filter`, in `sortBy` order (else by
/// id). Entra looks groups up with `displayName eq "…"` and `excludedAttributes=members`; Okta
/// pages through them with `startIndex` and `count`.
pub async fn list(
    auth: Authenticated,
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ScimError> {
    let query = query.into_inner();
    let search_query = Search {
        cursor: query.cursor,
        start_index: parse_number("startIndex", query.start_index.as_deref())?,
        count: parse_number("count", query.count.as_deref())?,
        filter: query.filter,
        sort_by: query.sort_by,
        sort_order: query.sort_order,
        projection: query.projection,
    };
    search(&auth, &state, &req, search_query).await
}

/// Answers a query of groups (RFC 7644 §3.4.2) with a ListResponse, as `/Users` does (see
/// [`Search`]). Members are read, for the whole page at once, only when the projection shows
/// them.
pub async fn search(
    auth: &Authenticated,
    state: &AppState,
    req: &HttpRequest,
    query: Search,
) -> Result<HttpResponse, ScimError> {
    let rt = group_type(state, auth).await?;
    if query.cursor.is_some() {
        return Err(ScimError::invalid_value(
            "cursor pagination (RFC 9865) is offered on /Users; page groups with startIndex",
        ));
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

/// One page of the groups matching `filter`, rendered and projected, and the number of matches.
pub async fn matching(
    auth: &Authenticated,
    state: &AppState,
    req: &HttpRequest,
    query: &Search,
    filter: Option<QueryFilter>,
    offset: i64,
    limit: i64,
) -> Result<(Vec<Value>, i64), ScimError> {
    let rt = group_type(state, auth).await?;
    let projection = query.projection.projection(&rt)?;
    let with_members = projection.includes(&GROUP_RESOURCE, "members");
    let page = queries::groups(
        &state.store,
        &auth.0.org,
        filter,
        query.order(&rt)?,
        offset,
        limit,
        with_members,
    )
    .await?;
    let base = base_url(state, req);
    let resources = page
        .groups
        .iter()
        .map(|view| projection.apply(&rt, render(view, &base)))
        .collect();
    Ok((resources, page.total))
}

/// `POST /Groups`: 201 with the group, `Location` and `ETag`. Entra's group schema URN is
/// accepted as an alias of the core one.
pub async fn create(
    auth: Authenticated,
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<ResourceQuery>,
    body: ScimJson,
) -> Result<HttpResponse, ScimError> {
    let rt = group_type(&state, &auth).await?;
    let projection = query.projection(&rt)?;
    let actor = Actor::from_principal(&auth.0, Channel::Scim);
    let with_members = projection.includes(&GROUP_RESOURCE, "members");
    let view = groups::create(&state.store, actor, body.into_inner(), with_members).await?;
    let base = base_url(&state, &req);
    let mut response = resource_response(&rt, StatusCode::CREATED, &view, &base, &projection);
    if let Ok(location) = header::HeaderValue::from_str(&location(&base, &view.row.id)) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// `GET /Groups/{id}`; 304 when `If-None-Match` names the current version (checked before
/// any member is read).
pub async fn get(
    auth: Authenticated,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    query: web::Query<ResourceQuery>,
) -> Result<HttpResponse, ScimError> {
    let rt = group_type(&state, &auth).await?;
    let projection = query.projection(&rt)?;
    let view = groups::get(&state.store, &auth.0.org, &id, false).await?;
    if if_none_match(&req).is_some_and(|v| v.contains(&view.row.version)) {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, etag(view.row.version)))
            .finish());
    }
    let view = if projection.includes(&GROUP_RESOURCE, "members") {
        groups::with_members(&state.store, view).await?
    } else {
        view
    };
    let base = base_url(&state, &req);
    Ok(resource_response(
        &rt,
        StatusCode::OK,
        &view,
        &base,
        &projection,
    ))
}

/// `PUT /Groups/{id}`: full replace, members included (RFC 7644 §3.5.1).
pub async fn replace(
    auth: Authenticated,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    query: web::Query<ResourceQuery>,
    body: ScimJson,
) -> Result<HttpResponse, ScimError> {
    let rt = group_type(&state, &auth).await?;
    let projection = query.projection(&rt)?;
    let actor = Actor::from_principal(&auth.0, Channel::Scim);
    let precondition = if_match(&req)?;
    let with_members = projection.includes(&GROUP_RESOURCE, "members");
    let view = groups::replace(
        &state.store,
        actor,
        &id,
        body.into_inner(),
        precondition,
        with_members,
    )
    .await?;
    let base = base_url(&state, &req);
    Ok(resource_response(
        &rt,
        StatusCode::OK,
        &view,
        &base,
        &projection,
    ))
}

/// `PATCH /Groups/{id}` (RFC 7644 §3.5.2): 204 with the new `ETag`, or 200 with the projected
/// group when `attributes` / `excludedAttributes` is given.
pub async fn patch(
    auth: Authenticated,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    query: web::Query<ResourceQuery>,
    body: ScimJson,
) -> Result<HttpResponse, ScimError> {
    let rt = group_type(&state, &auth).await?;
    let wants_body = query.attributes.is_some() || query.excluded_attributes.is_some();
    let projection = query.projection(&rt)?;
    let actor = Actor::from_principal(&auth.0, Channel::Scim);
    let precondition = if_match(&req)?;
    let request = PatchRequest::from_json(body.into_inner())?;
    let with_members = wants_body && projection.includes(&GROUP_RESOURCE, "members");
    let view = groups::patch(
        &state.store,
        actor,
        &id,
        request,
        precondition,
        with_members,
    )
    .await?;
    if !wants_body {
        return Ok(HttpResponse::NoContent()
            .insert_header((header::ETAG, etag(view.row.version)))
            .finish());
    }
    let base = base_url(&state, &req);
    Ok(resource_response(
        &rt,
        StatusCode::OK,
        &view,
        &base,
        &projection,
    ))
}

/// `DELETE /Groups/{id}`: 204.
pub async fn delete(
    auth: Authenticated,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ScimError> {
    let actor = Actor::from_principal(&auth.0, Channel::Scim);
    let precondition = if_match(&req)?;
    groups::delete(&state.store, actor, &id, precondition).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The org's Group resource type, with the org's own extension schemas.
async fn group_type(
    state: &AppState,
    auth: &Authenticated,
) -> Result<std::sync::Arc<ResourceTypeDef>, ScimError> {
    schema_extensions::resource_type(&state.store, &auth.0.org, ResourceKind::Group).await
}

/// The SCIM representation of a stored group (RFC 7643 §4.2): `members` as
/// `{value, $ref, display, type}` when they were loaded and there are any.
pub fn render(view: &GroupView, base: &str) -> Value {
    let row = &view.row;
    let meta = Meta {
        resource_type: GROUP_RESOURCE.name,
        created: row.created_at.and_utc(),
        last_modified: row.last_modified.and_utc(),
        location: location(base, &row.id),
        version: etag(row.version),
    };
    let mut extra = Map::new();
    if let Some(members) = view.members.as_ref().filter(|m| !m.is_empty()) {
        let rendered: Vec<Value> = members
            .iter()
            .map(|m| {
                let mut member = json!({
                    "value": m.member_id,
                    "$ref": format!("{base}/{}/{}", m.kind.endpoint(), m.member_id),
                    "type": m.kind.as_str(),
                });
                if let (Some(display), Value::Object(map)) = (&m.display, &mut member) {
                    map.insert("display".to_owned(), Value::String(display.clone()));
                }
                member
            })
            .collect();
        extra.insert("members".to_owned(), Value::Array(rendered));
    }
    resource::render(&row.attributes(), &row.id, &meta, extra)
}

/// `{base}/Groups/{id}`.
pub fn location(base: &str, id: &str) -> String {
    format!("{base}/Groups/{id}")
}

fn resource_response(
    rt: &ResourceTypeDef,
    status: StatusCode,
    view: &GroupView,
    base: &str,
    projection: &Projection,
) -> HttpResponse {
    let body = projection.apply(rt, render(view, base));
    let mut response = respond(status, &body);
    if let Ok(tag) = header::HeaderValue::from_str(&etag(view.row.version)) {
        response.headers_mut().insert(header::ETAG, tag);
    }
    response
}
