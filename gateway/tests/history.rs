//! Auditors' history over HTTP against a real database: a license's events with
//! their metadata, paged; its state as of an instant; an account's NDJSON export
//! in commit order, from a position or a time; and none of it across accounts.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod support;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use futures::StreamExt as _;
use http_body_util::BodyExt as _;
use ledger_gateway::auth::Role;
use serde_json::{json, Value};
use support::{activated_license, spawn_app, TestApp};
use tower::ServiceExt as _;
use uuid::Uuid;

async fn get(app: &TestApp, uri: &str) -> support::Reply {
    app.call_with(Method::GET, uri, None, &[]).await
}

/// A license with three events: purchased, activated, allocated (the last by a
/// named actor's token under an idempotency key).
async fn license_with_history(app: &TestApp, account: Uuid) -> String {
    let license = activated_license(app, account, 10).await;
    let key = format!("k-{license}");
    let token = app.token_of("auditor-test", Role::Portal, Some(account), None);
    let reply = app
        .call_with(
            Method::POST,
            &format!("/v1/accounts/{account}/licenses/{license}/allocations"),
            Some(json!({"host": "SRV-A", "quantity": 4})),
            &[
                ("authorization", &format!("Bearer {token}")),
                ("idempotency-key", &key),
            ],
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED);
    license
}

async fn ndjson(app: &TestApp, uri: &str) -> (StatusCode, String, Vec<Value>) {
    let request = Request::get(uri).body(Body::empty()).unwrap();
    let response = app
        .router
        .clone()
        .oneshot(app.with_default_token(request))
        .await
        .unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    let lines = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    (status, content_type, lines)
}

#[tokio::test]
async fn a_license_history_has_every_event_with_its_metadata_paged() {
    let app = spawn_app().await;
    let account = Uuid::now_v7();
    let license = license_with_history(&app, account).await;
    let base = format!("/v1/accounts/{account}/licenses/{license}/history");

    let all = get(&app, &base).await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.body);
    let events = all.body["events"].as_array().unwrap();
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["Purchased", "Activated", "Allocated"]);
    let allocated = &events[2];
    assert_eq!(allocated["sequence"], 3);
    assert_eq!(allocated["version"], "1");
    assert_eq!(allocated["aggregate_type"], "License");
    assert_eq!(allocated["body"]["host"], "SRV-A");
    assert_eq!(allocated["metadata"]["actor"], "auditor-test");
    assert_eq!(allocated["metadata"]["actor_role"], "portal");
    assert!(allocated["metadata"]["token_id"].as_str().unwrap().len() > 8);
    assert_eq!(
        allocated["metadata"]["idempotency_key"],
        format!("k-{license}")
    );
    assert_eq!(allocated["metadata"]["account_id"], account.to_string());
    assert!(allocated["metadata"]["request_id"].as_str().unwrap().len() > 8);
    assert!(allocated["recorded_at"].is_string());
    assert!(
        allocated["global_position"].as_i64().unwrap()
            > events[1]["global_position"].as_i64().unwrap()
    );
    assert!(all.body.get("next_after_sequence").is_none());

    let first = get(&app, &format!("{base}?limit=2")).await;
    assert_eq!(first.body["events"].as_array().unwrap().len(), 2);
    assert_eq!(first.body["next_after_sequence"], 2);
    let rest = get(&app, &format!("{base}?limit=2&after_sequence=2")).await;
    assert_eq!(rest.body["events"][0]["type"], "Allocated");
    assert!(rest.body.get("next_after_sequence").is_none());
    let past_the_end = get(&app, &format!("{base}?after_sequence=9")).await;
    assert_eq!(past_the_end.status, StatusCode::OK);
    assert_eq!(past_the_end.body["events"], json!([]));

    // Another account's license, or none at all, is not found — the same way.
    let foreign = get(
        &app,
        &format!("/v1/accounts/{}/licenses/{license}/history", Uuid::now_v7()),
    )
    .await;
    let missing = get(
        &app,
        &format!("/v1/accounts/{account}/licenses/{}/history", Uuid::now_v7()),
    )
    .await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(foreign.body["detail"], missing.body["detail"]);

    for (query, field) in [
        ("limit=0", "query.limit"),
        ("limit=1001", "query.limit"),
        ("after_sequence=-1", "query.after_sequence"),
        ("colour=red", "query.colour"),
    ] {
        let reply = get(&app, &format!("{base}?{query}")).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(reply.body["field"], field);
    }
    app.cleanup().await;
}

