//! The write side at the edge: commands decided by the domain and appended to the
//! event store through cqrs-es and postgres-es, and reading that store back.
//!
//! - [`commands`]: load, decide, append, with bounded retries on conflict;
//! - [`turns`]: commands on one aggregate queued within the process;
//! - [`event_store`]: the store read in commit order or one stream at a time;
//! - [`replay`]: the store folded into a scratch copy of the read models, for
//!   `ledger audit` and the as-of history queries;
//! - [`command_services`]: the command services as settings make them.

pub mod commands;
pub mod event_store;
pub mod replay;
pub mod turns;

use ledger_domain::upcast::LicenseEventUpcaster;
use ledger_domain::usage::ServerUsage;
use ledger_domain::License;
use sqlx::PgPool;

use crate::config::Settings;
use crate::metrics::CommandMetrics;
use commands::{CommandService, MessageLimit};

/// The services that decide license commands and usage reports over `pool`, as
/// `settings` configure them (conflict retries, event size limit), counting into
/// `metrics`: what the HTTP API runs its commands through, and `ledger demo` too.
pub fn command_services(
    pool: &PgPool,
    settings: &Settings,
    metrics: &CommandMetrics,
) -> (CommandService<License>, CommandService<ServerUsage>) {
    let retries = settings.command_conflict_retries;
    let limit = MessageLimit {
        max_bytes: settings.event_max_bytes,
        subject_prefix: settings.subject_prefix.clone(),
    };
    let licenses = CommandService::new(
        pool.clone(),
        retries,
        || vec![Box::new(LicenseEventUpcaster)],
        limit.clone(),
        metrics.clone(),
    );
    let usage = CommandService::new(pool.clone(), retries, Vec::new, limit, metrics.clone());
    (licenses, usage)
}
