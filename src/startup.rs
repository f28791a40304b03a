//! Building the application: open the store, run migrations, load the token keys, bind the
//! listener (port 0 in tests) and assemble the route table.

use std::net::TcpListener;

use actix_web::dev::{Server, Service as _};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{App, HttpMessage as _, HttpServer, web};
use anyhow::Context as _;
use tracing_actix_web::{RequestId, TracingLogger};

use crate::auth::Verifier;
use crate::config::Settings;
use crate::http::origin::TrustedProxies;
use crate::http::{self, AppState};
use crate::provisioning::delivery::Worker;
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
        let events = settings
            .events
            .worker
            .then(|| Worker::new(store.clone(), settings.events.clone()))
            .transpose()
            .context("building the event delivery client")?;
        let event_settings = web::Data::new(settings.events.clone());
        let proxies = web::Data::new(TrustedProxies::new(
            settings.operations.trusted_proxies.clone(),
        ));
        let base_url = base_url(settings)?;
        let state = web::Data::new(AppState {
            store,
            verifier,
            base_url,
            capabilities: capabilities(settings),
            cursor_key,
        });
        let max_body = settings.max_body_bytes;
        let mut server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .app_data(event_settings.clone())
                .app_data(proxies.clone())
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
        let served = self.server.await;
        if let Some(worker) = worker {
            worker.abort();
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

/// `ROSTER_BASE_URL` without its trailing slash, refused unless it is an absolute `http` or
/// `https` URL; unset, a warning: responses then name the host each client asked for.
fn base_url(settings: &Settings) -> anyhow::Result<Option<String>> {
    let Some(url) = &settings.base_url else {
        tracing::warn!(
            "ROSTER_BASE_URL is not set: Location and meta.location name the host each request \
             asked for; set it in production (docs/operations.md)"
        );
        return Ok(None);
    };
    let url = url.trim_end_matches('/');
    let authority = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .map(|rest| {
            rest.split_once('/')
                .map_or(rest, |(authority, _)| authority)
        });
    match authority {
        Some(authority) if http::origin::is_host_and_port(authority) => Ok(Some(url.to_owned())),
        _ => anyhow::bail!(
            "ROSTER_BASE_URL must be an absolute http or https URL such as \
             https://roster.example.com/scim/v2, not '{url}'"
        ),
    }
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
    }
}
