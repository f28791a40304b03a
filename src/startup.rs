//! Building the application: open the store, run migrations, load the token keys and the
//! event signing key, bind the listener (port 0 in tests) and assemble the route table.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Instant;

use actix_web::dev::{Server, Service as _};
use actix_web::http::ConnectionType;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{App, HttpMessage as _, HttpServer, web};
use anyhow::Context as _;
use tracing_actix_web::{RequestId, TracingLogger};

use crate::auth::{Signer, Verifier};
use crate::config::Settings;
use crate::http::origin::TrustedProxies;
use crate::http::{self, AppState, Jwks};
use crate::monitoring;
use crate::provisioning::connectors::{Background, Connectors};
use crate::provisioning::delivery::Worker;
use crate::provisioning::event_key;
use crate::scim::cursor::CursorKey;
use crate::scim::discovery::{BulkLimits, Capabilities};
use crate::shutdown::{Draining, Shutdown};
use crate::store::{Store, StoreOptions};

/// PostgreSQL connections of the event delivery worker, beside the request pool
/// ([`Store::with_own_pool`]; docs/configuration.md, `ROSTER_DB_POOL_SIZE`).
const WORKER_CONNECTIONS: u32 = 2;

/// Page size when a listing names no `count`.
const DEFAULT_PAGE_SIZE: u32 = 100;
/// How much longer than one delivery attempt (`ROSTER_EVENTS_TIMEOUT`) the worker may take to
/// stop at shutdown: its bookkeeping after the attempt.
const EVENTS_GRACE_MARGIN: std::time::Duration = std::time::Duration::from_secs(5);

