//! The HTTP contract fuzzed at CI's budget: schemathesis sends requests generated
//! from `GET /openapi.json` to the real binary, with real tokens and the ids of a
//! seeded account, and every answer must be what the document promises. The
//! larger budget is `bash deploy/fuzz.sh --seconds N`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use ledger_tests::fuzz::{self, Budget};
use ledger_tests::ledger_bin;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_generated_request_gets_a_documented_answer_and_no_server_error() {
    let report = fuzz::run(ledger_bin!(), Budget::ci()).await.unwrap();
    let summary = report.summary();
    println!("{summary}");
    // Both tokens' runs reached the ledger: the admin's three operations and most
    // of the portal's.
    assert_eq!(report.scopes.len(), 2, "{summary}");
    assert!(report.scopes[0].operations >= 3, "{summary}");
    assert!(report.scopes[1].operations >= 40, "{summary}");
    assert!(report.requests() > 1_000, "{summary}");
    assert_eq!(report.failures(), 0, "{summary}");
    assert!(report.passed(), "{summary}");
}
