//! The `ledger` binary, built inside this package so its tests can start it by
//! path (`CARGO_BIN_EXE_ledger-under-test`). Same entry point, same code.

fn main() -> std::process::ExitCode {
    ledger_gateway::cli::entry::main()
}
