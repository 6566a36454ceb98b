//! SIGTERM stops the ledger gracefully: under load, every request sent before
//! the signal is answered, the process exits 0, and after a restart every
//! acknowledged command is in the store, the stream and the read model exactly
//! once. Past its grace period a process exits non-zero, naming what still ran.
//!
//! To have requests in flight at the signal for certain (not by luck of
//! timing), the test holds the event store's table in `SHARE` mode: reads go
//! on, every command waits at its append until the test lets go — the store's
//! writer in PostgreSQL, the commands it has not taken yet queued behind it.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::PullConsumer;
use ledger_gateway::integrity::tree::grow::Grower;
use ledger_gateway::progress::Progress;
use ledger_gateway::relay::RelaySettings;
use ledger_gateway::run::Role;
use ledger_projections::contract::StreamConfig;
use ledger_tests::{
    assert_exactly_once_everywhere, header_number, ledger_bin, purchase_body, stored_events, Api,
    Ledger, TestEnv,
};
use serde_json::{json, Value};
use sqlx::{PgPool, Postgres, Transaction};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Clients that buy, activate and allocate licenses of their own.
const LIFECYCLE_CLIENTS: usize = 4;
/// Clients that allocate seats on one license together.
const CONTENDING_CLIENTS: usize = 4;

/// One command a client sent, and what came of it.
#[derive(Debug, Clone)]
struct Sent {
    key: String,
    path: String,
    body: Value,
    started: Instant,
    /// When the answer came, its status and body; `None` if there was none.
    answered: Option<(Instant, u16, Value)>,
    /// Why there was no answer (connection refused, reset, …).
    failure: Option<String>,
}

impl Sent {
    fn decided(&self) -> bool {
        matches!(self.answered, Some((_, status, _)) if (200..300).contains(&status) || status == 422)
    }
}

/// Requests sent and not yet answered, across a test's clients.
type Outstanding = Arc<AtomicUsize>;

/// Sends `body` to `path` under the Idempotency-Key `key`, counted in
/// `outstanding` until it is answered.
async fn send(
    api: &Api,
    outstanding: &Outstanding,
    key: String,
    path: String,
    body: Value,
) -> Sent {
    let started = Instant::now();
    outstanding.fetch_add(1, Ordering::SeqCst);
    let response = api
        .request(reqwest::Method::POST, &path)
        .header("idempotency-key", &key)
        .json(&body)
        .send()
        .await;
    outstanding.fetch_sub(1, Ordering::SeqCst);
    let outcome = match response {
        Ok(response) => ledger_tests::answer(response).await,
        Err(error) => Err(error.into()),
    };
    let (answered, failure) = match outcome {
        Ok(answer) => (Some((Instant::now(), answer.status, answer.body)), None),
        Err(error) => (None, Some(format!("{error:#}"))),
    };
    Sent {
        key,
        path,
        body,
        started,
        answered,
        failure,
    }
}

/// Sends commands one after another until one is not decided (the ledger has
/// stopped taking requests): buys, activates and allocates licenses of its own,
/// or, given `shared`, allocates a seat on that license again and again.
async fn keep_commanding(
    api: Api,
    outstanding: Outstanding,
    client: usize,
    shared: Option<String>,
) -> Vec<Sent> {
    let mut sent: Vec<Sent> = Vec::new();
    for round in 0.. {
        let key = |step: &str| format!("client-{client}-{round}-{step}");
        let steps = match &shared {
            Some(license) => vec![(
                key("allocate"),
                format!("/licenses/{license}/allocations"),
                json!({"host": format!("srv-{client}"), "quantity": 1}),
            )],
            None => {
                let purchase = send(
                    &api,
                    &outstanding,
                    key("purchase"),
                    "/licenses".into(),
                    purchase_body(None),
                );
                let purchase = purchase.await;
                let license = purchase
                    .answered
                    .as_ref()
                    .and_then(|(_, _, body)| body["license_id"].as_str())
                    .map(str::to_owned);
                let decided = purchase.decided();
                sent.push(purchase);
                let Some(license) = license.filter(|_| decided) else {
                    return sent;
                };
                vec![
                    (
                        key("activate"),
                        format!("/licenses/{license}/activate"),
                        json!({"access_code": "LA-0001234567-12345"}),
                    ),
                    (
                        key("allocate"),
                        format!("/licenses/{license}/allocations"),
                        json!({"host": "serverA", "quantity": 100}),
                    ),
                ]
            }
        };
        for (key, path, body) in steps {
            let outcome = send(&api, &outstanding, key, path, body).await;
            let decided = outcome.decided();
            sent.push(outcome);
            if !decided {
                return sent;
            }
        }
    }
    sent
}

