//! The ledger's edge: the HTTP API, command handling through cqrs-es and
//! postgres-es, the relay that publishes committed events to NATS JetStream, and
//! the settings and start-up of the `ledger` binary.
//!
//! # Layout
//! - [`app`]: the axum router, middleware and shared state; [`routes`]: one module
//!   per resource; [`extract`] and [`error`]: input checking and problem+json;
//!   [`csv`]: spreadsheet-safe CSV.
//! - [`commands`]: load, decide, append — with bounded retries on conflict.
//! - [`relay`]: store → JetStream, in commit order, exactly once in effect.
//! - [`run`]: which roles a process runs; [`db`]: database start-up and migrations.
//! - [`entry`], [`config`], [`telemetry`], [`cli`]: the binary: entry point,
//!   settings, tracing, arguments.
//! - [`license_keys`]: license-file signing keys from configuration, generated,
//!   published; [`verify`]: the offline `ledger verify` subcommands.

pub mod app;
pub mod cli;
pub mod commands;
pub mod config;
pub mod csv;
pub mod db;
pub mod entry;
pub mod error;
pub mod extract;
pub mod license_keys;
pub mod relay;
pub mod routes;
pub mod run;
pub mod telemetry;
pub mod verify;
