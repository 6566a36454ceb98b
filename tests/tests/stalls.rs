//! Health that tells the truth, with the real binary: a relay or a projector that
//! stops advancing while events wait for it is named in readiness (503, with the
//! cause), in `/health/status` (its lag) and in `/metrics`, and all three say so
//! no more once the cause is gone and its lag is back to 0. The causes are real:
//! the relay's own NATS server killed, the projector's checkpoint table locked.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use ledger_tests::health::{
    not_ready_because, ready_again, role_status, role_status_until, scrape, scrape_until,
};
use ledger_tests::{ledger_bin, purchase_body, read_side_moves, Api, Ledger, OwnNats, TestEnv};
use serde_json::Value;

/// A stall is named after this long without progress.
const STALL_AFTER: (&str, &str) = ("LEDGER_STALL_AFTER_SECS", "2");
const WAITING: u64 = 3;

async fn purchases(api: &Api, count: u64) {
    for _ in 0..count {
        let bought = api.post("/licenses", purchase_body(None)).await.unwrap();
        assert_eq!(bought.status, 201, "{}", bought.body);
    }
}

fn lag_events(entry: &Value) -> u64 {
    entry["lag_events"].as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_whose_broker_is_gone_is_named_with_its_cause_and_recovers_when_the_broker_returns()
{
    let mut nats = OwnNats::start().await;
    let env = TestEnv::fresh().on_nats(&nats.url());
    let ledger = Ledger::start(ledger_bin!(), &env, &[STALL_AFTER])
        .await
        .unwrap();
    let api = Api::new(&ledger);
    read_side_moves(&api).await;
    // The projector can apply an event before the relay, having its ack, saves
    // its checkpoint past it: wait for the lag to settle at zero.
    role_status_until(&ledger, "relay", |entry| entry["lag_events"] == 0).await;

    nats.kill();
    // Commands need only PostgreSQL: the backlog grows behind the relay.
    purchases(&api, WAITING).await;
    // The relay's publishes time out, and the reason names that as the cause.
    let body = not_ready_because(&ledger, |problem| {
        problem.starts_with("relay stalled: ") && problem.contains("last failure")
    })
    .await;
    assert_eq!(body["nats"], false, "{body}");
    let said = body["problems"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .find(|problem| problem.starts_with("relay stalled: "))
        .unwrap()
        .to_owned();
    assert!(
        said.starts_with(&format!(
            "relay stalled: {WAITING} committed events not yet on the stream, the oldest waiting "
        )),
        "{said}"
    );
    let relay = role_status(&ledger, "relay").await;
    assert_eq!(lag_events(&relay), WAITING, "{relay}");
    assert!(relay["lag_seconds"].as_f64().unwrap() > 0.0, "{relay}");
    assert!(relay["stalled"]
        .as_str()
        .unwrap()
        .contains("not yet on the stream"));
    let metrics = scrape(&ledger).await;
    assert_eq!(
        metrics.value("ledger_role_stalled{role=\"relay\"}"),
        Some(1.0)
    );
    assert_eq!(
        metrics.value("ledger_role_lag_events{role=\"relay\"}"),
        Some(WAITING as f64)
    );
    assert_eq!(metrics.value("ledger_nats_connected"), Some(0.0));
    let log = std::fs::read_to_string(env.log_path()).unwrap();
    assert!(log.contains("relay stalled: "), "the log names the stall");

    nats.restart().await;
    ready_again(&ledger).await;
    let relay = role_status_until(&ledger, "relay", |entry| entry["lag_events"] == 0).await;
    assert!(relay["stalled"].is_null(), "{relay}");
    assert_eq!(relay["lag_seconds"], 0.0, "{relay}");
    let metrics = scrape_until(&ledger, |m| {
        m.value("ledger_role_stalled{role=\"relay\"}") == Some(0.0)
    })
    .await;
    assert_eq!(
        metrics.value("ledger_role_lag_events{role=\"relay\"}"),
        Some(0.0)
    );
    assert_eq!(metrics.value("ledger_nats_connected"), Some(1.0));
    read_side_moves(&api).await;
    let log = std::fs::read_to_string(env.log_path()).unwrap();
    assert!(
        log.contains("relay advancing again"),
        "the log says it recovered"
    );
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_projector_held_with_a_backlog_is_named_and_its_lag_shrinks_to_zero_once_released() {
    let env = TestEnv::fresh();
    let ledger = Ledger::start(ledger_bin!(), &env, &[STALL_AFTER])
        .await
        .unwrap();
    let api = Api::new(&ledger);
    read_side_moves(&api).await;

    // Its next batch waits to write its checkpoint. A table lock, not a row lock:
    // locking a row would give this transaction an id, and the oldest running id
    // holds back every relay of the PostgreSQL cluster, other tests' included.
    let pool = env.pool().await;
    let mut hold = pool.begin().await.unwrap();
    sqlx::query("LOCK TABLE read_model.checkpoints IN SHARE MODE")
        .execute(&mut *hold)
        .await
        .unwrap();
    purchases(&api, WAITING).await;
    let body = not_ready_because(&ledger, |problem| {
        problem.starts_with(&format!(
            "projector stalled: {WAITING} stream messages not yet applied"
        ))
    })
    .await;
    assert_eq!(
        (&body["database"], &body["nats"]),
        (&true.into(), &true.into())
    );
    let projector = role_status(&ledger, "projector").await;
    assert_eq!(lag_events(&projector), WAITING, "{projector}");
    assert!(
        projector["lag_seconds"].as_f64().unwrap() > 0.0,
        "{projector}"
    );
    // The relay did its part: the backlog is the projector's alone.
    assert_eq!(lag_events(&role_status(&ledger, "relay").await), 0);
    let metrics = scrape(&ledger).await;
    assert_eq!(
        metrics.value("ledger_role_stalled{role=\"projector\"}"),
        Some(1.0)
    );
    assert_eq!(
        metrics.value("ledger_role_lag_events{role=\"projector\"}"),
        Some(WAITING as f64)
    );
    assert_eq!(
        metrics.value("ledger_role_stalled{role=\"relay\"}"),
        Some(0.0)
    );

    hold.rollback().await.unwrap();
    ready_again(&ledger).await;
    let projector = role_status_until(&ledger, "projector", |entry| entry["lag_events"] == 0).await;
    assert!(projector["stalled"].is_null(), "{projector}");
    assert!(projector["last_progress_at"].is_string(), "{projector}");
    scrape_until(&ledger, |m| {
        m.value("ledger_role_lag_events{role=\"projector\"}") == Some(0.0)
            && m.value("ledger_role_stalled{role=\"projector\"}") == Some(0.0)
    })
    .await;
    read_side_moves(&api).await;
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_relay_is_ready_and_says_another_one_leads() {
    let env = TestEnv::fresh();
    let leader = Ledger::start(ledger_bin!(), &env, &[STALL_AFTER])
        .await
        .unwrap();
    let api = Api::new(&leader);
    read_side_moves(&api).await;
    let standby = Ledger::start_roles(ledger_bin!(), &env, "relay", &[STALL_AFTER])
        .await
        .unwrap();
    let entry = role_status_until(&standby, "relay", |entry| entry["active"] == false).await;
    assert!(entry["stalled"].is_null(), "{entry}");
    assert_eq!(role_status(&leader, "relay").await["active"], true);
    let metrics = scrape(&standby).await;
    assert_eq!(
        metrics.value("ledger_role_active{role=\"relay\"}"),
        Some(0.0)
    );
    // A process of the relay role alone serves no command metrics.
    assert!(
        !metrics.text.contains("ledger_commands_total"),
        "{}",
        metrics.text
    );
    read_side_moves(&api).await;
    env.cleanup().await;
}