/// Waits until the store holds `count` events.
async fn wait_for_events(pool: &PgPool, count: i64) {
    for _ in 0..3000 {
        let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
            .fetch_one(pool)
            .await
            .unwrap();
        if stored >= count {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the ledger recorded fewer than {count} events");
}

/// Locks the event store against appends (reads go on) until the transaction ends.
async fn hold_appends(pool: &PgPool) -> Transaction<'static, Postgres> {
    let mut hold = pool.begin().await.unwrap();
    sqlx::query("LOCK TABLE events IN SHARE MODE")
        .execute(&mut *hold)
        .await
        .unwrap();
    hold
}

/// Waits until the store's writer waits on the lock in PostgreSQL and at least
/// `count` requests are unanswered: commands held at their append.
async fn wait_for_held_commands(pool: &PgPool, outstanding: &Outstanding, count: usize) {
    for _ in 0..3000 {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity
              WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .fetch_one(pool)
        .await
        .unwrap();
        if waiting >= 1 && outstanding.load(Ordering::SeqCst) >= count {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("fewer than {count} commands ever waited at their append");
}

async fn wait_until_refusing(ledger: &Ledger) -> Instant {
    for _ in 0..3000 {
        if ledger.refuses_connections().await {
            return Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the ledger kept accepting connections after SIGTERM");
}

/// How many messages the stream holds, and the global position of its last.
async fn last_message(
    jetstream: &async_nats::jetstream::Context,
    stream: &str,
) -> (u64, Option<i64>) {
    let mut stream = jetstream.get_stream(stream).await.unwrap();
    let state = stream.info().await.unwrap().state.clone();
    if state.messages == 0 {
        return (0, None);
    }
    let last = stream.get_raw_message(state.last_sequence).await.unwrap();
    (
        state.messages,
        Some(header_number(&last, "Ledger-Global-Position")),
    )
}

/// The global position of the last event the relay's checkpoint says it
/// published (none before its first batch).
async fn relayed_position(pool: &PgPool) -> Option<i64> {
    sqlx::query_scalar("SELECT global_position FROM relay_checkpoints")
        .fetch_optional(pool)
        .await
        .unwrap()
}

/// After a graceful stop, nothing was left halfway: the relay's checkpoint
/// names the stream's last message (every batch it sent was acknowledged and
/// saved), and the projector acknowledged every message it applied.
async fn assert_batches_were_finished(env: &TestEnv, pool: &PgPool) {
    let jetstream = env.jetstream().await;
    let (_, last) = last_message(&jetstream, &env.stream).await;
    assert_eq!(relayed_position(pool).await, last);
    let applied: i64 = sqlx::query_scalar(
        "SELECT stream_sequence FROM read_model.checkpoints WHERE projection = 'licenses'",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    let stream = jetstream.get_stream(&env.stream).await.unwrap();
    let mut consumer: PullConsumer = stream.get_consumer("projector-licenses").await.unwrap();
    let acknowledged = consumer.info().await.unwrap().ack_floor.stream_sequence;
    assert_eq!(acknowledged, applied as u64);
}

/// Sends every command again under its key: one that was answered must get the
/// kept answer back, one that was not must now be recorded. Returns the license
/// and version of every command acknowledged either way.
async fn resend_every_command(api: &Api, sent: &[Sent]) -> Vec<(String, i64)> {
    let mut acknowledged = Vec::new();
    for command in sent {
        let again = api
            .request(reqwest::Method::POST, &command.path)
            .header("idempotency-key", &command.key)
            .json(&command.body)
            .send()
            .await
            .unwrap();
        let replayed = again.headers().get("idempotent-replayed").cloned();
        let again = ledger_tests::answer(again).await.unwrap();
        match &command.answered {
            Some((_, status, body)) => {
                assert_eq!(replayed.as_ref().map(|v| v.as_bytes()), Some(&b"true"[..]));
                assert_eq!(
                    (again.status, &again.body),
                    (*status, body),
                    "the answer kept under {}",
                    command.key
                );
            }
            None => assert!(
                (200..300).contains(&again.status),
                "the retry of {} ({:?}): {again:?}",
                command.key,
                command.failure
            ),
        }
        if (200..300).contains(&again.status) {
            let license = again.body["license_id"].as_str().unwrap().to_owned();
            acknowledged.push((license, again.body["version"].as_i64().unwrap()));
        }
    }
    acknowledged
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_under_load_answers_every_request_sent_before_it_and_loses_nothing() {
    let env = TestEnv::fresh();
    let mut ledger = Ledger::start(ledger_bin!(), &env, &[]).await.unwrap();
    let api = Api::new(&ledger);
    let mut roomy = purchase_body(None);
    roomy["quantity"] = json!(1_000_000);
    let shared = api.post("/licenses", roomy).await.unwrap();
    let shared = shared.body["license_id"].as_str().unwrap().to_owned();
    let activated = api
        .post(
            &format!("/licenses/{shared}/activate"),
            json!({"access_code": "LA-0001234567-12345"}),
        )
        .await
        .unwrap();
    assert_eq!(activated.status, 200);

    let pool = env.pool().await;
    let outstanding = Outstanding::default();
    let mut clients = JoinSet::new();
    for client in 0..LIFECYCLE_CLIENTS + CONTENDING_CLIENTS {
        let shared = (client >= LIFECYCLE_CLIENTS).then(|| shared.clone());
        clients.spawn(keep_commanding(
            api.clone(),
            outstanding.clone(),
            client,
            shared,
        ));
    }
    // Load runs a while; then every client's next command waits at its append
    // (those on the shared license behind the one whose turn it is).
    wait_for_events(&pool, 150).await;
    let hold = hold_appends(&pool).await;
    wait_for_held_commands(&pool, &outstanding, LIFECYCLE_CLIENTS + 1).await;

    let signalled = Instant::now();
    ledger.terminate().await;
    let refusing = wait_until_refusing(&ledger).await;
    hold.commit().await.unwrap();
    let mut sent = Vec::new();
    while let Some(done) = clients.join_next().await {
        sent.extend(done.unwrap());
    }
    let status = ledger.exited().await;
    assert_eq!(status.code(), Some(0), "a graceful stop exits 0");
    assert_batches_were_finished(&env, &pool).await;

    let before: Vec<&Sent> = sent.iter().filter(|s| s.started < signalled).collect();
    let cut_off: Vec<&&Sent> = before.iter().filter(|s| !s.decided()).collect();
    assert!(
        cut_off.is_empty(),
        "requests sent before SIGTERM were cut off: {cut_off:#?}"
    );
    let drained = before
        .iter()
        .filter(|s| matches!(s.answered, Some((at, _, _)) if at > refusing))
        .count();
    assert!(
        drained > LIFECYCLE_CLIENTS,
        "the commands held at the signal were answered after the listener closed ({drained})"
    );

    // Started again: every answer is kept under its key, every unanswered
    // command is recorded by its retry, and everything is there exactly once.
    let restarted = Ledger::start(ledger_bin!(), &env, &[]).await.unwrap();
    let api = api.at(&restarted);
    let acknowledged = resend_every_command(&api, &sent).await;
    let stored: std::collections::HashSet<(String, i64)> = stored_events(&pool)
        .await
        .into_iter()
        .map(|row| (row.aggregate_id, row.sequence))
        .collect();
    for pair in &acknowledged {
        assert!(stored.contains(pair), "acknowledged {pair:?} is not stored");
    }
    assert_exactly_once_everywhere(&env).await;
    drop(restarted);
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_relay_told_to_stop_in_the_middle_of_a_backlog_saves_every_batch_it_sent() {
    let env = TestEnv::fresh();
    let pool = ledger_gateway::db::connect_and_migrate(&env.database_url, 8)
        .await
        .unwrap();
    let backlog = ledger_tests::bench::seed::purchases(&pool, 1, 20_000)
        .await
        .unwrap()
        .events;
    // The transparency log, which grows beside publishing, is complete first:
    // told to stop, it stops at once, and must not take the relay down with it.
    let mut log = Grower::resume(&pool).await.unwrap();
    while log.step(&pool, 5_000).await.unwrap() > 0 {}
    let (client, disconnects) = ledger_gateway::nats::connect_watched(&env.nats_url)
        .await
        .unwrap();
    let jetstream = async_nats::jetstream::new(client);
    let settings = RelaySettings {
        database_url: env.database_url.clone(),
        stream: StreamConfig {
            name: env.stream.clone(),
            subject_prefix: env.prefix.clone(),
            replicas: 1,
        },
        batch_size: 500,
        poll_interval: Duration::from_millis(10),
        checkpoints: None,
        event_max_bytes: 1024 * 1024,
        blockers: Default::default(),
        progress: Progress::new(&[Role::Relay])
            .role(Role::Relay)
            .cloned()
            .unwrap(),
        metrics: Default::default(),
        disconnects,
    };
    let stop = CancellationToken::new();
    let relay = tokio::spawn(ledger_gateway::relay::run(
        pool.clone(),
        jetstream.clone(),
        settings,
        stop.clone(),
    ));
    // Stopped as soon as its first batch is in: it has more sent and unsettled.
    let mut published = false;
    for _ in 0..24_000 {
        if let Ok(mut stream) = jetstream.get_stream(&env.stream).await {
            if stream.info().await.unwrap().state.messages > 0 {
                published = true;
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(published, "the relay never published");
    stop.cancel();
    relay.await.unwrap().unwrap();
    let (streamed, last) = last_message(&jetstream, &env.stream).await;
    assert!(
        streamed < backlog,
        "stopped before the backlog was through ({streamed} of {backlog})"
    );
    assert_eq!(relayed_position(&pool).await, last);
    pool.close().await;
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_still_running_past_the_grace_period_makes_the_stop_fail_naming_it() {
    let env = TestEnv::fresh();
    let mut ledger = Ledger::start(ledger_bin!(), &env, &[("LEDGER_SHUTDOWN_GRACE_SECS", "1")])
        .await
        .unwrap();
    let api = Api::new(&ledger);
    let pool = env.pool().await;
    let hold = hold_appends(&pool).await;
    let outstanding = Outstanding::default();
    let held = tokio::spawn({
        let (api, outstanding) = (api.clone(), outstanding.clone());
        async move {
            let body = purchase_body(None);
            send(&api, &outstanding, "held".into(), "/licenses".into(), body).await
        }
    });
    wait_for_held_commands(&pool, &outstanding, 1).await;
    ledger.terminate().await;
    let status = ledger.exited().await;
    hold.rollback().await.unwrap();
    assert_eq!(status.code(), Some(1), "a stop past its grace period fails");
    let held = held.await.unwrap();
    assert!(held.answered.is_none(), "{held:?}");
    let log = std::fs::read_to_string(env.log_path()).unwrap();
    let named = log
        .lines()
        .find(|line| line.contains("grace period"))
        .unwrap_or_default();
    assert!(
        named.contains("the HTTP server (requests in flight: 1)")
            && named.contains("the relay")
            && named.contains("the projector"),
        "{log}"
    );
    env.cleanup().await;
}
