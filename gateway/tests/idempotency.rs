//! `Idempotency-Key` and `If-Match` over HTTP, against a real database: replays are
//! byte-for-byte and record nothing, across app instances; a reused key with another
//! body is refused; a crashed first attempt is taken over without recording twice;
//! a stale `If-Match` is refused with 412.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod support;

use axum::http::{Method, StatusCode};
use serde_json::json;
use support::{activated_license, purchase, spawn_app};
use uuid::Uuid;

const KEY: &str = "idempotency-key";

#[tokio::test]
async fn the_same_key_and_body_replay_the_first_answer_and_record_nothing() {
    let app = spawn_app().await;
    let account = Uuid::now_v7();
    let path = format!("/v1/accounts/{account}/licenses");
    let first = app
        .call_with(Method::POST, &path, Some(purchase(10)), &[(KEY, "buy-1")])
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    assert!(first.headers.get("idempotent-replayed").is_none());
    let events = app.event_count().await;

    // The same request to another app instance over the same database, key order
    // and spacing of the JSON changed: the same answer, nothing recorded.
    let mut reordered = serde_json::Map::new();
    for (name, value) in purchase(10).as_object().unwrap().iter().rev() {
        reordered.insert(name.clone(), value.clone());
    }
    let second_instance = app.another_instance();
    let again = second_instance
        .call_with(
            Method::POST,
            &path,
            Some(reordered.into()),
            &[(KEY, "buy-1")],
        )
        .await;
    assert_eq!(again.status, StatusCode::CREATED);
    assert_eq!(again.body, first.body);
    assert_eq!(again.headers["location"], first.headers["location"]);
    assert_eq!(again.headers["etag"], first.headers["etag"]);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(app.event_count().await, events);

    // Another key is another request.
    let other = app
        .call_with(Method::POST, &path, Some(purchase(10)), &[(KEY, "buy-2")])
        .await;
    assert_eq!(other.status, StatusCode::CREATED);
    assert_ne!(other.body["license_id"], first.body["license_id"]);
    app.cleanup().await;
}

#[tokio::test]
async fn a_key_reused_with_another_body_or_path_is_refused_and_records_nothing() {
    let app = spawn_app().await;
    let account = Uuid::now_v7();
    let path = format!("/v1/accounts/{account}/licenses");
    let first = app
        .call_with(Method::POST, &path, Some(purchase(10)), &[(KEY, "k")])
        .await;
    assert_eq!(first.status, StatusCode::CREATED);
    let events = app.event_count().await;
    let license = first.body["license_id"].as_str().unwrap();
    for (path, body) in [
        (path.clone(), purchase(11)),
        (
            format!("{path}/{license}/activate"),
            json!({"access_code": "LA-9"}),
        ),
    ] {
        let reused = app
            .call_with(Method::POST, &path, Some(body), &[(KEY, "k")])
            .await;
        assert_eq!(reused.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            reused.body["type"],
            "urn:licensing-ledger:problem:idempotency-key-reused"
        );
        assert_eq!(reused.body["field"], "header.idempotency-key");
    }
    assert_eq!(app.event_count().await, events);

    // Keys belong to an account: another account may use the same one.
    let elsewhere = app
        .call_with(
            Method::POST,
            &format!("/v1/accounts/{}/licenses", Uuid::now_v7()),
            Some(purchase(11)),
            &[(KEY, "k")],
        )
        .await;
    assert_eq!(elsewhere.status, StatusCode::CREATED);
    app.cleanup().await;
}

