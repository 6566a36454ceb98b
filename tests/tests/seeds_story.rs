//! The seeds' story over HTTP against the real binary, PostgreSQL and NATS:
//! purchase 1,000 seats, activate, allocate 800 then 200, be refused one more,
//! move an allocation, return one, hide, unhide, renew, upgrade. Then the landing
//! page, the stream and the read model are each checked against the event store.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use chrono::{Days, Utc};
use ledger_domain::{License, LicenseEvent};
use ledger_tests::{
    header, header_number, ledger_bin, purchase_body, stored_events, stream_messages,
    wait_until_projected, Api, Ledger, TestEnv,
};
use serde_json::{json, Value};

#[tokio::test]
async fn the_seeds_story_is_recorded_streamed_and_projected_exactly_once() {
    let env = TestEnv::fresh();
    let ledger = Ledger::start(ledger_bin!(), &env, &[]).await.unwrap();
    let api = Api::new(&ledger);
    let today = Utc::now().date_naive();
    let expires_on = today + Days::new(60);

    let purchased = api
        .post("/licenses", purchase_body(Some(expires_on)))
        .await
        .unwrap();
    assert_eq!(purchased.status, 201, "{:?}", purchased.body);
    let id = purchased.body["license_id"].as_str().unwrap().to_owned();
    let license = format!("/licenses/{id}");

    let ok = |answer: &ledger_tests::Answer, status: u16| {
        assert_eq!(answer.status, status, "{}", answer.body);
    };
    let activated = api
        .post(
            &format!("{license}/activate"),
            json!({"access_code": "LA-0001234567-12345"}),
        )
        .await
        .unwrap();
    ok(&activated, 200);

    let server_a = api
        .post(
            &format!("{license}/allocations"),
            json!({"host": "serverA", "quantity": 800}),
        )
        .await
        .unwrap();
    ok(&server_a, 201);
    let server_b = api
        .post(
            &format!("{license}/allocations"),
            json!({"host": "serverB", "quantity": 200}),
        )
        .await
        .unwrap();
    ok(&server_b, 201);

    let pool = env.pool().await;
    let events_before_refusal = stored_events(&pool).await.len();
    let one_more = api
        .post(
            &format!("{license}/allocations"),
            json!({"host": "serverD", "quantity": 1}),
        )
        .await
        .unwrap();
    ok(&one_more, 422);
    assert_eq!(one_more.body["rule"], "allocation-exceeds-available");
    assert_eq!(
        one_more.body["facts"],
        json!({"requested": 1, "available": 0})
    );
    assert_eq!(
        stored_events(&pool).await.len(),
        events_before_refusal,
        "a refusal records nothing"
    );

    let b_id = server_b.body["allocation_id"].as_str().unwrap();
    let moved = api
        .post(
            &format!("{license}/allocations/{b_id}/modify"),
            json!({"new_host": "serverC"}),
        )
        .await
        .unwrap();
    ok(&moved, 200);
    let a_id = server_a.body["allocation_id"].as_str().unwrap();
    ok(
        &api.post_empty(&format!("{license}/allocations/{a_id}/return"))
            .await
            .unwrap(),
        200,
    );
    ok(
        &api.post_empty(&format!("{license}/hide")).await.unwrap(),
        200,
    );
    ok(
        &api.post_empty(&format!("{license}/unhide")).await.unwrap(),
        200,
    );
    let renewed_to = expires_on + Days::new(365);
    ok(
        &api.post(
            &format!("{license}/renew"),
            json!({"expires_on": renewed_to}),
        )
        .await
        .unwrap(),
        200,
    );
    let upgraded = api
        .post(
            &format!("{license}/upgrade"),
            json!({"edition": "PLT", "version": "7.16"}),
        )
        .await
        .unwrap();
    ok(&upgraded, 200);
    assert_eq!(upgraded.body["version"], 10);
    let last_position = upgraded.body["position"].as_i64().unwrap();

    // Read-your-writes: the landing page waits for the upgrade's position.
    let landing = api
        .get(&format!("/landing-page?min_position={last_position}"))
        .await
        .unwrap();
    ok(&landing, 200);
    let new_line = &landing.body["new_licenses"][0];
    assert_eq!(new_line["license_id"], id.as_str());
    assert_eq!(
        (
            new_line["allocated"].as_i64(),
            new_line["quantity"].as_i64()
        ),
        (Some(200), Some(1000))
    );
    assert_eq!(new_line["feature"], "XDT_PLT_UD");
    assert_eq!(
        landing.body["expiring_licenses"],
        json!([]),
        "renewed past 90 days"
    );

    wait_until_projected(&env, Duration::from_secs(30))
        .await
        .unwrap();
    let stored = stored_events(&pool).await;
    assert_eq!(stored.len(), 10);

    // The stream holds every stored event exactly once, in per-license order, with
    // the stored body.
    let js = env.jetstream().await;
    let messages = stream_messages(&js, &env.stream).await;
    assert_eq!(messages.len(), stored.len());
    let ids: HashSet<String> = messages.iter().map(|m| header(m, "Nats-Msg-Id")).collect();
    assert_eq!(ids.len(), messages.len(), "no duplicates");
    let by_position: BTreeMap<i64, &ledger_tests::StoredRow> = stored
        .iter()
        .map(|row| (row.global_position, row))
        .collect();
    let mut last_sequence = 0;
    for message in &messages {
        let position = header_number(message, "Ledger-Global-Position");
        let row = by_position[&position];
        let sequence = header_number(message, "Ledger-Sequence");
        assert_eq!(sequence, row.sequence);
        assert_eq!(sequence, last_sequence + 1, "per-license order");
        last_sequence = sequence;
        assert_eq!(header(message, "Ledger-Event-Type"), row.event_type);
        assert_eq!(header(message, "Ledger-Account"), api.account.to_string());
        assert!(message
            .subject
            .ends_with(&format!(".license.{id}.{}", row.event_type)));
        let body: Value = serde_json::from_slice(&message.payload).unwrap();
        assert_eq!(
            body, row.payload[&row.event_type],
            "stream body is the stored body"
        );
    }

    // The read model equals a fold of the stored events through the domain.
    let events: Vec<LicenseEvent> = stored
        .iter()
        .map(|row| serde_json::from_value(row.payload.clone()).unwrap())
        .collect();
    let folded = License::replay(&events);
    let state = folded.state().unwrap();
    let read = api.get(&license).await.unwrap();
    ok(&read, 200);
    let read = read.body;
    assert_eq!(read["quantity"], state.terms.quantity);
    assert_eq!(read["allocated"], state.allocated());
    assert_eq!(read["edition"], state.terms.edition.code());
    assert_eq!(read["version"], state.terms.version.as_str());
    assert_eq!(read["expires_on"], json!(state.terms.expires_on));
    assert_eq!(
        read["maintenance_until"],
        json!(state.terms.maintenance_until)
    );
    assert_eq!(read["hidden"], state.hidden);
    assert_eq!(read["last_sequence"], 10);
    let read_allocations: BTreeMap<String, (String, i64, String)> = read["allocations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["allocation_id"].as_str().unwrap().to_owned(),
                (
                    a["host"].as_str().unwrap().to_owned(),
                    a["quantity"].as_i64().unwrap(),
                    a["status"].as_str().unwrap().to_owned(),
                ),
            )
        })
        .collect();
    let folded_allocations: BTreeMap<String, (String, i64, String)> = state
        .allocations
        .iter()
        .map(|(id, a)| {
            let status = serde_json::to_value(a.status)
                .unwrap()
                .as_str()
                .unwrap()
                .to_owned();
            (
                id.to_string(),
                (a.host.to_string(), i64::from(a.quantity), status),
            )
        })
        .collect();
    assert_eq!(read_allocations, folded_allocations);
    assert_eq!(folded_allocations.len(), 3, "A returned, B moved, C live");

    drop(ledger);
    env.cleanup().await;
}

