//! The admin API under `/admin/v1` (DESIGN.md §1): the "Manage users" screen of an org admin,
//! over JSON. Only `admin` tokens; errors are `{"error": code, "message": text}`.

pub mod audit;
pub mod events;
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

/// Admin routes, relative to `/admin/v1`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/users").route(web::get().to(users::list)))
        .service(web::resource("/users/{id}").route(web::get().to(users::get)))
        .service(web::resource("/users/{id}/deactivate").route(web::post().to(users::deactivate)))
        .service(web::resource("/users/{id}/activate").route(web::post().to(users::activate)))
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
        .default_service(web::to(not_found));
}

/// An admin API error: a stable machine-readable `error` code and a `message` a person can act
/// on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[error("{error}: {message}")]
pub struct AdminError {
    #[serde(skip)]
    status: u16,
    /// Stable code, e.g. `not_found`, `forbidden`, `invalid_cursor`.
    pub error: &'static str,
    pub message: String,
}

impl AdminError {
    /// An error with an explicit status and code.
    pub fn new(status: u16, error: &'static str, message: impl Into<String>) -> AdminError {
        AdminError {
            status,
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
    fn from(e: ScimError) -> AdminError {
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
        AdminError::new(e.status(), code, e.detail())
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

/// Errors from the JSON body and query extractors, in the admin vocabulary.
pub fn json_config() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(16 * 1024)
        .content_type_required(false)
        .error_handler(|err, _req| {
            AdminError::invalid(format!("the request body is not the expected JSON: {err}")).into()
        })
}

/// Query-string errors in the admin vocabulary.
pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err, _req| {
        AdminError::invalid(format!("invalid query parameter: {err}")).into()
    })
}