#[tokio::test]
async fn a_license_state_as_of_an_instant_is_folded_from_its_events_until_then() {
    let app = spawn_app().await;
    let account = Uuid::now_v7();
    let license = license_with_history(&app, account).await;
    let history = get(
        &app,
        &format!("/v1/accounts/{account}/licenses/{license}/history"),
    )
    .await;
    let events = history.body["events"].as_array().unwrap();
    let state = format!("/v1/accounts/{account}/licenses/{license}/state");

    let purchased_at = events[0]["recorded_at"].as_str().unwrap();
    let then = get(&app, &format!("{state}?as_of={}", urlencode(purchased_at))).await;
    assert_eq!(then.status, StatusCode::OK, "{}", then.body);
    assert_eq!(then.body["version"], 1);
    assert_eq!(then.body["position"], events[0]["global_position"]);
    assert_eq!(then.body["state"]["activated_at"], Value::Null);
    assert_eq!(then.body["state"]["allocations"], json!({}));

    let now = get(&app, &state).await;
    assert_eq!(now.body["version"], 3);
    assert!(now.body["state"]["activated_at"].is_string());
    let allocations = now.body["state"]["allocations"].as_object().unwrap();
    assert_eq!(allocations.len(), 1);
    assert_eq!(allocations.values().next().unwrap()["quantity"], 4);

    let before = get(&app, &format!("{state}?as_of=2000-01-01")).await;
    assert_eq!(before.status, StatusCode::NOT_FOUND);
    let foreign = get(
        &app,
        &format!("/v1/accounts/{}/licenses/{license}/state", Uuid::now_v7()),
    )
    .await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);
    let bad = get(&app, &format!("{state}?as_of=yesterday")).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.body["field"], "query.as_of");
    app.cleanup().await;
}

#[tokio::test]
async fn an_account_export_is_its_events_in_commit_order_from_a_position_or_a_time() {
    let app = spawn_app().await;
    let (account, other) = (Uuid::now_v7(), Uuid::now_v7());
    license_with_history(&app, account).await;
    let foreign = license_with_history(&app, other).await;
    license_with_history(&app, account).await;
    let export = format!("/v1/accounts/{account}/events.ndjson");

    let (status, content_type, lines) = ndjson(&app, &export).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "application/x-ndjson");
    assert_eq!(lines.len(), 6);
    assert!(lines
        .iter()
        .all(|line| line["metadata"]["account_id"] == account.to_string()));
    let positions: Vec<i64> = lines
        .iter()
        .map(|line| line["global_position"].as_i64().unwrap())
        .collect();
    assert!(
        positions.windows(2).all(|pair| pair[0] < pair[1]),
        "{positions:?}"
    );

    let (_, _, after) = ndjson(&app, &format!("{export}?from_position={}", positions[2])).await;
    assert_eq!(after, lines[3..]);
    let from = lines[3]["recorded_at"].as_str().unwrap();
    let (_, _, since) = ndjson(&app, &format!("{export}?from_time={}", urlencode(from))).await;
    assert_eq!(since, lines[3..]);

    // A position of another account's event is no position of this account's.
    let their_history = get(
        &app,
        &format!("/v1/accounts/{other}/licenses/{foreign}/history"),
    )
    .await;
    let their_position = their_history.body["events"][0]["global_position"]
        .as_i64()
        .unwrap();
    let refused = get(&app, &format!("{export}?from_position={their_position}")).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert_eq!(refused.body["field"], "query.from_position");
    for query in ["from_position=0", "from_time=noon", "since=1"] {
        let reply = get(&app, &format!("{export}?{query}")).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{query}");
    }
    let (_, _, nobody) = ndjson(
        &app,
        &format!("/v1/accounts/{}/events.ndjson", Uuid::now_v7()),
    )
    .await;
    assert!(nobody.is_empty());
    app.cleanup().await;
}

fn urlencode(raw: &str) -> String {
    raw.replace('+', "%2B").replace(':', "%3A")
}

#[tokio::test]
async fn the_landing_page_and_license_list_as_of_an_instant_are_rebuilt_from_history() {
    let app = spawn_app().await;
    let account = Uuid::now_v7();
    let first = activated_license(&app, account, 10).await;
    let history = get(
        &app,
        &format!("/v1/accounts/{account}/licenses/{first}/history"),
    )
    .await;
    let then = history.body["events"][1]["recorded_at"]
        .as_str()
        .unwrap()
        .to_owned();
    let second = activated_license(&app, account, 20).await;
    let hidden = app
        .call_with(
            Method::POST,
            &format!("/v1/accounts/{account}/licenses/{first}/hide"),
            None,
            &[],
        )
        .await;
    assert_eq!(hidden.status, StatusCode::OK);

    let ids = |page: &Value, list: &str| -> Vec<String> {
        page[list]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| item["license_id"].as_str().unwrap().to_owned())
            .collect()
    };
    let base = format!("/v1/accounts/{account}/history");
    let landing_then = get(
        &app,
        &format!("{base}/landing-page?as_of={}", urlencode(&then)),
    )
    .await;
    assert_eq!(landing_then.status, StatusCode::OK, "{}", landing_then.body);
    assert_eq!(ids(&landing_then.body, "new_licenses"), [first.as_str()]);
    let landing_now = get(&app, &format!("{base}/landing-page")).await;
    assert_eq!(ids(&landing_now.body, "new_licenses"), [second.as_str()]);

    let list_then = get(
        &app,
        &format!("{base}/licenses?filter=new&as_of={}", urlencode(&then)),
    )
    .await;
    assert_eq!(list_then.status, StatusCode::OK, "{}", list_then.body);
    assert_eq!(ids(&list_then.body, "items"), [first.as_str()]);
    assert_eq!(list_then.body["items"][0]["quantity"], 10);
    let hidden_now = get(&app, &format!("{base}/licenses?filter=hidden")).await;
    assert_eq!(ids(&hidden_now.body, "items"), [first.as_str()]);
    let paged = get(&app, &format!("{base}/licenses?limit=1")).await;
    assert_eq!(paged.body["items"].as_array().unwrap().len(), 1);
    assert!(paged.body["next_cursor"].is_string());

    // Another account's history is empty, not someone else's.
    let elsewhere = get(
        &app,
        &format!("/v1/accounts/{}/history/licenses", Uuid::now_v7()),
    )
    .await;
    assert_eq!(elsewhere.body["items"], json!([]));
    for query in ["as_of=never", "filter=old", "min_position=1"] {
        let reply = get(&app, &format!("{base}/licenses?{query}")).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{query}");
    }
    // The scratch schemas went with their transactions.
    let left: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.schemata WHERE schema_name LIKE 'history\\_%'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(left, 0);
    app.cleanup().await;
}

