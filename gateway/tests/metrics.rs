//! `GET /metrics` of the HTTP application over a real database: answers counted by
//! route template (never a raw path, so no account id leaks into a label) and
//! status, with their latency; commands by type and outcome; `Idempotency-Key`s by
//! what they gave. Each app has its own registry, so the counts are exact.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod support;

use axum::http::{Method, StatusCode};
use serde_json::json;
use support::{activated_license, purchase, spawn_app, TestApp};
use uuid::Uuid;

const LICENSES: &str = "/v1/accounts/{account_id}/licenses";
const ACTIVATE: &str = "/v1/accounts/{account_id}/licenses/{license_id}/activate";

/// The value of the sample `series` (name and labels exactly as exposed), if any.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map(|value| value.parse().unwrap())
}

async fn scrape(app: &TestApp) -> String {
    let (status, text, content_type) = app.text("/metrics").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
    text
}

fn answers(text: &str, method: &str, route: &str, status: u16) -> Option<f64> {
    sample(
        text,
        &format!(
            "ledger_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}}"
        ),
    )
}

fn commands(text: &str, command: &str, outcome: &str) -> Option<f64> {
    sample(
        text,
        &format!("ledger_commands_total{{command=\"{command}\",outcome=\"{outcome}\"}}"),
    )
}

#[tokio::test]
async fn answers_are_counted_by_route_template_and_status_with_their_latency() {
    let app = spawn_app().await;
    let account = Uuid::now_v7();
    let licenses = format!("/v1/accounts/{account}/licenses");
    for _ in 0..2 {
        let (status, _, _) = app.call(Method::POST, &licenses, Some(purchase(5))).await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let (status, _, _) = app
        .call(Method::POST, &licenses, Some(json!({"quantity": "many"})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _, _) = app.text(&licenses).await; // no token
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, _) = app.text(&format!("/v1/no/such/{account}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let text = scrape(&app).await;
    assert_eq!(answers(&text, "POST", LICENSES, 201), Some(2.0), "{text}");
    assert_eq!(answers(&text, "POST", LICENSES, 400), Some(1.0));
    assert_eq!(answers(&text, "GET", LICENSES, 401), Some(1.0));
    assert_eq!(answers(&text, "GET", "unmatched", 404), Some(1.0));
    let latency = format!(
        "ledger_http_request_duration_seconds_count{{method=\"POST\",route=\"{LICENSES}\"}}"
    );
    assert_eq!(sample(&text, &latency), Some(3.0), "{text}");
    let slowest = format!(
        "ledger_http_request_duration_seconds_bucket{{method=\"POST\",route=\"{LICENSES}\",le=\"+Inf\"}}"
    );
    assert_eq!(sample(&text, &slowest), Some(3.0), "{text}");
    assert!(
        !text.contains(&account.to_string()),
        "a raw path in a label"
    );
    // The scrape that produced this text is counted by the next one.
    let again = scrape(&app).await;
    assert_eq!(
        answers(&again, "GET", "/metrics", 200),
        Some(1.0),
        "{again}"
    );
    app.cleanup().await;
}

#[tokio::test]
async fn commands_are_counted_by_type_and_outcome_and_keys_by_what_they_gave() {
    let app = spawn_app().await;
    let account = Uuid::now_v7();
    let licenses = format!("/v1/accounts/{account}/licenses");
    let license = activated_license(&app, account, 5).await;
    let activate = format!("{licenses}/{license}/activate");
    let (status, _, _) = app
        .call(
            Method::POST,
            &activate,
            Some(json!({"access_code": "LA-9"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "activated twice");
    let stale = app
        .call_with(
            Method::POST,
            &format!("{licenses}/{license}/hide"),
            None,
            &[("if-match", "\"1\"")],
        )
        .await;
    assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED);
    let keyed = |key: &'static str, quantity| {
        let (app, licenses) = (&app, &licenses);
        async move {
            app.call_with(
                Method::POST,
                licenses,
                Some(purchase(quantity)),
                &[("idempotency-key", key)],
            )
            .await
            .status
        }
    };
    assert_eq!(keyed("k1", 5).await, StatusCode::CREATED);
    assert_eq!(keyed("k1", 5).await, StatusCode::CREATED, "replayed");
    assert_eq!(keyed("k1", 6).await, StatusCode::UNPROCESSABLE_ENTITY);
    // The first attempt died after recording: the retry answers from its events.
    app.forget_answer("k1", -1).await;
    assert_eq!(keyed("k1", 5).await, StatusCode::CREATED, "recorded before");

    let text = scrape(&app).await;
    assert_eq!(commands(&text, "purchase", "recorded"), Some(2.0), "{text}");
    assert_eq!(commands(&text, "purchase", "already_recorded"), Some(1.0));
    assert_eq!(commands(&text, "activate", "recorded"), Some(1.0));
    assert_eq!(commands(&text, "activate", "refused"), Some(1.0));
    assert_eq!(commands(&text, "hide", "version_mismatch"), Some(1.0));
    let keys = |outcome: &str| {
        sample(
            &text,
            &format!("ledger_idempotency_requests_total{{outcome=\"{outcome}\"}}"),
        )
    };
    assert_eq!(keys("executed"), Some(2.0), "{text}");
    assert_eq!(keys("replayed"), Some(1.0));
    assert_eq!(keys("reused"), Some(1.0));
    assert_eq!(answers(&text, "POST", ACTIVATE, 422), Some(1.0));
    app.cleanup().await;
}

#[tokio::test]
async fn the_status_of_a_process_serving_only_the_api_lists_its_role_without_a_lag() {
    let app = spawn_app().await;
    let (status, body, _) = app.call(Method::GET, "/health/status", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"roles": [{
            "role": "gateway", "active": true, "lag_events": null, "lag_seconds": null,
            "last_progress_at": null, "measured_at": null, "stalled": null,
        }]})
    );
    app.cleanup().await;
}
