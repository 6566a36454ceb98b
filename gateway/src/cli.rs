//! The `ledger` command line.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::run::Role;

/// licensing-ledger: an event-sourced ledger of software licenses.
#[derive(Debug, Parser)]
#[command(name = "ledger", version)]
pub struct Cli {
    /// A TOML settings file; `LEDGER_*` environment variables override it.
    #[arg(long, env = "LEDGER_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the ledger: by default the HTTP gateway, the relay and the projector.
    Serve {
        /// The roles to run, comma-separated.
        #[arg(long, value_enum, value_delimiter = ',',
              default_values_t = [Role::Gateway, Role::Relay, Role::Projector])]
        roles: Vec<Role>,
    },
    /// Create the database if needed, apply migrations, and exit.
    Migrate,
    /// Rebuild every read model from the start of the stream into fresh tables,
    /// swap them in while queries go on, and exit.
    Rebuild,
    /// Replay the read models from the event store (not from NATS) into a scratch
    /// schema and compare them with the live ones, listing every difference as a
    /// JSON line. Exit status 0 when they agree, 1 when they differ.
    Audit,
}
