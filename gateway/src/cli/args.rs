//! The `ledger` command line.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::auth::Role;
use crate::run::Role as ProcessRole;

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
              default_values_t = [ProcessRole::Gateway, ProcessRole::Relay, ProcessRole::Projector])]
        roles: Vec<ProcessRole>,
    },
    /// Create the database if needed, apply migrations, and exit.
    Migrate,
    /// Rebuild every read model from the start of the stream into fresh tables,
    /// swap them in while queries go on, and exit.
    Rebuild,
    /// Replay the read models from the event store (not from NATS) into a scratch
    /// schema and compare them with the live ones, listing every difference as a
    /// JSON line. Exit status 0 when they agree, 1 when they differ, 2 when the
    /// audit could not run. Never creates or migrates the database.
    Audit,
    /// Accounts and their bearer tokens. Needs the database; issuing needs a key
    /// with a private part in `auth_signing_keys`.
    Admin {
        /// What to do.
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Load a demo account into the configured database: three years of
    /// purchases (term, perpetual, trials), allocations on several license
    /// servers, moves, returns, renewals, an upgrade, hidden legacy licenses and
    /// weeks of usage with overdraft, recorded through the same commands as the
    /// HTTP API, with dates counted back from today. Prints a portal token, an
    /// auditor token and the console's address. Each run creates a new account.
    /// Needs the database and a token key with a private part.
    Demo,
    /// Ed25519 signing keys: for license files (`license_signing_keys`), bearer
    /// tokens (`auth_signing_keys`) and integrity checkpoints
    /// (`checkpoint_signing_keys`); `signing-key` is the same command.
    #[command(visible_alias = "signing-key")]
    LicenseKey {
        /// What to do with them.
        #[command(subcommand)]
        command: LicenseKeyCommand,
    },
    /// Witness a ledger's transparency log: each round, fetch its newest checkpoint
    /// and cosign it only if it extends the last one this witness accepted (kept in
    /// `--state`), handing the cosignature to the ledger. Needs no database. With
    /// `--once`: exit 0 cosigned (or nothing yet), 1 refused, 2 could not run.
    Witness(WitnessArgs),
    /// Checks: of a license file (offline) or of the event store's history.
    Verify {
        /// What to check.
        #[command(subcommand)]
        command: VerifyCommand,
    },
}

/// `ledger witness …`.
#[derive(Debug, Args)]
pub struct WitnessArgs {
    /// The ledger's base URL.
    #[arg(long)]
    pub ledger_url: String,
    /// The log's vkey (`GET /v1/log/keys`, better from its operator), or a file
    /// holding it.
    #[arg(long)]
    pub log_key: String,
    /// This witness's name on its cosignatures (no spaces or `+`), e.g.
    /// `witness.example.org/w1`.
    #[arg(long)]
    pub name: String,
    /// A file holding this witness's signing key, as `ledger signing-key
    /// generate` prints it (`<id>=<base64 seed>@<active_from>`).
    #[arg(long)]
    pub key_file: PathBuf,
    /// This witness's state: the last checkpoint it accepted.
    #[arg(long)]
    pub state: PathBuf,
    /// Seconds between rounds.
    #[arg(long, default_value_t = 60)]
    pub interval_secs: u64,
    /// One round, then exit.
    #[arg(long)]
    pub once: bool,
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

/// `ledger admin …`.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create an account; prints it as JSON (its `account_id` is what tokens and
    /// routes name).
    CreateAccount {
        /// A name for people.
        #[arg(long)]
        name: String,
    },
    /// Print every account, one JSON line each.
    ListAccounts,
    /// Issue a bearer token; prints the token alone on stdout (a secret: the ledger
    /// keeps only what it grants).
    IssueToken {
        /// Its role.
        #[arg(long, value_enum)]
        role: Role,
        /// Its account (every role but admin).
        #[arg(long)]
        account: Option<uuid::Uuid>,
        /// Who holds it, recorded as the actor of its commands.
        #[arg(long)]
        subject: String,
        /// The license server's host (license_server only).
        #[arg(long)]
        host: Option<String>,
        /// Hours it is valid (1 to 8,760).
        #[arg(long, default_value_t = 24)]
        valid_for_hours: u32,
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
    /// The checks of files alone, kept apart so that the binary runs them before
    /// (and without) any connection.
    #[command(flatten)]
    Offline(OfflineCheck),
    /// Check the event store's hash chains and its newest signed checkpoint (the
    /// whole store, or one account's streams), naming every bad event and the
    /// first by global position, as JSON lines. Needs the database (never creates
    /// or migrates it). Exits 0 when every chain links and the checkpoint agrees,
    /// 1 when a chain breaks or a checkpoint disagrees, 2 when the check could not
    /// run, 3 when the chains link but no checkpoint is signed yet.
    History {
        /// Only this account's streams.
        #[arg(long)]
        account: Option<uuid::Uuid>,
    },
}

/// `ledger verify …` of files alone, needing neither the database nor NATS.
#[derive(Debug, Subcommand)]
pub enum OfflineCheck {
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
    /// Check a transparency-log checkpoint's signature offline (the text of
    /// `GET /v1/log/checkpoint`). Exits 0 when the log's key signed it, 1 when
    /// not, 2 when the inputs cannot be read.
    Checkpoint {
        /// The checkpoint file.
        path: PathBuf,
        /// The log's vkey (`<origin>+<key id>+<key>`, from `GET /v1/log/keys` or the
        /// operator), or a file holding it.
        #[arg(long)]
        key: String,
    },
    /// Check inclusion proofs offline (`…/inclusion-proofs.ndjson`) against a
    /// checkpoint; with `--events` (`…/events.ndjson`), also that every exported
    /// event up to it has one. Exits 0 when all hold, 1 when one does not, 2 when
    /// the inputs cannot be read.
    Inclusion {
        /// The checkpoint the proofs are against.
        #[arg(long)]
        checkpoint: PathBuf,
        /// The proofs, one JSON object a line.
        #[arg(long)]
        proofs: PathBuf,
        /// The account's exported events, to check none is left out.
        #[arg(long)]
        events: Option<PathBuf>,
        /// The log's vkey, or a file holding it.
        #[arg(long)]
        key: String,
    },
    /// Check offline that a newer checkpoint's log extends an older one's, with
    /// the proof `GET /v1/log/consistency-proof?from=<old size>&to=<new size>`
    /// answers. Exits 0 when it does, 1 when not, 2 when the inputs cannot be read.
    Consistency {
        /// The checkpoint kept from before.
        #[arg(long)]
        old: PathBuf,
        /// The newer checkpoint.
        #[arg(long)]
        new: PathBuf,
        /// The consistency proof (JSON).
        #[arg(long)]
        proof: PathBuf,
        /// The log's vkey, or a file holding it.
        #[arg(long)]
        key: String,
    },
}
