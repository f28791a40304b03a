//! Building the application: open the store, run migrations, load the token keys and the
//! event signing key, bind the listener (port 0 in tests) and assemble the route table.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::{Server, Service as _};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{App, HttpMessage as _, HttpServer, web};
use anyhow::Context as _;
use tracing_actix_web::{RequestId, TracingLogger};

use crate::auth::{Signer, Verifier};
use crate::config::Settings;
use crate::http::{self, AppState, Jwks};
use crate::provisioning::connectors::{Background, Connectors};
use crate::provisioning::delivery::Worker;
use crate::provisioning::event_key;
use crate::scim::cursor::CursorKey;
use crate::scim::discovery::{BulkLimits, Capabilities};
use crate::store::{Store, StoreOptions};

/// Page size when a listing names no `count`.
const DEFAULT_PAGE_SIZE: u32 = 100;

/// A bound, not yet running, roster server.
pub struct Application {
    port: u16,
    server: Server,
    /// The event delivery worker, when this process runs one (docs/events.md).
    events: Option<Worker>,
    /// The connectors' background tasks (last used, rate limits, the SCIM request log).
    connectors: Background,
}

impl Application {
    /// Opens the database (running pending migrations), loads the keys and binds
    /// `settings.bind`. Fails with the cause when any of these fails.
    pub fn build(settings: &Settings) -> anyhow::Result<Application> {
        let store = open_store(settings)?;
        let jwt = settings.jwt()?;
        let verifier = Verifier::new(&jwt).context("loading the token keys")?;
        // Cursors must open on every node: derive their key from the deployment's token
        // secret; without one (public keys only), cursors work on the node that made them.
        let cursor_key = jwt
            .secret
            .as_ref()
            .map_or_else(CursorKey::random, |s| CursorKey::derive(s.expose()));
        let listener = TcpListener::bind(&settings.bind)
            .with_context(|| format!("binding {}", settings.bind))?;
        let port = listener.local_addr()?.port();
        let signer =
            Arc::new(event_key::load(&store, settings).context("loading the event signing key")?);
        let jwks = web::Data::new(Jwks(signer.jwks()));
        let events = settings
            .events
            .worker
            .then(|| {
                Worker::new(
                    store.clone(),
                    settings.events.clone(),
                    signer.clone(),
                    settings.events_issuer(),
                )
            })
            .transpose()
            .context("building the event delivery client")?;
        let event_settings = web::Data::new(settings.events.clone());
        let signer = jwt
            .secret
            .as_ref()
            .map(|s| Signer::new(s, &settings.jwt_issuer, &settings.jwt_audience));
        let (connectors, background) = Connectors::new(&store, &settings.connectors, signer);
        let console = web::Data::new(http::console::ConsoleConfig {
            policy: settings.console.policy(),
            secure_cookie: settings
                .base_url
                .as_deref()
                .is_some_and(|u| u.starts_with("https://")),
        });
        let state = web::Data::new(AppState {
            store,
            verifier,
            base_url: settings
                .base_url
                .as_ref()
                .map(|u| u.trim_end_matches('/').to_owned()),
            capabilities: capabilities(settings),
            cursor_key,
            connectors,
        });
        let max_body = settings.max_body_bytes;
        let admission = web::Data::new(http::admission::Admission::new(http::admission::Limits {
            org_requests: settings.admission.org_requests,
            wait: settings.admission.org_request_wait,
            largest_body: u64::try_from(max_body)
                .unwrap_or(u64::MAX)
                .max(settings.bulk_max_payload_bytes),
        }));
        let mut server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .app_data(admission.clone())
                .app_data(event_settings.clone())
                .app_data(jwks.clone())
                .app_data(console.clone())
                .app_data(
                    web::JsonConfig::default()
                        .limit(max_body)
                        // The media type is checked by the `ScimJson` extractor, which also
                        // accepts a body without a Content-Type.
                        .content_type_required(false)
                        .content_type(|m| http::extract::is_json_media_type(&m))
                        .error_handler(http::error::json_error),
                )
                .app_data(web::QueryConfig::default().error_handler(http::error::query_error))
                .configure(http::routes)
                .wrap_fn(|req, srv| {
                    let request_id = req.extensions().get::<RequestId>().copied();
                    let response = srv.call(req);
                    async move {
                        let mut response = response.await?;
                        if let Some(id) =
                            request_id.and_then(|id| HeaderValue::from_str(&id.to_string()).ok())
                        {
                            response
                                .headers_mut()
                                .insert(HeaderName::from_static("x-request-id"), id);
                        }
                        Ok(response)
                    }
                })
                .wrap(TracingLogger::<crate::telemetry::RosterRootSpan>::new())
        })
        .listen(listener)?;
        let workers = settings
            .workers
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
        // Database work runs on each worker's blocking threads; more of them than pooled
        // connections only wait for the pool, and every extra thread keeps its own allocator
        // cache (measured: a few hundred MiB of RSS under 16 clients without this bound).
        let blocking_threads = usize::try_from(settings.db_pool_size)
            .unwrap_or(8)
            .div_ceil(workers)
            .max(2);
        server = server
            .workers(workers)
            .worker_max_blocking_threads(blocking_threads);
        Ok(Application {
            port,
            server: server.run(),
            events,
            connectors: background,
        })
    }

    /// The port the listener is bound to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until the process is told to stop (SIGINT/SIGTERM: graceful shutdown). The event
    /// delivery worker runs as a task beside the server on this thread's runtime, and stops
    /// with it; an event it was sending is sent again by the next worker (at least once).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let worker = self.events.map(|w| tokio::spawn(w.run()));
        let connectors = self.connectors.spawn();
        let served = self.server.await;
        if let Some(worker) = worker {
            worker.abort();
        }
        for task in connectors {
            task.abort();
        }
        served
    }
}

/// Opens the pool, applies pending migrations and recomputes name keys made by an older rule.
pub fn open_store(settings: &Settings) -> anyhow::Result<Store> {
    open_store_with(settings, &settings.store_options())
}

/// [`open_store`] sized by `options` (the CLI's, say).
pub fn open_store_with(settings: &Settings, options: &StoreOptions) -> anyhow::Result<Store> {
    let store = Store::open_with(&settings.database_url, options)
        .with_context(|| format!("opening the {:?} database", settings.backend()))?;
    let applied = store.migrate().context("migrating the database")?;
    if applied > 0 {
        tracing::info!(applied, "database migrations applied");
    }
    // Name keys are computed in Rust, so a change of their rule is applied here, not in SQL.
    crate::store::rekey::run(&store).context("recomputing the userName and displayName keys")?;
    Ok(store)
}

fn capabilities(settings: &Settings) -> Capabilities {
    Capabilities {
        patch: true,
        bulk: Some(BulkLimits {
            max_operations: settings.bulk_max_operations,
            max_payload_size: settings.bulk_max_payload_bytes,
        }),
        filter_max_results: Some(settings.max_results),
        change_password: true,
        sort: true,
        etag: true,
        cursor_pagination: true,
        max_page_size: settings.max_results,
        default_page_size: DEFAULT_PAGE_SIZE.min(settings.max_results),
        security_event_uris: crate::events::set::EVENT_URIS.to_vec(),
    }
}
