//! Settings from command-line flags and `ROSTER_*` environment variables (docs/configuration.md). Every
//! setting is both: `--bind` is `ROSTER_BIND`, and so on. Secrets are never printed.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;

use crate::auth::keys::{self, Secret};
use crate::auth::token::JwtSettings;
use crate::store::{self, Backend, StoreSettings, Synchronous};

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable, for a terminal.
    Pretty,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Everything roster can be configured with.
#[derive(Debug, Clone, clap::Args)]
pub struct Settings {
    /// Address to listen on (port 0 picks a free port).
    #[arg(
        long,
        env = "ROSTER_BIND",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    pub bind: String,

    /// `postgres://…` for PostgreSQL; a file path (or `sqlite://path`) for SQLite.
    #[arg(long, env = "DATABASE_URL", default_value = "roster.db", global = true)]
    pub database_url: String,

    /// HS256 secret for tokens (at least 32 bytes). Unset with SQLite: generated once and kept
    /// beside the database file (mode 0600).
    #[arg(long, env = "ROSTER_JWT_SECRET", hide_env_values = true, value_parser = parse_secret, global = true)]
    pub jwt_secret: Option<Secret>,

    /// A file of PEM public keys (RSA or EC P-256) or a JWKS document, for tokens issued
    /// elsewhere (RS256/ES256).
    #[arg(long, env = "ROSTER_JWT_PUBLIC_KEYS", global = true)]
    pub jwt_public_keys: Option<PathBuf>,

    /// Expected `iss` of every token.
    #[arg(
        long,
        env = "ROSTER_JWT_ISSUER",
        default_value = "roster",
        global = true
    )]
    pub jwt_issuer: String,

    /// Expected `aud` of every token.
    #[arg(
        long,
        env = "ROSTER_JWT_AUDIENCE",
        default_value = "roster",
        global = true
    )]
    pub jwt_audience: String,

    /// Allowed token algorithms, comma-separated (HS256, RS256, ES256, ...). Empty: HS256 when a
    /// secret is in use, RS256/ES256 as the public keys' types allow.
    #[arg(long, env = "ROSTER_JWT_ALGORITHMS", value_delimiter = ',', value_parser = parse_algorithm, global = true)]
    pub jwt_algorithms: Vec<jsonwebtoken::Algorithm>,

    /// Log format.
    #[arg(
        long,
        env = "ROSTER_LOG_FORMAT",
        value_enum,
        default_value = "pretty",
        global = true
    )]
    pub log_format: LogFormat,

    /// Public base URL of the SCIM API, e.g. `https://roster.example.com/scim/v2`, used in
    /// `meta.location` and `Location`. Unset: derived from each request.
    #[arg(long, env = "ROSTER_BASE_URL", global = true)]
    pub base_url: Option<String>,

    /// Largest accepted request body in bytes (larger → 413).
    #[arg(long, env = "ROSTER_MAX_BODY_BYTES", default_value_t = 1024 * 1024, global = true)]
    pub max_body_bytes: usize,

    /// Most operations one `/Bulk` request may carry (`bulk.maxOperations`, RFC 7644 §3.7.4);
    /// more → 413.
    #[arg(
        long,
        env = "ROSTER_BULK_MAX_OPERATIONS",
        default_value_t = 1000,
        global = true
    )]
    pub bulk_max_operations: u32,

    /// Largest `/Bulk` request body in bytes (`bulk.maxPayloadSize`, RFC 7644 §3.7.4); larger →
    /// 413. `/Bulk` bodies are limited by this setting, not by `ROSTER_MAX_BODY_BYTES`.
    #[arg(long, env = "ROSTER_BULK_MAX_PAYLOAD_BYTES", default_value_t = 1024 * 1024, global = true)]
    pub bulk_max_payload_bytes: u64,

    /// Largest page a listing returns (`filter.maxResults`).
    #[arg(
        long,
        env = "ROSTER_MAX_RESULTS",
        default_value_t = 1000,
        global = true
    )]
    pub max_results: u32,

    /// Database connections per process.
    #[arg(long, env = "ROSTER_DB_POOL_SIZE", default_value_t = 8, global = true)]
    pub db_pool_size: u32,

    /// How long to wait for a database connection before answering 503.
    #[arg(long, env = "ROSTER_DB_TIMEOUT", default_value = "5s", value_parser = humantime::parse_duration, global = true)]
    pub db_timeout: Duration,

    /// HTTP worker threads (default: one per core).
    #[arg(long, env = "ROSTER_WORKERS", global = true)]
    pub workers: Option<usize>,

    /// Writes admitted at once, queued or running; more are answered 503 with `Retry-After`.
    #[arg(
        long,
        env = "ROSTER_WRITE_QUEUE",
        default_value_t = 1024,
        global = true
    )]
    pub write_queue: usize,

    /// SQLite: a write still waiting for the writer after this long is answered 503 instead of
    /// run.
    #[arg(long, env = "ROSTER_WRITE_DEADLINE", default_value = "10s", value_parser = humantime::parse_duration, global = true)]
    pub write_deadline: Duration,

    /// Threads that hash passwords (argon2), apart from the database's threads.
    #[arg(long, env = "ROSTER_HASH_THREADS", default_value_t = 1, global = true)]
    pub hash_threads: usize,

    /// Passwords waiting to be hashed; more are answered 503 with `Retry-After`.
    #[arg(long, env = "ROSTER_HASH_QUEUE", default_value_t = 64, global = true)]
    pub hash_queue: usize,

    /// SQLite: how long a CLI command (`token revoke`, `org create`, …) waits for a running
    /// server's write lock before it gives up.
    #[arg(long, env = "ROSTER_CLI_LOCK_WAIT", default_value = "2m", value_parser = humantime::parse_duration, global = true)]
    pub cli_lock_wait: Duration,

    /// Bounds on the work of queries, and SQLite's durability.
    #[command(flatten)]
    pub queries: QuerySettings,

    /// Lifecycle event delivery (docs/events.md).
    #[command(flatten)]
    pub events: EventSettings,

    /// How organizations share the server (docs/limits.md, "Sharing the server between
    /// organizations").
    #[command(flatten)]
    pub admission: AdmissionSettings,

    /// Tokens, rate limits and the SCIM request log of the connectors an org admin runs
    /// (docs/admin-api.md).
    #[command(flatten)]
    pub connectors: ConnectorSettings,

    /// The admin console's sessions (docs/console.md).
    #[command(flatten)]
    pub console: ConsoleSettings,

    /// Proxies, metrics and shutdown (docs/operations.md).
    #[command(flatten)]
    pub operations: OperationsSettings,
}

