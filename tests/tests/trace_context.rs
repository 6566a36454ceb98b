//! A command's W3C trace context travels with its events: from the HTTP request
//! into the event's metadata and onto its NATS message.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::time::Duration;

use ledger_tests::{
    ledger_bin, purchase_body, stream_messages, wait_until_projected, Api, Ledger, TestEnv,
};

#[tokio::test]
async fn the_callers_trace_context_reaches_the_event_stream() {
    let env = TestEnv::fresh();
    let ledger = Ledger::start(ledger_bin!(), &env, &[]).await.unwrap();
    let api = Api::new(&ledger);
    let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let response = api
        .request(reqwest::Method::POST, "/licenses")
        .header("traceparent", traceparent)
        .header("x-request-id", "req-42")
        .json(&purchase_body(None))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["x-request-id"], "req-42");
    let malformed = api
        .request(reqwest::Method::POST, "/licenses")
        .header("traceparent", "00-not-a-trace-01")
        .json(&purchase_body(None))
        .send()
        .await
        .unwrap();
    assert_eq!(
        malformed.status(),
        201,
        "a bad traceparent is ignored, not fatal"
    );

    wait_until_projected(&env, Duration::from_secs(30))
        .await
        .unwrap();
    let messages = stream_messages(&env.jetstream().await, &env.stream).await;
    assert_eq!(messages.len(), 2);
    let header = |index: usize, name: &str| {
        messages[index]
            .headers
            .get(name)
            .map(|value| value.to_string())
    };
    let carried = header(0, "traceparent").unwrap();
    assert_eq!(
        &carried[3..35],
        "4bf92f3577b34da6a3ce929d0e0e4736",
        "same trace id"
    );
    assert_eq!(header(0, "Ledger-Request-Id").as_deref(), Some("req-42"));
    // The actor is the token's subject.
    assert_eq!(header(0, "Ledger-Actor").as_deref(), Some("test-portal"));
    assert_eq!(header(1, "traceparent"), None);
    drop(ledger);
    env.cleanup().await;
}
