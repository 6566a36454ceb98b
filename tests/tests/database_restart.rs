//! PostgreSQL itself crashes (`pg_ctl stop -m immediate`) and comes back, on a
//! cluster of the test's own, never the machine's shared one. While it is away, a
//! command is told to retry (503 `store-unavailable` with `Retry-After`), never
//! that the ledger failed (500), and readiness names the database. Once it is back,
//! the same process, not restarted, takes commands again, and its relay and
//! projector follow: nothing committed is lost or doubled.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::time::Duration;

use ledger_tests::health::{readiness, ready_again};
use ledger_tests::{
    assert_exactly_once_everywhere, ledger_bin, purchase_body, Api, Ledger, OwnPostgres, TestEnv,
};

/// Longest the test waits for commands to be taken again: a bound on behaviour,
/// generous for a shared machine; the time it took is printed, not asserted.
const PATIENCE: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_database_crash_is_answered_503_and_every_role_follows_it_back() {
    let postgres = OwnPostgres::start().await.unwrap();
    let env = TestEnv::fresh()
        .on_postgres(&postgres.url())
        .with_checkpoints();
    let ledger = Ledger::start(ledger_bin!(), &env, &[]).await.unwrap();
    let api = Api::new(&ledger);
    for _ in 0..20 {
        let answer = api.post("/licenses", purchase_body(None)).await.unwrap();
        assert_eq!(answer.status, 201, "{}", answer.body);
    }

    postgres.crash().unwrap();
    let refused = api
        .request(reqwest::Method::POST, "/licenses")
        .json(&purchase_body(None))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 503);
    assert_eq!(
        refused
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("1")
    );
    let problem: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(
        problem["type"], "urn:licensing-ledger:problem:store-unavailable",
        "{problem}"
    );
    let (status, body) = readiness(&ledger).await;
    assert_eq!((status, &body["database"]), (503, &false.into()), "{body}");

    postgres.start_server().await.unwrap();
    let back = tokio::time::Instant::now();
    loop {
        let answer = api.post("/licenses", purchase_body(None)).await.unwrap();
        if answer.status == 201 {
            break;
        }
        // Until the pool has a connection again, only "retry": never a 500.
        assert_eq!(answer.status, 503, "{}", answer.body);
        assert!(back.elapsed() < PATIENCE, "still refused: {}", answer.body);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "commands taken again {:.1} s after PostgreSQL was back",
        back.elapsed().as_secs_f64()
    );
    ready_again(&ledger).await;
    assert_exactly_once_everywhere(&env).await;
    drop(ledger);
}