/// Per-organization admission of SCIM requests (docs/limits.md, "Sharing the server between
/// organizations").
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct AdmissionSettings {
    /// SCIM requests one organization may have in flight at once in this process, a request
    /// counting one more for every 64 KiB of its body; more wait up to
    /// `ROSTER_ORG_REQUEST_WAIT`, then 503 with `Retry-After`.
    #[arg(long, env = "ROSTER_ORG_REQUESTS", default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..), global = true)]
    pub org_requests: u32,

    /// How long a SCIM request over its organization's `ROSTER_ORG_REQUESTS` waits for its turn
    /// before 503.
    #[arg(long, env = "ROSTER_ORG_REQUEST_WAIT", default_value = "2s", value_parser = humantime::parse_duration, global = true)]
    pub org_request_wait: Duration,
}

impl Default for AdmissionSettings {
    /// The defaults of the flags above.
    fn default() -> AdmissionSettings {
        AdmissionSettings {
            org_requests: 32,
            org_request_wait: Duration::from_secs(2),
        }
    }
}

/// Settings of the admin console's sessions (docs/console.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::Args)]
pub struct ConsoleSettings {
    /// A console session unused for this long ends.
    #[arg(long = "console-idle-timeout", env = "ROSTER_CONSOLE_IDLE_TIMEOUT", default_value = "30m", value_parser = humantime::parse_duration, global = true)]
    pub idle_timeout: Duration,

    /// A console session ends this long after sign-in, used or not (and never after the token
    /// it was opened with expires).
    #[arg(long = "console-session-lifetime", env = "ROSTER_CONSOLE_SESSION_LIFETIME", default_value = "12h", value_parser = humantime::parse_duration, global = true)]
    pub session_lifetime: Duration,
}

impl Default for ConsoleSettings {
    /// The defaults of the flags above.
    fn default() -> ConsoleSettings {
        ConsoleSettings {
            idle_timeout: Duration::from_secs(30 * 60),
            session_lifetime: Duration::from_secs(12 * 3600),
        }
    }
}