#[tokio::test]
async fn bad_requests_name_the_field_and_record_nothing() {
    let env = TestEnv::fresh();
    let ledger = Ledger::start(ledger_bin!(), &env, &[]).await.unwrap();
    let api = Api::new(&ledger);

    let mut unknown_field = purchase_body(None);
    unknown_field["colour"] = json!("red");
    let answer = api.post("/licenses", unknown_field).await.unwrap();
    assert_eq!(answer.status, 400);
    assert_eq!(answer.body["field"], "colour", "{}", answer.body);

    let mut bad_edition = purchase_body(None);
    bad_edition["edition"] = json!("GOLD");
    let answer = api.post("/licenses", bad_edition).await.unwrap();
    assert_eq!(
        (answer.status, answer.body["field"].as_str()),
        (400, Some("edition"))
    );

    let mut negative = purchase_body(None);
    negative["quantity"] = json!(-1);
    let answer = api.post("/licenses", negative).await.unwrap();
    assert_eq!(
        (answer.status, answer.body["field"].as_str()),
        (400, Some("quantity"))
    );

    let mut zero = purchase_body(None);
    zero["quantity"] = json!(0);
    let answer = api.post("/licenses", zero).await.unwrap();
    assert_eq!(
        (answer.status, answer.body["rule"].as_str()),
        (422, Some("quantity-must-be-positive"))
    );

    let not_json = api
        .request(reqwest::Method::POST, "/licenses")
        .header("content-type", "text/plain")
        .body("quantity=5")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), 415);
    assert_eq!(
        not_json.headers()["content-type"],
        "application/problem+json"
    );

    let missing = api
        .get(&format!("/licenses/{}", uuid::Uuid::now_v7()))
        .await
        .unwrap();
    assert_eq!(missing.status, 404);
    let not_an_id = api.get("/licenses/not-a-uuid").await.unwrap();
    assert_eq!(
        (not_an_id.status, not_an_id.body["field"].as_str()),
        (400, Some("path.license_id"))
    );
    let bad_as_of = api.get("/landing-page?as_of=yesterday").await.unwrap();
    assert_eq!(
        (bad_as_of.status, bad_as_of.body["field"].as_str()),
        (400, Some("query.as_of"))
    );
    let unknown_param = api.get("/landing-page?colour=red").await.unwrap();
    assert_eq!(
        (unknown_param.status, unknown_param.body["field"].as_str()),
        (400, Some("query.colour"))
    );

    let pool = env.pool().await;
    assert!(
        stored_events(&pool).await.is_empty(),
        "nothing was recorded"
    );
    drop(ledger);
    env.cleanup().await;
}
