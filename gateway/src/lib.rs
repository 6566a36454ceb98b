//! The ledger's edge: the HTTP API, command handling through cqrs-es aggregates
//! with group commit to the event store, the relay that publishes committed events to NATS JetStream, the
//! tamper evidence over the store, and the `ledger` binary's start-up.
//!
//! # Layout
//! - [`http`]: the axum application — routes, the request gate, idempotency,
//!   problem+json errors, the OpenAPI document, and the web console's files.
//! - [`auth`]: tokens, roles, the access policy, accounts. No HTTP: the command
//!   line issues tokens too.
//! - [`write`]: commands (load, decide, append) and reading the event store.
//! - [`relay`]: store → JetStream in commit order, exactly once in effect; it also
//!   grows the transparency log and writes checkpoints on schedule.
//! - [`integrity`]: hash chains, the transparency log, signed checkpoints, the
//!   witness, `ledger audit` and the auditors' offline checks.
//! - [`cli`]: the binary's entry point and its one-shot subcommands.
//! - At the top, what every part starts from: [`config`] (settings), [`telemetry`]
//!   (tracing), [`db`] (database start-up and migrations), [`nats`] (the NATS
//!   connection), [`run`] (which roles a process runs), [`shutdown`] (stopping
//!   them in order within the grace period), [`readiness`] (what stops a role),
//!   [`progress`] (how far each role has got, and whether it stalls),
//!   [`metrics`] (what `/metrics` serves), [`vitals`] (those three, handed
//!   together), [`signing_keys`] (Ed25519 keys from configuration: license files,
//!   tokens and checkpoints).

pub mod auth;
pub mod cli;
pub mod config;
pub mod db;
pub mod http;
pub mod integrity;
pub mod metrics;
pub mod nats;
pub mod progress;
pub mod readiness;
pub mod relay;
pub mod run;
pub mod shutdown;
pub mod signing_keys;
pub mod telemetry;
pub mod vitals;
pub mod write;
