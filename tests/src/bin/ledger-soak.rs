//! `ledger-soak`: the soak and fault harness's command (see `deploy/soak.sh` and
//! RELIABILITY.md). Runs the real `ledger` binary, each role in its own process,
//! over a PostgreSQL cluster and a NATS server of its own, injecting faults;
//! prints a Markdown report, writes every figure as JSON, and exits 1 when a
//! check failed.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use ledger_tests::soak::{self, Plan};

/// Runs the ledger under load and faults, then checks nothing was lost.
#[derive(Debug, Parser)]
struct Args {
    /// A run of a minute or two: one fault of each kind (the CI size).
    #[arg(long)]
    smoke: bool,
    /// Licenses bought before the load stops, instead of the plan's (each a
    /// stream changed about a dozen times).
    #[arg(long)]
    licenses: Option<u64>,
    /// Concurrent clients instead of the plan's.
    #[arg(long)]
    clients: Option<usize>,
    /// Seconds between two faults instead of the plan's.
    #[arg(long)]
    fault_every_secs: Option<u64>,
    /// Run on a 3-node NATS cluster with R3 streams, losing a node instead of
    /// restarting the one server.
    #[arg(long)]
    nats_cluster: bool,
    /// The `ledger` binary (default: `ledger` next to this one).
    #[arg(long)]
    ledger_bin: Option<PathBuf>,
    /// Where the full figures go, as JSON.
    #[arg(long, default_value = "soak-results.json")]
    json: PathBuf,
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Args::parse()).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("ledger-soak: {error:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(args: Args) -> anyhow::Result<bool> {
    let mut plan = if args.smoke {
        Plan::smoke()
    } else {
        Plan::full()
    };
    if let Some(licenses) = args.licenses {
        anyhow::ensure!(licenses >= 1, "--licenses: at least 1");
        plan.licenses = licenses;
    }
    if let Some(clients) = args.clients {
        anyhow::ensure!(clients >= 1, "--clients: at least 1");
        plan.clients = clients;
    }
    if let Some(seconds) = args.fault_every_secs {
        anyhow::ensure!(seconds >= 1, "--fault-every-secs: at least 1");
        plan.fault_every = std::time::Duration::from_secs(seconds);
    }
    if args.nats_cluster {
        plan.nats_nodes = 3;
    }
    let ledger_bin = ledger_tests::ledger_bin_beside(args.ledger_bin)?;
    let report = soak::run(&ledger_bin.to_string_lossy(), &plan).await?;
    std::fs::write(&args.json, serde_json::to_string_pretty(&report)?)?;
    println!("{}", report.markdown());
    eprintln!("figures written to {}", args.json.display());
    Ok(report.passed())
}
