//! The names of roster's metrics, one constant each, described in [`super`] and in
//! docs/operations.md. A file of its own, importing nothing, so that any layer (the SQLite
//! writer, the audit log, the delivery worker) can name a metric without depending on the
//! exporter, which reads the store.

/// Requests answered, by `method`, `route` (the route template) and `status`.
pub const HTTP_REQUESTS: &str = "roster_http_requests_total";
/// Time from a request's routing to its response head, by `method`, `route`, `status`.
pub const HTTP_DURATION: &str = "roster_http_request_duration_seconds";
/// Time a SCIM request's work held a database connection, the SQLite writer or the compute
/// pool: what its organization's rate limit charges it for.
pub const REQUEST_WORK: &str = "roster_request_work_seconds";
/// Audited changes written, by `action` (`user.create`, `user.deactivate`, …) and `channel`
/// (`scim`, `admin`, `cli`).
pub const LIFECYCLE_CHANGES: &str = "roster_lifecycle_changes_total";
/// Connections of the pool, by `state` (`idle`, `in_use`).
pub const POOL_CONNECTIONS: &str = "roster_db_pool_connections";
/// The pool's size (`ROSTER_DB_POOL_SIZE`).
pub const POOL_MAX: &str = "roster_db_pool_max_connections";
/// Writes admitted and not yet answered (`ROSTER_WRITE_QUEUE` bounds it).
pub const WRITES_IN_FLIGHT: &str = "roster_db_writes_in_flight";
/// SQLite: requests committed by one transaction of the writer (group commit).
pub const WRITE_BATCH_SIZE: &str = "roster_sqlite_write_batch_size";
/// SQLite: how long a write waited in the writer's queue before it ran (or expired).
pub const WRITE_WAIT: &str = "roster_sqlite_write_wait_seconds";
/// Event deliveries not yet delivered, over every org.
pub const DELIVERY_BACKLOG: &str = "roster_event_delivery_backlog";
/// Delivery attempts, by `outcome` (`delivered`, `failed`).
pub const DELIVERY_ATTEMPTS: &str = "roster_event_delivery_attempts_total";
/// Subscriptions disabled by the worker (retry window exhausted, or 410 Gone).
pub const SUBSCRIPTIONS_DISABLED: &str = "roster_event_subscriptions_disabled_total";
/// Always 1, labelled with the `version`.
pub const BUILD_INFO: &str = "roster_build_info";
