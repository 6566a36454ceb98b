//! The HTTP API driven in-process with `app(state).oneshot(request)`, against a
//! fresh real PostgreSQL database per test (no NATS: these tests are about the
//! command side and the HTTP contract).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod support;

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt as _;
use serde_json::{json, Value};
use support::{activated_license, purchase, spawn_app, spawn_app_with};
use tower::ServiceExt as _;
use uuid::Uuid;

#[tokio::test]
async fn a_purchase_answers_201_with_its_location_version_position_and_event() {
    let app = spawn_app().await;
    let account = Uuid::now_v7();
    let request = Request::post(format!("/v1/accounts/{account}/licenses"))
        .header("content-type", "application/json")
        .body(Body::from(purchase(10).to_string()))
        .unwrap();
    let response = app
        .router
        .clone()
        .oneshot(app.with_default_token(request))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert!(response.headers().contains_key("x-request-id"));
    let body: Value =
        serde_json::from_slice(&response.into_body().collect().await.unwrap().to_bytes()).unwrap();
    let id = body["license_id"].as_str().unwrap();
    assert_eq!(location, format!("/v1/accounts/{account}/licenses/{id}"));
    assert_eq!(body["version"], 1);
    assert!(body["position"].as_i64().unwrap() >= 1);
    assert_eq!(body["events"][0]["type"], "Purchased");
    assert_eq!(body["events"][0]["body"]["quantity"], 10);
    app.cleanup().await;
}

#[tokio::test]
async fn a_client_chosen_license_id_makes_a_repeated_purchase_a_conflict() {
    let app = spawn_app().await;
    let account = Uuid::now_v7();
    let mut body = purchase(10);
    body["license_id"] = json!(Uuid::now_v7());
    let uri = format!("/v1/accounts/{account}/licenses");
    let (first, _, _) = app.call(Method::POST, &uri, Some(body.clone())).await;
    assert_eq!(first, StatusCode::CREATED);
    let (again, problem, _) = app.call(Method::POST, &uri, Some(body)).await;
    assert_eq!(again, StatusCode::CONFLICT);
    assert_eq!(
        problem["type"],
        "urn:licensing-ledger:problem:already-purchased"
    );
    assert_eq!(app.event_count().await, 1);
    app.cleanup().await;
}

