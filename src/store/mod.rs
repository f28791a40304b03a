//! Storage: one diesel connection type for SQLite and PostgreSQL, one r2d2 pool, embedded
//! migrations per backend, and the tenant-scoped queries.
//!
//! The backend is chosen by the URL: `postgres://…` or `postgresql://…` is PostgreSQL, anything
//! else (a path, or `sqlite://path`) is an SQLite file. Queries are written once against
//! [`DbConnection`]; the only per-backend code is here (connection set-up, `BEGIN IMMEDIATE`) and
//! in the SQL of a few expressions. The statements every request runs are still written once,
//! and run through `native!` on the backend's own connection type (the same text compiled for
//! each backend), which spares diesel's `MultiConnection` re-rendering their SQL on every run.

/// Runs `$body` with `$c` bound to the backend's own connection (`PgConnection` or
/// `SqliteConnection`) instead of the [`DbConnection`] wrapper; `$body` is compiled once per
/// backend. For the statements on every request's path: through the wrapper, diesel's
/// `MultiConnection` renders a statement's whole SQL text several times per run (to decide it
/// may be cached, to bind, to find it in the cache), while on the backend's own connection a
/// statement of a fixed shape is found in the cache by its type. Same SQL either way.
macro_rules! native {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::store::DbConnection::Pg($c) => $body,
            $crate::store::DbConnection::Sqlite($c) => $body,
        }
    };
}

pub mod api_tokens;
pub mod audit;
pub mod budget;
pub mod caseless;
pub mod compute;
pub mod console;
pub mod deleted_users;
pub mod events;
pub mod extension_values;
pub mod fair;
pub mod filter;
pub mod groups;
pub mod import;
pub mod json;
pub mod lower;
pub mod monitoring;
pub mod orgs;
pub mod rate_limits;
pub mod rekey;
pub mod request_log;
pub mod retention;
pub mod schema;
pub mod schema_extensions;
pub mod sqlite_file;
pub mod tokens;
pub mod users;
pub mod writer;

mod connection;
mod error;
mod pool;
#[cfg(test)]
mod tests;
mod tx;

pub use connection::{Manager, PooledConnection, Synchronous};
pub use error::{StoreError, foreign_key_violation, unique_violation};
pub use pool::{Store, StoreOptions, StoreSettings};
pub use tx::write_tx;
pub(crate) use tx::{end_savepoint, savepoint, transaction_depth};

use diesel::prelude::*;
use diesel_migrations::{EmbeddedMigrations, embed_migrations};

/// Migrations for PostgreSQL, embedded in the binary.
pub const PG_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");
/// Migrations for SQLite, embedded in the binary. Same directory names as [`PG_MIGRATIONS`].
pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

/// A connection to either backend; all query code is written against this one type.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

/// Which database a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

impl Backend {
    /// The backend a `DATABASE_URL` names.
    pub fn of_url(url: &str) -> Backend {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }
}

/// The SQLite file a `DATABASE_URL` names, or `None` for PostgreSQL.
pub fn sqlite_path(url: &str) -> Option<&str> {
    match Backend::of_url(url) {
        Backend::Postgres => None,
        Backend::Sqlite => Some(url.strip_prefix("sqlite://").unwrap_or(url)),
    }
}
