//! Tamper evidence against a real database: the chains the database writes on
//! insert are the chains the verifier recomputes; an altered payload, a deleted
//! event and two reordered events are each found, and the first bad event named.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod support;

use axum::http::{Method, StatusCode};
use ledger_gateway::integrity::chain::Break;
use ledger_gateway::integrity::verify_chains;
use serde_json::json;
use support::{activated_license, spawn_app, TestApp};
use uuid::Uuid;

/// Two licenses of one account with five events each, and one of another account.
async fn history(app: &TestApp) -> (Uuid, String) {
    let account = Uuid::now_v7();
    let mut last = String::new();
    for _ in 0..2 {
        last = activated_license(app, account, 10).await;
        for host in ["SRV-A", "SRV-B"] {
            let reply = app
                .call_with(
                    Method::POST,
                    &format!("/v1/accounts/{account}/licenses/{last}/allocations"),
                    Some(json!({"host": host, "quantity": 1})),
                    &[],
                )
                .await;
            assert_eq!(reply.status, StatusCode::CREATED);
        }
        let hidden = app
            .call_with(
                Method::POST,
                &format!("/v1/accounts/{account}/licenses/{last}/hide"),
                None,
                &[],
            )
            .await;
        assert_eq!(hidden.status, StatusCode::OK);
    }
    activated_license(app, Uuid::now_v7(), 10).await;
    (account, last)
}

async fn tamper(app: &TestApp, sql: &str, license: &str) {
    app.tamper(sql, license).await;
}

async fn position_of(app: &TestApp, license: &str, sequence: i64) -> i64 {
    sqlx::query_scalar(
        "SELECT global_position FROM events WHERE aggregate_id = $1 AND sequence = $2",
    )
    .bind(license)
    .bind(sequence)
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn an_untouched_store_verifies_and_the_database_and_verifier_agree() {
    let app = spawn_app().await;
    let (account, _) = history(&app).await;
    let whole = verify_chains(&app.pool, None).await.unwrap();
    assert_eq!((whole.events, whole.streams), (12, 3));
    assert!(whole.breaks.is_empty(), "{:?}", whole.breaks);
    let one = verify_chains(&app.pool, Some(account)).await.unwrap();
    assert_eq!((one.events, one.streams), (10, 2));
    assert!(one.breaks.is_empty());
    let answer = app
        .call_with(
            Method::GET,
            &format!("/v1/accounts/{account}/integrity"),
            None,
            &[],
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        (&answer.body["intact"], &answer.body["events"]),
        (&json!(true), &json!(10))
    );
    let bad = app
        .call_with(Method::GET, "/v1/accounts/nope/integrity?x=1", None, &[])
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    app.cleanup().await;
}

#[tokio::test]
async fn an_altered_payload_is_found_and_named() {
    let app = spawn_app().await;
    let (account, license) = history(&app).await;
    tamper(
        &app,
        r#"UPDATE events SET payload = '{"Allocated":{"allocation_id":"00000000-0000-0000-0000-000000000001","host":"SRV-A","quantity":9}}'
            WHERE aggregate_id = $1 AND sequence = 3"#,
        &license,
    )
    .await;
    let report = verify_chains(&app.pool, Some(account)).await.unwrap();
    let first = report.first_break().unwrap();
    assert_eq!(
        (first.aggregate_id.as_str(), first.sequence),
        (license.as_str(), 3)
    );
    assert_eq!(
        first.found,
        Break::HashMismatch {
            global_position: position_of(&app, &license, 3).await
        }
    );
    assert_eq!(report.breaks.len(), 1, "the rest of the chain still links");
    app.cleanup().await;
}

#[tokio::test]
async fn a_deleted_event_is_found_by_the_gap_it_leaves() {
    let app = spawn_app().await;
    let (_, license) = history(&app).await;
    let fourth = position_of(&app, &license, 4).await;
    tamper(
        &app,
        "DELETE FROM events WHERE aggregate_id = $1 AND sequence = 3",
        &license,
    )
    .await;
    let report = verify_chains(&app.pool, None).await.unwrap();
    assert_eq!(
        report.first_break().unwrap().found,
        Break::Missing {
            from_sequence: 3,
            found_sequence: 4,
            global_position: fourth
        }
    );
    app.cleanup().await;
}

#[tokio::test]
async fn two_reordered_events_are_found() {
    let app = spawn_app().await;
    let (_, license) = history(&app).await;
    let third = position_of(&app, &license, 3).await;
    tamper(
        &app,
        "UPDATE events SET sequence = 1000 WHERE aggregate_id = $1 AND sequence = 3",
        &license,
    )
    .await;
    tamper(
        &app,
        "UPDATE events SET sequence = 3 WHERE aggregate_id = $1 AND sequence = 4",
        &license,
    )
    .await;
    tamper(
        &app,
        "UPDATE events SET sequence = 4 WHERE aggregate_id = $1 AND sequence = 1000",
        &license,
    )
    .await;
    let report = verify_chains(&app.pool, None).await.unwrap();
    // Both moved events, and the link after them, no longer match.
    let sequences: Vec<i64> = report.breaks.iter().map(|b| b.sequence).collect();
    assert_eq!(sequences, [3, 4, 5], "{:?}", report.breaks);
    // The earliest event recorded among them is the old third, now fourth.
    let first = report.first_break().unwrap();
    assert_eq!((first.sequence, first.global_position()), (4, third));
    app.cleanup().await;
}
