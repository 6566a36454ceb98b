//! Idempotency keys written in groups, against a real PostgreSQL: concurrent
//! requests' claims share one transaction and so do their answers; a key claimed
//! by several requests at once is held by exactly one; a claim that fails fails
//! alone while the rest of its group is written; and over HTTP, concurrent
//! requests under one key record once.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use ledger_gateway::http::idempotency::keeper::Keeper;
use ledger_gateway::http::idempotency::store::{KeyRef, StoredAnswer};
use sqlx::PgPool;
use support::{purchase, spawn_app};
use uuid::Uuid;

const LEASE: Duration = Duration::from_secs(60);

/// Hands every claim over before the writer runs (this test's runtime has one
/// thread, and the writer only runs when the test awaits), so they queue up as
/// one group would under load.
async fn claim_together(keeper: &Keeper, keys: &[&str]) -> Vec<Result<bool, String>> {
    let handles: Vec<_> = keys
        .iter()
        .map(|key| {
            let keeper = keeper.clone();
            let key = (*key).to_owned();
            tokio::spawn(async move {
                let key = KeyRef {
                    scope: "account",
                    key: &key,
                };
                keeper
                    .try_claim(&key, b"fingerprint")
                    .await
                    .map_err(|error| format!("{error:#}"))
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for handle in handles {
        outcomes.push(handle.await.unwrap());
    }
    outcomes
}

/// The transaction that last wrote each of `keys`' rows.
async fn writers(pool: &PgPool, keys: &[&str]) -> Vec<String> {
    let mut writers: Vec<String> = sqlx::query_scalar(
        "SELECT xmin::text FROM idempotency_keys
          WHERE scope = 'account' AND idempotency_key = ANY($1)",
    )
    .bind(keys)
    .fetch_all(pool)
    .await
    .unwrap();
    writers.dedup();
    writers
}

fn answer(body: &str) -> StoredAnswer {
    StoredAnswer {
        status: 201,
        headers: BTreeMap::from([("content-type".to_owned(), "application/json".to_owned())]),
        body: body.as_bytes().to_vec(),
    }
}

#[tokio::test]
async fn concurrent_claims_share_one_transaction_and_so_do_their_answers() {
    let app = spawn_app().await;
    let keeper = Keeper::start(app.pool.clone(), LEASE);
    let keys = ["k1", "k2", "k3", "k4"];
    let claimed = claim_together(&keeper, &keys).await;
    assert_eq!(claimed, vec![Ok(true); 4]);
    assert_eq!(
        writers(&app.pool, &keys).await.len(),
        1,
        "one claim transaction"
    );

    let answered: Vec<_> = keys
        .iter()
        .map(|key| {
            let keeper = keeper.clone();
            let key = (*key).to_owned();
            tokio::spawn(async move {
                let body = format!("answer of {key}");
                let key = KeyRef {
                    scope: "account",
                    key: &key,
                };
                keeper.answer(&key, answer(&body)).await
            })
        })
        .collect();
    for handle in answered {
        handle.await.unwrap().unwrap();
    }
    assert_eq!(
        writers(&app.pool, &keys).await.len(),
        1,
        "one answer transaction"
    );
    let stored: Vec<(String, i16, Vec<u8>, bool)> = sqlx::query_as(
        "SELECT idempotency_key, response_status, response_body, locked_until IS NULL
           FROM idempotency_keys ORDER BY idempotency_key",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(stored.len(), keys.len());
    for ((key, status, body, no_lease), expected) in stored.into_iter().zip(keys) {
        assert_eq!(key, expected);
        assert_eq!(status, 201);
        assert_eq!(body, format!("answer of {expected}").into_bytes());
        assert!(no_lease, "an answered key holds no lease");
    }

    // A key answered already is known: claiming it again does not take it.
    assert_eq!(
        claim_together(&keeper, &["k2", "k5"]).await,
        vec![Ok(false), Ok(true)]
    );
    drop(keeper);
    app.cleanup().await;
}

#[tokio::test]
async fn a_key_claimed_by_many_at_once_is_held_by_exactly_one() {
    let app = spawn_app().await;
    let keeper = Keeper::start(app.pool.clone(), LEASE);
    let claimed = claim_together(&keeper, &["same"; 8]).await;
    let holders = claimed
        .iter()
        .filter(|outcome| **outcome == Ok(true))
        .count();
    assert_eq!(holders, 1, "{claimed:?}");
    assert!(claimed.iter().all(Result::is_ok), "{claimed:?}");
    drop(keeper);
    app.cleanup().await;
}

#[tokio::test]
async fn a_claim_that_fails_fails_alone_and_the_rest_of_its_group_is_written() {
    let app = spawn_app().await;
    let keeper = Keeper::start(app.pool.clone(), LEASE);
    // PostgreSQL's text cannot hold a NUL: that claim fails the group's statement.
    // (The HTTP layer accepts only printable keys; the keeper must not rely on it.)
    let claimed = claim_together(&keeper, &["good-1", "bad\0key", "good-2"]).await;
    assert_eq!(claimed[0], Ok(true));
    assert!(claimed[1].is_err(), "{:?}", claimed[1]);
    assert_eq!(claimed[2], Ok(true));
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM idempotency_keys")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(rows, 2);
    drop(keeper);
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_under_one_key_record_once_and_all_agree() {
    let app = spawn_app().await;
    let account = Uuid::now_v7();
    let path = format!("/v1/accounts/{account}/licenses");
    // Two gateways, eight requests each: the same key both within one gateway's
    // group and across gateways.
    let gateways = [
        std::sync::Arc::new(app.another_instance()),
        std::sync::Arc::new(app.another_instance()),
    ];
    let requests: Vec<_> = (0..16)
        .map(|n| {
            let app = gateways[n % 2].clone();
            let path = path.clone();
            tokio::spawn(async move {
                app.call_with(
                    Method::POST,
                    &path,
                    Some(purchase(5)),
                    &[("idempotency-key", "once")],
                )
                .await
            })
        })
        .collect();
    let mut created = Vec::new();
    for request in requests {
        let reply = request.await.unwrap();
        match reply.status {
            StatusCode::CREATED => created.push(reply.body),
            // Still running under another request: told to wait, nothing recorded.
            StatusCode::CONFLICT => assert_eq!(
                reply.body["type"], "urn:licensing-ledger:problem:idempotency-key-in-use",
                "{}",
                reply.body
            ),
            other => panic!("{other}: {}", reply.body),
        }
    }
    assert!(!created.is_empty());
    assert!(
        created.windows(2).all(|pair| pair[0] == pair[1]),
        "{created:?}"
    );
    assert_eq!(app.event_count().await, 1, "one purchase recorded");
    app.cleanup().await;
}
