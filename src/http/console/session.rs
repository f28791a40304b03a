//! The console's sessions at the HTTP edge: its settings, the session cookie, refusals as pages
//! or JSON, and the CSRF check every state change passes.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use maud::Markup;

use super::pages;
use crate::http::AppState;
use crate::http::admin::AdminError;
use crate::provisioning::console::{self, Session, SessionPolicy};
use crate::scim::ScimError;

/// The session cookie's name.
pub const COOKIE: &str = "roster_console";

/// The origin roster is reached at: `ROSTER_BASE_URL`'s, else the request's.
pub(super) fn request_origin(req: &HttpRequest, state: &AppState) -> String {
    match &state.base_url {
        Some(base) => base.strip_suffix("/scim/v2").unwrap_or(base).to_owned(),
        None => {
            let info = req.connection_info();
            format!("{}://{}", info.scheme(), info.host())
        }
    }
}

/// The console's settings, shared by its handlers.
#[derive(Debug, Clone, Copy)]
pub struct ConsoleConfig {
    pub policy: SessionPolicy,
    /// Whether the session cookie is `Secure` (the base URL is https).
    pub secure_cookie: bool,
}

pub(super) fn html(status: StatusCode, markup: Markup) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(markup.into_string())
}

pub(super) fn config(req: &HttpRequest) -> ConsoleConfig {
    req.app_data::<web::Data<ConsoleConfig>>()
        .map(|c| *c.get_ref())
        .unwrap_or(ConsoleConfig {
            policy: crate::config::ConsoleSettings::default().policy(),
            secure_cookie: false,
        })
}

/// The `Set-Cookie` of a new session: the session id, `HttpOnly`, `SameSite=Strict`, for
/// `/admin` only.
pub(super) fn session_cookie(id: &str, config: &ConsoleConfig) -> String {
    let max_age = config.policy.lifetime.as_secs();
    let secure = if config.secure_cookie { "; Secure" } else { "" };
    format!("{COOKIE}={id}; Path=/admin; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}")
}

/// The `Set-Cookie` that removes the session cookie.
pub(super) fn clear_cookie(config: &ConsoleConfig) -> String {
    let secure = if config.secure_cookie { "; Secure" } else { "" };
    format!("{COOKIE}=; Path=/admin; HttpOnly; SameSite=Strict; Max-Age=0{secure}")
}

/// The session id the request's cookie carries.
pub(super) fn cookie_session_id(req: &HttpRequest) -> Option<String> {
    req.cookie(COOKIE)
        .map(|c| c.value().to_owned())
        .filter(|v| !v.is_empty())
}

/// Why a console request cannot go on.
pub(super) enum Refusal {
    /// No valid session: the sign-in page (or 401 JSON) with the reason.
    SignedOut(String),
    /// Anything else, with its status.
    Failed(ScimError),
}

impl From<ScimError> for Refusal {
    fn from(e: ScimError) -> Refusal {
        if e.status() == 401 {
            Refusal::SignedOut(e.detail().to_owned())
        } else {
            Refusal::Failed(e)
        }
    }
}

impl From<AdminError> for Refusal {
    fn from(e: AdminError) -> Refusal {
        Refusal::Failed(ScimError::bad_request(e.message))
    }
}

/// The request's session, checked.
pub(super) async fn session(req: &HttpRequest, state: &AppState) -> Result<Session, Refusal> {
    let Some(id) = cookie_session_id(req) else {
        return Err(Refusal::SignedOut(String::new()));
    };
    Ok(console::check(&state.store, config(req).policy, &id).await?)
}

/// A page's answer to a refusal: the sign-in page with the reason (and the cookie removed), or
/// an error page.
pub(super) fn page_refusal(req: &HttpRequest, refusal: Refusal) -> HttpResponse {
    match refusal {
        Refusal::SignedOut(why) if why.is_empty() => HttpResponse::SeeOther()
            .insert_header((header::LOCATION, "/admin"))
            .finish(),
        Refusal::SignedOut(why) => {
            let mut response = html(StatusCode::UNAUTHORIZED, pages::sign_in(Some(&why)));
            if let Ok(v) = HeaderValue::from_str(&clear_cookie(&config(req))) {
                response.headers_mut().append(header::SET_COOKIE, v);
            }
            response
        }
        Refusal::Failed(e) => error_page(&e, true),
    }
}

pub(super) fn error_page(e: &ScimError, signed_in: bool) -> HttpResponse {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let message = if e.status() >= 500 && e.status() != 503 {
        "roster could not complete this request; try again, and if it persists, ask the operator \
         to look at the server's log"
    } else {
        e.detail()
    };
    html(status, pages::error(e.status(), message, signed_in))
}

/// A JSON endpoint's answer to a refusal: the admin API's error body.
pub(super) fn json_refusal(refusal: Refusal) -> HttpResponse {
    use actix_web::ResponseError as _;
    match refusal {
        Refusal::SignedOut(why) => {
            let why = if why.is_empty() {
                "you are signed out; sign in again".to_owned()
            } else {
                why
            };
            AdminError::new(401, "unauthorized", why).error_response()
        }
        Refusal::Failed(e) => AdminError::from(e).error_response(),
    }
}

/// Refuses a state change whose `Origin` is another site, or without the session's CSRF token.
/// `Origin` is compared with the request's `Host` and with `ROSTER_BASE_URL`'s origin (for a
/// proxy that rewrites `Host`).
pub(super) fn check_csrf(
    req: &HttpRequest,
    state: &AppState,
    session: &Session,
    presented: Option<&str>,
) -> Result<(), Refusal> {
    if let Some(origin) = req.headers().get(header::ORIGIN) {
        let host = req.connection_info().host().to_owned();
        let origin = origin.to_str().unwrap_or_default();
        let same = origin
            .split_once("://")
            .is_some_and(|(_, rest)| rest == host)
            || origin == request_origin(req, state);
        if !same {
            return Err(Refusal::Failed(ScimError::forbidden(
                "this request came from another site; use the console's own pages",
            )));
        }
    }
    let presented = presented.or_else(|| {
        req.headers()
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
    });
    match presented {
        Some(token) if console::csrf_matches(session, token) => Ok(()),
        _ => Err(Refusal::Failed(ScimError::forbidden(
            "the request's CSRF token is missing or wrong; reload the page and try again",
        ))),
    }
}
