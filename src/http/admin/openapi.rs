//! The OpenAPI 3.1 document of `/admin/v1`, served at `GET /admin/v1/openapi.json`, generated
//! from the handlers' `#[utoipa::path]` annotations and the `ToSchema` types they return, so it
//! cannot drift from them (docs/admin-api.md).
//!
//! A new admin endpoint (docs/architecture.md §11): derive `utoipa::ToSchema` on its request
//! and response types, put `#[utoipa::path(…)]` on its handler with its success responses, and
//! name the handler in `paths(…)` below. What every endpoint shares is added here
//! ([`Conventions`]): the bearer token and the error responses (401, 403, 503 and `default`,
//! all with the [`AdminError`] body). tests/api/openapi.rs fails while a registered route is
//! missing from the document, and validates every endpoint's real responses against it.

use std::sync::OnceLock;

use actix_web::HttpResponse;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use super::{
    AdminError, audit, events, rate_limit, requests, retention, schema_extensions, tokens, users,
};

/// The admin API's document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "roster admin API",
        description = "The org admin's API of roster (docs/admin-api.md). Every endpoint but this document needs a bearer token with role `admin`; errors are `{\"error\": code, \"message\": text}`.",
    ),
    paths(
        document,
        users::list,
        users::get,
        users::deactivate,
        users::activate,
        users::release,
        users::restore,
        users::deactivate_many,
        users::activate_many,
        audit::list,
        events::list,
        events::create,
        events::get,
        events::delete,
        events::deliveries,
        events::test,
        events::enable,
        tokens::list,
        tokens::create,
        tokens::revoke,
        tokens::rotate,
        rate_limit::get,
        rate_limit::put,
        retention::get,
        retention::put,
        schema_extensions::list,
        schema_extensions::create,
        schema_extensions::get,
        schema_extensions::delete,
        requests::list,
    ),
    components(schemas(AdminError)),
    modifiers(&Conventions),
    tags(
        (name = "users", description = "The org's users: list, read, deactivate (with a hold or not), activate (one or many), release a hold"),
        (name = "audit", description = "The org's audit log"),
        (name = "events", description = "Lifecycle event subscriptions and their deliveries (docs/events.md)"),
        (name = "tokens", description = "The org's bearer tokens: mint, list, rotate, revoke"),
        (name = "rate-limit", description = "The org's SCIM rate limit (docs/limits.md)"),
        (name = "deleted-user-retention", description = "How long the org's deleted users stay restorable (docs/admin-api.md)"),
        (name = "schema-extensions", description = "The org's own extension schemas (RFC 7643 §3.3): register, read, remove (docs/admin-api.md)"),
        (name = "scim-requests", description = "The org's SCIM request log"),
        (name = "meta", description = "This document"),
    )
)]
pub struct AdminApi;

/// The document as served.
pub fn json() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| AdminApi::openapi().to_json().unwrap_or_default())
}

/// `GET /admin/v1/openapi.json`: this API's OpenAPI 3.1 document. No token needed.
#[utoipa::path(get, path = "/admin/v1/openapi.json", tag = "meta", security(()),
    responses((status = 200, description = "The OpenAPI 3.1 document of /admin/v1", content_type = "application/json", body = Object)))]
pub async fn document() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(json())
}

/// What every endpoint but the document shares: the bearer token, and the errors the `Admin`
/// extractor and the store can answer with.
struct Conventions;

/// The error responses added to every authenticated operation that does not name them.
const ERRORS: &[(&str, &str)] = &[
    (
        "401",
        "No token, or a token that is not valid (`WWW-Authenticate: Bearer`)",
    ),
    ("403", "A token whose role is not `admin`"),
    (
        "503",
        "The database is unavailable or at capacity (`Retry-After`)",
    ),
    (
        "default",
        "Any other error: 400 `invalid_request` / `invalid_cursor` / …, 404 `not_found`, 409, 412, 413",
    ),
];

impl Modify for Conventions {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        for item in doc.paths.paths.values_mut() {
            for operation in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                authenticated(operation);
            }
        }
    }
}

/// Adds the bearer token and the shared errors to `operation`, unless it says it needs no
/// token (`security(())`).
fn authenticated(operation: &mut Operation) {
    let open = operation
        .security
        .as_ref()
        .is_some_and(|s| s.iter().all(|r| *r == SecurityRequirement::default()));
    if open {
        return;
    }
    operation.security = Some(vec![SecurityRequirement::new(
        "bearer",
        Vec::<String>::new(),
    )]);
    for (status, description) in ERRORS {
        operation
            .responses
            .responses
            .entry((*status).to_owned())
            .or_insert_with(|| {
                RefOr::T(
                    ResponseBuilder::new()
                        .description(*description)
                        .content(
                            "application/json",
                            ContentBuilder::new()
                                .schema(Some(Ref::from_schema_name("AdminError")))
                                .build(),
                        )
                        .build(),
                )
            });
    }
}
