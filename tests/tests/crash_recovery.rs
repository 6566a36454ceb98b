//! Nothing is lost: events committed before a SIGKILL reach the stream and the read
//! model exactly once after a restart, and a standby relay takes over from a
//! killed one without gaps or duplicates. Proven by killing processes.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ledger_tests::{
    assert_exactly_once_everywhere, ledger_bin, purchase_body, stored_events, Api, Ledger, TestEnv,
};
use serde_json::json;
use tokio::task::JoinSet;

/// Purchases, activates and allocates in a loop until a request fails (the process
/// was killed). Returns the (license, version) pairs the ledger acknowledged.
async fn keep_commanding(api: Api, acknowledged: Arc<AtomicUsize>) -> Vec<(String, i64)> {
    let mut confirmed = Vec::new();
    loop {
        let Ok(purchased) = api.post("/licenses", purchase_body(None)).await else {
            return confirmed;
        };
        if purchased.status != 201 {
            return confirmed;
        }
        let id = purchased.body["license_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        confirmed.push((id.clone(), 1));
        acknowledged.fetch_add(1, Ordering::SeqCst);
        let steps = [
            ("activate", json!({"access_code": "LA-0001234567-12345"})),
            ("allocations", json!({"host": "serverA", "quantity": 100})),
            ("allocations", json!({"host": "serverB", "quantity": 50})),
        ];
        for (step, body) in steps {
            match api.post(&format!("/licenses/{id}/{step}"), body).await {
                Ok(answer) if answer.status < 300 => {
                    confirmed.push((id.clone(), answer.body["version"].as_i64().unwrap_or(0)));
                    acknowledged.fetch_add(1, Ordering::SeqCst);
                }
                _ => return confirmed,
            }
        }
    }
}

async fn assert_acknowledged_are_stored(env: &TestEnv, confirmed: &[(String, i64)]) {
    let stored: HashSet<(String, i64)> = stored_events(&env.pool().await)
        .await
        .into_iter()
        .map(|row| (row.aggregate_id, row.sequence))
        .collect();
    for pair in confirmed {
        assert!(
            stored.contains(pair),
            "acknowledged {pair:?} is not in the store"
        );
    }
}

async fn wait_for_acknowledged(acknowledged: &AtomicUsize, at_least: usize) {
    for _ in 0..600 {
        if acknowledged.load(Ordering::SeqCst) >= at_least {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the ledger acknowledged too few commands");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn committed_events_survive_a_kill_and_reach_stream_and_read_model_exactly_once() {
    let env = TestEnv::fresh();
    let mut ledger = Ledger::start(ledger_bin!(), &env, &[]).await.unwrap();
    let api = Api::new(&ledger);
    let acknowledged = Arc::new(AtomicUsize::new(0));
    let mut workers = JoinSet::new();
    for _ in 0..6 {
        workers.spawn(keep_commanding(api.clone(), acknowledged.clone()));
    }
    wait_for_acknowledged(&acknowledged, 150).await;
    ledger.kill().await;
    let mut confirmed = Vec::new();
    while let Some(done) = workers.join_next().await {
        confirmed.extend(done.unwrap());
    }
    assert_acknowledged_are_stored(&env, &confirmed).await;

    let restarted = Ledger::start(ledger_bin!(), &env, &[]).await.unwrap();
    let api = api.at(&restarted);
    let after = api.post("/licenses", purchase_body(None)).await.unwrap();
    assert_eq!(after.status, 201, "the restarted ledger takes commands");
    assert_exactly_once_everywhere(&env).await;
    drop(restarted);
    env.cleanup().await;
}

/// The OS pid of the process whose relay holds the advisory lock, if any.
async fn relay_lock_holder(env: &TestEnv) -> Option<u32> {
    let name: Option<String> = sqlx::query_scalar(
        "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
          WHERE l.locktype = 'advisory' AND l.granted AND a.datname = current_database()",
    )
    .fetch_optional(&env.pool().await)
    .await
    .unwrap();
    name?.strip_prefix("ledger-relay pid=")?.parse().ok()
}

async fn wait_for_lock_holder(env: &TestEnv, pid: Option<u32>) {
    for _ in 0..300 {
        if relay_lock_holder(env).await == pid {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the relay lock never went to {pid:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_standby_relay_takes_over_from_a_killed_one_without_gaps_or_duplicates() {
    let env = TestEnv::fresh();
    let front = Ledger::start_roles(ledger_bin!(), &env, "gateway,projector", &[])
        .await
        .unwrap();
    let first = Ledger::start_roles(ledger_bin!(), &env, "relay", &[])
        .await
        .unwrap();
    let second = Ledger::start_roles(ledger_bin!(), &env, "relay", &[])
        .await
        .unwrap();
    let api = Api::new(&front);
    let acknowledged = Arc::new(AtomicUsize::new(0));
    let mut workers = JoinSet::new();
    for _ in 0..4 {
        workers.spawn(keep_commanding(api.clone(), acknowledged.clone()));
    }
    wait_for_acknowledged(&acknowledged, 60).await;
    let holder = relay_lock_holder(&env).await;
    assert!(holder.is_some(), "one relay holds the lock");
    let (mut leader, standby) = if holder == first.pid() {
        (first, second)
    } else {
        (second, first)
    };
    assert_eq!(holder, leader.pid());
    leader.kill().await;
    wait_for_lock_holder(&env, standby.pid()).await;
    wait_for_acknowledged(&acknowledged, 200).await;
    // Stop the traffic, then check that everything arrived exactly once.
    drop(front);
    while workers.join_next().await.is_some() {}
    let projector = Ledger::start_roles(ledger_bin!(), &env, "gateway,projector", &[])
        .await
        .unwrap();
    assert_exactly_once_everywhere(&env).await;
    drop(projector);
    drop(standby);
    env.cleanup().await;
}
