//! `ledger-fuzz`: the HTTP contract fuzzed (see `deploy/fuzz.sh` and the README's
//! "Fuzz the HTTP contract"). Runs the real `ledger` binary against the PostgreSQL
//! and NATS of `TEST_POSTGRES_URL` / `TEST_NATS_URL`, seeds an account, runs
//! schemathesis for the budget and prints what it found; exits 1 on any failure.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use ledger_tests::fuzz::{self, Budget};

/// Fuzzes the ledger's HTTP API against its OpenAPI document.
#[derive(Debug, Parser)]
struct Args {
    /// Seconds of fuzzing, both tokens' runs together.
    #[arg(long, default_value_t = 600)]
    seconds: u64,
    /// Schemathesis' random seed, to repeat an earlier run (default: a fresh one).
    #[arg(long)]
    seed: Option<u64>,
    /// The `ledger` binary (default: `ledger` next to this one).
    #[arg(long)]
    ledger_bin: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("ledger-fuzz: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// True when every check held.
async fn run(args: Args) -> anyhow::Result<bool> {
    anyhow::ensure!(args.seconds >= 20, "--seconds: at least 20");
    let mut budget = Budget::seconds(args.seconds);
    if let Some(seed) = args.seed {
        budget.seed = seed;
    }
    let ledger_bin = match args.ledger_bin {
        Some(path) => path,
        None => std::env::current_exe()?.with_file_name("ledger"),
    };
    anyhow::ensure!(
        ledger_bin.is_file(),
        "no ledger binary at {}",
        ledger_bin.display()
    );
    let report = fuzz::run(&ledger_bin.to_string_lossy(), budget).await?;
    println!("{}", report.summary());
    Ok(report.passed())
}
