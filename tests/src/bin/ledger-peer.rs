//! `ledger-peer`: the benchmark's peer, a plain cqrs-es + postgres-es service
//! around the ledger's aggregates (`ledger_tests::bench::peer`). The benchmark
//! starts it; it prints `listening on http://…` once it serves.

use std::process::ExitCode;

use clap::Parser;

/// Serves the command mix's commands from postgres-es's standard tables.
#[derive(Debug, Parser)]
struct Args {
    /// Its own database; created with its tables when missing.
    #[arg(long)]
    database_url: String,
    /// Address to listen on; port 0 picks a free one.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: String,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match ledger_tests::bench::peer::serve(&args.database_url, &args.listen).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("ledger-peer: {error:#}");
            ExitCode::FAILURE
        }
    }
}
