//! Signed checkpoints against a real database: the active relay's transparency log
//! is grown and its head signed; the history verifies against it; each way of
//! tampering with the store — an event forged by SQL with its chain recomputed, an
//! altered event, a stream cut short, the newest events cut off, events reordered —
//! is caught, most of them named; forged checkpoints and a log that shrank are
//! caught; a retired key still verifies what it signed; version 1 checkpoints
//! (every stream head) already stored still verify.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod support;

use axum::http::{Method, StatusCode};
use chrono::Utc;
use ledger_domain::keys::{Keyring, KeyringEntry};
use ledger_domain::transparency::merkle::Hash;
use ledger_gateway::integrity::checkpoint::canonical::{summarize, CheckpointBody};
use ledger_gateway::integrity::checkpoint::store::{append, heads_at, settled_cut};
use ledger_gateway::integrity::checkpoint::tree_head::TreeHead;
use ledger_gateway::integrity::checkpoint::{
    write_checkpoint, CheckpointProblem, CheckpointStatus, Written,
};
use ledger_gateway::integrity::{verify_chains, verify_history};
use ledger_gateway::signing_keys::{generate, SigningKeys};
use serde_json::json;
use support::{activated_license, hide, spawn_app_with, TestApp};
use uuid::Uuid;

use support::LOG_ORIGIN as ORIGIN;

fn key(id: &str) -> KeyringEntry {
    generate(id, "2026-01-01T00:00:00Z".parse().unwrap()).unwrap()
}

fn keyring(keys: &[&KeyringEntry]) -> Keyring {
    Keyring::new(keys.iter().map(|k| (*k).clone()).collect()).unwrap()
}

async fn app_verifying_with(keys: &Keyring) -> TestApp {
    let keys = keys.clone();
    spawn_app_with(move |settings| settings.checkpoint_signing_keys = SigningKeys(keys)).await
}

/// An account with two licenses of four events each; the id of the second.
async fn history(app: &TestApp, account: Uuid) -> String {
    let mut last = String::new();
    for _ in 0..2 {
        last = activated_license(app, account, 10).await;
        hide(app, account, &last).await;
        allocate(app, account, &last).await;
    }
    last
}

async fn allocate(app: &TestApp, account: Uuid, license: &str) {
    let reply = app
        .call_with(
            Method::POST,
            &format!("/v1/accounts/{account}/licenses/{license}/allocations"),
            Some(json!({"host": "SRV-A", "quantity": 1})),
            &[],
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED);
}

/// The account's `/integrity` answer.
async fn integrity(app: &TestApp, account: Uuid) -> support::Reply {
    let uri = format!("/v1/accounts/{account}/integrity");
    app.call_with(Method::GET, &uri, None, &[]).await
}

/// A checkpoint over every event recorded so far.
async fn checkpoint(app: &TestApp, keys: &Keyring) -> Written {
    app.checkpoint(keys)
        .await
        .expect("new events to checkpoint")
}

/// Inserts an event by SQL at a backdated commit position, as someone with the
/// database's keys could: the trigger chains it, so every chain still links.
async fn forge(app: &TestApp, account: Uuid, stream: &str, sequence: i64, at: (i64, i64)) {
    sqlx::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version,
                             payload, metadata, transaction_id, global_position)
         OVERRIDING SYSTEM VALUE
         VALUES ('License', $1, $2, 'Hidden', '1', '{\"Hidden\":{}}', $3, $4::text::xid8, $5)",
    )
    .bind(stream)
    .bind(sequence)
    .bind(json!({"account_id": account.to_string(), "actor": "forger"}))
    .bind(at.0.to_string())
    .bind(at.1)
    .execute(&app.pool)
    .await
    .unwrap();
}