#[tokio::test]
async fn every_error_is_problem_json_and_records_nothing() {
    let app = spawn_app().await;
    let account = Uuid::now_v7();
    let id = activated_license(&app, account, 10).await;
    let before = app.event_count().await;
    let license = format!("/v1/accounts/{account}/licenses/{id}");
    let cases: Vec<(Method, String, Option<Value>, StatusCode, &str)> = vec![
        (
            Method::POST,
            format!("{license}/allocations"),
            Some(json!({"host": "a b", "quantity": 1})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-host-id",
        ),
        (
            Method::POST,
            format!("{license}/allocations"),
            Some(json!({"host": "srv", "quantity": 11})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "allocation-exceeds-available",
        ),
        (
            Method::POST,
            format!("{license}/allocations"),
            Some(json!({"host": "srv"})),
            StatusCode::BAD_REQUEST,
            "bad-request",
        ),
        (
            Method::POST,
            format!("{license}/allocations"),
            Some(json!({"host": "srv", "quantity": "1"})),
            StatusCode::BAD_REQUEST,
            "bad-request",
        ),
        (
            Method::POST,
            format!("{license}/activate"),
            Some(json!({"access_code": "LA-9"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "already-activated",
        ),
        (
            Method::POST,
            format!("{license}/unhide"),
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
            "not-hidden",
        ),
        (
            Method::POST,
            format!("{license}/renew"),
            Some(json!({})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "nothing-to-renew",
        ),
        (
            Method::POST,
            format!("{license}/renew"),
            Some(json!({"expires_on": "2031-01-01"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "perpetual-has-no-expiry",
        ),
        (
            Method::POST,
            format!("{license}/upgrade"),
            Some(json!({"edition": "STD"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "edition-not-higher",
        ),
        (
            Method::POST,
            format!("{license}/upgrade"),
            Some(json!({"edition": "gold"})),
            StatusCode::BAD_REQUEST,
            "bad-request",
        ),
        (
            Method::POST,
            format!("{license}/allocations/{}/return", Uuid::now_v7()),
            None,
            StatusCode::NOT_FOUND,
            "allocation-not-found",
        ),
        (
            Method::POST,
            format!("{license}/allocations/nope/return"),
            None,
            StatusCode::BAD_REQUEST,
            "bad-request",
        ),
        (
            Method::POST,
            format!("/v1/accounts/{}/licenses/{id}/hide", Uuid::now_v7()),
            None,
            StatusCode::NOT_FOUND,
            "not-found",
        ),
        (
            Method::GET,
            format!("/v1/accounts/{}/licenses/{id}", Uuid::now_v7()),
            None,
            StatusCode::NOT_FOUND,
            "not-found",
        ),
        (
            Method::GET,
            "/no/such/route".to_owned(),
            None,
            StatusCode::NOT_FOUND,
            "not-found",
        ),
        (
            Method::GET,
            format!("{license}?min_position=0"),
            None,
            StatusCode::BAD_REQUEST,
            "bad-request",
        ),
        (
            Method::GET,
            format!("{license}?min_position=999999"),
            None,
            StatusCode::BAD_REQUEST,
            "bad-request",
        ),
    ];
    for (method, uri, body, status, kind) in cases {
        let (got, problem, content_type) = app.call(method.clone(), &uri, body.clone()).await;
        assert_eq!(got, status, "{method} {uri} {body:?}: {problem}");
        assert_eq!(content_type, "application/problem+json", "{method} {uri}");
        assert_eq!(
            problem["type"],
            format!("urn:licensing-ledger:problem:{kind}"),
            "{uri}: {problem}"
        );
        assert_eq!(problem["status"], status.as_u16());
    }
    assert_eq!(
        app.event_count().await,
        before,
        "no refused request recorded anything"
    );
    app.cleanup().await;
}

/// A client shows a refusal beside the input at fault, so a rule about one
/// member of the body names it as `field`, the way that command's body spells it;
/// a rule about the license's state names none.
#[tokio::test]
async fn a_broken_rule_names_the_body_member_it_is_about() {
    let app = spawn_app().await;
    let account = Uuid::now_v7();
    let id = activated_license(&app, account, 10).await;
    let license = format!("/v1/accounts/{account}/licenses/{id}");
    let (status, allocated, _) = app
        .call(
            Method::POST,
            &format!("{license}/allocations"),
            Some(json!({"host": "srv-a", "quantity": 4})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{allocated}");
    let allocation = allocated["allocation_id"].as_str().unwrap();
    let cases: Vec<(String, Value, &str, Option<&str>)> = vec![
        (
            format!("{license}/allocations"),
            json!({"host": "srv-b", "quantity": 7}),
            "allocation-exceeds-available",
            Some("quantity"),
        ),
        (
            format!("{license}/allocations"),
            json!({"host": "srv b", "quantity": 1}),
            "invalid-host-id",
            Some("host"),
        ),
        (
            format!("{license}/allocations"),
            json!({"host": "srv-b", "quantity": 1, "allocation_id": allocation}),
            "duplicate-allocation-id",
            Some("allocation_id"),
        ),
        (
            format!("{license}/allocations/{allocation}/modify"),
            json!({"new_host": "srv-a"}),
            "same-host",
            Some("new_host"),
        ),
        (
            format!("{license}/allocations/{allocation}/modify"),
            json!({"new_host": "srv b"}),
            "invalid-host-id",
            Some("new_host"),
        ),
        (
            format!("{license}/renew"),
            json!({"maintenance_until": "2020-01-01"}),
            "date-must-move-forward",
            Some("maintenance_until"),
        ),
        (
            format!("{license}/renew"),
            json!({"expires_on": "2031-01-01"}),
            "perpetual-has-no-expiry",
            Some("expires_on"),
        ),
        (
            format!("{license}/upgrade"),
            json!({"edition": "STD"}),
            "edition-not-higher",
            Some("edition"),
        ),
        (
            format!("{license}/activate"),
            json!({"access_code": "LA-9"}),
            "already-activated",
            None,
        ),
        (
            format!("{license}/renew"),
            json!({}),
            "nothing-to-renew",
            None,
        ),
    ];
    for (uri, body, rule, field) in cases {
        let (status, problem, _) = app.call(Method::POST, &uri, Some(body.clone())).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{uri} {body}: {problem}"
        );
        assert_eq!(problem["rule"], rule, "{uri} {body}: {problem}");
        match field {
            Some(field) => assert_eq!(problem["field"], field, "{uri} {body}: {problem}"),
            None => assert!(problem.get("field").is_none(), "{uri} {body}: {problem}"),
        }
    }
    app.cleanup().await;
}

#[tokio::test]
async fn malformed_oversized_and_non_json_bodies_are_refused_with_their_own_status() {
    let app = spawn_app().await;
    let uri = format!("/v1/accounts/{}/licenses", Uuid::now_v7());
    let send = |content_type: &'static str, body: Vec<u8>| {
        Request::post(uri.clone())
            .header("content-type", content_type)
            .body(Body::from(body))
            .unwrap()
    };
    let (status, problem, _) = app
        .send(send("application/json", b"{\"product\": ".to_vec()))
        .await;
    assert_eq!(
        (status, problem["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("body"))
    );
    let (status, _, _) = app.send(send("text/plain", b"{}".to_vec())).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let (status, _, _) = app
        .send(send("application/json", vec![b' '; 100 * 1024]))
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let mut future = purchase(1);
    future["purchased_at"] = json!("2999-01-01T00:00:00Z");
    let (status, problem, _) = app
        .send(send("application/json", future.to_string().into_bytes()))
        .await;
    assert_eq!(
        (status, problem["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("purchased_at"))
    );
    assert_eq!(app.event_count().await, 0);
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_clients_allocating_on_one_license_each_get_a_decision_never_a_409() {
    // No retries: a conflict between this gateway's own commands would be a 409.
    let app = spawn_app_with(|settings| settings.command_conflict_retries = 0).await;
    let account = Uuid::now_v7();
    let seats = 12;
    let id = activated_license(&app, account, seats).await;
    let uri = format!("/v1/accounts/{account}/licenses/{id}/allocations");
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..20 {
        let router = app.router.clone();
        let request = app.with_default_token(
            Request::post(&uri)
                .header("content-type", "application/json")
                .body(Body::from(
                    json!({"host": format!("srv{n}"), "quantity": 1}).to_string(),
                ))
                .unwrap(),
        );
        tasks.spawn(async move { router.oneshot(request).await.unwrap().status() });
    }
    let mut statuses = Vec::new();
    while let Some(status) = tasks.join_next().await {
        statuses.push(status.unwrap());
    }
    let count = |wanted: StatusCode| statuses.iter().filter(|s| **s == wanted).count();
    let (created, refused) = (
        count(StatusCode::CREATED),
        count(StatusCode::UNPROCESSABLE_ENTITY),
    );
    assert_eq!(created + refused, 20, "a 201 or a 422 each: {statuses:?}");
    assert_eq!(created, seats as usize, "every seat, and never more");
    let allocated: Vec<(i64,)> = sqlx::query_as(
        "SELECT (payload->'Allocated'->>'quantity')::bigint FROM events
          WHERE event_type = 'Allocated' AND aggregate_id = $1",
    )
    .bind(&id)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        allocated.len(),
        created,
        "every 201 is one recorded allocation"
    );
    let seats_allocated: i64 = allocated.iter().map(|(quantity,)| quantity).sum();
    assert_eq!(seats_allocated, seats);
    app.cleanup().await;
}

#[tokio::test]
async fn a_read_that_cannot_catch_up_answers_503_after_the_bounded_wait() {
    let app = spawn_app().await;
    let account = Uuid::now_v7();
    let (_, body, _) = app
        .call(
            Method::POST,
            &format!("/v1/accounts/{account}/licenses"),
            Some(purchase(3)),
        )
        .await;
    let position = body["position"].as_i64().unwrap();
    let started = std::time::Instant::now();
    let (status, problem, _) = app
        .call(
            Method::GET,
            &format!("/v1/accounts/{account}/landing-page?min_position={position}"),
            None,
        )
        .await;
    assert_eq!(
        status,
        StatusCode::SERVICE_UNAVAILABLE,
        "no projector runs here"
    );
    assert_eq!(
        problem["type"],
        "urn:licensing-ledger:problem:read-model-lagging"
    );
    assert!(started.elapsed() >= Duration::from_millis(200), "it waited");
    app.cleanup().await;
}

#[tokio::test]
async fn extreme_values_are_refused_before_they_reach_the_read_model() {
    let app = spawn_app().await;
    let account = Uuid::now_v7();
    let uri = format!("/v1/accounts/{account}/licenses");
    let mut huge = purchase(1);
    huge["quantity"] = json!(3_000_000_000u64);
    let (status, problem, _) = app.call(Method::POST, &uri, Some(huge)).await;
    assert_eq!(
        (status, problem["rule"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("quantity-too-large"))
    );
    let mut ancient = purchase(1);
    ancient["maintenance_until"] = json!("-5000-01-01");
    let (status, problem, _) = app.call(Method::POST, &uri, Some(ancient)).await;
    assert_eq!(
        (status, problem["rule"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("date-out-of-range")),
        "{problem}"
    );
    let bad_queries = [
        (
            format!("/v1/accounts/{account}/landing-page?as_of=-5000-01-01"),
            "query.as_of",
        ),
        (
            format!("/v1/accounts/{account}/landing-page?as_of=10000-01-01T00:00:00Z"),
            "query.as_of",
        ),
        (
            format!("/v1/accounts/{account}/licenses?expires_from=0001-01-01"),
            "query.expires_from",
        ),
        (
            format!("/v1/accounts/{account}/licenses?find_by=order_number&q=a%00b"),
            "query.q",
        ),
        (
            format!("/v1/accounts/{account}/license-servers?cursor=AA"),
            "query.cursor",
        ),
        (
            format!("/v1/accounts/{account}/license-servers/a%00b"),
            "path.host",
        ),
    ];
    for (uri, field) in bad_queries {
        let (status, problem, _) = app.call(Method::GET, &uri, None).await;
        assert_eq!(
            (status, problem["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some(field)),
            "{uri}: {problem}"
        );
    }
    assert_eq!(app.event_count().await, 0);
    app.cleanup().await;
}

#[tokio::test]
async fn a_retried_allocation_with_its_own_id_is_not_allocated_twice() {
    let app = spawn_app().await;
    let account = Uuid::now_v7();
    let id = activated_license(&app, account, 10).await;
    let uri = format!("/v1/accounts/{account}/licenses/{id}/allocations");
    let body = json!({"allocation_id": Uuid::now_v7(), "host": "srv", "quantity": 4});
    let (first, _, _) = app.call(Method::POST, &uri, Some(body.clone())).await;
    assert_eq!(first, StatusCode::CREATED);
    let (again, problem, _) = app.call(Method::POST, &uri, Some(body)).await;
    assert_eq!(
        (again, problem["rule"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("duplicate-allocation-id")
        )
    );
    let allocated: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type = 'Allocated'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(allocated, 1);
    app.cleanup().await;
}

#[tokio::test]
async fn health_probes_report_the_database() {
    let app = spawn_app().await;
    let (status, body, _) = app.call(Method::GET, "/health/ready", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["database"], true);
    let (status, _, _) = app.call(Method::GET, "/health/live", None).await;
    assert_eq!(status, StatusCode::OK);
    app.cleanup().await;
}

#[tokio::test]
async fn a_command_whose_event_would_outgrow_the_stream_limit_is_refused_and_records_nothing() {
    let app = spawn_app_with(|settings| settings.event_max_bytes = 1024).await;
    let account = Uuid::now_v7();
    let (status, body, _) = app
        .call(
            Method::POST,
            &format!("/v1/accounts/{account}/licenses"),
            Some(purchase(10)),
        )
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(body["type"], "urn:licensing-ledger:problem:event-too-large");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("over the limit of 1024 bytes"),
        "{body}"
    );
    assert_eq!(app.event_count().await, 0);
    app.cleanup().await;
}

/// `filter=active` is the portal's "Quick find: All active": neither hidden nor
/// expired (as `Filter` in `projections/src/queries/search.rs` defines it). A hidden
/// license is found only by `filter=hidden`, expired or not.
#[tokio::test]
async fn active_finds_the_licenses_neither_hidden_nor_expired() {
    let app = spawn_app().await;
    let account = Uuid::now_v7();
    let base = format!("/v1/accounts/{account}");
    let visible = activated_license(&app, account, 1).await;
    let hidden = activated_license(&app, account, 2).await;
    let (status, _, _) = app
        .call(
            Method::POST,
            &format!("{base}/licenses/{hidden}/hide"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let expires_on = (chrono::Utc::now() + chrono::Duration::days(400)).date_naive();
    let mut term = purchase(3);
    term["expires_on"] = json!(expires_on);
    let (status, body, _) = app
        .call(Method::POST, &format!("{base}/licenses"), Some(term))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let term = body["license_id"].as_str().unwrap().to_owned();
    app.project().await;

    let found = |uri: String| {
        let app = &app;
        async move {
            let (status, page, _) = app.call(Method::GET, &uri, None).await;
            assert_eq!(status, StatusCode::OK, "{uri}: {page}");
            let mut ids: Vec<String> = page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|item| item["license_id"].as_str().unwrap().to_owned())
                .collect();
            ids.sort();
            ids
        }
    };
    let sorted = |mut ids: Vec<&str>| {
        ids.sort_unstable();
        ids.into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    let after_expiry = expires_on + chrono::Duration::days(1);
    // The live read model and a replay of history answer alike.
    for list in [
        format!("{base}/licenses"),
        format!("{base}/history/licenses"),
    ] {
        assert_eq!(
            found(format!("{list}?filter=active")).await,
            sorted(vec![&visible, &term]),
            "{list}: the hidden license, not expired, is not active"
        );
        assert_eq!(
            found(format!("{list}?filter=hidden")).await,
            sorted(vec![&hidden]),
            "{list}"
        );
        assert_eq!(
            found(format!("{list}?filter=active&as_of={after_expiry}")).await,
            sorted(vec![&visible]),
            "{list}: an expired license is not active"
        );
    }
    app.cleanup().await;
}
