//! The integration test binary: the real roster server on port 0, a fresh database per test,
//! every test on SQLite and on PostgreSQL (see `helpers::both_backends!`).
//!
//! PostgreSQL is reached at `ROSTER_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`); when it is unreachable the PostgreSQL half
//! of every test fails. It is never skipped.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[macro_use]
mod helpers;

mod admin;
mod admin_limits;
mod admission;
mod auth;
mod bulk;
mod compat;
mod compat_paths;
mod concurrency;
mod connectors;
mod console;
mod containment_queries;
mod containment_writes;
mod cursor;
mod discovery;
mod errors;
mod events;
mod events_process;
mod explain;
#[cfg(unix)]
mod files;
mod filter;
mod groups;
mod integrity;
mod lifecycle;
mod lifecycle_depth;
mod metrics;
mod names;
mod openapi;
mod operator;
mod patching;
mod properties;
mod proxies;
mod replay;
mod schema;
mod schema_extensions;
mod shutdown;
mod tenancy;
mod users;
