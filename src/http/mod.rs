//! The HTTP surface: routes, extractors, and the mapping of every failure to a SCIM error.
//! Handlers parse the request into typed values, call `provisioning/`, and render the result.

pub mod admin;
pub mod admission;
pub mod console;
pub mod error;
pub mod extract;
pub mod origin;
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
        .route("/.well-known/jwks.json", web::get().to(jwks))
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
        )
        // After `/admin/v1`, which it would otherwise shadow.
        .configure(console::routes);
}

/// The public keys that verify this server's Security Event Tokens (docs/events.md): a JWK Set
/// (RFC 7517 §5), served without authentication.
#[derive(Debug, Clone)]
pub struct Jwks(pub serde_json::Value);

/// `GET /.well-known/jwks.json`: the [`Jwks`], cacheable for five minutes.
async fn jwks(keys: web::Data<Jwks>) -> actix_web::HttpResponse {
    actix_web::HttpResponse::Ok()
        .insert_header(("Cache-Control", "public, max-age=300"))
        .json(&keys.0)
}

/// Liveness: the process answers.
async fn healthz() -> &'static str {
    "ok"
}

/// Readiness: the database answers and the process is not shutting down. 503 otherwise, so a
/// load balancer routes around this node.
async fn readyz(req: actix_web::HttpRequest) -> actix_web::HttpResponse {
    if req
        .app_data::<web::Data<crate::shutdown::Draining>>()
        .is_some_and(|d| d.is_draining())
    {
        return actix_web::HttpResponse::ServiceUnavailable().body("shutting down");
    }
    let Some(state) = req.app_data::<web::Data<AppState>>() else {
        return actix_web::HttpResponse::ServiceUnavailable().body("not configured");
    };
    match state.store.ping().await {
        Ok(_) => actix_web::HttpResponse::Ok().body("ready"),
        Err(e) => {
            tracing::warn!(error = %e, "not ready");
            actix_web::HttpResponse::ServiceUnavailable().body("database unavailable")
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use actix_web::{App, test, web};

    use crate::shutdown::{Draining, Shutdown};

    #[actix_web::test]
    async fn readyz_answers_503_once_shutdown_starts() {
        let draining = Arc::new(Draining::default());
        let app = test::init_service(
            App::new()
                .app_data(web::Data::from(draining.clone()))
                .route("/readyz", web::get().to(super::readyz)),
        )
        .await;
        let shutdown = Shutdown {
            servers: Vec::new(),
            draining,
        };
        shutdown.begin();
        let response =
            test::call_service(&app, test::TestRequest::get().uri("/readyz").to_request()).await;
        assert_eq!(response.status(), 503);
        assert_eq!(test::read_body(response).await, "shutting down");
    }
}
