//! The `ledger` binary. Everything it does is in [`ledger_gateway::cli::entry`].

fn main() -> std::process::ExitCode {
    ledger_gateway::cli::entry::main()
}
