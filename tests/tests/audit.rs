//! `ledger audit` replays the read models from the event store (not from NATS)
//! and compares them with the live ones: it agrees on an honest ledger (exit 0),
//! and finds a hand-edited row and a deleted row (exit 1), naming table and row;
//! `ledger verify history` checks the store's own hash chains the same way.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::time::Duration;

use ledger_tests::{
    activated_license, ledger_bin, run_ledger, wait_until_projected, Api, Ledger, TestEnv,
};
use serde_json::{json, Value};

fn differences(output: &std::process::Output) -> Vec<Value> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|line| line.starts_with('{'))
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_agrees_with_an_honest_ledger_and_names_every_tampered_row() {
    let env = TestEnv::fresh();
    let ledger = Ledger::start(ledger_bin!(), &env, &[]).await.unwrap();
    let api = Api::new(&ledger);
    let mut licenses = Vec::new();
    for n in 0..3 {
        let id = activated_license(&api).await;
        let allocate = json!({"host": format!("srv-{n}"), "quantity": 10});
        let allocated = api
            .post(&format!("/licenses/{id}/allocations"), allocate)
            .await
            .unwrap();
        assert_eq!(allocated.status, 201);
        licenses.push(id);
    }
    wait_until_projected(&env, Duration::from_secs(30))
        .await
        .unwrap();

    // The ledger keeps running: the audit compares at the live checkpoint.
    let honest = run_ledger(ledger_bin!(), &env, &["audit"]).await;
    let said = String::from_utf8_lossy(&honest.stdout);
    assert_eq!(
        honest.status.code(),
        Some(0),
        "{said}{}",
        String::from_utf8_lossy(&honest.stderr)
    );
    assert!(said.contains("9 events replayed"), "{said}");
    assert!(said.contains("the read models agree"), "{said}");

    let pool = env.pool().await;
    sqlx::query("UPDATE read_model.licenses SET quantity = 999 WHERE license_id = $1::uuid")
        .bind(&licenses[0])
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("DELETE FROM read_model.license_allocations WHERE license_id = $1::uuid")
        .bind(&licenses[1])
        .execute(&pool)
        .await
        .unwrap();
    let tampered = run_ledger(ledger_bin!(), &env, &["audit"]).await;
    assert_eq!(tampered.status.code(), Some(1));
    let found = differences(&tampered);
    let edited: Vec<_> = found
        .iter()
        .filter(|d| d["table"] == "licenses")
        .map(|d| {
            (
                d["only_in"].as_str().unwrap(),
                d["row"]["quantity"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(edited.len(), 2, "{found:?}");
    assert!(edited.contains(&("live", 999)) && edited.contains(&("replay", 1000)));
    let deleted: Vec<_> = found
        .iter()
        .filter(|d| d["table"] == "license_allocations")
        .collect();
    assert_eq!(deleted.len(), 1, "{found:?}");
    assert_eq!(deleted[0]["only_in"], "replay");
    assert_eq!(deleted[0]["row"]["license_id"], licenses[1].as_str());

    // The event store itself is intact: its chains link. With no checkpoint key
    // configured there is no signed checkpoint to hold it to, and the exit status
    // (3) says so.
    let intact = run_ledger(ledger_bin!(), &env, &["verify", "history"]).await;
    let said = String::from_utf8_lossy(&intact.stdout);
    assert_eq!(intact.status.code(), Some(3), "{said}");
    assert!(
        said.contains("9 events in 3 streams; every chain links; no signed checkpoint yet"),
        "{said}"
    );
    // An event altered in place is named.
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("ALTER TABLE events DISABLE TRIGGER events_append_only_rows")
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query(
        r#"UPDATE events SET metadata = '{"actor": "someone else"}'
            WHERE aggregate_id = $1 AND sequence = 2"#,
    )
    .bind(&licenses[2])
    .execute(&mut *tx)
    .await
    .unwrap();
    sqlx::query("ALTER TABLE events ENABLE TRIGGER events_append_only_rows")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let altered = run_ledger(ledger_bin!(), &env, &["verify", "history"]).await;
    let said = String::from_utf8_lossy(&altered.stdout);
    assert_eq!(altered.status.code(), Some(1), "{said}");
    assert!(
        said.contains(&format!("the first is License {} sequence 2", licenses[2])),
        "{said}"
    );

    // The scratch schema is gone either way.
    let schemas: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.schemata WHERE schema_name = 'read_model_audit'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(schemas, 0);
    env.cleanup().await;
}

#[tokio::test]
async fn the_auditors_checks_exit_2_when_they_cannot_run_and_never_create_a_database() {
    // A mistyped database name: no such database.
    let env = TestEnv::fresh();
    for args in [&["audit"][..], &["verify", "history"][..]] {
        let output = run_ledger(ledger_bin!(), &env, args).await;
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let server = sqlx::PgPool::connect(&format!("{}/postgres", ledger_tests::pg_server()))
        .await
        .unwrap();
    let created: Option<String> =
        sqlx::query_scalar("SELECT datname::text FROM pg_database WHERE datname = $1")
            .bind(&env.database)
            .fetch_optional(&server)
            .await
            .unwrap();
    assert_eq!(
        created, None,
        "a check created the database it was to check"
    );

    // A database that exists but holds no ledger.
    sqlx::query(&format!("CREATE DATABASE \"{}\"", env.database))
        .execute(&server)
        .await
        .unwrap();
    for args in [&["audit"][..], &["verify", "history"][..]] {
        let output = run_ledger(ledger_bin!(), &env, args).await;
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("no ledger event store"),
            "{args:?}: {stderr}"
        );
    }
    env.cleanup().await;
}
