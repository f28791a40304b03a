//! The admin API under `/admin/v1` (docs/admin-api.md): the "Manage users" screen of an org admin,
//! over JSON. Only `admin` tokens; errors are `{"error": code, "message": text}`.
//!
//! Every body and field is bounded here, at the edge (docs/limits.md, Admin API): a body limit,
//! a length per text field, no control characters where text cannot hold them. Below this
//! module nothing sees a value the database would refuse (PostgreSQL refuses NUL in text).

pub mod audit;
pub mod events;
pub mod openapi;
pub mod rate_limit;
pub mod requests;
pub mod retention;
pub mod schema_extensions;
pub mod tokens;
pub mod users;

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, web};
use serde::Serialize;

use super::extract::Authenticated;
use crate::auth::{Principal, Role};
use crate::scim::{ScimError, ScimType};

/// The largest admin request body, in bytes.
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// The longest deactivation `reason`, in characters.
pub const MAX_REASON_CHARS: usize = 1000;
/// The longest `q` of the user list, in characters.
pub const MAX_QUERY_CHARS: usize = 256;
/// The longest id (a path id, `user_id`), in characters; roster's ids are 36-character UUIDs.
pub const MAX_ID_CHARS: usize = 64;

/// Admin routes, relative to `/admin/v1`. Each is described in [`openapi::AdminApi`] (its
/// handler's `#[utoipa::path]`); tests/api/openapi.rs fails for a route that is not
/// (docs/architecture.md §11, "A new admin endpoint"). Register routes here, one
/// `web::resource` per path.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/openapi.json").route(web::get().to(openapi::document)))
        .service(web::resource("/users").route(web::get().to(users::list)))
        .service(web::resource("/users/deactivate").route(web::post().to(users::deactivate_many)))
        .service(web::resource("/users/activate").route(web::post().to(users::activate_many)))
        .service(web::resource("/users/{id}").route(web::get().to(users::get)))
        .service(web::resource("/users/{id}/deactivate").route(web::post().to(users::deactivate)))
        .service(web::resource("/users/{id}/activate").route(web::post().to(users::activate)))
        .service(web::resource("/users/{id}/release").route(web::post().to(users::release)))
        .service(web::resource("/users/{id}/restore").route(web::post().to(users::restore)))
        .service(web::resource("/audit-events").route(web::get().to(audit::list)))
        .service(
            web::resource("/event-subscriptions")
                .route(web::get().to(events::list))
                .route(web::post().to(events::create)),
        )
        .service(
            web::resource("/event-subscriptions/{id}")
                .route(web::get().to(events::get))
                .route(web::delete().to(events::delete)),
        )
        .service(
            web::resource("/event-subscriptions/{id}/deliveries")
                .route(web::get().to(events::deliveries)),
        )
        .service(
            web::resource("/event-subscriptions/{id}/test").route(web::post().to(events::test)),
        )
        .service(
            web::resource("/event-subscriptions/{id}/enable").route(web::post().to(events::enable)),
        )
        .service(
            web::resource("/tokens")
                .route(web::get().to(tokens::list))
                .route(web::post().to(tokens::create)),
        )
        .service(web::resource("/tokens/{jti}").route(web::delete().to(tokens::revoke)))
        .service(web::resource("/tokens/{jti}/rotate").route(web::post().to(tokens::rotate)))
        .service(
            web::resource("/rate-limit")
                .route(web::get().to(rate_limit::get))
                .route(web::put().to(rate_limit::put)),
        )
        .service(
            web::resource("/deleted-user-retention")
                .route(web::get().to(retention::get))
                .route(web::put().to(retention::put)),
        )
        .service(
            web::resource("/schema-extensions")
                .route(web::get().to(schema_extensions::list))
                .route(web::post().to(schema_extensions::create)),
        )
        .service(
            web::resource("/schema-extensions/{urn}")
                .route(web::get().to(schema_extensions::get))
                .route(web::delete().to(schema_extensions::delete)),
        )
        .service(web::resource("/scim-requests").route(web::get().to(requests::list)))
        .default_service(web::to(not_found));
}

/// An admin API error: a stable machine-readable `error` code and a `message` a person can act
/// on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, utoipa::ToSchema)]
#[error("{error}: {message}")]
pub struct AdminError {
    #[serde(skip)]
    status: u16,
    /// `Retry-After` seconds, on a 503.
    #[serde(skip)]
    retry_after: Option<u32>,
    /// Stable code, e.g. `not_found`, `forbidden`, `invalid_cursor`.
    #[schema(value_type = String)]
    pub error: &'static str,
    /// What went wrong, for a person.
    pub message: String,
}

impl AdminError {
    /// An error with an explicit status and code.
    pub fn new(status: u16, error: &'static str, message: impl Into<String>) -> AdminError {
        AdminError {
            status,
            retry_after: (status == 503).then_some(crate::http::error::RETRY_AFTER_SECONDS),
            error,
            message: message.into(),
        }
    }

