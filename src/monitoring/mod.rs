//! Prometheus metrics (docs/operations.md, "Metrics"): the process-wide recorder of the
//! `metrics` facade, rendered in the Prometheus text format at `GET /metrics`.
//!
//! The facade lets any layer count with one macro call (`metrics::counter!(…)`) without a
//! registry handed down to it: the SQLite writer, the delivery worker and the audit log record
//! their own figures. Labels are bounded: methods, route templates (never a path with its ids),
//! statuses, actions, channels, outcomes; never an org, a user or an id.
//!
//! Gauges of state that lives elsewhere (the pool, the writes in flight, the delivery backlog)
//! are read when `/metrics` is scraped.

use std::sync::OnceLock;
use std::time::Duration;

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::store::Store;

mod names;
pub use names::{
    BUILD_INFO, DELIVERY_ATTEMPTS, DELIVERY_BACKLOG, HTTP_DURATION, HTTP_REQUESTS,
    LIFECYCLE_CHANGES, POOL_CONNECTIONS, POOL_MAX, REQUEST_WORK, SUBSCRIPTIONS_DISABLED,
    WRITE_BATCH_SIZE, WRITE_WAIT, WRITES_IN_FLIGHT,
};

/// Latency buckets, in seconds: 1 ms to 10 s.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Work buckets, in seconds: 100 µs to 10 s (5 ms is `ROSTER_RATE_LIMIT_WORK`'s default).
const WORK_BUCKETS: &[f64] = &[
    0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0,
];
/// Batch size buckets, up to the writer's largest batch.
const BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0];
/// How often histograms are folded into their buckets when nobody scrapes.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process's recorder, installed on first use. A process holds one recorder whatever the
/// number of applications it builds (tests build many): their figures add up.
pub fn handle() -> anyhow::Result<PrometheusHandle> {
    if let Some(handle) = HANDLE.get() {
        return Ok(handle.clone());
    }
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(HTTP_DURATION.to_owned()), LATENCY_BUCKETS)?
        .set_buckets_for_metric(Matcher::Full(WRITE_WAIT.to_owned()), LATENCY_BUCKETS)?
        .set_buckets_for_metric(Matcher::Full(REQUEST_WORK.to_owned()), WORK_BUCKETS)?
        .set_buckets_for_metric(Matcher::Full(WRITE_BATCH_SIZE.to_owned()), BATCH_BUCKETS)?
        .build_recorder();
    let handle = recorder.handle();
    // Another thread may have won the race; then its recorder is the one in use.
    if metrics::set_global_recorder(recorder).is_err() {
        return HANDLE
            .get()
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("another metrics recorder is installed"));
    }
    let handle = HANDLE.get_or_init(|| handle).clone();
    describe();
    metrics::gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
    let upkeep = handle.clone();
    std::thread::Builder::new()
        .name("roster-metrics-upkeep".to_owned())
        .spawn(move || {
            loop {
                std::thread::sleep(UPKEEP_INTERVAL);
                upkeep.run_upkeep();
            }
        })?;
    Ok(handle)
}

fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        HTTP_REQUESTS,
        "HTTP requests answered, by method, route template and status"
    );
    describe_histogram!(
        HTTP_DURATION,
        Unit::Seconds,
        "Time to answer an HTTP request (to the response head), by method, route template and status"
    );
    describe_histogram!(
        REQUEST_WORK,
        Unit::Seconds,
        "Time a SCIM request's work held a database connection, the SQLite writer or the compute pool (what the rate limit charges)"
    );
    describe_counter!(
        LIFECYCLE_CHANGES,
        "Audited changes written, by action and channel"
    );
    describe_gauge!(
        POOL_CONNECTIONS,
        "Database connections of the pool, by state (idle, in_use)"
    );
    describe_gauge!(POOL_MAX, "The most connections the pool opens");
    describe_gauge!(
        WRITES_IN_FLIGHT,
        "Writes admitted and not yet answered (bounded by ROSTER_WRITE_QUEUE)"
    );
    describe_histogram!(
        WRITE_BATCH_SIZE,
        "SQLite: requests committed by one transaction of the writer"
    );
    describe_histogram!(
        WRITE_WAIT,
        Unit::Seconds,
        "SQLite: time a write waited in the writer's queue"
    );
    describe_gauge!(
        DELIVERY_BACKLOG,
        "Event deliveries not yet delivered, over every org"
    );
    describe_counter!(
        DELIVERY_ATTEMPTS,
        "Event delivery attempts, by outcome (delivered, failed)"
    );
    describe_counter!(
        SUBSCRIPTIONS_DISABLED,
        "Event subscriptions disabled by the delivery worker"
    );
    describe_gauge!(BUILD_INFO, "Always 1, labelled with roster's version");
}

/// Counts one answered request. `route` is the matched route template; `None` (no route
/// matched) is labelled `unmatched`.
pub fn record_request(method: &str, route: Option<String>, status: u16, elapsed: Duration) {
    let labels = [
        ("method", method_label(method).to_owned()),
        ("route", route.unwrap_or_else(|| "unmatched".to_owned())),
        ("status", status.to_string()),
    ];
    metrics::counter!(HTTP_REQUESTS, &labels).increment(1);
    metrics::histogram!(HTTP_DURATION, &labels).record(elapsed.as_secs_f64());
}

/// Standard methods by name; any other (a client may send any token) as `other`.
fn method_label(method: &str) -> &'static str {
    match method {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "OPTIONS" => "OPTIONS",
        _ => "other",
    }
}

/// What `GET /metrics` needs.
pub struct Endpoint {
    /// The recorder's handle.
    pub handle: PrometheusHandle,
    /// The store whose pool and backlog are reported.
    pub store: Store,
    /// `ROSTER_WRITE_QUEUE`.
    pub write_queue: usize,
}

/// `GET /metrics`: the Prometheus text format (version 0.0.4). Unauthenticated, outside the
/// SCIM and admin scopes (no rate limit applies): keep it private (docs/operations.md).
pub async fn metrics(endpoint: web::Data<Endpoint>) -> HttpResponse {
    let pool = endpoint.store.pool_state();
    metrics::gauge!(POOL_CONNECTIONS, "state" => "idle").set(f64::from(pool.idle));
    metrics::gauge!(POOL_CONNECTIONS, "state" => "in_use")
        .set(f64::from(pool.connections.saturating_sub(pool.idle)));
    metrics::gauge!(POOL_MAX).set(f64::from(pool.max));
    metrics::gauge!(WRITES_IN_FLIGHT)
        .set(endpoint.store.writes_in_flight(endpoint.write_queue) as f64);
    match endpoint.store.delivery_backlog().await {
        Ok(backlog) => metrics::gauge!(DELIVERY_BACKLOG).set(backlog as f64),
        // The gauge keeps its last value; the failure shows in /readyz and the logs.
        Err(e) => tracing::warn!(error = %e, "metrics: could not count the delivery backlog"),
    }
    endpoint.handle.run_upkeep();
    HttpResponse::Ok()
        .insert_header((
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        ))
        .body(endpoint.handle.render())
}