#[tokio::test]
async fn an_account_of_thousands_of_licenses_replays_as_of_now_with_several_events_of_a_license_in_each_batch(
) {
    let app = spawn_app().await;
    let account = Uuid::now_v7();
    // Eight clients at once, each buying, activating and allocating one license
    // after another: a license's three events lie close in commit order, so every
    // replay batch (1,000 events) holds several events of hundreds of licenses.
    const LICENSES: usize = 1_000;
    let allocate = |license: String| {
        let app = &app;
        async move {
            let reply = app
                .call_with(
                    Method::POST,
                    &format!("/v1/accounts/{account}/licenses/{license}/allocations"),
                    Some(json!({"host": "SRV-A", "quantity": 4})),
                    &[],
                )
                .await;
            assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        }
    };
    futures::stream::iter(0..LICENSES)
        .map(|_| async {
            let license = activated_license(&app, account, 10).await;
            allocate(license).await;
        })
        .buffer_unordered(8)
        .collect::<Vec<()>>()
        .await;

    let base = format!("/v1/accounts/{account}/history");
    let landing = get(&app, &format!("{base}/landing-page")).await;
    assert_eq!(landing.status, StatusCode::OK, "{}", landing.body);
    assert_eq!(landing.body["new_licenses"].as_array().unwrap().len(), 5);

    let mut seen = std::collections::HashSet::new();
    let mut uri = format!("{base}/licenses?limit=500");
    loop {
        let page = get(&app, &uri).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        for item in page.body["items"].as_array().unwrap() {
            assert_eq!(item["allocated"], 4, "{item}");
            assert!(seen.insert(item["license_id"].as_str().unwrap().to_owned()));
        }
        match page.body["next_cursor"].as_str() {
            Some(cursor) => uri = format!("{base}/licenses?limit=500&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), LICENSES);
    app.cleanup().await;
}

#[tokio::test]
async fn two_licenses_given_the_same_allocation_id_each_keep_their_own_allocation_live_and_in_history(
) {
    let app = spawn_app().await;
    let account = Uuid::now_v7();
    // A client may name its allocations; ids are unique within a license only.
    let chosen = Uuid::now_v7();
    let first = activated_license(&app, account, 10).await;
    let second = activated_license(&app, account, 20).await;
    for (license, host, quantity) in [(&first, "SRV-A", 4), (&second, "SRV-B", 7)] {
        let reply = app
            .call_with(
                Method::POST,
                &format!("/v1/accounts/{account}/licenses/{license}/allocations"),
                Some(json!({"host": host, "quantity": quantity, "allocation_id": chosen})),
                &[],
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    }
    // Both allocations in one projector batch, as in one replay batch.
    app.project().await;
    for (license, host, quantity) in [(&first, "SRV-A", 4), (&second, "SRV-B", 7)] {
        let live = get(&app, &format!("/v1/accounts/{account}/licenses/{license}")).await;
        assert_eq!(live.status, StatusCode::OK, "{}", live.body);
        let allocations = live.body["allocations"].as_array().unwrap();
        assert_eq!(allocations.len(), 1, "{}", live.body);
        assert_eq!(allocations[0]["allocation_id"], chosen.to_string());
        assert_eq!(allocations[0]["host"], host);
        assert_eq!(allocations[0]["quantity"], quantity);
        assert_eq!(live.body["allocated"], quantity);
    }
    let then = get(&app, &format!("/v1/accounts/{account}/history/licenses")).await;
    assert_eq!(then.status, StatusCode::OK, "{}", then.body);
    let mut allocated: Vec<i64> = then.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["allocated"].as_i64().unwrap())
        .collect();
    allocated.sort_unstable();
    assert_eq!(allocated, [4, 7]);
    app.cleanup().await;
}
