//! `/scim/v2` (RFC 7644): routes and the response helpers its handlers share.

pub mod bulk;
pub mod discovery;
pub mod groups;
pub mod me;
pub mod search;
pub mod users;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::Value;

use super::AppState;
use super::error::{SCIM_JSON, method_not_allowed, unknown_endpoint};
use crate::provisioning::search::{Order, QueryFilter};
use crate::scim::ScimError;
use crate::scim::filter::Filter;
use crate::scim::resource::Projection;
use crate::scim::schema::ResourceTypeDef;

/// The SCIM routes, relative to `/scim/v2`. Every path and method not listed answers with a
/// SCIM error (404 or 405).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/Users")
            .route(web::get().to(users::list))
            .route(web::post().to(users::create))
            .default_service(method_not_allowed("GET, POST")),
    )
    // Before `/Users/{id}`, which would take `.search` for an id.
    .service(
        web::resource("/Users/.search")
            .route(web::post().to(search::users))
            .default_service(method_not_allowed("POST")),
    )
    .service(
        web::resource("/.search")
            .route(web::post().to(search::root))
            .default_service(method_not_allowed("POST")),
    )
    .service(
        web::resource("/Users/{id}")
            .route(web::get().to(users::get))
            .route(web::put().to(users::replace))
            .route(web::patch().to(users::patch))
            .route(web::delete().to(users::delete))
            .default_service(method_not_allowed("GET, PUT, PATCH, DELETE")),
    )
    .service(
        web::resource("/Groups")
            .route(web::get().to(groups::list))
            .route(web::post().to(groups::create))
            .default_service(method_not_allowed("GET, POST")),
    )
    // Before `/Groups/{id}`, which would take `.search` for an id.
    .service(
        web::resource("/Groups/.search")
            .route(web::post().to(search::groups))
            .default_service(method_not_allowed("POST")),
    )
    .service(
        web::resource("/Groups/{id}")
            .route(web::get().to(groups::get))
            .route(web::put().to(groups::replace))
            .route(web::patch().to(groups::patch))
            .route(web::delete().to(groups::delete))
            .default_service(method_not_allowed("GET, PUT, PATCH, DELETE")),
    )
    .service(
        web::resource("/Bulk")
            .route(web::post().to(bulk::post))
            .default_service(method_not_allowed("POST")),
    )
    .service(
        web::resource("/Me")
            .route(web::get().to(me::get))
            .route(web::put().to(me::replace))
            .route(web::patch().to(me::patch))
            .route(web::delete().to(me::delete))
            .default_service(method_not_allowed("GET, PUT, PATCH, DELETE")),
    )
    .service(
        web::resource("/ServiceProviderConfig")
            .route(web::get().to(discovery::service_provider_config))
            .default_service(method_not_allowed("GET")),
    )
    .service(
        web::resource("/ResourceTypes")
            .route(web::get().to(discovery::resource_types))
            .default_service(method_not_allowed("GET")),
    )
    .service(
        web::resource("/ResourceTypes/{name}")
            .route(web::get().to(discovery::resource_type))
            .default_service(method_not_allowed("GET")),
    )
    .service(
        web::resource("/Schemas")
            .route(web::get().to(discovery::schemas))
            .default_service(method_not_allowed("GET")),
    )
    .service(
        web::resource("/Schemas/{urn}")
            .route(web::get().to(discovery::schema))
            .default_service(method_not_allowed("GET")),
    )
    .default_service(web::to(unknown_endpoint));
}

/// The base URL of the SCIM API as clients reach it: `ROSTER_BASE_URL`, else from the request
/// (a validated scheme and `host[:port]`, forwarded only by trusted proxies: [`super::origin`]).
pub fn base_url(state: &AppState, req: &HttpRequest) -> String {
    match &state.base_url {
        Some(url) => url.clone(),
        None => {
            let origin = super::origin::origin(req);
            format!("{}://{}/scim/v2", origin.scheme, origin.authority)
        }
    }
}

/// A SCIM JSON response.
pub fn respond(status: StatusCode, body: &Value) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON)))
        .body(body.to_string())
}

/// A query of resources (RFC 7644 §3.4.2), from `GET` parameters or a `SearchRequest` body
/// (§3.4.3).
#[derive(Debug, Default)]
pub struct Search {
    pub filter: Option<String>,
    /// RFC 9865: present (empty for the first page) to page by cursor rather than index.
    pub cursor: Option<String>,
    pub sort_by: Option<String>,
    pub sort_order: Option<String>,
    pub start_index: Option<i64>,
    pub count: Option<i64>,
    pub projection: ResourceQuery,
}

impl Search {
    /// `startIndex` (1-based) and `count` per RFC 7644 §3.4.2.4: `startIndex` < 1 is read as 1;
    /// `count` < 0 as 0 and above `filter.maxResults` as that maximum; no `count` is the default
    /// page size.
    pub fn bounds(&self, state: &AppState) -> (i64, i64) {
        let start_index = self.start_index.unwrap_or(1).max(1);
        let count = self
            .count
            .unwrap_or(i64::from(state.capabilities.default_page_size))
            .clamp(0, i64::from(state.max_results()));
        (start_index, count)
    }

    /// The filter, parsed and validated against `rt`, for `provisioning::search` (which
    /// translates it); `None` when absent or empty.
    pub fn filter(&self, rt: &ResourceTypeDef) -> Result<Option<QueryFilter>, ScimError> {
        match self.filter.as_deref().map(str::trim) {
            None | Some("") => Ok(None),
            Some(text) => {
                let valid = text.parse::<Filter>()?.validate(rt)?;
                Ok(Some(QueryFilter::new(rt, valid)?))
            }
        }
    }

    /// `sortBy` / `sortOrder` (§3.4.2.3) for `rt`; ties and unsorted listings in id order, so
    /// pages are stable.
    pub fn order(&self, rt: &ResourceTypeDef) -> Result<Order, ScimError> {
        Order::new(rt, self.sort_by.as_deref(), self.sort_order.as_deref())
    }
}

/// Parses an integer query parameter; anything else is 400 `invalidValue`.
pub fn parse_number(name: &str, value: Option<&str>) -> Result<Option<i64>, ScimError> {
    value
        .map(|v| {
            v.trim().parse::<i64>().map_err(|_| {
                ScimError::invalid_value(format!("{name} must be an integer, not '{v}'"))
            })
        })
        .transpose()
}

/// The query parameters shared by reads and writes of resources (RFC 7644 §3.4.2, §3.9).
#[derive(Debug, Default, Deserialize)]
pub struct ResourceQuery {
    pub attributes: Option<String>,
    #[serde(rename = "excludedAttributes")]
    pub excluded_attributes: Option<String>,
}

impl ResourceQuery {
    /// The projection these parameters ask for.
    pub fn projection(&self, rt: &ResourceTypeDef) -> Result<Projection, ScimError> {
        Projection::parse(
            rt,
            self.attributes.as_deref(),
            self.excluded_attributes.as_deref(),
        )
    }
}