impl ConsoleSettings {
    /// The session policy of [`crate::provisioning::console`].
    pub fn policy(&self) -> crate::provisioning::console::SessionPolicy {
        crate::provisioning::console::SessionPolicy {
            idle_timeout: self.idle_timeout,
            lifetime: self.session_lifetime,
        }
    }
}

/// Settings of tokens minted through the admin API, per-org rate limits and the SCIM request
/// log (docs/configuration.md, "Connectors").
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct ConnectorSettings {
    /// How long the old token keeps working after `POST /admin/v1/tokens/{jti}/rotate`, unless
    /// the call names its own `overlap`.
    #[arg(long, env = "ROSTER_TOKEN_ROTATION_OVERLAP", default_value = "24h", value_parser = humantime::parse_duration, global = true)]
    pub token_rotation_overlap: Duration,

    /// How often a node writes when its tokens were last used (each token at most once a
    /// minute, in one batch).
    #[arg(long, env = "ROSTER_TOKEN_LAST_USED_FLUSH", default_value = "30s", value_parser = humantime::parse_duration, global = true)]
    pub token_last_used_flush: Duration,

    /// SCIM requests per second an organization may make on one node, by default (its admin
    /// may set another through `PUT /admin/v1/rate-limit`). 0: no limit.
    #[arg(
        long,
        env = "ROSTER_RATE_LIMIT_PER_SECOND",
        default_value_t = 100,
        global = true
    )]
    pub rate_limit_per_second: u32,

    /// SCIM requests an organization may make at once above its rate (the bucket's size), by
    /// default.
    #[arg(long, env = "ROSTER_RATE_LIMIT_BURST", default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..), global = true)]
    pub rate_limit_burst: u32,

    /// A SCIM request counts one more against its organization's rate limit for every this much
    /// time its work occupied the database, the SQLite writer or the compute pool (so costly
    /// requests, such as a large `/Bulk`, a search no index serves or a password hash, pay for
    /// what they take). 0: every request counts one.
    #[arg(long, env = "ROSTER_RATE_LIMIT_WORK", default_value = "5ms", value_parser = humantime::parse_duration, global = true)]
    pub rate_limit_work: Duration,

    /// How often a node reads the organizations' own rate limits, so that one set on another
    /// node holds here within this time.
    #[arg(long, env = "ROSTER_RATE_LIMIT_REFRESH", default_value = "10s", value_parser = humantime::parse_duration, global = true)]
    pub rate_limit_refresh: Duration,

    /// Keep the SCIM request log (`GET /admin/v1/scim-requests`).
    #[arg(long = "request-log", env = "ROSTER_REQUEST_LOG", default_value = "true", action = clap::ArgAction::Set, value_parser = clap::builder::BoolishValueParser::new(), global = true)]
    pub request_log: bool,

    /// How long the SCIM request log keeps a record; older ones are purged by the server.
    #[arg(long, env = "ROSTER_REQUEST_LOG_RETENTION", default_value = "30d", value_parser = humantime::parse_duration, global = true)]
    pub request_log_retention: Duration,

    /// How often a node purges the deleted users past their org's retention (every node runs
    /// the job; concurrent runs purge each user once).
    #[arg(long, env = "ROSTER_DELETED_USER_PURGE_INTERVAL", default_value = "1h", value_parser = parse_purge_interval, global = true)]
    pub deleted_user_purge_interval: Duration,
}

/// A purge interval: a duration of at least a second.
fn parse_purge_interval(text: &str) -> Result<Duration, String> {
    let every = humantime::parse_duration(text).map_err(|e| e.to_string())?;
    if every < Duration::from_secs(1) {
        return Err("must be at least 1s".to_owned());
    }
    Ok(every)
}

impl Default for ConnectorSettings {
    /// The defaults of the flags above.
    fn default() -> ConnectorSettings {
        ConnectorSettings {
            token_rotation_overlap: Duration::from_secs(24 * 3600),
            token_last_used_flush: Duration::from_secs(30),
            rate_limit_per_second: 100,
            rate_limit_burst: 200,
            rate_limit_work: Duration::from_millis(5),
            rate_limit_refresh: Duration::from_secs(10),
            request_log: true,
            request_log_retention: Duration::from_secs(30 * 24 * 3600),
            deleted_user_purge_interval: Duration::from_secs(3600),
        }
    }
}

