//! The write side at the edge: commands decided by the domain and appended to the
//! event store, and reading that store back.
//!
//! - [`commands`]: load, decide, append, with bounded retries on conflict;
//! - [`loaded`]: a stream read once and folded into its aggregate;
//! - [`appender`]: group commit, the events of concurrent commands in one statement;
//! - [`turns`]: commands on one aggregate queued within the process;
//! - [`event_store`]: the store read in commit order or one stream at a time;
//! - [`replay`]: the store folded into a scratch copy of the read models, for
//!   `ledger audit` and the as-of history queries;
//! - [`command_services`]: the command services as settings make them.

pub mod appender;
pub mod commands;
pub mod event_store;
pub mod loaded;
pub mod replay;
pub mod turns;

use ledger_domain::upcast::LicenseEventUpcaster;
use ledger_domain::usage::ServerUsage;
use ledger_domain::License;
use sqlx::PgPool;

use crate::config::Settings;
use crate::metrics::CommandMetrics;
use appender::Appender;
use commands::{CommandService, MessageLimit};

/// The services that decide license commands and usage reports over `pool`, as
/// `settings` configure them (conflict retries, event size limit), counting into
/// `metrics`: what the HTTP API runs its commands through, and `ledger demo` too.
/// Both append through one [`Appender`], so their commands share its groups.
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
    let appender = Appender::start(pool.clone(), metrics.clone());
    let licenses = CommandService::new(
        pool.clone(),
        appender.clone(),
        retries,
        || vec![Box::new(LicenseEventUpcaster)],
        limit.clone(),
        metrics.clone(),
    );
    let usage = CommandService::new(
        pool.clone(),
        appender,
        retries,
        Vec::new,
        limit,
        metrics.clone(),
    );
    (licenses, usage)
}
