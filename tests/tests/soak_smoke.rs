//! The soak and fault harness at smoke size, against the real binary: two
//! gateways, two relays and a projector in processes of their own over a
//! PostgreSQL cluster and a NATS server of the test's own; every kind of fault
//! once — each role killed with SIGKILL, NATS and PostgreSQL restarted — under
//! load with an `Idempotency-Key` on every command. Then nothing acknowledged is
//! missing, the stream holds the store exactly once, the audit and the history
//! verify, and no 5xx came outside a fault window.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use ledger_tests::ledger_bin;
use ledger_tests::soak::{self, Plan};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_ledger_loses_nothing_through_every_kind_of_fault_under_load() {
    let plan = Plan::smoke();
    let report = soak::run(ledger_bin!(), &plan).await.unwrap();
    let markdown = report.markdown();
    println!("{markdown}");
    assert_eq!(report.faults.len(), 6, "one fault of each kind: {markdown}");
    assert!(report.passed(), "{markdown}");
    for command in [
        "purchase",
        "activate",
        "allocate",
        "modify",
        "return",
        "hide",
        "unhide",
        "renew",
        "upgrade",
        "usage_report",
        "bulk_allocate",
    ] {
        assert!(
            report.commands.get(command).copied().unwrap_or(0) > 0,
            "{command}: {markdown}"
        );
    }
    assert!(report.queries > 0, "{markdown}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn on_a_three_node_nats_cluster_the_ledger_loses_nothing_when_a_node_is_lost() {
    let plan = Plan {
        nats_nodes: 3,
        ..Plan::smoke()
    };
    let report = soak::run(ledger_bin!(), &plan).await.unwrap();
    let markdown = report.markdown();
    println!("{markdown}");
    assert!(
        report
            .faults
            .iter()
            .any(|(fault, recovered)| fault.starts_with("a NATS node lost") && recovered.is_some()),
        "{markdown}"
    );
    assert!(report.passed(), "{markdown}");
}