/// A bound, not yet running, roster server.
pub struct Application {
    port: u16,
    server: Server,
    /// The `/metrics` listener, when `ROSTER_METRICS_BIND` is set, and its port.
    metrics: Option<(Server, u16)>,
    /// The event delivery worker, when this process runs one (docs/events.md).
    events: Option<Worker>,
    /// The connectors' background tasks (last used, rate limits, the SCIM request log).
    connectors: Background,
    /// How long the worker may take to finish its attempt once the server has stopped.
    events_grace: std::time::Duration,
    shutdown: Shutdown,
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
        let events = if settings.events.worker {
            let store = store
                .with_own_pool(&settings.database_url, WORKER_CONNECTIONS)
                .context("opening the event delivery worker's connections")?;
            Some(
                Worker::new(
                    store,
                    settings.events.clone(),
                    signer.clone(),
                    settings.events_issuer(),
                )
                .context("building the event delivery client")?,
            )
        } else {
            None
        };
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
        let proxies = web::Data::new(TrustedProxies::new(
            settings.operations.trusted_proxies.clone(),
        ));
        let base_url = base_url(settings)?;
        let draining = Arc::new(Draining::default());
        let metrics = web::Data::new(monitoring::Endpoint {
            handle: monitoring::handle().context("installing the metrics recorder")?,
            store: store.clone(),
            write_queue: settings.write_queue,
        });
        let metrics_on_main = settings.operations.metrics_bind.is_none();
        let state = web::Data::new(AppState {
            store,
            verifier,
            base_url,
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
        let app_draining = web::Data::from(draining.clone());
        let app_metrics = metrics.clone();
        let mut server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .app_data(app_draining.clone())
                .app_data(admission.clone())
                .app_data(event_settings.clone())
                .app_data(proxies.clone())
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
                .configure(|cfg| {
                    // Outside the SCIM and admin scopes: no authentication, no rate limit.
                    if metrics_on_main {
                        cfg.app_data(app_metrics.clone())
                            .route("/metrics", web::get().to(monitoring::metrics));
                    }
                })
                .wrap_fn(|req, srv| {
                    let request_id = req.extensions().get::<RequestId>().copied();
                    let started = Instant::now();
                    let method = req.method().clone();
                    let route = req.match_pattern();
                    let draining = req
                        .app_data::<web::Data<Draining>>()
                        .is_some_and(|d| d.is_draining());
                    let response = srv.call(req);
                    async move {
                        let response = response.await;
                        let status = match &response {
                            Ok(r) => r.status(),
                            Err(e) => e.as_response_error().status_code(),
                        };
                        monitoring::record_request(
                            method.as_str(),
                            route,
                            status.as_u16(),
                            started.elapsed(),
                        );
                        let mut response = response?;
                        if draining {
                            // Shutting down: the client opens its next connection elsewhere,
                            // and no kept-alive connection holds the shutdown back.
                            response
                                .response_mut()
                                .head_mut()
                                .set_connection_type(ConnectionType::Close);
                        }
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
        let shutdown_secs = settings
            .operations
            .shutdown_timeout
            .as_secs()
            .saturating_add(u64::from(
                settings.operations.shutdown_timeout.subsec_nanos() > 0,
            ));
        server = server
            .workers(workers)
            .worker_max_blocking_threads(blocking_threads)
            .shutdown_timeout(shutdown_secs)
            // Signals are handled by `shutdown::on_signals` (the `serve` command), not by actix.
            .disable_signals();
        let server = server.run();
        let metrics = match &settings.operations.metrics_bind {
            None => None,
            Some(bind) => Some(metrics_server(bind, metrics)?),
        };
        let shutdown = Shutdown {
            servers: std::iter::once(server.handle())
                .chain(metrics.as_ref().map(|(m, _)| m.handle()))
                .collect(),
            draining,
        };
        Ok(Application {
            port,
            server,
            metrics,
            events,
            connectors: background,
            events_grace: settings.events.timeout.saturating_add(EVENTS_GRACE_MARGIN),
            shutdown,
        })
    }

    /// The port the listener is bound to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port of the `/metrics` listener, when `ROSTER_METRICS_BIND` is set.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics.as_ref().map(|(_, port)| *port)
    }

    /// What starts this application's graceful shutdown (`serve` calls it on SIGTERM/SIGINT).
    pub fn shutdown(&self) -> Shutdown {
        self.shutdown.clone()
    }

    /// Serves until [`Shutdown::begin`] (graceful: docs/operations.md, "Shutdown"). The event
    /// delivery worker runs on a thread of its own ([`Worker::spawn`]); once the server has answered the
    /// requests in flight, the worker finishes the attempt it is making (at most the event
    /// timeout and a margin, else it is dropped: the event is sent again by the next worker, at
    /// least once) and this returns.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let worker = self.events.map(Worker::spawn).transpose()?;
        let metrics = self.metrics.map(|(server, _)| tokio::spawn(server));
        let connectors = self.connectors.spawn();
        let served = self.server.await;
        // The server stopped (and if not through `begin`, the metrics listener stops now).
        self.shutdown.begin();
        if let Some(worker) = worker {
            if worker.stop(self.events_grace).await {
                tracing::info!("event delivery stopped");
            } else {
                tracing::warn!(
                    "event delivery did not stop in time; its attempt will be made again"
                );
            }
        }
        for task in connectors {
            task.abort();
        }
        if let Some(metrics) = metrics {
            // Stopped with the main server; its result is not the process's.
            drop(metrics.await);
        }
        tracing::info!("roster stopped");
        served
    }
}

/// The `/metrics` listener on `bind` (`ROSTER_METRICS_BIND`), alone, and its port.
fn metrics_server(
    bind: &str,
    endpoint: web::Data<monitoring::Endpoint>,
) -> anyhow::Result<(Server, u16)> {
    let listener =
        TcpListener::bind(bind).with_context(|| format!("binding ROSTER_METRICS_BIND {bind}"))?;
    let port = listener.local_addr()?.port();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(endpoint.clone())
            .route("/metrics", web::get().to(monitoring::metrics))
    })
    .listen(listener)?
    .workers(1)
    .disable_signals()
    .run();
    Ok((server, port))
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
        // Advertised only when asked (docs/events.md, "ServiceProviderConfig"): RFC 9967 §4's
        // `securityEvents` makes strict SCIM clients refuse the whole document (scim2-tester's
        // pydantic models forbid unknown attributes).
        security_event_uris: if settings.events.advertise {
            crate::events::set::EVENT_URIS.to_vec()
        } else {
            Vec::new()
        },
    }
}
