//! Signed checkpoints against a real database: one is written over every stream
//! head at a settled cut and verifies; events forged whole by SQL with a backdated
//! position — which the hash chains cannot see — are named against it, as is a
//! stream's last event removed; forged checkpoints are caught; a retired key still
//! verifies the checkpoints it signed.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod support;

use axum::http::{Method, StatusCode};
use chrono::Utc;
use ledger_domain::license_file::{FileKey, Keyring};
use ledger_gateway::integrity::checkpoint::canonical::SignedCheckpoint;
use ledger_gateway::integrity::checkpoint::{
    write_checkpoint, CheckpointProblem, CheckpointStatus, Written,
};
use ledger_gateway::integrity::{verify_chains, verify_history};
use ledger_gateway::license_keys::{generate, SigningKeys};
use serde_json::json;
use support::{activated_license, spawn_app_with, TestApp};
use uuid::Uuid;

fn key(id: &str) -> FileKey {
    generate(id, "2026-01-01T00:00:00Z".parse().unwrap()).unwrap()
}

fn keyring(keys: &[&FileKey]) -> Keyring {
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

async fn hide(app: &TestApp, account: Uuid, license: &str) {
    let reply = app
        .call_with(
            Method::POST,
            &format!("/v1/accounts/{account}/licenses/{license}/hide"),
            None,
            &[],
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
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

/// Waits until no transaction anywhere in the cluster (other tests run beside)
/// still holds the settled cut back from the last event.
async fn settle(app: &TestApp) {
    loop {
        let settled: bool = sqlx::query_scalar(
            "SELECT max(transaction_id) < pg_snapshot_xmin(pg_current_snapshot()) FROM events",
        )
        .fetch_one(&app.pool)
        .await
        .unwrap();
        if settled {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// The account's `/integrity` answer.
async fn integrity(app: &TestApp, account: Uuid) -> support::Reply {
    let uri = format!("/v1/accounts/{account}/integrity");
    app.call_with(Method::GET, &uri, None, &[]).await
}

/// A checkpoint over every event recorded so far.
async fn checkpoint(app: &TestApp, keys: &Keyring) -> Written {
    settle(app).await;
    write_checkpoint(&app.pool, keys, Utc::now())
        .await
        .unwrap()
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

/// Appends a checkpoint event by SQL, as a forger would.
async fn append_forged(app: &TestApp, checkpoint: &SignedCheckpoint) {
    sqlx::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version,
                             payload, metadata)
         VALUES ('IntegrityCheckpoint', 'store', $1, 'Checkpointed', '1', $2, '{\"account_id\":\"_system\"}')",
    )
    .bind(checkpoint.body.checkpoint)
    .bind(json!({ "Checkpointed": checkpoint }))
    .execute(&app.pool)
    .await
    .unwrap();
}

#[tokio::test]
async fn a_checkpoint_covers_every_stream_head_and_the_history_verifies_against_it() {
    let signer = key("ck1");
    let keys = keyring(&[&signer]);
    let app = app_verifying_with(&keys).await;
    let none = verify_history(&app.pool, &keys, None).await.unwrap();
    assert_eq!(none.checkpoint.status, CheckpointStatus::NoCheckpoint);
    assert!(write_checkpoint(&app.pool, &keys, Utc::now())
        .await
        .unwrap()
        .is_none());

    let account = Uuid::now_v7();
    let license = history(&app, account).await;
    activated_license(&app, Uuid::now_v7(), 5).await;
    let first = checkpoint(&app, &keys).await;
    assert_eq!(first.checkpoint.body.checkpoint, 1);
    assert_eq!(
        (first.checkpoint.body.streams, first.checkpoint.heads.len()),
        (3, 3)
    );
    assert_eq!(first.checkpoint.body.accounts.len(), 2);
    // Nothing new: no second checkpoint.
    assert!(write_checkpoint(&app.pool, &keys, Utc::now())
        .await
        .unwrap()
        .is_none());

    allocate(&app, account, &license).await;
    let whole = verify_history(&app.pool, &keys, None).await.unwrap();
    assert!(whole.intact());
    assert_eq!(whole.checkpoint.status, CheckpointStatus::Verified);
    assert_eq!(
        (
            whole.checkpoint.covered_events,
            whole.checkpoint.events_after
        ),
        (10, 1)
    );
    assert_eq!(whole.checkpoint.covered_streams, 3);
    // The checkpoint is an event of its own stream, chained like the others.
    assert_eq!((whole.chains.streams, whole.chains.events), (4, 12));

    // Only the head that moved travels with the next checkpoint.
    let second = checkpoint(&app, &keys).await;
    assert_eq!(second.checkpoint.body.checkpoint, 2);
    assert_eq!(second.checkpoint.heads.len(), 1);
    assert_eq!(second.checkpoint.heads[0].aggregate_id, license);

    let answer = integrity(&app, account).await;
    assert_eq!(answer.status, StatusCode::OK);
    let found = &answer.body["checkpoint"];
    assert_eq!(answer.body["intact"], json!(true));
    assert_eq!(found["status"], "verified", "{}", answer.body);
    assert_eq!(found["compared_with"]["checkpoint"], 2);
    assert_eq!(found["compared_with"]["key_id"], "ck1");
    assert_eq!(
        (&found["covered_events"], &found["events_after"]),
        (&json!(9), &json!(0))
    );
    app.cleanup().await;
}

#[tokio::test]
async fn events_forged_by_sql_at_or_before_a_checkpoint_are_named_though_every_chain_links() {
    let keys = keyring(&[&key("ck1")]);
    let app = app_verifying_with(&keys).await;
    let account = Uuid::now_v7();
    let license = history(&app, account).await;
    let written = checkpoint(&app, &keys).await;
    let cut = (
        written.checkpoint.body.transaction_id,
        written.checkpoint.body.global_position,
    );
    // Into an existing stream, after its signed head, and a whole new stream —
    // both dated before the cut.
    forge(&app, account, &license, 5, (cut.0, -1)).await;
    let invented = Uuid::now_v7().to_string();
    forge(&app, account, &invented, 1, (cut.0 - 1, -2)).await;

    let chains = verify_chains(&app.pool, None).await.unwrap();
    assert!(chains.breaks.is_empty(), "{:?}", chains.breaks);
    let report = verify_history(&app.pool, &keys, Some(account))
        .await
        .unwrap();
    assert!(!report.intact());
    assert_eq!(report.checkpoint.status, CheckpointStatus::Tampered);
    let problems = &report.checkpoint.problems;
    assert!(
        problems.contains(&CheckpointProblem::HeadDiffers {
            checkpoint: 1,
            account_id: account.to_string(),
            aggregate_type: "License".into(),
            aggregate_id: license.clone(),
            signed_sequence: 4,
            found_sequence: 5,
            global_position: Some(-1),
        }),
        "{problems:?}"
    );
    assert!(
        problems.contains(&CheckpointProblem::StreamAdded {
            checkpoint: 1,
            account_id: account.to_string(),
            aggregate_type: "License".into(),
            aggregate_id: invented.clone(),
            found_sequence: 1,
            global_position: Some(-2),
        }),
        "{problems:?}"
    );
    assert_eq!(problems.len(), 2);

    // Nor does a later checkpoint sign the forgery in: none is written.
    allocate(&app, account, &license).await;
    settle(&app).await;
    let refused = write_checkpoint(&app.pool, &keys, Utc::now())
        .await
        .unwrap_err();
    assert!(
        format!("{refused:#}").contains("no longer matches"),
        "{refused:#}"
    );

    let answer = integrity(&app, account).await;
    assert_eq!(answer.body["intact"], json!(false));
    assert_eq!(answer.body["checkpoint"]["status"], "tampered");
    let first = &answer.body["checkpoint"]["first_problem"];
    assert_eq!(
        (&first["problem"], &first["aggregate_id"]),
        (&json!("stream_added"), &json!(invented))
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
    assert!(
        matches!(
            report.checkpoint.first_problem,
            Some(CheckpointProblem::HeadDiffers { ref aggregate_id, signed_sequence: 4, found_sequence: 3, .. })
                if *aggregate_id == license
        ),
        "{:?}",
        report.checkpoint.problems
    );
    app.cleanup().await;
}

#[tokio::test]
async fn forged_checkpoints_are_caught_and_the_newest_genuine_one_still_holds() {
    let genuine = key("ck1");
    let keys = keyring(&[&genuine]);
    let app = app_verifying_with(&keys).await;
    let account = Uuid::now_v7();
    history(&app, account).await;
    let written = checkpoint(&app, &keys).await;

    // A later checkpoint claiming another cut, with the genuine key's name.
    let mut altered = written.checkpoint.clone();
    altered.body.checkpoint = 2;
    altered.body.global_position += 100;
    append_forged(&app, &altered).await;
    // One signed by a key nobody configured.
    let stranger = keyring(&[&key("ck-evil")]);
    let mut body = written.checkpoint.body.clone();
    body.checkpoint = 3;
    let foreign = body.sign(&stranger, Vec::new()).unwrap();
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
    let retired = FileKey::verify_only("ck1", old.active_from(), &old.public_key_base64()).unwrap();
    let rotated = keyring(&[&retired, &new]);
    allocate(&app, account, &license).await;
    let second = checkpoint(&app, &rotated).await;
    assert_eq!(second.checkpoint.key_id, "ck2");

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
