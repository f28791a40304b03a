//! The one mapping from [`ScimError`] to an HTTP response (RFC 7644 §3.12), and the handlers that
//! turn actix's own failures (bad JSON, bad query strings, unknown paths, wrong methods) into
//! SCIM errors too.
//!
//! This is also where the cause of a failure is logged ([`log_cause`]): once, when the error
//! is answered, inside the request's root span (`telemetry::RosterRootSpan`), so the log line
//! carries the request's `request_id` (docs/architecture.md §9).

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

/// Logs the cause of `err`, if it has one ([`ScimError::cause`]), with the chain of its sources:
/// `error` for a 500, `warn` for a 503 (a passing condition) and anything else. Called where an
/// error is answered: [`ScimError`]'s `error_response`, the admin API's conversion of it, and a
/// Bulk response for each failed operation; nowhere else, so each cause is logged once. The
/// current span is the request's, whose `request_id` every line carries.
pub fn log_cause(err: &ScimError) {
    let Some(cause) = err.cause() else {
        return;
    };
    let mut chain = cause.to_string();
    let mut source = cause.source();
    while let Some(inner) = source {
        chain.push_str(": ");
        chain.push_str(&inner.to_string());
        source = inner.source();
    }
    let status = err.status();
    if status == 503 || status < 500 {
        tracing::warn!(status, cause = %chain, "request failed: {}", err.detail());
    } else {
        tracing::error!(status, cause = %chain, "request failed: {}", err.detail());
    }
}

impl ResponseError for ScimError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// The response, and the cause logged ([`log_cause`]).
    fn error_response(&self) -> HttpResponse {
        log_cause(self);
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
    let scim = match err {
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
        JsonPayloadError::Serialize(e) => ScimError::internal_from(e),
        JsonPayloadError::Payload(e) => {
            ScimError::bad_request(format!("the request body could not be read: {e}"))
        }
        other => ScimError::bad_request(format!("the request body could not be read: {other}")),
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

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::fmt::MakeWriter;

    use super::*;

    /// Log lines, captured.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Captured {
        type Writer = Captured;
        fn make_writer(&'a self) -> Captured {
            self.clone()
        }
    }

    /// What `f` logs inside a request span with `request_id` "req-7f3a".
    fn logged(f: impl FnOnce()) -> String {
        let captured = Captured::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(captured.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("HTTP request", request_id = "req-7f3a");
            span.in_scope(f);
        });
        let bytes = captured.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn a_500_is_opaque_and_its_cause_chain_is_logged_once_with_the_request_id() {
        #[derive(Debug, thiserror::Error)]
        #[error("database query failed")]
        struct Outer(#[source] std::io::Error);
        let err = ScimError::internal_from(Outer(std::io::Error::other("connection reset")));
        let mut response = None;
        let log = logged(|| response = Some(err.error_response()));
        let response = response.unwrap();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = actix_web::body::MessageBody::try_into_bytes(response.into_body()).unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["detail"], "internal server error");
        assert!(!body.to_string().contains("connection reset"));
        let lines: Vec<&str> = log.lines().collect();
        assert_eq!(lines.len(), 1, "{log}");
        assert!(lines[0].contains("ERROR"), "{log}");
        assert!(lines[0].contains("req-7f3a"), "{log}");
        assert!(
            lines[0].contains("database query failed: connection reset"),
            "{log}"
        );
    }

    #[test]
    fn a_503_logs_its_cause_as_a_warning_and_a_client_error_logs_nothing() {
        let busy = ScimError::unavailable("retry shortly").caused_by("no write lock in 5 s");
        let log = logged(|| drop(busy.error_response()));
        assert!(
            log.contains("WARN") && log.contains("no write lock in 5 s"),
            "{log}"
        );
        let log = logged(|| drop(ScimError::not_found("no user with id 'x'").error_response()));
        assert_eq!(log, "");
    }
}
