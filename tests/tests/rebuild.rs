//! `ledger rebuild` replays the stream into fresh tables and swaps them in while
//! queries go on: the rebuilt read models equal the live ones row for row, no query
//! fails during the swap, and the live projector carries on in the new tables.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use ledger_tests::{
    activated_license, ledger_bin, purchase_body, wait_until_projected, Api, Ledger, TestEnv,
};
use serde_json::{json, Value};

/// Every index of the live read models: name and definition.
async fn indexes(env: &TestEnv) -> Vec<(String, String)> {
    sqlx::query_as(
        "SELECT indexname::text, indexdef FROM pg_indexes
          WHERE schemaname = 'read_model' ORDER BY indexname",
    )
    .fetch_all(&env.pool().await)
    .await
    .unwrap()
}

/// Every row of the read models, as JSON, in a stable order.
async fn snapshot(env: &TestEnv) -> Vec<Value> {
    let pool = env.pool().await;
    let mut rows = Vec::new();
    for (table, order) in [
        ("licenses", "license_id"),
        ("license_allocations", "allocation_id"),
        ("server_usage", "account_id, day, host, feature"),
        ("account_positions", "account_id"),
    ] {
        let table_rows: Vec<Value> = sqlx::query_scalar(&format!(
            "SELECT to_jsonb(t) FROM read_model.{table} t ORDER BY {order}"
        ))
        .fetch_all(&pool)
        .await
        .unwrap();
        rows.push(json!({ table: table_rows }));
    }
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rebuild_equals_the_live_read_models_and_swaps_in_without_stopping_queries() {
    let env = TestEnv::fresh();
    let ledger = Ledger::start(ledger_bin!(), &env, &[]).await.unwrap();
    let api = Api::new(&ledger);
    for n in 0..20 {
        let id = activated_license(&api).await;
        let allocate = json!({"host": format!("srv-{}", n % 3), "quantity": 10 + n});
        let allocated = api
            .post(&format!("/licenses/{id}/allocations"), allocate)
            .await
            .unwrap();
        if n % 4 == 0 {
            let allocation = allocated.body["allocation_id"].as_str().unwrap();
            api.post_empty(&format!("/licenses/{id}/allocations/{allocation}/return"))
                .await
                .unwrap();
        }
        if n % 5 == 0 {
            api.post_empty(&format!("/licenses/{id}/hide"))
                .await
                .unwrap();
        }
    }
    let report = json!({"host": "srv-1", "day": Utc::now().date_naive(),
        "peaks": [{"feature": "XDT_ENT_UD", "peak_in_use": 77}]});
    assert_eq!(
        api.post("/usage-reports", report).await.unwrap().status,
        201
    );
    wait_until_projected(&env, Duration::from_secs(30))
        .await
        .unwrap();
    let before = snapshot(&env).await;
    let indexed = indexes(&env).await;

    let stop = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(AtomicUsize::new(0));
    let queries = Arc::new(AtomicUsize::new(0));
    let reader = {
        let (api, stop, failures, queries) =
            (api.clone(), stop.clone(), failures.clone(), queries.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                for path in ["/licenses?limit=5", "/landing-page", "/license-servers"] {
                    let status = api.get(path).await.map(|a| a.status).unwrap_or(0);
                    if status != 200 {
                        failures.fetch_add(1, Ordering::SeqCst);
                    }
                    queries.fetch_add(1, Ordering::SeqCst);
                }
            }
        })
    };
    // Batches of 3 messages: each of the rebuild's parallel writers then applies
    // many batches, the streams it owns interleaved with the other writers'.
    let output = tokio::process::Command::new(ledger_bin!())
        .arg("rebuild")
        .envs(env.vars())
        .env("LEDGER_REBUILD_BATCH_SIZE", "3")
        .output()
        .await
        .unwrap();
    stop.store(true, Ordering::SeqCst);
    reader.await.unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(said.contains("rebuilt from"), "{said}");
    assert!(queries.load(Ordering::SeqCst) > 0);
    assert_eq!(
        failures.load(Ordering::SeqCst),
        0,
        "no query failed during the rebuild"
    );
    assert_eq!(
        snapshot(&env).await,
        before,
        "the rebuild equals the live read models"
    );
    // Indexes the replay went without are built before the swap, under their names.
    assert_eq!(indexes(&env).await, indexed, "the same indexes as before");
    assert!(indexed.len() > 10, "{indexed:?}");

    // The live projector carries on, now writing to the swapped-in tables.
    let after = api.post("/licenses", purchase_body(None)).await.unwrap();
    let (id, position) = (
        after.body["license_id"].as_str().unwrap(),
        after.body["position"].as_i64().unwrap(),
    );
    let read = api
        .get(&format!("/licenses/{id}?min_position={position}"))
        .await
        .unwrap();
    assert_eq!(read.status, 200, "{}", read.body);
    drop(ledger);
    env.cleanup().await;
}
