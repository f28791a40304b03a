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
use crate::scim::ScimError;
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
            .route(web::post().to(groups::search_request))
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

/// The base URL of the SCIM API as clients reach it: `ROSTER_BASE_URL`, else from the request.
pub fn base_url(state: &AppState, req: &HttpRequest) -> String {
    match &state.base_url {
        Some(url) => url.clone(),
        None => {
            let info = req.connection_info();
            format!("{}://{}/scim/v2", info.scheme(), info.host())
        }
    }
}

/// A SCIM JSON response.
pub fn respond(status: StatusCode, body: &Value) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON)))
        .body(body.to_string())
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
