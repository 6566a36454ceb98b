//! The `ledger` binary's entry point: reads settings, starts telemetry and hands
//! over to [`crate::run`]. Prints `listening on http://<addr>` once the HTTP port
//! is bound, so scripts and tests can start it on port 0. It lives in the library
//! so the black-box tests can build the very same binary.

use std::collections::BTreeSet;
use std::process::ExitCode;

use crate::cli::args::{
    AdminCommand, Cli, Command, KeyFormat, LicenseKeyCommand, OfflineCheck, VerifyCommand,
    WitnessArgs,
};
use crate::config::Settings;
use crate::run::{run, Role};
use anyhow::Context as _;
use clap::Parser as _;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// Runs the `ledger` command line to completion.
pub fn main() -> ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("ledger: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(main_async());
    // A request still running past the shutdown grace period is dropped with
    // the runtime; nothing else may hold the exit up.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    code
}

async fn main_async() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load(cli.config.as_deref(), std::env::vars()) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("ledger: invalid configuration: {error:#}");
            return ExitCode::from(2);
        }
    };
    let online = match split(cli.command) {
        // Offline subcommands answer on stdout and stderr alone, without log lines.
        Mode::Offline(command) => {
            return match offline(command, &settings) {
                Ok(code) => code,
                Err(error) => {
                    eprintln!("ledger: {error:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Mode::Online(command) => command,
    };
    let _telemetry = match crate::telemetry::init(&settings) {
        Ok(guard) => guard,
        Err(error) => {
            eprintln!("ledger: telemetry: {error:#}");
            return ExitCode::from(2);
        }
    };
    // The auditors' checks keep 1 for "the store disagrees": not being able to
    // check at all is 2.
    let could_not_run = match &online {
        Online::Audit | Online::VerifyHistory { .. } => ExitCode::from(2),
        Online::Serve { .. }
        | Online::Migrate
        | Online::Rebuild
        | Online::Admin(_)
        | Online::Witness(_)
        | Online::Demo => ExitCode::FAILURE,
    };
    match execute(online, settings).await {
        Ok(code) => code,
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "ledger stopped");
            eprintln!("ledger: {error:#}");
            could_not_run
        }
    }
}

/// A subcommand that needs neither the database nor NATS.
#[derive(Debug)]
enum Offline {
    /// `ledger license-key …`.
    LicenseKey(LicenseKeyCommand),
    /// `ledger verify …` of files.
    Check(OfflineCheck),
}

/// A subcommand that needs the database, NATS or another ledger.
#[derive(Debug)]
enum Online {
    /// `ledger serve`.
    Serve { roles: Vec<Role> },
    /// `ledger migrate`.
    Migrate,
    /// `ledger rebuild`.
    Rebuild,
    /// `ledger audit`.
    Audit,
    /// `ledger admin …`.
    Admin(AdminCommand),
    /// `ledger witness`.
    Witness(WitnessArgs),
    /// `ledger verify history`.
    VerifyHistory { account: Option<Uuid> },
    /// `ledger demo`.
    Demo,
}

/// Where a subcommand runs.
#[derive(Debug)]
enum Mode {
    /// Before telemetry, answering on stdout and stderr alone.
    Offline(Offline),
    /// With telemetry, connecting to what it needs.
    Online(Online),
}

/// Sorts a subcommand by what it needs. Every subcommand is named here, and
/// [`offline`] and [`execute`] each match theirs without a catch-all: a new
/// subcommand does not compile until it runs somewhere (it can never exit 0
/// without running).
fn split(command: Command) -> Mode {
    match command {
        Command::LicenseKey { command } => Mode::Offline(Offline::LicenseKey(command)),
        Command::Verify {
            command: VerifyCommand::Offline(check),
        } => Mode::Offline(Offline::Check(check)),
        Command::Verify {
            command: VerifyCommand::History { account },
        } => Mode::Online(Online::VerifyHistory { account }),
        Command::Serve { roles } => Mode::Online(Online::Serve { roles }),
        Command::Migrate => Mode::Online(Online::Migrate),
        Command::Rebuild => Mode::Online(Online::Rebuild),
        Command::Audit => Mode::Online(Online::Audit),
        Command::Admin { command } => Mode::Online(Online::Admin(command)),
        Command::Witness(args) => Mode::Online(Online::Witness(args)),
        Command::Demo => Mode::Online(Online::Demo),
    }
}

/// Runs a subcommand that needs neither the database nor NATS.
fn offline(command: Offline, settings: &Settings) -> anyhow::Result<ExitCode> {
    use crate::integrity::offline;
    let log_check = |check: &dyn Fn() -> anyhow::Result<offline::Verdict>| Ok(verdict(check()));
    match command {
        Offline::LicenseKey(LicenseKeyCommand::Generate {
            key_id,
            active_from,
            format,
        }) => generate_key(&key_id, active_from, format).map(|()| ExitCode::SUCCESS),
        Offline::Check(OfflineCheck::LicenseFile { path, keys }) => {
            crate::cli::verify::license_file(&path, keys.as_deref(), settings).map(|report| {
                print!("{report}");
                ExitCode::SUCCESS
            })
        }
        Offline::Check(OfflineCheck::Checkpoint { path, key }) => {
            log_check(&|| offline::checkpoint(&path, &offline::log_key(&key)?))
        }
        Offline::Check(OfflineCheck::Inclusion {
            checkpoint,
            proofs,
            events,
            key,
        }) => log_check(&|| {
            offline::inclusion(
                &checkpoint,
                &proofs,
                events.as_deref(),
                &offline::log_key(&key)?,
            )
        }),
        Offline::Check(OfflineCheck::Consistency {
            old,
            new,
            proof,
            key,
        }) => log_check(&|| offline::consistency(&old, &new, &proof, &offline::log_key(&key)?)),
    }
}

/// Prints an offline check's report: exit 0 when it holds, 1 when it does not, 2
/// when it could not be made.
fn verdict(outcome: anyhow::Result<crate::integrity::offline::Verdict>) -> ExitCode {
    match outcome {
        Ok(verdict) => {
            print!("{}", verdict.report);
            if verdict.holds {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(error) => {
            eprintln!("ledger: {error:#}");
            ExitCode::from(2)
        }
    }
}

/// Prints a new signing key on stdout, ready to paste into configuration.
fn generate_key(
    key_id: &str,
    active_from: Option<chrono::DateTime<chrono::Utc>>,
    format: KeyFormat,
) -> anyhow::Result<()> {
    let key = crate::signing_keys::generate(key_id, active_from.unwrap_or_else(chrono::Utc::now))?;
    match format {
        KeyFormat::Env => println!("{}", crate::signing_keys::compact_entry(&key)),
        KeyFormat::Toml => print!("{}", crate::signing_keys::toml_entry(&key)),
    }
    eprintln!(
        "ledger: new signing key `{key_id}` (public key {}); keep the private key \
         secret and out of version control",
        key.public_key_base64()
    );
    Ok(())
}

async fn execute(command: Online, settings: Settings) -> anyhow::Result<ExitCode> {
    match command {
        Online::Migrate => {
            let pool = crate::db::connect_and_migrate(&settings.database_url, 2).await?;
            pool.close().await;
            println!("migrations applied");
            Ok(ExitCode::SUCCESS)
        }
        Online::Audit => {
            let pool = crate::db::connect_to_store(&settings.database_url, 4).await?;
            let audited =
                crate::integrity::audit::audit(&pool, settings.projector_batch_size).await;
            pool.close().await;
            // 1 means "they differ": an audit that could not run says so with 2.
            let report = match audited {
                Ok(report) => report,
                Err(error) => {
                    eprintln!("ledger: audit failed: {error:#}");
                    return Ok(ExitCode::from(2));
                }
            };
            for difference in &report.differences {
                println!("{}", serde_json::to_string(difference)?);
            }
            println!(
                "audit: {} events replayed from the store up to global position {}; {}",
                report.events,
                report.position.global_position,
                if report.differences.is_empty() {
                    "the read models agree".to_owned()
                } else {
                    format!("{} differences", report.differences.len())
                }
            );
            Ok(if report.differences.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Online::Rebuild => {
            let pool = crate::db::connect_and_migrate(
                &settings.database_url,
                ledger_projections::rebuild::connections(),
            )
            .await?;
            let client = crate::nats::connect(&settings.nats_url).await?;
            let report = ledger_projections::rebuild::rebuild(
                &pool,
                &async_nats::jetstream::new(client),
                &settings.stream(),
                ledger_projections::consumer::LICENSES_PROJECTION,
                settings.rebuild_batch_size,
            )
            .await?;
            println!(
                "rebuilt from {} messages in {:.2} s ({:.0} messages/s; indexing {:.2} s) and swapped in",
                report.messages,
                report.replay.as_secs_f64(),
                report.rate(),
                report.indexing.as_secs_f64()
            );
            pool.close().await;
            Ok(ExitCode::SUCCESS)
        }
        Online::Serve { roles } => {
            let roles: BTreeSet<Role> = roles.into_iter().collect();
            let listener = tokio::net::TcpListener::bind(settings.listen_addr)
                .await
                .with_context(|| format!("binding {}", settings.listen_addr))?;
            println!("listening on http://{}", listener.local_addr()?);
            let shutdown = CancellationToken::new();
            tokio::spawn(stop_on_signal(shutdown.clone()));
            run(settings, roles, listener, shutdown).await?;
            Ok(ExitCode::SUCCESS)
        }
        Online::Admin(command) => crate::cli::admin::run(command, &settings).await,
        Online::Demo => crate::cli::demo::run(&settings).await,
        Online::Witness(WitnessArgs {
            ledger_url,
            log_key,
            name,
            key_file,
            state,
            interval_secs,
            once,
        }) => {
            let text = std::fs::read_to_string(&key_file)
                .with_context(|| format!("reading the witness key {}", key_file.display()))?;
            let key = crate::signing_keys::parse_compact(text.trim())
                .map_err(|error| anyhow::anyhow!("witness key {}: {error}", key_file.display()))?
                .keys()
                .iter()
                .find(|key| key.can_sign())
                .cloned()
                .with_context(|| format!("{} holds no private key", key_file.display()))?;
            let vkey = ledger_domain::transparency::note::VerifierKey::cosignature_v1(
                &name,
                key.public_key_bytes(),
            )
            .context("--name")?;
            eprintln!("ledger witness: {name}, vkey {vkey} (the ledger keeps its cosignatures once checkpoint_witness_keys names it)");
            let settings = crate::integrity::witness_run::WitnessSettings {
                ledger_url,
                log_key: crate::integrity::offline::log_key(&log_key)?,
                name,
                key,
                state,
                interval: std::time::Duration::from_secs(interval_secs.max(1)),
                once,
            };
            Ok(crate::integrity::witness_run::run(settings).await)
        }
        Online::VerifyHistory { account } => {
            let pool = crate::db::connect_to_store(&settings.database_url, 2).await?;
            let keys = &settings.checkpoint_signing_keys.0;
            let report = crate::integrity::verify_history(&pool, keys, account).await?;
            pool.close().await;
            let (lines, status) = crate::integrity::summary::render(&report)?;
            for line in lines {
                println!("{line}");
            }
            Ok(ExitCode::from(status))
        }
    }
}

/// Cancels `shutdown` on SIGINT or SIGTERM, for a graceful stop
/// ([`crate::shutdown`]).
async fn stop_on_signal(shutdown: CancellationToken) {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    let signal = tokio::select! {
        _ = interrupt => "SIGINT",
        () = terminate => "SIGTERM",
    };
    tracing::info!(signal, "shutting down");
    shutdown.cancel();
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use clap::CommandFactory as _;

    /// The subcommands that run offline, before telemetry; every other runs online.
    const OFFLINE: [&str; 5] = [
        "license-key generate",
        "verify license-file",
        "verify checkpoint",
        "verify inclusion",
        "verify consistency",
    ];

    /// Every leaf subcommand's words, and a command line running it with its
    /// required arguments filled in.
    fn leaves(command: &clap::Command, words: &[String], found: &mut Vec<(String, Vec<String>)>) {
        let mut subcommands = command.get_subcommands().peekable();
        if subcommands.peek().is_none() {
            let mut argv = vec!["ledger".to_owned()];
            argv.extend(words.iter().cloned());
            for arg in command.get_arguments().filter(|arg| arg.is_required_set()) {
                let value = arg
                    .get_possible_values()
                    .first()
                    .map_or_else(|| "x".to_owned(), |value| value.get_name().to_owned());
                if let Some(long) = arg.get_long() {
                    argv.push(format!("--{long}"));
                }
                argv.push(value);
            }
            found.push((words.join(" "), argv));
            return;
        }
        for subcommand in subcommands {
            let mut words = words.to_vec();
            words.push(subcommand.get_name().to_owned());
            leaves(subcommand, &words, found);
        }
    }

    #[test]
    fn every_subcommand_runs_offline_or_online_as_documented() {
        let mut argvs = Vec::new();
        leaves(&Cli::command(), &[], &mut argvs);
        let mut offline_seen = Vec::new();
        for (words, argv) in &argvs {
            let cli = Cli::try_parse_from(argv).unwrap();
            let offline = matches!(split(cli.command), Mode::Offline(_));
            assert_eq!(offline, OFFLINE.contains(&words.as_str()), "{words}");
            if offline {
                offline_seen.push(words.clone());
            }
        }
        assert!(argvs.len() > OFFLINE.len(), "{argvs:?}");
        offline_seen.sort();
        let mut expected = OFFLINE.map(str::to_owned).to_vec();
        expected.sort();
        assert_eq!(offline_seen, expected);
    }
}
