//! The `ledger` command line.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand, ValueEnum};

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
    /// License-file signing keys.
    LicenseKey {
        /// What to do with them.
        #[command(subcommand)]
        command: LicenseKeyCommand,
    },
    /// Checks: of a license file (offline) or of the event store's history.
    Verify {
        /// What to check.
        #[command(subcommand)]
        command: VerifyCommand,
    },
}

/// `ledger license-key …`.
#[derive(Debug, Subcommand)]
pub enum LicenseKeyCommand {
    /// Print a new Ed25519 signing key, from the OS's randomness, as a
    /// configuration entry to add to `license_signing_keys`.
    Generate {
        /// Its id, written into every file it signs (letters, digits, `.`, `_`, `-`).
        #[arg(long)]
        key_id: String,
        /// From when it signs new files (RFC 3339); default: now.
        #[arg(long)]
        active_from: Option<DateTime<Utc>>,
        /// `env`: one entry of `LEDGER_LICENSE_SIGNING_KEYS`; `toml`: a table.
        #[arg(long, value_enum, default_value_t = KeyFormat::Env)]
        format: KeyFormat,
    },
}

/// How a generated key is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KeyFormat {
    /// `<key id>=<base64 seed>@<active_from>`.
    Env,
    /// A `[[license_signing_keys]]` table.
    Toml,
}

/// `ledger verify …`.
#[derive(Debug, Subcommand)]
pub enum VerifyCommand {
    /// Check a license file's signatures offline. Exits 0 when every INCREMENT
    /// line is signed by a known key and unchanged, 1 otherwise.
    LicenseFile {
        /// The license file.
        path: PathBuf,
        /// Public keys as `GET /v1/license-file-keys` answers them (a JSON file);
        /// default: the configured `license_signing_keys`.
        #[arg(long)]
        keys: Option<PathBuf>,
    },
    /// Check the event store's hash chains (the whole store, or one account's
    /// streams), naming every bad event and the first by global position, as JSON
    /// lines. Needs the database. Exits 0 when every chain links, 1 otherwise.
    History {
        /// Only this account's streams.
        #[arg(long)]
        account: Option<uuid::Uuid>,
    },
}
