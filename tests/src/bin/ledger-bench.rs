//! `ledger-bench`: the benchmark harness's command (see `deploy/bench.sh` and
//! BENCHMARKS.md). Runs the real `ledger` binary (and the `ledger-peer` beside it) against the PostgreSQL and NATS
//! of `TEST_POSTGRES_URL` / `TEST_NATS_URL` and prints a Markdown summary; the
//! full figures go to a JSON file.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use ledger_tests::bench::{self, Binaries, Plan};

/// Measures the ledger against this machine's own limits.
#[derive(Debug, Parser)]
struct Args {
    /// A run of seconds that only proves every phase works (the CI size).
    #[arg(long, conflicts_with = "full")]
    smoke: bool,
    /// The full run: 1,000,000 seeded licenses, 16 clients, 30 s phases (the default).
    #[arg(long)]
    full: bool,
    /// Seeded licenses instead of the plan's.
    #[arg(long)]
    licenses: Option<usize>,
    /// Accounts the seeded licenses are spread over instead of the plan's (20 at
    /// 1,000,000 licenses: accounts of 50,000).
    #[arg(long)]
    accounts: Option<usize>,
    /// Phase length in seconds instead of the plan's.
    #[arg(long)]
    phase_seconds: Option<u64>,
    /// The `ledger` binary (default: `ledger` next to this one).
    #[arg(long)]
    ledger_bin: Option<PathBuf>,
    /// The peer, a plain cqrs-es service (default: `ledger-peer` next to this one).
    #[arg(long)]
    peer_bin: Option<PathBuf>,
    /// Only the rebuild, this many rounds: the store seeded and relayed, then
    /// `ledger rebuild` run again and again on the same stream.
    #[arg(long)]
    rebuilds: Option<usize>,
    /// With `--rebuilds`: a `ledger` binary to rebuild with, each in turn every
    /// round (repeat it to compare builds; default: the `--ledger-bin`).
    #[arg(long, requires = "rebuilds")]
    rebuild_bin: Vec<PathBuf>,
    /// Where the full figures go, as JSON.
    #[arg(long, default_value = "bench-results.json")]
    json: PathBuf,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("ledger-bench: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    let mut plan = if args.smoke {
        Plan::smoke()
    } else {
        Plan::full()
    };
    if let Some(licenses) = args.licenses {
        anyhow::ensure!(licenses >= 1, "--licenses: at least 1");
        plan.seeded_licenses = licenses;
    }
    if let Some(accounts) = args.accounts {
        anyhow::ensure!(
            (1..=plan.seeded_licenses).contains(&accounts),
            "--accounts: from 1 to the seeded licenses ({})",
            plan.seeded_licenses
        );
        plan.accounts = accounts;
    }
    if let Some(seconds) = args.phase_seconds {
        anyhow::ensure!(seconds >= 1, "--phase-seconds: at least 1");
        plan.phase_seconds = seconds;
    }
    let ledger_bin = ledger_tests::ledger_bin_beside(args.ledger_bin)?;
    let peer_bin = ledger_tests::bin_beside("ledger-peer", args.peer_bin)?;
    if let Some(rounds) = args.rebuilds {
        anyhow::ensure!(rounds >= 1, "--rebuilds: at least 1");
        let binaries: Vec<String> = if args.rebuild_bin.is_empty() {
            vec![ledger_bin.to_string_lossy().into_owned()]
        } else {
            args.rebuild_bin
                .iter()
                .map(|bin| bin.to_string_lossy().into_owned())
                .collect()
        };
        let report = bench::rebuilds::run(&binaries, &plan, rounds).await?;
        std::fs::write(&args.json, serde_json::to_string_pretty(&report)?)?;
        println!("{}", report.markdown());
        eprintln!("figures written to {}", args.json.display());
        return Ok(());
    }
    let bins = Binaries {
        ledger: &ledger_bin.to_string_lossy(),
        peer: &peer_bin.to_string_lossy(),
    };
    let report = bench::run(bins, &plan).await?;
    std::fs::write(&args.json, serde_json::to_string_pretty(&report)?)?;
    println!("{}", report.markdown());
    eprintln!("figures written to {}", args.json.display());
    Ok(())
}
