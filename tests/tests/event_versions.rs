//! Event versioning working end to end: a `Purchased` v1 stored before v2 existed
//! (no `feature`) still loads for commands (cqrs-es upcaster), goes on the stream
//! as it was stored (version header 1), is read by the projector through the
//! upcaster, shows in history with its version, and passes the audit; a new
//! purchase is written as v2.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::time::Duration;

use ledger_tests::{
    header, ledger_bin, purchase_body, run_ledger, stream_messages, wait_until_projected, Api,
    Ledger, TestEnv,
};
use serde_json::json;
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_v1_purchase_still_reads_replays_and_projects() {
    let env = TestEnv::fresh();
    let migrated = run_ledger(ledger_bin!(), &env, &["migrate"]).await;
    assert!(migrated.status.success());
    let (account, license) = (Uuid::now_v7(), Uuid::now_v7());
    let v1_body = json!({
        "account_id": account, "product": "XDT", "edition": "ENT", "version": "7.15",
        "license_model": "user_device", "binding_type": "host_name", "quantity": 100,
        "expires_on": null, "maintenance_until": "2030-01-31", "order_number": "ORD-V1",
        "access_code": "LA-V1", "trial": false, "partial_allocation": true,
        "purchased_at": "2026-01-15T09:00:00Z"
    });
    let pool = env.pool().await;
    sqlx::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version,
                             payload, metadata)
         VALUES ('License', $1, 1, 'Purchased', '1', $2, $3)",
    )
    .bind(license.to_string())
    .bind(json!({ "Purchased": v1_body }))
    .bind(json!({
        "account_id": account.to_string(), "actor": "legacy-import",
        "occurred_at": "2026-01-15T09:00:00Z", "request_id": "v1"
    }))
    .execute(&pool)
    .await
    .unwrap();

    let ledger = Ledger::start(ledger_bin!(), &env, &[]).await.unwrap();
    let api = Api::new(&ledger).for_account(account);
    // Commands load the v1 event through the upcaster.
    let activated = api
        .post(
            &format!("/licenses/{license}/activate"),
            json!({"access_code": "LA-V1"}),
        )
        .await
        .unwrap();
    assert_eq!(activated.status, 200, "{}", activated.body);
    let allocated = api
        .post(
            &format!("/licenses/{license}/allocations"),
            json!({"host": "srv-1", "quantity": 40}),
        )
        .await
        .unwrap();
    assert_eq!(allocated.status, 201, "{}", allocated.body);
    let fresh = api.post("/licenses", purchase_body(None)).await.unwrap();
    assert_eq!(fresh.body["events"][0]["version"], "2");
    assert_eq!(fresh.body["events"][0]["body"]["feature"], "XDT_ENT_UD");
    wait_until_projected(&env, Duration::from_secs(30))
        .await
        .unwrap();

    // The projector read the v1 message through the upcaster.
    let row = api.get(&format!("/licenses/{license}")).await.unwrap();
    assert_eq!(row.status, 200, "{}", row.body);
    assert_eq!(row.body["feature"], "XDT_ENT_UD");
    assert_eq!(row.body["allocated"], 40);

    // The stream carries the event as stored: version 1, no feature.
    let messages = stream_messages(&env.jetstream().await, &env.stream).await;
    let first = &messages[0];
    assert_eq!(header(first, "Ledger-Event-Version"), "1");
    let body: serde_json::Value = serde_json::from_slice(&first.payload).unwrap();
    assert!(body.get("feature").is_none());

    // History shows it as stored; its state as of now folds it like any other.
    let history = api
        .get(&format!("/licenses/{license}/history"))
        .await
        .unwrap();
    assert_eq!(history.body["events"][0]["version"], "1");
    let state = api
        .get(&format!("/licenses/{license}/state"))
        .await
        .unwrap();
    assert_eq!(state.body["version"], 3);
    let audit = run_ledger(ledger_bin!(), &env, &["audit"]).await;
    assert_eq!(
        audit.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&audit.stdout)
    );
    env.cleanup().await;
}