/// The commit position of the store's first event.
async fn first_position(app: &TestApp) -> (i64, i64) {
    sqlx::query_as(
        "SELECT transaction_id::text::bigint, global_position FROM events
          ORDER BY transaction_id, global_position LIMIT 1",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

/// The global positions of the store's events in commit order.
async fn commit_order(app: &TestApp) -> Vec<i64> {
    sqlx::query_scalar(
        "SELECT global_position FROM events ORDER BY transaction_id, global_position",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap()
}

/// Appends a checkpoint event by SQL, as a forger would.
async fn append_forged(app: &TestApp, head: &TreeHead) {
    let mut connection = app.pool.acquire().await.unwrap();
    append(
        &mut connection,
        head.checkpoint,
        "2",
        serde_json::to_value(head).unwrap(),
        head.at,
    )
    .await
    .unwrap();
}

/// The one `LogDiffers` problem of `checkpoint`.
fn differs(
    problems: &[CheckpointProblem],
    checkpoint: i64,
) -> (Option<u64>, Option<i64>, Option<i64>) {
    let found: Vec<_> = problems
        .iter()
        .filter_map(|p| match p {
            CheckpointProblem::LogDiffers {
                checkpoint: c,
                leaf_index,
                global_position,
                logged_global_position,
                ..
            } if *c == checkpoint => Some((*leaf_index, *global_position, *logged_global_position)),
            _ => None,
        })
        .collect();
    assert_eq!(found.len(), 1, "{problems:?}");
    found[0]
}

#[tokio::test]
async fn a_checkpoint_signs_the_log_head_and_the_history_verifies_against_it() {
    let signer = key("ck1");
    let keys = keyring(&[&signer]);
    let app = app_verifying_with(&keys).await;
    let none = verify_history(&app.pool, &keys, None).await.unwrap();
    assert_eq!(none.checkpoint.status, CheckpointStatus::NoCheckpoint);
    assert!(write_checkpoint(&app.pool, &keys, ORIGIN, Utc::now())
        .await
        .unwrap()
        .is_none());

    let account = Uuid::now_v7();
    let license = history(&app, account).await;
    activated_license(&app, Uuid::now_v7(), 5).await;
    let first = checkpoint(&app, &keys).await;
    assert_eq!((first.head.checkpoint, first.head.tree_size), (1, 10));
    assert_eq!(first.head.origin, ORIGIN);
    assert!(
        first.head.note.starts_with("ledger.test/log\n10\n"),
        "{}",
        first.head.note
    );
    // The checkpoint's own event joins the log, but nothing else: no second one.
    app.grow_log().await;
    assert!(write_checkpoint(&app.pool, &keys, ORIGIN, Utc::now())
        .await
        .unwrap()
        .is_none());

    allocate(&app, account, &license).await;
    let whole = verify_history(&app.pool, &keys, None).await.unwrap();
    assert!(whole.intact(), "{:?}", whole.checkpoint.problems);
    assert_eq!(whole.checkpoint.status, CheckpointStatus::Verified);
    // The checkpoint itself and the allocation come after the size it signed.
    assert_eq!(
        (
            whole.checkpoint.covered_events,
            whole.checkpoint.events_after
        ),
        (10, 2)
    );
    assert_eq!((whole.chains.streams, whole.chains.events), (4, 12));

    let second = checkpoint(&app, &keys).await;
    assert_eq!((second.head.checkpoint, second.head.tree_size), (2, 12));

    let answer = integrity(&app, account).await;
    assert_eq!(answer.status, StatusCode::OK);
    let found = &answer.body["checkpoint"];
    assert_eq!(answer.body["intact"], json!(true));
    assert_eq!(found["status"], "verified", "{}", answer.body);
    assert_eq!(found["compared_with"]["checkpoint"], 2);
    assert_eq!(found["compared_with"]["tree_size"], 12);
    assert_eq!(found["compared_with"]["key_id"], "ck1");
    assert_eq!(
        (&found["covered_events"], &found["events_after"]),
        (&json!(9), &json!(0))
    );
    app.cleanup().await;
}

#[tokio::test]
async fn events_forged_by_sql_before_a_checkpoint_are_named_though_every_chain_links() {
    let keys = keyring(&[&key("ck1")]);
    let app = app_verifying_with(&keys).await;
    let account = Uuid::now_v7();
    let license = history(&app, account).await;
    checkpoint(&app, &keys).await;
    // Into an existing stream, after its head, and a whole new stream — both dated
    // before everything the checkpoint signed.
    let first = first_position(&app).await;
    forge(&app, account, &license, 5, (first.0, -1)).await;
    let invented = Uuid::now_v7().to_string();
    forge(&app, account, &invented, 1, (first.0 - 1, -2)).await;

    let chains = verify_chains(&app.pool, None).await.unwrap();
    assert!(chains.breaks.is_empty(), "{:?}", chains.breaks);
    let report = verify_history(&app.pool, &keys, Some(account))
        .await
        .unwrap();
    assert!(!report.intact());
    assert_eq!(report.checkpoint.status, CheckpointStatus::Tampered);
    // The earliest in commit order is named, at the log's first leaf.
    assert_eq!(
        differs(&report.checkpoint.problems, 1),
        (Some(0), Some(-2), None)
    );

    // The log never takes a backdated event in: the next checkpoint still signs
    // the genuine history, and the forgery stays visible against it.
    allocate(&app, account, &license).await;
    checkpoint(&app, &keys).await;
    let again = verify_history(&app.pool, &keys, None).await.unwrap();
    assert_eq!(
        differs(&again.checkpoint.problems, 2),
        (Some(0), Some(-2), Some(first.1))
    );

    let answer = integrity(&app, account).await;
    assert_eq!(answer.body["intact"], json!(false));
    assert_eq!(answer.body["checkpoint"]["status"], "tampered");
    let named = &answer.body["checkpoint"]["first_problem"];
    assert_eq!(
        (&named["problem"], &named["global_position"]),
        (&json!("log_differs"), &json!(-2))
    );
    app.cleanup().await;
}

#[tokio::test]
async fn a_stream_cut_short_which_no_chain_can_see_is_named_against_the_checkpoint() {
    let keys = keyring(&[&key("ck1")]);
    let app = app_verifying_with(&keys).await;
    let account = Uuid::now_v7();
    let license = history(&app, account).await;
    checkpoint(&app, &keys).await;
    let removed: i64 = sqlx::query_scalar(
        "SELECT global_position FROM events WHERE aggregate_id = $1 AND sequence = 4",
    )
    .bind(&license)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    app.tamper(
        "DELETE FROM events WHERE aggregate_id = $1 AND sequence = 4",
        &license,
    )
    .await;

    let report = verify_history(&app.pool, &keys, None).await.unwrap();
    assert!(
        report.chains.breaks.is_empty(),
        "the last event leaves no gap"
    );
    // The last event of the history was removed: where the log has it, the store
    // has the checkpoint's own event, which came next.
    let after: i64 = sqlx::query_scalar(
        "SELECT global_position FROM events WHERE aggregate_type = 'IntegrityCheckpoint'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        differs(&report.checkpoint.problems, 1),
        (Some(7), Some(after), Some(removed))
    );
    app.cleanup().await;
}

#[tokio::test]
async fn an_event_altered_with_its_hash_recomputed_is_caught_by_its_chain_and_the_log() {
    let keys = keyring(&[&key("ck1")]);
    let app = app_verifying_with(&keys).await;
    let account = Uuid::now_v7();
    history(&app, account).await;
    checkpoint(&app, &keys).await;
    let order = commit_order(&app).await;
    app.tamper(
        "UPDATE events SET payload = '{\"Hidden\":{}}', hash = sha256('forged')
          WHERE global_position = $1::bigint",
        &order[2].to_string(),
    )
    .await;

    let report = verify_history(&app.pool, &keys, None).await.unwrap();
    assert!(!report.chains.breaks.is_empty());
    assert_eq!(
        differs(&report.checkpoint.problems, 1),
        (Some(2), Some(order[2]), Some(order[2]))
    );
    app.cleanup().await;
}

#[tokio::test]
async fn reordered_events_and_the_newest_cut_off_are_caught_against_the_log() {
    let keys = keyring(&[&key("ck1")]);
    let app = app_verifying_with(&keys).await;
    let account = Uuid::now_v7();
    history(&app, account).await;
    checkpoint(&app, &keys).await;
    let order = commit_order(&app).await;
    // The second event moved to the end: its hash does not cover its transaction,
    // so no chain sees it.
    app.tamper(
        "UPDATE events SET transaction_id = (SELECT max(transaction_id) FROM events)
          WHERE global_position = $1::bigint",
        &order[1].to_string(),
    )
    .await;
    let report = verify_history(&app.pool, &keys, None).await.unwrap();
    assert!(report.chains.breaks.is_empty());
    assert_eq!(
        differs(&report.checkpoint.problems, 1),
        (Some(1), Some(order[2]), Some(order[1]))
    );

    // Put back, then the two newest events removed.
    app.tamper(
        "UPDATE events SET transaction_id = (SELECT transaction_id FROM events
                WHERE global_position = $1::bigint - 1) WHERE global_position = $1::bigint",
        &order[1].to_string(),
    )
    .await;
    assert!(verify_history(&app.pool, &keys, None)
        .await
        .unwrap()
        .intact());
    // The log's last two events (the checkpoint's own event follows them).
    let newest = order[order.len() - 3];
    app.tamper(
        "DELETE FROM events WHERE global_position >= $1::bigint AND aggregate_type = 'License'",
        &newest.to_string(),
    )
    .await;
    let cut = verify_history(&app.pool, &keys, None).await.unwrap();
    assert_eq!(
        differs(&cut.checkpoint.problems, 1),
        (Some(6), Some(order[order.len() - 1]), Some(newest))
    );
    app.cleanup().await;
}

#[tokio::test]
async fn forged_checkpoints_and_a_log_that_shrank_are_caught_and_the_newest_genuine_one_holds() {
    let genuine = key("ck1");
    let keys = keyring(&[&genuine]);
    let app = app_verifying_with(&keys).await;
    let account = Uuid::now_v7();
    history(&app, account).await;
    let written = checkpoint(&app, &keys).await;

    // A later checkpoint claiming another size under the genuine key's name.
    let mut altered = written.head.clone();
    altered.checkpoint = 2;
    altered.tree_size += 100;
    append_forged(&app, &altered).await;
    // One signed by a key nobody configured.
    let stranger = keyring(&[&key("ck-evil")]);
    let root: Hash = [7; 32];
    let foreign = TreeHead::sign(&stranger, 3, ORIGIN, 9, root, Utc::now()).unwrap();
    append_forged(&app, &foreign).await;

    let report = verify_history(&app.pool, &keys, None).await.unwrap();
    assert_eq!(report.checkpoint.status, CheckpointStatus::Tampered);
    assert_eq!(
        report.checkpoint.problems,
        [
            CheckpointProblem::BadSignature { checkpoint: 2 },
            CheckpointProblem::UnknownKey {
                checkpoint: 3,
                key_id: "ck-evil".into()
            }
        ]
    );
    assert_eq!(
        report.checkpoint.compared_with.as_ref().unwrap().checkpoint,
        1
    );

    // The genuine key signing a smaller log than before (a second history shown).
    let smaller = TreeHead::sign(&keys, 4, ORIGIN, 3, root, Utc::now()).unwrap();
    append_forged(&app, &smaller).await;
    let shrank = verify_history(&app.pool, &keys, None).await.unwrap();
    assert!(
        shrank
            .checkpoint
            .problems
            .contains(&CheckpointProblem::LogShrank {
                checkpoint: 4,
                tree_size: 3,
                previous_checkpoint: 1,
                previous_size: 8,
            }),
        "{:?}",
        shrank.checkpoint.problems
    );
    app.cleanup().await;
}

#[tokio::test]
async fn a_retired_key_still_verifies_the_checkpoints_it_signed() {
    let old = key("ck1");
    let app = app_verifying_with(&keyring(&[&old])).await;
    let account = Uuid::now_v7();
    let license = history(&app, account).await;
    checkpoint(&app, &keyring(&[&old])).await;

    // Rotation: a new key from now on, the old one kept with its public half only.
    let new = generate("ck2", Utc::now()).unwrap();
    let retired =
        KeyringEntry::verify_only("ck1", old.active_from(), &old.public_key_base64()).unwrap();
    let rotated = keyring(&[&retired, &new]);
    allocate(&app, account, &license).await;
    let second = checkpoint(&app, &rotated).await;
    assert_eq!(second.head.key_id, "ck2");

    let report = verify_history(&app.pool, &rotated, None).await.unwrap();
    assert_eq!(report.checkpoint.status, CheckpointStatus::Verified);
    assert_eq!(report.checkpoint.checkpoints, 2);
    // Without the retired key, the old checkpoint names a key nobody knows.
    let forgot = verify_history(&app.pool, &keyring(&[&new]), None)
        .await
        .unwrap();
    assert_eq!(
        forgot.checkpoint.problems,
        [CheckpointProblem::UnknownKey {
            checkpoint: 1,
            key_id: "ck1".into()
        }]
    );
    let unconfigured = verify_history(&app.pool, &Keyring::default(), None)
        .await
        .unwrap();
    assert_eq!(unconfigured.checkpoint.status, CheckpointStatus::NoKey);
    assert!(unconfigured.intact());
    app.cleanup().await;
}

#[tokio::test]
async fn version_1_checkpoints_already_stored_still_verify_and_the_next_one_is_a_tree_head() {
    let keys = keyring(&[&key("ck1")]);
    let app = app_verifying_with(&keys).await;
    let account = Uuid::now_v7();
    let license = history(&app, account).await;
    app.grow_log().await;
    // A version 1 checkpoint, as the relay wrote them before: every stream head at
    // the settled cut, signed.
    let mut connection = app.pool.acquire().await.unwrap();
    let cut = settled_cut(&mut connection).await.unwrap().unwrap();
    let heads: Vec<_> = heads_at(&mut connection, cut, None)
        .await
        .unwrap()
        .into_iter()
        .map(|h| h.head)
        .collect();
    let (accounts, streams, accounts_digest) = summarize(&heads);
    let legacy = CheckpointBody {
        checkpoint: 1,
        transaction_id: cut.transaction_id,
        global_position: cut.global_position,
        at: Utc::now(),
        streams,
        accounts_digest,
        accounts,
    }
    .sign(&keys, heads)
    .unwrap();
    append(
        &mut connection,
        1,
        "1",
        serde_json::to_value(&legacy).unwrap(),
        legacy.body.at,
    )
    .await
    .unwrap();
    drop(connection);

    let report = verify_history(&app.pool, &keys, None).await.unwrap();
    assert_eq!(report.checkpoint.status, CheckpointStatus::Verified);
    let with = report.checkpoint.compared_with.unwrap();
    assert_eq!((with.checkpoint, with.tree_size), (1, None));
    assert_eq!(report.checkpoint.covered_streams, Some(2));

    allocate(&app, account, &license).await;
    let next = checkpoint(&app, &keys).await;
    assert_eq!((next.head.checkpoint, next.head.tree_size), (2, 10));
    let report = verify_history(&app.pool, &keys, None).await.unwrap();
    assert_eq!(report.checkpoint.status, CheckpointStatus::Verified);
    assert_eq!(report.checkpoint.compared_with.unwrap().tree_size, Some(10));
    app.cleanup().await;
}
