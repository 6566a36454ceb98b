//! The worked analytics consumer (`ledger_tests::analytics`) against the real
//! stream: one account's subjects only, from the beginning, after a global
//! position and from a time, and a redelivered message applied once.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::time::Duration;

use chrono::{DateTime, Utc};
use ledger_tests::analytics::{Consumer, Start, Subscription};
use ledger_tests::{activated_license, ledger_bin, wait_until_projected, Api, Ledger, TestEnv};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_reads_its_account_from_the_start_a_position_or_a_time_once() {
    let env = TestEnv::fresh();
    let ledger = Ledger::start(ledger_bin!(), &env, &[]).await.unwrap();
    let ours = Api::new(&ledger);
    let theirs = Api::new(&ledger);
    let mut licenses = Vec::new();
    for _ in 0..3 {
        licenses.push(activated_license(&ours).await);
        activated_license(&theirs).await;
    }
    wait_until_projected(&env, Duration::from_secs(30))
        .await
        .unwrap();
    let js = env.jetstream().await;
    let subscription = |name: &str, start| Subscription {
        stream: env.stream.clone(),
        name: name.to_owned(),
        subject: format!("{}.{}.>", env.prefix, ours.account),
        start,
    };

    // From the beginning, with the first message redelivered: six events, once each.
    let mut everything = Consumer::default();
    everything
        .run(&js, &subscription("from-start", Start::Beginning), 6, true)
        .await
        .unwrap();
    assert_eq!(everything.applied.len(), 6);
    assert_eq!(everything.duplicates, 1, "the redelivery was recognised");
    assert!(everything
        .applied
        .iter()
        .all(|seen| licenses.contains(&seen.aggregate_id)));
    for license in &licenses {
        let sequences: Vec<i64> = everything
            .applied
            .iter()
            .filter(|seen| &seen.aggregate_id == license)
            .map(|seen| seen.sequence)
            .collect();
        assert_eq!(sequences, [1, 2], "{license} in order, once");
    }

    // After a global position: the events after that one, in stream order.
    let third = &everything.applied[2];
    let history = ours
        .get(&format!("/licenses/{}/history", third.aggregate_id))
        .await
        .unwrap();
    let recorded_at: DateTime<Utc> = history.body["events"][third.sequence as usize - 1]
        ["recorded_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let mut after = Consumer::default();
    let start = Start::After {
        global_position: third.global_position,
        recorded_at,
    };
    after
        .run(&js, &subscription("after-position", start), 3, false)
        .await
        .unwrap();
    assert_eq!(after.applied, everything.applied[3..]);

    // From a time: only what was published since.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let since = Utc::now();
    let late = activated_license(&ours).await;
    let mut from_time = Consumer::default();
    from_time
        .run(
            &js,
            &subscription("from-time", Start::Time(since)),
            2,
            false,
        )
        .await
        .unwrap();
    let types: Vec<(&str, &str)> = from_time
        .applied
        .iter()
        .map(|seen| (seen.aggregate_id.as_str(), seen.event_type.as_str()))
        .collect();
    assert_eq!(
        types,
        [(late.as_str(), "Purchased"), (late.as_str(), "Activated")]
    );
    env.cleanup().await;
}
