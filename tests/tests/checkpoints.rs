//! Signed checkpoints end to end, with the real binary: the active relay grows the
//! transparency log, signs its head once events exist and publishes it on the
//! `_system` subject; the projector steps over it; `ledger verify history` holds
//! the store to it (exit 0), and names an event forged by SQL before it (exit 1)
//! that every chain accepts.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::time::Duration;

use ledger_tests::{
    activated_license, ledger_bin, run_ledger, wait_until_projected, Api, Ledger, TestEnv,
};
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_relay_writes_and_publishes_checkpoints_and_verify_holds_the_store_to_them() {
    let env = TestEnv::fresh().with_checkpoints();
    let ledger = Ledger::start(ledger_bin!(), &env, &[]).await.unwrap();
    let api = Api::new(&ledger);
    let mut licenses = Vec::new();
    for _ in 0..2 {
        let id = activated_license(&api).await;
        licenses.push(id);
    }

    // The checkpoint reaches the stream on its reserved subject.
    let js = env.jetstream().await;
    let subject = format!(
        "{}._system.integritycheckpoint.store.Checkpointed",
        env.prefix
    );
    let stream = js.get_stream(&env.stream).await.unwrap();
    let started = tokio::time::Instant::now();
    // The first may come before the second license: wait for one over both.
    let (message, body) = loop {
        if let Ok(message) = stream.get_last_raw_message_by_subject(&subject).await {
            let body: Value = serde_json::from_slice(&message.payload).unwrap();
            if body["tree_size"].as_u64() >= Some(4) {
                break (message, body);
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no checkpoint on {subject}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let number = body["checkpoint"].as_i64().unwrap();
    assert_eq!(body["key_id"], "ck-test");
    assert_eq!(
        message
            .headers
            .get("Ledger-Aggregate-Type")
            .unwrap()
            .as_str(),
        "IntegrityCheckpoint"
    );

    // The projector steps over it: caught up, nothing set aside.
    wait_until_projected(&env, Duration::from_secs(30))
        .await
        .unwrap();
    let pool = env.pool().await;
    let rejected: i64 = sqlx::query_scalar("SELECT count(*) FROM read_model.rejected_messages")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(rejected, 0);

    let verified = run_ledger(ledger_bin!(), &env, &["verify", "history"]).await;
    let said = String::from_utf8_lossy(&verified.stdout);
    assert_eq!(
        verified.status.code(),
        Some(0),
        "{said}{}",
        String::from_utf8_lossy(&verified.stderr)
    );
    assert!(
        said.contains(&format!(
            "checkpoint {number} (key ck-test) verifies: the log of {} events has its signed root",
            body["tree_size"]
        )),
        "{said}"
    );

    // An event forged into the first license, dated before everything signed.
    let cut_transaction: i64 =
        sqlx::query_scalar("SELECT min(transaction_id)::text::bigint FROM events")
            .fetch_one(&pool)
            .await
            .unwrap();
    sqlx::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version,
                             payload, metadata, transaction_id, global_position)
         OVERRIDING SYSTEM VALUE
         VALUES ('License', $1, 3, 'Hidden', '1', '{\"Hidden\":{}}', $2, $3::text::xid8, -7)",
    )
    .bind(&licenses[0])
    .bind(json!({"account_id": api.account.to_string()}))
    .bind(cut_transaction.to_string())
    .execute(&pool)
    .await
    .unwrap();
    let account = api.account.to_string();
    let caught = run_ledger(
        ledger_bin!(),
        &env,
        &["verify", "history", "--account", &account],
    )
    .await;
    let said = String::from_utf8_lossy(&caught.stdout);
    assert_eq!(caught.status.code(), Some(1), "{said}");
    assert!(said.contains("every chain links"), "{said}");
    let named: Vec<Value> = said
        .lines()
        .filter(|line| line.starts_with('{'))
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    // Every checkpoint written so far signed a log the forgery changes.
    assert!(!named.is_empty(), "{said}");
    for problem in &named {
        assert_eq!(problem["problem"], "log_differs", "{said}");
        assert_eq!(problem["leaf_index"], 0, "{said}");
        assert_eq!(problem["global_position"], -7, "{said}");
    }
    env.cleanup().await;
}