/// Settings of running roster behind proxies and load balancers (docs/operations.md).
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct OperationsSettings {
    /// Addresses of the reverse proxies whose `Forwarded` / `X-Forwarded-*` headers are
    /// believed, comma-separated CIDRs or addresses (`10.0.0.0/8,fd00::/8`). Empty: none.
    #[arg(long, env = "ROSTER_TRUSTED_PROXIES", value_delimiter = ',', value_parser = crate::http::origin::parse_proxy, global = true)]
    pub trusted_proxies: Vec<ipnet::IpNet>,

    /// Serve `/metrics` on this address only (e.g. `127.0.0.1:9090`) rather than on the main
    /// listener.
    #[arg(long, env = "ROSTER_METRICS_BIND", global = true)]
    pub metrics_bind: Option<String>,

    /// On SIGTERM/SIGINT, how long requests in flight may take to finish before they are
    /// dropped.
    #[arg(long, env = "ROSTER_SHUTDOWN_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration, global = true)]
    pub shutdown_timeout: Duration,
}

impl Default for OperationsSettings {
    /// The defaults of the flags above.
    fn default() -> OperationsSettings {
        OperationsSettings {
            trusted_proxies: Vec::new(),
            metrics_bind: None,
            shutdown_timeout: Duration::from_secs(30),
        }
    }
}

/// Bounds on the database work of requests (docs/limits.md, "Queries") and SQLite's
/// `synchronous` setting (docs/operations-durability.md). Defaults are [`StoreSettings`]'s.
#[derive(Debug, Clone, clap::Args)]
pub struct QuerySettings {
    /// Longest a listing or search may run in the database before it is stopped with 400
    /// `tooMany` (PostgreSQL `statement_timeout`; SQLite: a budget checked per row).
    #[arg(long, env = "ROSTER_QUERY_TIMEOUT", default_value = "5s", value_parser = humantime::parse_duration, global = true)]
    pub query_timeout: Duration,

    /// Listings and searches one organization may run at once in this process; more wait up to
    /// `ROSTER_SCAN_WAIT`, then 503 with `Retry-After`.
    #[arg(long, env = "ROSTER_ORG_SCANS", default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..), global = true)]
    pub org_scans: u32,

    /// How long a listing or search waits for its organization's turn before 503.
    #[arg(long, env = "ROSTER_SCAN_WAIT", default_value = "2s", value_parser = humantime::parse_duration, global = true)]
    pub scan_wait: Duration,

    /// Database tasks this process admits at once (queued or running); more → 503 with
    /// `Retry-After`.
    #[arg(long, env = "ROSTER_DB_QUEUE", default_value_t = 128, value_parser = clap::value_parser!(u32).range(1..), global = true)]
    pub db_queue: u32,

    /// SQLite `PRAGMA synchronous`: `normal` (a commit survives a crash of the process, the
    /// last ones may be lost on power loss) or `full` (survives power loss; slower commits).
    #[arg(
        long,
        env = "ROSTER_SQLITE_SYNCHRONOUS",
        value_enum,
        default_value = "normal",
        global = true
    )]
    pub sqlite_synchronous: SqliteSynchronous,
}

/// The values of `ROSTER_SQLITE_SYNCHRONOUS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SqliteSynchronous {
    /// `PRAGMA synchronous = NORMAL`.
    Normal,
    /// `PRAGMA synchronous = FULL`.
    Full,
}

impl Default for QuerySettings {
    fn default() -> QuerySettings {
        let store = StoreSettings::default();
        QuerySettings {
            query_timeout: store.query_timeout,
            org_scans: store.org_scans,
            scan_wait: store.scan_wait,
            db_queue: store.max_tasks,
            sqlite_synchronous: match store.synchronous {
                Synchronous::Normal => SqliteSynchronous::Normal,
                Synchronous::Full => SqliteSynchronous::Full,
            },
        }
    }
}

impl QuerySettings {
    /// The store's view of these settings.
    pub fn store(&self) -> StoreSettings {
        StoreSettings {
            query_timeout: self.query_timeout,
            org_scans: self.org_scans,
            scan_wait: self.scan_wait,
            max_tasks: self.db_queue,
            synchronous: match self.sqlite_synchronous {
                SqliteSynchronous::Normal => Synchronous::Normal,
                SqliteSynchronous::Full => Synchronous::Full,
            },
        }
    }
}

