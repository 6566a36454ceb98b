//! NATS itself dies: the relay is draining a backlog when the broker is killed with
//! SIGKILL and started again. No event may be lost, duplicated or reordered on its
//! way to the stream and the read model. The broker is the test's own (a free port
//! and its own store), never the machine's shared server.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::time::Duration;

use ledger_tests::{
    assert_exactly_once_everywhere, ledger_bin, purchase_body, Api, Ledger, OwnNats, TestEnv,
};
use tokio::task::JoinSet;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_broker_killed_mid_backlog_loses_duplicates_and_reorders_nothing() {
    let mut nats = OwnNats::start().await;
    let env = TestEnv::fresh().on_nats(&nats.url());
    // Commands pile up in the store with no relay running: the backlog.
    let front = Ledger::start_roles(ledger_bin!(), &env, "gateway,projector", &[])
        .await
        .unwrap();
    let api = Api::new(&front);
    let mut senders = JoinSet::new();
    for _ in 0..8 {
        let api = api.clone();
        senders.spawn(async move {
            for _ in 0..150 {
                let answer = api.post("/licenses", purchase_body(None)).await.unwrap();
                assert_eq!(answer.status, 201);
            }
        });
    }
    while let Some(done) = senders.join_next().await {
        done.unwrap();
    }
    // Small batches: the relay is still publishing when the broker dies.
    let relay = Ledger::start_roles(
        ledger_bin!(),
        &env,
        "relay",
        &[("LEDGER_RELAY_BATCH_SIZE", "20")],
    )
    .await
    .unwrap();
    let js = env.jetstream().await;
    for _ in 0..2_000 {
        let published = match js.get_stream(&env.stream).await {
            Ok(mut stream) => stream.info().await.map(|i| i.state.messages).unwrap_or(0),
            Err(_) => 0,
        };
        if published >= 100 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    nats.kill();
    tokio::time::sleep(Duration::from_millis(300)).await;
    nats.restart().await;

    assert_exactly_once_everywhere(&env).await;
    drop((relay, front));
    env.cleanup().await;
}
