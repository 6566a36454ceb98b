//! Bulk actions over HTTP against a real database: an incompatible selection is
//! refused whole before anything is recorded; a dry run records nothing; otherwise
//! every command has its own result, and a retry under the same idempotency key
//! records nothing twice.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod support;

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use support::{activated_license, spawn_app, TestApp};
use uuid::Uuid;

async fn bulk(app: &TestApp, account: Uuid, action: &str, body: Value) -> support::Reply {
    app.call_with(
        Method::POST,
        &format!("/v1/accounts/{account}/bulk/{action}"),
        Some(body),
        &[],
    )
    .await
}

fn results(reply: &support::Reply) -> Vec<(String, String)> {
    reply.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["license_id"].as_str().unwrap().to_owned(),
                r["result"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn mac_bound_license(app: &TestApp, account: Uuid) -> String {
    let mut body = support::purchase(10);
    body["binding_type"] = "mac_address".into();
    let reply = app
        .call_with(
            Method::POST,
            &format!("/v1/accounts/{account}/licenses"),
            Some(body),
            &[],
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED);
    reply.body["license_id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn an_incompatible_selection_is_refused_whole_naming_each_license() {
    let app = spawn_app().await;
    let account = Uuid::now_v7();
    let a = activated_license(&app, account, 10).await;
    let mac = mac_bound_license(&app, account).await;
    let b = activated_license(&app, account, 10).await;
    let foreign = activated_license(&app, Uuid::now_v7(), 10).await;
    let events = app.event_count().await;

    let reply = bulk(
        &app,
        account,
        "allocate",
        json!({"license_ids": [a, mac, b, foreign], "host": "SRV-A", "quantity": 1}),
    )
    .await;
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        reply.body
    );
    assert_eq!(
        reply.body["type"],
        "urn:licensing-ledger:problem:incompatible-selection"
    );
    assert_eq!(reply.body["reference_license_id"], a.as_str());
    assert_eq!(
        reply.body["incompatible"],
        json!([
            {"license_id": mac, "attribute": "binding_type",
             "expected": "host_name", "actual": "mac_address"},
            {"license_id": foreign, "attribute": "license",
             "expected": "in this account", "actual": "not found"},
        ])
    );
    assert_eq!(app.event_count().await, events, "nothing recorded");

    // Returning needs every license allocated; hiding, every license visible.
    let reply = bulk(&app, account, "return", json!({"license_ids": [a, b]})).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reply.body["incompatible"].as_array().unwrap().len(), 2);
    assert_eq!(reply.body["incompatible"][0]["attribute"], "allocated");
    app.cleanup().await;
}

#[tokio::test]
async fn a_dry_run_says_what_would_happen_and_records_nothing() {
    let app = spawn_app().await;
    let account = Uuid::now_v7();
    let big = activated_license(&app, account, 10).await;
    let small = activated_license(&app, account, 3).await;
    let events = app.event_count().await;
    let reply = bulk(
        &app,
        account,
        "allocate",
        json!({"license_ids": [big, small], "host": "SRV-A", "quantity": 5, "dry_run": true}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["dry_run"], true);
    assert_eq!(reply.body["outcome"], "partial_failure");
    assert_eq!(
        results(&reply),
        [
            (big.clone(), "would_succeed".to_owned()),
            (small.clone(), "would_fail".to_owned())
        ]
    );
    assert_eq!(
        reply.body["results"][1]["problem"]["rule"],
        "allocation-exceeds-available"
    );
    assert!(reply.body.get("position").is_none());
    assert_eq!(app.event_count().await, events);
    app.cleanup().await;
}

#[tokio::test]
async fn each_command_has_its_result_and_the_outcome_sums_them_up() {
    let app = spawn_app().await;
    let account = Uuid::now_v7();
    let big = activated_license(&app, account, 10).await;
    let small = activated_license(&app, account, 3).await;

    // Without a quantity, each license gives all it has left.
    let reply = bulk(
        &app,
        account,
        "allocate",
        json!({"license_ids": [big, small], "host": "SRV-A"}),
    )
    .await;
    assert_eq!(reply.body["outcome"], "success", "{}", reply.body);
    assert_eq!(
        results(&reply),
        [
            (big.clone(), "succeeded".to_owned()),
            (small.clone(), "succeeded".to_owned())
        ]
    );
    let first = &reply.body["results"][0];
    assert_eq!(first["version"], 3);
    assert!(first["allocation_id"].is_string());
    assert_eq!(reply.body["position"], reply.body["results"][1]["position"]);

    // Nothing is left: every command fails on its own rule.
    let reply = bulk(
        &app,
        account,
        "allocate",
        json!({"license_ids": [big, small], "host": "SRV-B", "quantity": 1}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body["outcome"], "failure");

    // Return everything, on every server.
    let reply = bulk(
        &app,
        account,
        "return",
        json!({"license_ids": [big, small]}),
    )
    .await;
    assert_eq!(reply.body["outcome"], "success", "{}", reply.body);
    assert_eq!(results(&reply).len(), 2);

    // Hide both; unhide needs every one hidden.
    let reply = bulk(&app, account, "hide", json!({"license_ids": [big, small]})).await;
    assert_eq!(reply.body["outcome"], "success");
    let reply = bulk(&app, account, "hide", json!({"license_ids": [small]})).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    let reply = bulk(
        &app,
        account,
        "unhide",
        json!({"license_ids": [big, small]}),
    )
    .await;
    assert_eq!(reply.body["outcome"], "success");

    // A maintenance renewal takes perpetual licenses; a term renewal does not.
    let reply = bulk(
        &app,
        account,
        "renew",
        json!({"license_ids": [big, small], "maintenance_until": "2031-01-31"}),
    )
    .await;
    assert_eq!(reply.body["outcome"], "success", "{}", reply.body);
    let reply = bulk(
        &app,
        account,
        "renew",
        json!({"license_ids": [big], "expires_on": "2031-01-31"}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reply.body["incompatible"][0]["attribute"], "term");
    app.cleanup().await;
}

#[tokio::test]
async fn a_bulk_request_retried_under_its_key_records_nothing_twice() {
    let app = spawn_app().await;
    let account = Uuid::now_v7();
    let a = activated_license(&app, account, 10).await;
    let b = activated_license(&app, account, 10).await;
    let path = format!("/v1/accounts/{account}/bulk/allocate");
    let body = json!({"license_ids": [a, b], "host": "SRV-A", "quantity": 2});
    let key = [("idempotency-key", "bulk-1")];
    let first = app
        .call_with(Method::POST, &path, Some(body.clone()), &key)
        .await;
    assert_eq!(first.body["outcome"], "success");
    let events = app.event_count().await;
    let again = app.call_with(Method::POST, &path, Some(body), &key).await;
    assert_eq!(again.body, first.body);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(app.event_count().await, events);
    app.cleanup().await;
}

#[tokio::test]
async fn a_malformed_selection_is_refused() {
    let app = spawn_app().await;
    let account = Uuid::now_v7();
    let a = activated_license(&app, account, 10).await;
    let too_many: Vec<Uuid> = (0..501).map(|_| Uuid::now_v7()).collect();
    for (body, field) in [
        (json!({"license_ids": []}), "license_ids"),
        (json!({"license_ids": too_many}), "license_ids"),
        (json!({"license_ids": [a, a]}), "license_ids[1]"),
        (json!({"license_ids": ["nope"]}), "license_ids[0]"),
        (json!({"license_ids": [a], "colour": "red"}), "colour"),
    ] {
        let reply = bulk(&app, account, "hide", body).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
        assert!(
            reply.body["field"].as_str().unwrap().starts_with(field),
            "{}",
            reply.body
        );
    }
    let reply = bulk(&app, account, "explode", json!({"license_ids": [a]})).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    app.cleanup().await;
}

#[tokio::test]
async fn a_host_no_license_server_can_have_is_refused_whole_before_any_license_is_judged() {
    // The fuzz's finding: a 254-character host (over the document's maxLength)
    // answered 200, each license failing on its own.
    let app = spawn_app().await;
    let account = Uuid::now_v7();
    let license = activated_license(&app, account, 10).await;
    let long = "a".repeat(254);
    for (action, body) in [
        (
            "allocate",
            json!({"license_ids": [license], "host": long, "quantity": 1}),
        ),
        ("allocate", json!({"license_ids": [license], "host": ""})),
        ("return", json!({"license_ids": [license], "host": long})),
    ] {
        let reply = bulk(&app, account, action, body.clone()).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{body}: {}",
            reply.body
        );
        assert_eq!(reply.body["field"], "host", "{}", reply.body);
    }
    // 253 characters, each label at most 63: the longest RFC 1123 host name.
    let longest_host_name = format!("{0}.{0}.{0}.{1}", "a".repeat(63), "b".repeat(61));
    let reply = bulk(
        &app,
        account,
        "allocate",
        json!({"license_ids": [license], "host": longest_host_name, "quantity": 1}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(
        app.event_count().await,
        3,
        "the purchase, activation and one allocation"
    );
    app.cleanup().await;
}
