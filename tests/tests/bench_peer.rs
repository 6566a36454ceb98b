//! The benchmark's peer (`ledger-peer`) decides with the ledger's own rules, so
//! the ledger/peer ratio compares like with like: a lifecycle is recorded in
//! postgres-es's `events` table, and what the ledger refuses the peer refuses —
//! a malformed field, a rule broken, an allocation that does not exist.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use chrono::{Days, Utc};
use ledger_tests::bench::peer;
use ledger_tests::{pg_server, spawn_listening};
use serde_json::{json, Value};
use tokio::process::Command;
use uuid::Uuid;

async fn post(client: &reqwest::Client, url: String, body: Value) -> (u16, Value) {
    let response = client.post(url).json(&body).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_peer_records_a_lifecycle_and_refuses_what_the_ledger_refuses() {
    let database_url = format!(
        "{}/ledger_peer_test_{}",
        pg_server(),
        Uuid::new_v4().simple()
    );
    let log = std::env::temp_dir().join(format!("ledger-peer-{}.log", Uuid::new_v4()));
    let mut command = Command::new(env!("CARGO_BIN_EXE_ledger-peer"));
    command.args(["--database-url", &database_url]);
    let (child, base) = spawn_listening(command, &log).await.unwrap();
    let client = reqwest::Client::new();
    let account = Uuid::new_v4();
    let url = |path: &str| format!("{base}/v1/accounts/{account}{path}");
    let today = Utc::now().date_naive();
    let purchase = json!({
        "product": "XDT", "edition": "ENT", "version": "7.15",
        "license_model": "user_device", "binding_type": "host_name",
        "quantity": 10, "expires_on": today + Days::new(30),
        "maintenance_until": today + Days::new(365),
        "order_number": "PEER-1", "access_code": "LA-1",
    });

    let mut malformed = purchase.clone();
    malformed["product"] = json!("not a product");
    assert_eq!(post(&client, url("/licenses"), malformed).await.0, 400);

    let (status, bought) = post(&client, url("/licenses"), purchase).await;
    assert_eq!(status, 201, "{bought}");
    let license = bought["license_id"].as_str().unwrap().to_owned();
    let license_url = |path: &str| url(&format!("/licenses/{license}{path}"));

    // Not activated yet, then the wrong code: the domain's refusals, as 422.
    let allocate = json!({"host": "srv-1", "quantity": 4});
    let early = post(&client, license_url("/allocations"), allocate.clone()).await;
    assert_eq!(early.0, 422, "{}", early.1);
    let wrong = json!({"access_code": "LA-2"});
    assert_eq!(post(&client, license_url("/activate"), wrong).await.0, 422);
    let right = json!({"access_code": "LA-1"});
    assert_eq!(post(&client, license_url("/activate"), right).await.0, 200);

    let (status, allocated) = post(&client, license_url("/allocations"), allocate).await;
    assert_eq!(status, 201, "{allocated}");
    let allocation = allocated["allocation_id"].as_str().unwrap().to_owned();
    let too_many = json!({"host": "srv-2", "quantity": 7});
    assert_eq!(
        post(&client, license_url("/allocations"), too_many).await.0,
        422
    );
    let moved = json!({"new_host": "srv-3"});
    let modify = format!("/allocations/{allocation}/modify");
    let (status, modified) = post(&client, license_url(&modify), moved).await;
    assert_eq!(status, 200, "{modified}");
    assert_ne!(modified["allocation_id"], json!(allocation));
    // The moved allocation is no longer live: returning it is refused.
    let gone = format!("/allocations/{allocation}/return");
    assert_eq!(post(&client, license_url(&gone), Value::Null).await.0, 422);
    let renew = json!({"expires_on": today + Days::new(800)});
    assert_eq!(post(&client, license_url("/renew"), renew).await.0, 200);
    let report = json!({"host": "srv-3", "day": today,
                        "peaks": [{"feature": "XDT_ENT_UD", "peak_in_use": 3}]});
    assert_eq!(post(&client, url("/usage-reports"), report).await.0, 201);

    let pool = peer::open(&database_url).await.unwrap();
    let recorded: Vec<(String, String)> = sqlx::query_as(
        "SELECT aggregate_type, event_type FROM events ORDER BY aggregate_type, sequence",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    pool.close().await;
    drop(child);
    peer::drop_database(&database_url).await;
    let types: Vec<&str> = recorded.iter().map(|(_, t)| t.as_str()).collect();
    assert_eq!(recorded.first().map(|(a, _)| a.as_str()), Some("License"));
    assert_eq!(
        recorded.last().map(|(a, _)| a.as_str()),
        Some("ServerUsage")
    );
    assert!(types.len() >= 6, "{recorded:?}");
    assert_eq!(types[0], "Purchased", "{recorded:?}");
}