#[tokio::test]
async fn a_refusal_is_the_answer_too_even_once_the_command_would_succeed() {
    let app = spawn_app().await;
    let account = Uuid::now_v7();
    let created = app
        .call_with(
            Method::POST,
            &format!("/v1/accounts/{account}/licenses"),
            Some(purchase(10)),
            &[],
        )
        .await;
    let license = created.body["license_id"].as_str().unwrap().to_owned();
    let allocate = format!("/v1/accounts/{account}/licenses/{license}/allocations");
    let body = json!({"host": "SRV-A", "quantity": 5});
    let refused = app
        .call_with(
            Method::POST,
            &allocate,
            Some(body.clone()),
            &[(KEY, "alloc")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(refused.body["rule"], "not-activated");
    let activated = app
        .call_with(
            Method::POST,
            &format!("/v1/accounts/{account}/licenses/{license}/activate"),
            Some(json!({"access_code": "LA-9"})),
            &[],
        )
        .await;
    assert_eq!(activated.status, StatusCode::OK);
    let events = app.event_count().await;
    let replayed = app
        .call_with(Method::POST, &allocate, Some(body), &[(KEY, "alloc")])
        .await;
    assert_eq!(replayed.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(replayed.body, refused.body);
    assert_eq!(replayed.headers["idempotent-replayed"], "true");
    assert_eq!(app.event_count().await, events);
    app.cleanup().await;
}

#[tokio::test]
async fn a_crashed_first_attempt_is_taken_over_without_recording_twice() {
    let app = spawn_app().await;
    let account = Uuid::now_v7();
    let license = activated_license(&app, account, 10).await;
    let allocate = format!("/v1/accounts/{account}/licenses/{license}/allocations");
    // No client-chosen allocation id: the key alone must keep the retry from
    // allocating a second time.
    let body = json!({"host": "SRV-A", "quantity": 4});
    let first = app
        .call_with(Method::POST, &allocate, Some(body.clone()), &[(KEY, "a1")])
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    let events = app.event_count().await;

    // While the first attempt's lease runs, a retry is told to wait.
    app.forget_answer("a1", 30).await;
    let waiting = app
        .call_with(Method::POST, &allocate, Some(body.clone()), &[(KEY, "a1")])
        .await;
    assert_eq!(waiting.status, StatusCode::CONFLICT);
    assert_eq!(
        waiting.body["type"],
        "urn:licensing-ledger:problem:idempotency-key-in-use"
    );
    assert!(waiting.headers.contains_key("retry-after"));

    // Once it has run out, the retry takes over and finds the recorded events.
    app.forget_answer("a1", -1).await;
    let taken_over = app
        .call_with(Method::POST, &allocate, Some(body.clone()), &[(KEY, "a1")])
        .await;
    assert_eq!(
        taken_over.status,
        StatusCode::CREATED,
        "{}",
        taken_over.body
    );
    assert_eq!(taken_over.body, first.body);
    assert_eq!(app.event_count().await, events);
    // And its answer is kept from then on.
    let replayed = app
        .call_with(Method::POST, &allocate, Some(body), &[(KEY, "a1")])
        .await;
    assert_eq!(replayed.headers["idempotent-replayed"], "true");
    assert_eq!(replayed.body, first.body);
    app.cleanup().await;
}

#[tokio::test]
async fn a_malformed_key_is_refused() {
    let app = spawn_app().await;
    let path = format!("/v1/accounts/{}/licenses", Uuid::now_v7());
    let long = "k".repeat(256);
    for key in ["has space", long.as_str(), "é"] {
        let reply = app
            .call_with(Method::POST, &path, Some(purchase(1)), &[(KEY, key)])
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{key}");
        assert_eq!(reply.body["field"], "header.idempotency-key");
    }
    assert_eq!(app.event_count().await, 0);
    app.cleanup().await;
}

#[tokio::test]
async fn if_match_runs_a_command_only_on_the_version_the_client_saw() {
    let app = spawn_app().await;
    let account = Uuid::now_v7();
    let license = activated_license(&app, account, 10).await;
    let base = format!("/v1/accounts/{account}/licenses/{license}");
    // The read model is not fed here (no NATS): the command answers carry the ETag.
    let allocate = format!("{base}/allocations");
    let body = json!({"host": "SRV-A", "quantity": 1});
    let ok = app
        .call_with(
            Method::POST,
            &allocate,
            Some(body.clone()),
            &[("if-match", "\"2\"")],
        )
        .await;
    assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.body);
    assert_eq!(ok.headers["etag"], "\"3\"");
    let events = app.event_count().await;

    let stale = app
        .call_with(
            Method::POST,
            &allocate,
            Some(body.clone()),
            &[("if-match", "\"2\"")],
        )
        .await;
    assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED);
    assert_eq!(stale.body["field"], "header.if-match");
    assert_eq!(stale.body["facts"]["current"], 3);
    assert_eq!(app.event_count().await, events);

    let any = app
        .call_with(
            Method::POST,
            &format!("{base}/hide"),
            None,
            &[("if-match", "*")],
        )
        .await;
    assert_eq!(any.status, StatusCode::OK);

    let missing = format!("/v1/accounts/{account}/licenses/{}/hide", Uuid::now_v7());
    let none = app
        .call_with(Method::POST, &missing, None, &[("if-match", "*")])
        .await;
    assert_eq!(none.status, StatusCode::PRECONDITION_FAILED);

    for bad in ["3", "W/\"3\"", "\"-1\"", "\"x\""] {
        let reply = app
            .call_with(
                Method::POST,
                &format!("{base}/unhide"),
                None,
                &[("if-match", bad)],
            )
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(reply.body["field"], "header.if-match");
    }
    app.cleanup().await;
}

#[tokio::test]
async fn answers_past_their_retention_are_forgotten_and_running_ones_kept() {
    let app = spawn_app().await;
    let path = format!("/v1/accounts/{}/licenses", Uuid::now_v7());
    for key in ["old", "new", "running"] {
        let reply = app
            .call_with(Method::POST, &path, Some(purchase(1)), &[(KEY, key)])
            .await;
        assert_eq!(reply.status, StatusCode::CREATED);
    }
    app.forget_answer("running", 30).await;
    sqlx::query(
        "UPDATE idempotency_keys SET created_at = now() - interval '2 days'
          WHERE idempotency_key IN ('old', 'running')",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let purged = ledger_gateway::http::idempotency::store::purge(
        &app.pool,
        std::time::Duration::from_secs(24 * 3600),
    )
    .await
    .unwrap();
    assert_eq!(purged, 1);
    let left: Vec<String> =
        sqlx::query_scalar("SELECT idempotency_key FROM idempotency_keys ORDER BY 1")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(left, ["new", "running"]);
    app.cleanup().await;
}