/// Settings of lifecycle event delivery (docs/events.md).
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct EventSettings {
    /// Allow receiver URLs over plain `http` and to loopback or private addresses (tests and
    /// local development only).
    #[arg(long = "events-allow-insecure", env = "ROSTER_EVENTS_ALLOW_INSECURE", default_value = "false", action = clap::ArgAction::Set, value_parser = clap::builder::BoolishValueParser::new(), global = true)]
    pub allow_insecure: bool,

    /// Run the delivery worker in this process. With several nodes every node may run it.
    #[arg(long = "events-worker", env = "ROSTER_EVENTS_WORKER", default_value = "true", action = clap::ArgAction::Set, value_parser = clap::builder::BoolishValueParser::new(), global = true)]
    pub worker: bool,

    /// How often the worker looks for due deliveries when it is idle.
    #[arg(long = "events-poll-interval", env = "ROSTER_EVENTS_POLL_INTERVAL", default_value = "1s", value_parser = humantime::parse_duration, global = true)]
    pub poll_interval: Duration,

    /// The ceiling of the first retry's random delay; it doubles with each failure (capped at
    /// one hour).
    #[arg(long = "events-retry-base", env = "ROSTER_EVENTS_RETRY_BASE", default_value = "2s", value_parser = humantime::parse_duration, global = true)]
    pub retry_base: Duration,

    /// How long a subscription may fail without a success before it is disabled.
    #[arg(long = "events-retry-window", env = "ROSTER_EVENTS_RETRY_WINDOW", default_value = "24h", value_parser = humantime::parse_duration, global = true)]
    pub retry_window: Duration,

    /// Time limit of one delivery request, connecting included.
    #[arg(long = "events-timeout", env = "ROSTER_EVENTS_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration, global = true)]
    pub timeout: Duration,

    /// A PKCS#8 PEM EC P-256 private key that signs Security Event Tokens (`set`
    /// subscriptions). Unset: generated once, and kept beside the SQLite database (mode 0600)
    /// or, on PostgreSQL, in the database, so that every node signs with the same key.
    #[arg(
        long = "events-signing-key-file",
        env = "ROSTER_EVENTS_SIGNING_KEY_FILE",
        global = true
    )]
    pub signing_key_file: Option<PathBuf>,

    /// The `iss` of Security Event Tokens. Unset: `ROSTER_BASE_URL` when set, else `roster`.
    #[arg(long = "events-issuer", env = "ROSTER_EVENTS_ISSUER", global = true)]
    pub issuer: Option<String>,

    /// Advertise RFC 9967's `securityEvents` in `/ServiceProviderConfig`. Off by default:
    /// strict SCIM clients refuse the whole document when it carries an attribute they do not
    /// know (docs/events.md, "/ServiceProviderConfig").
    #[arg(long = "events-advertise", env = "ROSTER_EVENTS_ADVERTISE", default_value = "false", action = clap::ArgAction::Set, value_parser = clap::builder::BoolishValueParser::new(), global = true)]
    pub advertise: bool,
}

impl Default for EventSettings {
    /// The defaults of the flags above.
    fn default() -> EventSettings {
        EventSettings {
            allow_insecure: false,
            worker: true,
            poll_interval: Duration::from_secs(1),
            retry_base: Duration::from_secs(2),
            retry_window: Duration::from_secs(24 * 3600),
            timeout: Duration::from_secs(10),
            signing_key_file: None,
            issuer: None,
            advertise: false,
        }
    }
}

fn parse_secret(s: &str) -> Result<Secret, String> {
    Ok(Secret::from_config(s))
}

fn parse_algorithm(s: &str) -> Result<jsonwebtoken::Algorithm, String> {
    s.trim()
        .to_ascii_uppercase()
        .parse()
        .map_err(|_| format!("unknown JWT algorithm '{s}'"))
}

impl Settings {
    /// The backend `database_url` names.
    pub fn backend(&self) -> Backend {
        Backend::of_url(&self.database_url)
    }

    /// The HS256 secret in use: the configured one, else (SQLite only) the one kept beside the
    /// database, generated on first use. `None` when only public keys are configured.
    pub fn resolve_secret(&self) -> anyhow::Result<Option<Secret>> {
        if let Some(secret) = &self.jwt_secret {
            return Ok(Some(secret.clone()));
        }
        match store::sqlite_path(&self.database_url) {
            Some(db) => {
                let path = PathBuf::from(format!("{db}.jwt-secret"));
                let secret = keys::load_or_create_secret(&path).with_context(|| {
                    format!("reading or creating the JWT secret {}", path.display())
                })?;
                Ok(Some(secret))
            }
            None if self.jwt_public_keys.is_some() => Ok(None),
            None => anyhow::bail!(
                "no token key configured: with PostgreSQL set ROSTER_JWT_SECRET (the same on every node) \
                 or ROSTER_JWT_PUBLIC_KEYS"
            ),
        }
    }

