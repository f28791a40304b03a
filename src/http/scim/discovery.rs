//! `/ServiceProviderConfig`, `/ResourceTypes` and `/Schemas` (RFC 7644 §4). They describe the
//! service rather than a tenant's data, so any valid token may read them; `/ResourceTypes` and
//! `/Schemas` show the token's organization's own extension schemas as well.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::{base_url, respond};
use crate::http::AppState;
use crate::http::extract::Authenticated;
use crate::provisioning::schema_extensions;
use crate::scim::ScimError;
use crate::scim::discovery;

/// Resource types whose endpoints this build serves; `/ResourceTypes` lists only these.
const SERVED_RESOURCE_TYPES: &[&str] = &["User", "Group"];

/// Query of `/ServiceProviderConfig`: only to refuse a filter.
#[derive(Debug, serde::Deserialize)]
pub struct ConfigQuery {
    filter: Option<String>,
}

/// `GET /ServiceProviderConfig` (RFC 7643 §5). A `filter` is refused with 403 (RFC 7644 §4), so
/// that no client takes its conditions for true.
pub async fn service_provider_config(
    _auth: Authenticated,
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<ConfigQuery>,
) -> Result<HttpResponse, ScimError> {
    if query.filter.is_some() {
        return Err(ScimError::forbidden(
            "/ServiceProviderConfig cannot be filtered (RFC 7644 §4); GET it without a filter",
        ));
    }
    let base = base_url(&state, &req);
    Ok(respond(
        StatusCode::OK,
        &discovery::service_provider_config(&base, &state.capabilities),
    ))
}

/// `GET /ResourceTypes` (RFC 7643 §6), a ListResponse.
pub async fn resource_types(
    auth: Authenticated,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ScimError> {
    let base = base_url(&state, &req);
    let org = schema_extensions::of(&state.store, &auth.0.org).await?;
    let types: Vec<_> = discovery::resource_types(&base, &org.types())
        .into_iter()
        .filter(|t| {
            t.get("name")
                .and_then(|n| n.as_str())
                .is_some_and(|n| SERVED_RESOURCE_TYPES.contains(&n))
        })
        .collect();
    let total = types.len() as u64;
    Ok(respond(
        StatusCode::OK,
        &discovery::list_response(types, total, 1),
    ))
}

/// `GET /ResourceTypes/{name}`.
pub async fn resource_type(
    auth: Authenticated,
    state: web::Data<AppState>,
    req: HttpRequest,
    name: web::Path<String>,
) -> Result<HttpResponse, ScimError> {
    let base = base_url(&state, &req);
    let served = SERVED_RESOURCE_TYPES
        .iter()
        .any(|n| n.eq_ignore_ascii_case(&name));
    let org = schema_extensions::of(&state.store, &auth.0.org).await?;
    discovery::resource_type(&base, &org.types(), &name)
        .filter(|_| served)
        .map(|t| respond(StatusCode::OK, &t))
        .ok_or_else(|| ScimError::not_found(format!("no resource type '{name}'")))
}

/// `GET /Schemas` (RFC 7643 §7), a ListResponse.
pub async fn schemas(
    auth: Authenticated,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ScimError> {
    let base = base_url(&state, &req);
    let org = schema_extensions::of(&state.store, &auth.0.org).await?;
    let schemas = discovery::schemas(&base, &org.types());
    let total = schemas.len() as u64;
    Ok(respond(
        StatusCode::OK,
        &discovery::list_response(schemas, total, 1),
    ))
}

/// `GET /Schemas/{urn}`.
pub async fn schema(
    auth: Authenticated,
    state: web::Data<AppState>,
    req: HttpRequest,
    urn: web::Path<String>,
) -> Result<HttpResponse, ScimError> {
    let base = base_url(&state, &req);
    let org = schema_extensions::of(&state.store, &auth.0.org).await?;
    discovery::schema(&base, &org.types(), &urn)
        .map(|s| respond(StatusCode::OK, &s))
        .ok_or_else(|| ScimError::not_found(format!("no schema '{urn}'")))
}
