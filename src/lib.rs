//! roster: the application side of SCIM 2.0 provisioning.
//!
//! Layers, with dependencies pointing one way (docs/architecture.md §2):
//! `{http, cli} → {auth, provisioning} → store → scim`. [`scim`] is pure protocol code; [`store`]
//! is the only code that speaks SQL; [`provisioning`] holds the use cases, is the only code that
//! opens write transactions and writes audit events, and is the only door to [`store`] for
//! [`http`] and [`cli`] (`tests/layers.rs`).

pub mod auth;
pub mod cli;
pub mod clock;
pub mod config;
pub mod events;
pub mod http;
pub mod ids;
pub mod monitoring;
pub mod priority;
pub mod provisioning;
pub mod scim;
pub mod shutdown;
pub mod startup;
pub mod store;
pub mod telemetry;