    /// How the server's store is sized.
    pub fn store_options(&self) -> store::StoreOptions {
        store::StoreOptions {
            write_queue: self.write_queue,
            write_deadline: self.write_deadline,
            compute_threads: self.hash_threads,
            compute_queue: self.hash_queue,
            queries: self.queries.store(),
            ..store::StoreOptions::new(self.db_pool_size, self.db_timeout)
        }
    }

    /// How a CLI command's store is sized: one connection that waits [`Settings::cli_lock_wait`]
    /// for a server's write lock, where the server's own connections give up sooner.
    pub fn cli_store_options(&self) -> store::StoreOptions {
        store::StoreOptions {
            busy_timeout: self.cli_lock_wait,
            queries: self.queries.store(),
            ..store::StoreOptions::new(1, self.db_timeout)
        }
    }

    /// The `iss` of the Security Event Tokens this server sends: `ROSTER_EVENTS_ISSUER`, else
    /// `ROSTER_BASE_URL`, else `roster`.
    pub fn events_issuer(&self) -> String {
        self.events
            .issuer
            .clone()
            .or_else(|| self.base_url.clone())
            .unwrap_or_else(|| "roster".to_owned())
    }

    /// The token verification settings.
    pub fn jwt(&self) -> anyhow::Result<JwtSettings> {
        Ok(JwtSettings {
            secret: self.resolve_secret()?,
            public_keys: self.jwt_public_keys.clone(),
            issuer: self.jwt_issuer.clone(),
            audience: self.jwt_audience.clone(),
            algorithms: self.jwt_algorithms.clone(),
            leeway_seconds: 60,
        })
    }
}

#[cfg(test)]
mod admission_settings_tests {
    use clap::Parser as _;

    use super::AdmissionSettings;

    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        admission: AdmissionSettings,
    }

    #[test]
    fn the_default_is_what_the_flags_default_to() {
        let parsed = Cli::try_parse_from(["roster"]).unwrap();
        assert_eq!(parsed.admission, AdmissionSettings::default());
        assert!(Cli::try_parse_from(["roster", "--org-requests", "0"]).is_err());
    }
}

#[cfg(test)]
mod event_settings_tests {
    use clap::Parser as _;

    use super::EventSettings;

    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        events: EventSettings,
        #[command(flatten)]
        connectors: super::ConnectorSettings,
    }

    #[test]
    fn the_operations_default_is_what_the_flags_default_to() {
        #[derive(clap::Parser)]
        struct Ops {
            #[command(flatten)]
            operations: super::OperationsSettings,
        }
        let parsed = Ops::try_parse_from(["roster"]).unwrap();
        assert_eq!(parsed.operations, super::OperationsSettings::default());
        let proxies =
            Ops::try_parse_from(["roster", "--trusted-proxies", "10.0.0.0/8,192.168.1.7"]).unwrap();
        assert_eq!(proxies.operations.trusted_proxies.len(), 2);
        assert!(Ops::try_parse_from(["roster", "--trusted-proxies", "proxy.internal"]).is_err());
    }

    #[test]
    fn the_default_is_what_the_flags_default_to() {
        let parsed = Cli::try_parse_from(["roster"]).unwrap();
        assert_eq!(parsed.events, EventSettings::default());
        assert_eq!(parsed.connectors, super::ConnectorSettings::default());
        let insecure = Cli::try_parse_from(["roster", "--events-allow-insecure", "true"]).unwrap();
        assert!(insecure.events.allow_insecure);
    }
}

#[cfg(test)]
mod purge_interval_tests {
    use super::*;

    #[test]
    fn a_purge_interval_is_at_least_a_second() {
        assert_eq!(parse_purge_interval("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_purge_interval("1s"), Ok(Duration::from_secs(1)));
        assert!(
            parse_purge_interval("0s")
                .unwrap_err()
                .contains("at least 1s")
        );
        assert!(parse_purge_interval("500ms").is_err());
        assert!(parse_purge_interval("soon").is_err());
    }
}
