//! Logging: a tracing subscriber writing pretty or JSON lines, filtered by `RUST_LOG`, and the
//! root span of every HTTP request (request id, method, route, status, and the caller's org once
//! the token is verified).
//!
//! Query strings are never logged whole: filters carry e-mail addresses and names, so the span's
//! `http.target` is the path and the parameter names only ([`redacted_target`]).

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::{Error, HttpMessage as _};
use tracing::Span;
use tracing_actix_web::{DefaultRootSpanBuilder, RootSpanBuilder};
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the global subscriber. Safe to call more than once (later calls do nothing), so
/// tests can call it freely.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = match format {
        LogFormat::Pretty => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
    };
    // An error only means a subscriber is already installed.
    drop(result);
}

/// Root span of each request: tracing-actix-web's fields (including `request_id`) plus `org`,
/// recorded by the authentication extractor.
#[derive(Debug, Clone, Copy)]
pub struct RosterRootSpan;

impl RootSpanBuilder for RosterRootSpan {
    /// The fields of `tracing_actix_web::root_span!` (which `on_request_end` fills in), with
    /// `http.target` redacted.
    fn on_request_start(request: &ServiceRequest) -> Span {
        let user_agent = request
            .headers()
            .get(actix_web::http::header::USER_AGENT)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        let route = request
            .match_pattern()
            .unwrap_or_else(|| "default".to_owned());
        let method = request.method().as_str();
        let origin = crate::http::origin::origin(request.request());
        let client_ip = crate::http::origin::client_ip(request.request());
        let request_id = request
            .extensions()
            .get::<tracing_actix_web::RequestId>()
            .map(ToString::to_string)
            .unwrap_or_default();
        let target = redacted_target(request.path(), request.query_string());
        tracing::info_span!(
            "HTTP request",
            http.method = %method,
            http.route = %route,
            http.flavor = ?request.version(),
            http.scheme = %origin.scheme,
            http.host = %origin.authority,
            http.client_ip = %client_ip,
            http.user_agent = %user_agent,
            http.target = %target,
            http.status_code = tracing::field::Empty,
            otel.name = %format!("{method} {route}"),
            otel.kind = "server",
            otel.status_code = tracing::field::Empty,
            request_id = %request_id,
            exception.message = tracing::field::Empty,
            exception.details = tracing::field::Empty,
            org = tracing::field::Empty,
        )
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        let status = match outcome {
            Ok(response) => response.status().as_u16(),
            Err(e) => e.as_response_error().status_code().as_u16(),
        };
        DefaultRootSpanBuilder::on_request_end(span.clone(), outcome);
        // One line per request, carrying the span's fields (request id, method, route, org).
        tracing::info!(parent: &span, status, "request completed");
    }
}

/// Most parameter names [`redacted_target`] keeps; the rest are counted.
const MAX_LOGGED_PARAMETERS: usize = 16;

/// `path?name&name`: the request target without the parameter values (a filter carries e-mail
/// addresses, names and ids), so that info-level logs show what was asked without whom about.
/// Names longer than 32 bytes are cut.
pub fn redacted_target(path: &str, query: &str) -> String {
    if query.is_empty() {
        return path.to_owned();
    }
    let mut out = format!("{path}?");
    let names: Vec<&str> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').map_or(p, |(name, _)| name))
        .collect();
    for (i, name) in names.iter().take(MAX_LOGGED_PARAMETERS).enumerate() {
        if i > 0 {
            out.push('&');
        }
        let cut = name
            .char_indices()
            .map(|(at, c)| at + c.len_utf8())
            .take_while(|end| *end <= 32)
            .last()
            .unwrap_or(0);
        out.push_str(name.get(..cut).unwrap_or_default());
    }
    if names.len() > MAX_LOGGED_PARAMETERS {
        out.push_str(&format!("&…{} more", names.len() - MAX_LOGGED_PARAMETERS));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_target_keeps_the_path_and_parameter_names_only() {
        assert_eq!(redacted_target("/scim/v2/Users", ""), "/scim/v2/Users");
        assert_eq!(
            redacted_target(
                "/scim/v2/Users",
                "filter=userName+eq+%22ada%40example.com%22&count=10&startIndex"
            ),
            "/scim/v2/Users?filter&count&startIndex"
        );
        assert_eq!(
            redacted_target("/admin/v1/users", "q=ada%40example.com&&status=active"),
            "/admin/v1/users?q&status"
        );
        let long = "n".repeat(100);
        assert_eq!(
            redacted_target("/p", &format!("{long}=secret")),
            format!("/p?{}", "n".repeat(32))
        );
        let many = vec!["a=1"; 20].join("&");
        assert_eq!(
            redacted_target("/p", &many),
            format!("/p?{}&…4 more", vec!["a"; 16].join("&"))
        );
    }
}
