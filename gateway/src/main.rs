//! The `ledger` binary. Everything it does is in [`ledger_gateway::entry`].

fn main() -> std::process::ExitCode {
    ledger_gateway::entry::main()
}
