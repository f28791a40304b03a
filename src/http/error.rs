//! The one mapping from [`ScimError`] to an HTTP response (RFC 7644 §3.12), and the handlers that
//! turn actix's own failures (bad JSON, bad query strings, unknown paths, wrong methods) into
//! SCIM errors too.

use actix_web::error::{JsonPayloadError, QueryPayloadError};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, ResponseError};

use crate::scim::ScimError;

/// `application/scim+json`, the media type of every SCIM response (RFC 7644 §8.1).
pub const SCIM_JSON: &str = "application/scim+json";

/// `Retry-After` (RFC 9110 §10.2.3) on every 503 that names no time of its own: each is a
/// passing condition (a full queue, no connection in time, the write lock held elsewhere), so
/// the client should come back soon rather than give up; one second spreads the retries of a
/// burst.
pub const RETRY_AFTER_SECONDS: u32 = 1;

/// The `Retry-After` seconds of `err`: its own ([`ScimError::retry_after`]), else
/// [`RETRY_AFTER_SECONDS`] on a 503, else none.
pub fn retry_after(err: &ScimError) -> Option<u32> {
    err.retry_after()
        .or((err.status() == 503).then_some(RETRY_AFTER_SECONDS))
}

impl ResponseError for ScimError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((header::CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON)));
        if self.status() == 401 {
            // RFC 6750 §3: tell the client which scheme to use.
            response.insert_header((
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"roster\""),
            ));
        }
        if let Some(secs) = retry_after(self) {
            response.insert_header((header::RETRY_AFTER, secs));
        }
        response.body(self.body().to_string())
    }
}

/// Maps a JSON body failure: too large → 413, not JSON → 400 `invalidSyntax`, wrong media type
/// → 415.
pub fn json_error(err: JsonPayloadError, _req: &HttpRequest) -> actix_web::Error {
    let scim = match &err {
        JsonPayloadError::Overflow { limit }
        | JsonPayloadError::OverflowKnownLength { limit, .. } => ScimError::payload_too_large(
            format!("the request body is larger than the {limit} bytes this server accepts"),
        ),
        JsonPayloadError::ContentType => ScimError::unsupported_media_type(
            "send the body as application/scim+json or application/json",
        ),
        JsonPayloadError::Deserialize(e) => {
            ScimError::invalid_syntax(format!("the request body is not valid JSON: {e}"))
        }
        JsonPayloadError::Serialize(_) => ScimError::internal(),
        JsonPayloadError::Payload(e) => {
            ScimError::bad_request(format!("the request body could not be read: {e}"))
        }
        _ => ScimError::bad_request(format!("the request body could not be read: {err}")),
    };
    scim.into()
}

/// Maps a query-string failure to 400 `invalidValue`.
pub fn query_error(err: QueryPayloadError, _req: &HttpRequest) -> actix_web::Error {
    ScimError::invalid_value(format!("invalid query parameter: {err}")).into()
}

/// Any path under `/scim/v2` that names no endpoint.
pub async fn unknown_endpoint(req: HttpRequest) -> Result<HttpResponse, ScimError> {
    Err(ScimError::not_found(format!(
        "no SCIM endpoint at {}",
        req.path()
    )))
}

/// A handler for the methods an endpoint does not support: 405 with the SCIM error body and the
/// `Allow` header naming the methods it does (RFC 9110 §15.5.6).
pub fn method_not_allowed(allow: &'static str) -> actix_web::Route {
    actix_web::web::to(move |req: HttpRequest| async move {
        let error = ScimError::method_not_allowed(format!(
            "{} is not supported on {}; use {allow}",
            req.method(),
            req.path()
        ));
        let mut response = error.error_response();
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static(allow));
        response
    })
}
