//! The ledger's edge: the HTTP API, command handling through cqrs-es and
//! postgres-es, the relay that publishes committed events to NATS JetStream, and
//! the settings and start-up of the `ledger` binary.
//!
//! # Layout
//! - [`app`]: the axum router, middleware and shared state; [`routes`]: one module
//!   per resource; [`openapi`]: the OpenAPI document generated from the routes;
//!   [`extract`] and [`error`]: input checking and problem+json; [`csv`]:
//!   spreadsheet-safe CSV.
//! - [`commands`]: load, decide, append — with bounded retries on conflict;
//!   [`idempotency`]: `Idempotency-Key`, answers kept in PostgreSQL.
//! - [`integrity`]: tamper evidence — the event hash chains, verified.
//! - [`relay`]: store → JetStream, in commit order, exactly once in effect;
//!   [`event_store`]: reading the store in commit order or one stream at a time.
//! - [`audit`]: `ledger audit`, the read models replayed from the store and compared.
//! - [`run`]: which roles a process runs; [`db`]: database start-up and migrations;
//!   [`nats`]: the NATS connection, logged in as `nats_url` says.
//! - [`entry`], [`config`], [`telemetry`], [`cli`]: the binary: entry point,
//!   settings, tracing, arguments.
//! - [`license_keys`]: license-file signing keys from configuration, generated,
//!   published; [`verify`]: the offline `ledger verify` subcommands.

pub mod accounts;
pub mod admin;
pub mod app;
pub mod audit;
pub mod auth;
pub mod cli;
pub mod commands;
pub mod config;
pub mod csv;
pub mod db;
pub mod entry;
pub mod error;
pub mod event_store;
pub mod extract;
pub mod idempotency;
pub mod integrity;
pub mod license_keys;
pub mod nats;
pub mod openapi;
pub mod readiness;
pub mod relay;
pub mod routes;
pub mod run;
pub mod telemetry;
pub mod verify;
