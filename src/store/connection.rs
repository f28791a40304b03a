//! How a connection is opened and set up: the pool's connection manager (the backend chosen by
//! URL) and SQLite's pragmas and functions on every new connection.

use std::time::Duration;

use diesel::connection::{Connection, SimpleConnection};
use diesel::prelude::*;
use diesel::r2d2::{self, CustomizeConnection, ManageConnection};

use super::{DbConnection, budget, lower, sqlite_path};

/// SQLite's `PRAGMA synchronous` (docs/operations-durability.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Synchronous {
    /// In WAL mode, a commit survives the process being killed but the last ones may be lost
    /// when the machine loses power or the OS crashes; fewer `fsync`s.
    #[default]
    Normal,
    /// Every commit is synced to disk before it is acknowledged: survives power loss too.
    Full,
}

impl Synchronous {
    pub(super) fn pragma(self) -> &'static str {
        match self {
            Synchronous::Normal => "NORMAL",
            Synchronous::Full => "FULL",
        }
    }
}

/// Opens connections for the pool, choosing the backend by URL scheme so that a connection
/// error reports the real cause (diesel's derived `establish` hides it).
#[derive(Debug, Clone)]
pub struct Manager {
    pub(super) url: String,
}

impl ManageConnection for Manager {
    type Connection = DbConnection;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConnection, r2d2::Error> {
        let conn = match sqlite_path(&self.url) {
            None => PgConnection::establish(&self.url).map(DbConnection::Pg),
            Some(path) => SqliteConnection::establish(path).map(DbConnection::Sqlite),
        };
        conn.map_err(r2d2::Error::ConnectionError)
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), r2d2::Error> {
        r2d2::R2D2Connection::ping(conn).map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        r2d2::R2D2Connection::is_broken(conn)
    }
}

/// Per-connection SQLite settings, and the [`budget`] function. `busy_timeout` must come
/// first: switching to WAL takes a lock, and without a timeout concurrent first connections fail
/// with "database is locked".
#[derive(Debug)]
pub(super) struct SqlitePragmas {
    pub(super) busy_timeout: Duration,
    pub(super) synchronous: Synchronous,
}

impl CustomizeConnection<DbConnection, r2d2::Error> for SqlitePragmas {
    fn on_acquire(&self, conn: &mut DbConnection) -> Result<(), r2d2::Error> {
        if let DbConnection::Sqlite(c) = conn {
            c.batch_execute(&format!(
                "PRAGMA busy_timeout = {}; PRAGMA journal_mode = WAL; \
                 PRAGMA synchronous = {}; PRAGMA foreign_keys = ON;",
                self.busy_timeout.as_millis(),
                self.synchronous.pragma()
            ))
            .map_err(r2d2::Error::QueryError)?;
            budget::register(c).map_err(r2d2::Error::QueryError)?;
            lower::register(c).map_err(r2d2::Error::QueryError)?;
        }
        Ok(())
    }
}

/// A pooled connection.
pub type PooledConnection = r2d2::PooledConnection<Manager>;
