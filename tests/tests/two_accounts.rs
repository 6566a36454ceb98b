//! Two accounts, made and given tokens with `ledger admin`, play the seeds' story
//! side by side against the real binary, PostgreSQL and NATS; each sees only its
//! own licenses, landing page, exports, usage and history, and every way of
//! reaching the other's data answers exactly like a missing one.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::time::Duration;

use chrono::{Days, Utc};
use ledger_tests::{
    ledger_bin, purchase_body, run_ledger, wait_until_projected, Api, Ledger, TestEnv,
};
use serde_json::{json, Value};
use uuid::Uuid;

/// `ledger admin <args>` against the test's database: its stdout, trimmed.
async fn admin(env: &TestEnv, args: &[&str]) -> String {
    let mut all = vec!["admin"];
    all.extend_from_slice(args);
    let output = run_ledger(ledger_bin!(), env, &all).await;
    assert!(
        output.status.success(),
        "ledger admin {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

/// An account made by `ledger admin create-account`, with a portal token and a
/// license-server token for `serverC`.
async fn account(env: &TestEnv, api: &Api, name: &str) -> (Api, Api) {
    let created: Value =
        serde_json::from_str(&admin(env, &["create-account", "--name", name]).await).unwrap();
    let id = created["account_id"].as_str().unwrap().to_owned();
    let portal = admin(
        env,
        &[
            "issue-token",
            "--role",
            "portal",
            "--account",
            &id,
            "--subject",
            &format!("{name}-portal"),
        ],
    )
    .await;
    let server = admin(
        env,
        &[
            "issue-token",
            "--role",
            "license_server",
            "--account",
            &id,
            "--subject",
            "lm-c",
            "--host",
            "serverC",
        ],
    )
    .await;
    let account: Uuid = id.parse().unwrap();
    (
        api.with_token(account, &portal),
        api.with_token(account, &server),
    )
}

/// The seeds' story for one account: its license id and last position.
async fn story(api: &Api, server: &Api, order: &str) -> (String, i64) {
    let ok = |answer: &ledger_tests::Answer, status: u16| {
        assert_eq!(answer.status, status, "{}", answer.body);
    };
    let mut body = purchase_body(Some(Utc::now().date_naive() + Days::new(60)));
    body["order_number"] = order.into();
    let purchased = api.post("/licenses", body).await.unwrap();
    ok(&purchased, 201);
    let id = purchased.body["license_id"].as_str().unwrap().to_owned();
    let license = format!("/licenses/{id}");
    ok(
        &api.post(
            &format!("{license}/activate"),
            json!({"access_code": "LA-0001234567-12345"}),
        )
        .await
        .unwrap(),
        200,
    );
    let a = api
        .post(
            &format!("{license}/allocations"),
            json!({"host": "serverA", "quantity": 800}),
        )
        .await
        .unwrap();
    ok(&a, 201);
    let b = api
        .post(
            &format!("{license}/allocations"),
            json!({"host": "serverB", "quantity": 200}),
        )
        .await
        .unwrap();
    ok(&b, 201);
    let b_id = b.body["allocation_id"].as_str().unwrap();
    let a_id = a.body["allocation_id"].as_str().unwrap();
    ok(
        &api.post(
            &format!("{license}/allocations/{b_id}/modify"),
            json!({"new_host": "serverC"}),
        )
        .await
        .unwrap(),
        200,
    );
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
    let yesterday = Utc::now().date_naive() - Days::new(1);
    let read = api.get(&license).await.unwrap();
    let feature = read.body["feature"]
        .as_str()
        .unwrap_or("XDT_ENT_UD")
        .to_owned();
    let usage = server
        .post(
            "/usage-reports",
            json!({"host": "serverC", "day": yesterday, "peaks": [{"feature": feature, "peak_in_use": 150}]}),
        )
        .await
        .unwrap();
    ok(&usage, 201);
    (id, usage.body["position"].as_i64().unwrap())
}

#[tokio::test]
async fn two_accounts_side_by_side_each_see_only_their_own() {
    let env = TestEnv::fresh();
    // Accounts and tokens exist before the gateway starts: made from the command line.
    let ledger = Ledger::start(ledger_bin!(), &env, &[]).await.unwrap();
    let base = Api::new(&ledger);
    let (acme, acme_server) = account(&env, &base, "acme").await;
    let (beta, beta_server) = account(&env, &base, "beta").await;

    let ((acme_license, acme_position), (beta_license, beta_position)) = tokio::join!(
        story(&acme, &acme_server, "ORD-ACME"),
        story(&beta, &beta_server, "ORD-BETA"),
    );
    wait_until_projected(&env, Duration::from_secs(30))
        .await
        .unwrap();

    for (api, own, other, position, order) in [
        (
            &acme,
            &acme_license,
            &beta_license,
            acme_position,
            "ORD-ACME",
        ),
        (
            &beta,
            &beta_license,
            &acme_license,
            beta_position,
            "ORD-BETA",
        ),
    ] {
        let page = api
            .get(&format!("/landing-page?min_position={position}"))
            .await
            .unwrap();
        assert_eq!(page.status, 200, "{}", page.body);
        let text = page.body.to_string();
        assert!(text.contains(order) && !text.contains(other), "{text}");

        let list = api.get("/licenses").await.unwrap();
        let ids: Vec<&str> = list.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| item["license_id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, [own.as_str()]);

        let (status, csv) = api.text("/exports/licenses.csv").await.unwrap();
        assert_eq!(status, 200);
        assert!(csv.contains(own.as_str()) && !csv.contains(other.as_str()));

        let (status, events) = api.text("/events.ndjson").await.unwrap();
        assert_eq!(status, 200);
        let events: Vec<Value> = events
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(events.len(), 9, "8 license events and 1 usage report");
        for event in &events {
            assert_eq!(event["metadata"]["account_id"], api.account.to_string());
        }

        let yesterday = Utc::now().date_naive() - Days::new(1);
        let today = Utc::now().date_naive();
        let (status, usage) = api
            .text(&format!("/exports/usage.csv?from={yesterday}&to={today}"))
            .await
            .unwrap();
        assert_eq!(status, 200);
        assert!(usage.contains("serverC"), "{usage}");
        let totals = api
            .get(&format!(
                "/usage/daily-totals?from={yesterday}&to={yesterday}"
            ))
            .await
            .unwrap();
        assert_eq!(totals.body["days"][0]["in_use"], 150, "{}", totals.body);

        // The other's license through its own account: "no such license".
        let missing = api
            .get(&format!("/licenses/{}", Uuid::now_v7()))
            .await
            .unwrap();
        let foreign = api.get(&format!("/licenses/{other}")).await.unwrap();
        assert_eq!((missing.status, foreign.status), (404, 404));
        assert_eq!(missing.body["type"], foreign.body["type"]);
        let history = api
            .get(&format!("/licenses/{other}/history"))
            .await
            .unwrap();
        assert_eq!(history.status, 404);
        let command = api
            .post_empty(&format!("/licenses/{other}/hide"))
            .await
            .unwrap();
        assert_eq!(command.status, 404);
        let bulk = api
            .post("/bulk/hide", json!({"license_ids": [own, other]}))
            .await
            .unwrap();
        assert_ne!(
            bulk.status / 100,
            2,
            "a foreign id refuses the selection: {}",
            bulk.body
        );
        assert!(
            bulk.body.to_string().contains(other.as_str()),
            "{}",
            bulk.body
        );
    }

    // The other's routes with one's own token: 404 for all, existing or not.
    let into_beta = acme.with_token(beta.account, acme.token());
    for path in [
        "/landing-page",
        "/licenses",
        &format!("/licenses/{beta_license}"),
    ] {
        let answer = into_beta.get(path).await.unwrap();
        assert_eq!(answer.status, 404, "{path}: {}", answer.body);
    }
    let nobody = acme.with_token(Uuid::now_v7(), acme.token());
    assert_eq!(nobody.get("/landing-page").await.unwrap().status, 404);
    // A license server: its own account and host only, and nothing to read.
    let stray = acme_server.with_token(beta.account, acme_server.token());
    let yesterday = Utc::now().date_naive() - Days::new(1);
    let report = json!({"host": "serverC", "day": yesterday, "peaks": [{"feature": "XDT_ENT_UD", "peak_in_use": 1}]});
    assert_eq!(
        stray
            .post("/usage-reports", report.clone())
            .await
            .unwrap()
            .status,
        404
    );
    let mut other_host = report;
    other_host["host"] = "serverA".into();
    assert_eq!(
        acme_server
            .post("/usage-reports", other_host)
            .await
            .unwrap()
            .status,
        403
    );
    assert_eq!(acme_server.get("/landing-page").await.unwrap().status, 403);

    let listed = admin(&env, &["list-accounts"]).await;
    assert_eq!(listed.lines().count(), 2, "{listed}");
    drop(ledger);
    env.cleanup().await;
}