    /// 400 `invalid_request`: a query parameter or body the API cannot use.
    pub fn invalid(message: impl Into<String>) -> AdminError {
        AdminError::new(400, "invalid_request", message)
    }
}

impl From<ScimError> for AdminError {
    /// The same failure in the admin vocabulary: the status is kept, the code derived from it.
    /// Its cause, if any, is logged here, where the admin API answers it
    /// ([`crate::http::error::log_cause`]); the admin body never carries it.
    fn from(e: ScimError) -> AdminError {
        crate::http::error::log_cause(&e);
        let code = match (e.status(), e.scim_type()) {
            (_, Some(ScimType::Uniqueness)) => "conflict",
            (_, Some(ScimType::InvalidCursor | ScimType::ExpiredCursor)) => "invalid_cursor",
            (400, _) => "invalid_request",
            (401, _) => "unauthorized",
            (403, _) => "forbidden",
            (404, _) => "not_found",
            (409, _) => "conflict",
            (412, _) => "precondition_failed",
            (413, _) => "payload_too_large",
            (503, _) => "unavailable",
            _ => "internal",
        };
        AdminError {
            retry_after: crate::http::error::retry_after(&e),
            ..AdminError::new(e.status(), code, e.detail())
        }
    }
}

impl ResponseError for AdminError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        if self.status == 401 {
            response.insert_header((
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"roster\""),
            ));
        }
        if let Some(secs) = self.retry_after {
            response.insert_header((header::RETRY_AFTER, secs));
        }
        response.json(self)
    }
}

/// An authenticated caller with the `admin` role. A provisioner token gets 403.
#[derive(Debug, Clone)]
pub struct Admin(pub Principal);

impl FromRequest for Admin {
    type Error = AdminError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AdminError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let authenticated = Authenticated::from_request(req, payload);
        Box::pin(async move {
            let Authenticated(principal) = authenticated.await.map_err(ScimError::from)?;
            if principal.role != Role::Admin {
                return Err(AdminError::new(
                    403,
                    "forbidden",
                    "the admin API needs a token with role 'admin'; this token's role is 'provisioner'",
                ));
            }
            Ok(Admin(principal))
        })
    }
}

async fn not_found(req: HttpRequest) -> Result<HttpResponse, AdminError> {
    Err(AdminError::new(
        404,
        "not_found",
        format!("no admin endpoint {} {}", req.method(), req.path()),
    ))
}

/// 413 `payload_too_large`: a body over [`MAX_BODY_BYTES`].
fn body_too_large() -> AdminError {
    AdminError::new(
        413,
        "payload_too_large",
        format!("the request body is larger than the admin API's limit of {MAX_BODY_BYTES} bytes"),
    )
}

/// Errors from the JSON body and query extractors, in the admin vocabulary.
pub fn json_config() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(MAX_BODY_BYTES)
        .content_type_required(false)
        .error_handler(|err, _req| match err {
            actix_web::error::JsonPayloadError::Overflow { .. }
            | actix_web::error::JsonPayloadError::OverflowKnownLength { .. } => {
                body_too_large().into()
            }
            err => AdminError::invalid(format!("the request body is not the expected JSON: {err}"))
                .into(),
        })
}

/// The raw body of a request, at most [`MAX_BODY_BYTES`]: for the endpoints whose body is
/// optional, which therefore cannot use the JSON extractor (and its limit).
pub async fn read_body(payload: web::Payload) -> Result<web::Bytes, AdminError> {
    match payload.to_bytes_limited(MAX_BODY_BYTES).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(e)) => Err(AdminError::invalid(format!(
            "the request body could not be read: {e}"
        ))),
        Err(_) => Err(body_too_large()),
    }
}

/// Which control characters a text field may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lines {
    /// None: one-line values (ids, search text).
    Refused,
    /// Tab, line feed and carriage return (free text such as a reason); no other.
    Allowed,
}

/// Checks a text field: at most `max` characters, and no control character (Unicode `Cc`:
/// NUL, escapes, DEL, C1) except the line breaks `lines` allows. The message names the field
/// and never echoes the value.
pub fn check_text(field: &str, value: &str, max: usize, lines: Lines) -> Result<(), AdminError> {
    if value.chars().count() > max {
        return Err(AdminError::invalid(format!(
            "'{field}' is longer than {max} characters"
        )));
    }
    let allowed = |c: char| lines == Lines::Allowed && matches!(c, '\t' | '\n' | '\r');
    if let Some(c) = value.chars().find(|&c| c.is_control() && !allowed(c)) {
        return Err(AdminError::invalid(format!(
            "'{field}' contains the control character U+{:04X}; remove it",
            u32::from(c)
        )));
    }
    Ok(())
}

/// [`check_text`] for an id (a path segment or `user_id`).
pub fn check_id(field: &str, value: &str) -> Result<(), AdminError> {
    check_text(field, value, MAX_ID_CHARS, Lines::Refused)
}

/// Query-string errors in the admin vocabulary.
pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err, _req| {
        AdminError::invalid(format!("invalid query parameter: {err}")).into()
    })
}
