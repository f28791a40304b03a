//! What a node keeps for the connectors org admins run (docs/admin-api.md): the signer of
//! the tokens it mints, when its tokens were last used, the per-org rate limits and the SCIM
//! request log; and [`Background`], the tasks that write the first and the last, re-read the
//! rate limits, purge the log and purge deleted users past their retention.

use std::sync::Arc;
use std::time::Duration;

use super::last_used::LastUsed;
use super::rate_limits::{Limit, RateLimits};
use super::request_log::{self, RequestLog, Writer};
use super::retention;
use crate::auth::{Principal, Signer};
use crate::clock;
use crate::config::ConnectorSettings;
use crate::ids::OrgId;
use crate::scim::ScimError;
use crate::store::Store;

/// How often the request log is purged of records past its retention.
pub const PURGE_INTERVAL: Duration = Duration::from_secs(3600);
/// When a node first purges the request log after it started.
pub const FIRST_PURGE: Duration = Duration::from_secs(60);

/// The connectors' state of one node, shared by its HTTP workers.
#[derive(Debug)]
pub struct Connectors {
    /// Mints tokens through the admin API; `None` when the node has no HS256 secret (public
    /// keys only).
    pub signer: Option<Arc<Signer>>,
    /// The overlap of a rotation that names none.
    pub rotation_overlap: Duration,
    pub last_used: Arc<LastUsed>,
    pub rate_limits: Arc<RateLimits>,
    pub request_log: RequestLog,
}

impl Connectors {
    /// The state for `settings`, and its background tasks (to be run beside the server).
    pub fn new(
        store: &Store,
        settings: &ConnectorSettings,
        signer: Option<Signer>,
    ) -> (Connectors, Background) {
        let (request_log, writer) = RequestLog::new(settings.request_log);
        let connectors = Connectors {
            signer: signer.map(Arc::new),
            rotation_overlap: settings.token_rotation_overlap,
            last_used: Arc::default(),
            rate_limits: Arc::new(RateLimits::new(
                Limit::new(settings.rate_limit_per_second, settings.rate_limit_burst),
                settings.rate_limit_work,
            )),
            request_log,
        };
        let background = Background {
            store: store.clone(),
            settings: settings.clone(),
            last_used: Arc::clone(&connectors.last_used),
            rate_limits: Arc::clone(&connectors.rate_limits),
            writer,
        };
        (connectors, background)
    }

    /// Takes a request of `org` from its rate limit (429 beyond it).
    pub fn admit(&self, org: &OrgId) -> Result<(), ScimError> {
        self.rate_limits.check(org)
    }

    /// Charges `org`'s rate limit for the work of a request once it has all ended
    /// ([`RateLimits::charge`]), and counts it in `roster_request_work_seconds`.
    pub fn charge(&self, org: &OrgId, work: Duration) {
        metrics::histogram!(crate::monitoring::REQUEST_WORK).record(work.as_secs_f64());
        self.rate_limits.charge(org, work);
    }

    /// Notes that `principal`'s token was used now.
    pub fn used(&self, principal: &Principal) {
        self.last_used.touch(&principal.token_id, clock::unix_now());
    }
}

/// The background work of [`Connectors`].
#[derive(Debug)]
pub struct Background {
    store: Store,
    settings: ConnectorSettings,
    last_used: Arc<LastUsed>,
    rate_limits: Arc<RateLimits>,
    writer: Option<Writer>,
}

impl Background {
    /// Starts the tasks on the current runtime; they run until aborted (with the server):
    /// writing last-used marks every `ROSTER_TOKEN_LAST_USED_FLUSH`, re-reading the rate limits
    /// every `ROSTER_RATE_LIMIT_REFRESH`, writing the request log as it arrives and purging it
    /// every [`PURGE_INTERVAL`] (the first time [`FIRST_PURGE`] after start), and purging the
    /// deleted users past their org's retention every `ROSTER_DELETED_USER_PURGE_INTERVAL`
    /// ([`retention::purge_expired`]; the first time [`FIRST_PURGE`] after start). A failure is
    /// logged and tried again on the next round.
    pub fn spawn(self) -> Vec<tokio::task::JoinHandle<()>> {
        let Background {
            store,
            settings,
            last_used,
            rate_limits,
            writer,
        } = self;
        let mut tasks = Vec::with_capacity(5);
        let (flush_store, every) = (store.clone(), settings.token_last_used_flush);
        tasks.push(tokio::spawn(async move {
            loop {
                actix_web::rt::time::sleep(every).await;
                if let Err(e) = last_used.flush(&flush_store, clock::unix_now()).await {
                    tracing::warn!(error = %e, "writing when tokens were last used failed");
                }
            }
        }));
        let (refresh_store, every) = (store.clone(), settings.rate_limit_refresh);
        tasks.push(tokio::spawn(async move {
            loop {
                if let Err(e) = rate_limits.refresh(&refresh_store).await {
                    tracing::warn!(error = %e, "reading the organizations' rate limits failed");
                }
                actix_web::rt::time::sleep(every).await;
            }
        }));
        let (purge_store, every) = (store.clone(), settings.deleted_user_purge_interval);
        tasks.push(tokio::spawn(async move {
            // Not at start, as the request log's purge.
            actix_web::rt::time::sleep(FIRST_PURGE.min(every)).await;
            loop {
                match retention::purge_expired(&purge_store, clock::now()).await {
                    Ok(purged) if purged.is_empty() => {}
                    Ok(purged) => tracing::info!(
                        purged = purged.len(),
                        "deleted users past their org's retention purged"
                    ),
                    Err(e) => tracing::warn!(error = %e, "purging deleted users failed"),
                }
                actix_web::rt::time::sleep(every).await;
            }
        }));
        if let Some(writer) = writer {
            tasks.push(tokio::spawn(writer.run(store.clone())));
            let retention = settings.request_log_retention;
            tasks.push(tokio::spawn(async move {
                loop {
                    // Not at start: a node starting is busy enough (migrations, re-keying).
                    actix_web::rt::time::sleep(FIRST_PURGE).await;
                    match request_log::purge(&store, retention).await {
                        Ok(0) => {}
                        Ok(purged) => tracing::info!(purged, "SCIM request log records purged"),
                        Err(e) => {
                            tracing::warn!(error = %e, "purging the SCIM request log failed")
                        }
                    }
                    actix_web::rt::time::sleep(PURGE_INTERVAL.saturating_sub(FIRST_PURGE)).await;
                }
            }));
        }
        tasks
    }
}
