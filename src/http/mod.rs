//! The HTTP surface: routes, extractors, and the mapping of every failure to a SCIM error.
//! Handlers parse the request into typed values, call `provisioning/`, and render the result.

pub mod admin;
pub mod admission;
pub mod error;
pub mod extract;
pub mod rate_limit;
pub mod rejection;
pub mod request_log;
pub mod scim;

use actix_web::web;

use crate::auth::Verifier;
use crate::provisioning::Store;
use crate::scim::discovery::Capabilities;

/// What every handler shares, read-only after start.
pub struct AppState {
    /// The handle handlers pass to `provisioning` (never used to reach the store directly).
    pub store: Store,
    pub verifier: Verifier,
    /// `ROSTER_BASE_URL`, without a trailing slash; `None` = derived from each request.
    pub base_url: Option<String>,
    /// What `/ServiceProviderConfig` advertises and listings enforce.
    pub capabilities: Capabilities,
    /// Seals RFC 9865 cursors.
    pub cursor_key: crate::scim::cursor::CursorKey,
    /// Tokens minted through the admin API, rate limits, the SCIM request log.
    pub connectors: crate::provisioning::connectors::Connectors,
}

impl AppState {
    /// The most resources one page returns (`filter.maxResults`).
    pub fn max_results(&self) -> u32 {
        self.capabilities.max_page_size
    }
}

/// Registers every route of roster.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz))
        .service(
            web::scope("/scim/v2")
                .app_data(rate_limit::Limited)
                .wrap(actix_web::middleware::from_fn(request_log::record))
                .wrap(actix_web::middleware::from_fn(admission::admit))
                // Outermost: `/Users/`, `/Users/{id}/`, `/ServiceProviderConfig/`… are the
                // path without the slash (Entra and other clients send it), for admission, the
                // request log and the routes alike; the query string is kept.
                .wrap(actix_web::middleware::NormalizePath::trim())
                .configure(scim::routes),
        )
        .service(
            web::scope("/admin/v1")
                .app_data(admin::json_config())
                .app_data(admin::query_config())
                .configure(admin::routes),
        );
}

/// Liveness: the process answers.
async fn healthz() -> &'static str {
    "ok"
}

/// Readiness: the database answers. 503 while it does not, so a load balancer routes around
/// this node.
async fn readyz(state: web::Data<AppState>) -> actix_web::HttpResponse {
    match state.store.ping().await {
        Ok(_) => actix_web::HttpResponse::Ok().body("ready"),
        Err(e) => {
            tracing::warn!(error = %e, "not ready");
            actix_web::HttpResponse::ServiceUnavailable().body("database unavailable")
        }
    }
}
