//! Logging: a tracing subscriber writing pretty or JSON lines, filtered by `RUST_LOG`, and the
//! root span of every HTTP request (request id, method, route, status, and the caller's org once
//! the token is verified).

use actix_web::Error;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
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
    fn on_request_start(request: &ServiceRequest) -> Span {
        tracing_actix_web::root_span!(request, org = tracing::field::Empty)
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
