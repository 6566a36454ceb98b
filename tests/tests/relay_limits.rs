//! The relay at the sizes users reach, with the real binary and checkpoints on:
//! tens of thousands of streams changed within one checkpoint interval (which once
//! made a 2.9 MB checkpoint that NATS refused, and stopped the read side for good
//! while readiness said ready), and an event larger than the broker takes, which
//! must stop the relay loudly — named in readiness — rather than silently.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::time::Duration;

use ledger_tests::bench::seed;
use ledger_tests::health::not_ready_because;
use ledger_tests::{ledger_bin, purchase_body, read_side_moves, Api, Ledger, TestEnv};
use serde_json::{json, Value};

const CHECKPOINT_SUBJECT: &str = "_system.integritycheckpoint.store.Checkpointed";

/// The newest checkpoint on the stream whose log holds at least `size` events.
async fn checkpoint_of_at_least(env: &TestEnv, size: u64) -> (Value, usize) {
    let js = env.jetstream().await;
    let stream = js.get_stream(&env.stream).await.unwrap();
    let subject = format!("{}.{CHECKPOINT_SUBJECT}", env.prefix);
    let started = tokio::time::Instant::now();
    loop {
        if let Ok(message) = stream.get_last_raw_message_by_subject(&subject).await {
            let body: Value = serde_json::from_slice(&message.payload).unwrap();
            if body["tree_size"].as_u64().unwrap_or(0) >= size {
                return (body, message.payload.len());
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(240),
            "no checkpoint of {size} events on {subject}; see {}",
            env.log_path().display()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tens_of_thousands_of_streams_changed_between_checkpoints_make_a_small_checkpoint_and_the_relay_goes_on(
) {
    const STREAMS: usize = 30_000;
    let env = TestEnv::fresh().with_checkpoints();
    let ledger = Ledger::start(ledger_bin!(), &env, &[]).await.unwrap();
    let api = Api::new(&ledger);
    let pool = env.pool().await;

    // Each batch is 30,000 new streams within one checkpoint interval.
    seed::purchases(&pool, 3, STREAMS).await.unwrap();
    let (first, first_bytes) = checkpoint_of_at_least(&env, STREAMS as u64).await;
    seed::purchases(&pool, 3, STREAMS).await.unwrap();
    let (second, second_bytes) = checkpoint_of_at_least(&env, 2 * STREAMS as u64).await;
    assert!(second["checkpoint"].as_i64() > first["checkpoint"].as_i64());
    // A signed tree head: the same few hundred bytes whatever the log holds.
    assert!(second_bytes < 1_024, "{second_bytes} bytes: {second}");
    assert!(
        second_bytes.abs_diff(first_bytes) <= 8,
        "{first_bytes} against {second_bytes}"
    );
    read_side_moves(&api).await;
    let ready = reqwest::get(format!("{}/health/ready", ledger.base_url))
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_the_broker_cannot_take_stops_the_relay_before_it_and_readiness_names_it() {
    let env = TestEnv::fresh();
    let ledger = Ledger::start(ledger_bin!(), &env, &[]).await.unwrap();
    let api = Api::new(&ledger);
    read_side_moves(&api).await;

    // An event recorded behind the gateway's back (as a store from before the
    // gateway checked sizes could hold), over the broker's 1 MiB.
    let pool = env.pool().await;
    let oversized = uuid::Uuid::now_v7().to_string();
    sqlx::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version,
                             payload, metadata)
         VALUES ('License', $1, 1, 'Hidden', '1', $2, $3)",
    )
    .bind(&oversized)
    .bind(json!({"Hidden": {"padding": "x".repeat(1_200_000)}}))
    .bind(json!({"account_id": api.account.to_string()}))
    .execute(&pool)
    .await
    .unwrap();
    let after = api.post("/licenses", purchase_body(None)).await.unwrap();
    assert_eq!(after.status, 201);

    let body = not_ready_because(&ledger, |problem| problem.starts_with("relay: ")).await;
    assert_eq!(
        (&body["database"], &body["nats"]),
        (&json!(true), &json!(true))
    );
    let said = body["problems"][0].as_str().unwrap();
    assert!(
        said.starts_with(&format!(
            "relay: cannot publish License {oversized} sequence 1"
        )),
        "{said}"
    );
    assert!(said.contains("max_payload of 1048576"), "{said}");
    let log = std::fs::read_to_string(env.log_path()).unwrap();
    assert!(log.contains(&oversized), "the log names the event");

    // Nothing after it was published out of order: the later purchase waits.
    let js = env.jetstream().await;
    let mut stream = js.get_stream(&env.stream).await.unwrap();
    let published = stream.info().await.unwrap().state.messages;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(stream.info().await.unwrap().state.messages, published);
    assert_eq!(published, 1, "only the first purchase is on the stream");
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transparency_log_that_cannot_grow_is_named_in_readiness_and_publishing_goes_on() {
    let env = TestEnv::fresh().with_checkpoints();
    let ledger = Ledger::start(ledger_bin!(), &env, &[]).await.unwrap();
    let api = Api::new(&ledger);
    read_side_moves(&api).await;
    let pool = env.pool().await;
    // A leaf written behind the relay's back where its next one goes: the stored
    // log no longer is the one the relay grows.
    let size = |pool: sqlx::PgPool| async move {
        sqlx::query_scalar::<_, i64>(
            "SELECT coalesce(max(leaf_index) + 1, 0) FROM transparency_leaves",
        )
        .fetch_one(&pool)
        .await
        .unwrap()
    };
    loop {
        let next = size(pool.clone()).await;
        let forged = sqlx::query(
            "INSERT INTO transparency_leaves (leaf_index, global_position) VALUES ($1, -1)",
        )
        .bind(next)
        .execute(&pool)
        .await;
        if forged.is_ok() {
            break;
        }
    }
    read_side_moves(&api).await;

    not_ready_because(&ledger, |problem| {
        problem.starts_with("transparency log: not growing")
    })
    .await;
    // Publishing never stopped.
    read_side_moves(&api).await;
    env.cleanup().await;
}
