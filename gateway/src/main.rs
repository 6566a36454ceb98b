//! The `ledger` binary. Everything it does is in [`ledger_gateway::cli::entry`].

// glibc's allocator was a fifth to a third of the rebuild's and the gateway's
// CPU (`perf`: malloc, free and their consolidation of freed chunks), for a
// workload of many small short-lived allocations: every NATS message's headers,
// every request's JSON.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    ledger_gateway::cli::entry::main()
}
