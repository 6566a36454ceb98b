//! Usage reports and overdraft, end to end: reports and corrections recorded on
//! per-server-day streams, the overdraft figures of hand-computed days, daily
//! totals, the CSV parsed back against the JSON, and bad reports refused whole.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::time::Duration;

use chrono::{Days, Utc};
use ledger_tests::{
    header, ledger_bin, purchase_body, stored_events, stream_messages, wait_until_projected, Api,
    Ledger, TestEnv,
};
use serde_json::{json, Value};

/// Purchases, activates and allocates `quantity` of a license to `host`.
async fn allocated(api: &Api, license_model: &str, host: &str, quantity: u32) {
    let mut body = purchase_body(None);
    body["license_model"] = json!(license_model);
    let id = api.post("/licenses", body).await.unwrap().body["license_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let activate = json!({"access_code": "LA-0001234567-12345"});
    assert_eq!(
        api.post(&format!("/licenses/{id}/activate"), activate)
            .await
            .unwrap()
            .status,
        200
    );
    let allocate = json!({"host": host, "quantity": quantity});
    let answer = api
        .post(&format!("/licenses/{id}/allocations"), allocate)
        .await
        .unwrap();
    assert_eq!(answer.status, 201, "{}", answer.body);
}

fn line<'a>(page: &'a Value, day: &str, host: &str) -> &'a Value {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["day"] == day && l["host"] == host)
        .unwrap_or_else(|| panic!("no line for {day} {host}: {page}"))
}

#[tokio::test]
async fn reports_and_corrections_give_the_hand_computed_overdraft() {
    let env = TestEnv::fresh();
    let ledger = Ledger::start(ledger_bin!(), &env, &[]).await.unwrap();
    let api = Api::new(&ledger);
    allocated(&api, "user_device", "srv-1", 125).await;
    allocated(&api, "concurrent_user", "srv-2", 50).await;
    wait_until_projected(&env, Duration::from_secs(30))
        .await
        .unwrap();
    let today = Utc::now().date_naive();
    let yesterday = today - Days::new(1);

    let report = |host: &str, day: chrono::NaiveDate, feature: &str, peak: u32| json!({"host": host, "day": day, "peaks": [{"feature": feature, "peak_in_use": peak}]});
    let first = api
        .post("/usage-reports", report("srv-1", today, "XDT_ENT_UD", 130))
        .await
        .unwrap();
    assert_eq!(first.status, 201, "{}", first.body);
    assert_eq!(first.body["version"], 1);
    let corrected = api
        .post("/usage-reports", report("srv-1", today, "XDT_ENT_UD", 140))
        .await
        .unwrap();
    assert_eq!(
        (
            corrected.body["version"].as_i64(),
            corrected.body["stream_id"].as_str()
        ),
        (Some(2), first.body["stream_id"].as_str()),
        "a correction lands on the same stream"
    );
    // Both reports stay in the stream's history, the correction last.
    let history = api
        .get(&format!("/license-servers/srv-1/usage/{today}/history"))
        .await
        .unwrap();
    assert_eq!(history.status, 200, "{}", history.body);
    let peaks: Vec<&serde_json::Value> = history.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| &event["body"]["peaks"]["XDT_ENT_UD"])
        .collect();
    assert_eq!(peaks, [&json!(130), &json!(140)], "{}", history.body);
    let batch = api
        .post(
            "/usage-reports/batch",
            json!({"reports": [
                report("srv-1", yesterday, "XDT_ENT_UD", 10),
                report("srv-2", today, "XDT_ENT_CCU", 55),
            ]}),
        )
        .await
        .unwrap();
    assert_eq!(batch.status, 201, "{}", batch.body);
    let position = batch.body["position"].as_i64().unwrap();

    let page = api
        .get(&format!(
            "/usage/overdraft?from={yesterday}&to={today}&min_position={position}"
        ))
        .await
        .unwrap();
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(page.body["items"].as_array().unwrap().len(), 3);
    let today_text = today.to_string();
    // 125 installed, 140 in use after the correction: 15 over; 10% of 125 is 12.
    let ud = line(&page.body, &today_text, "srv-1");
    assert_eq!(
        (
            ud["installed"].as_i64(),
            ud["in_use"].as_i64(),
            ud["overdraft"].as_i64(),
            ud["allowance"].as_i64()
        ),
        (Some(125), Some(140), Some(15), Some(12))
    );
    assert_eq!(ud["allowance_exceeded"], true, "140 > 125 + 12");
    // Allocated today: nothing was installed at the end of yesterday.
    let before = line(&page.body, &yesterday.to_string(), "srv-1");
    assert_eq!(
        (before["installed"].as_i64(), before["overdraft"].as_i64()),
        (Some(0), Some(10))
    );
    // Concurrent-user features have no allowance by default.
    let ccu = line(&page.body, &today_text, "srv-2");
    assert_eq!(
        (ccu["overdraft"].as_i64(), ccu["allowance"].as_i64()),
        (Some(5), Some(0))
    );

    let totals = api
        .get(&format!("/usage/daily-totals?from={yesterday}&to={today}"))
        .await
        .unwrap();
    assert_eq!(
        totals.body["days"][1],
        json!({"day": today_text, "installed": 175, "in_use": 195, "overdraft": 20,
               "lines_in_overdraft": 2, "lines_exceeding_allowance": 2})
    );

    let csv_text = api
        .request(
            reqwest::Method::GET,
            &format!("/exports/usage.csv?from={yesterday}&to={today}"),
        )
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
        [
            "day",
            "host",
            "feature",
            "installed",
            "in_use",
            "overdraft",
            "allowance",
            "allowance_exceeded"
        ]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let items = page.body["items"].as_array().unwrap();
    assert_eq!(rows.len(), items.len());
    for (row, item) in rows.iter().zip(items) {
        assert_eq!(&row[0], item["day"].as_str().unwrap());
        assert_eq!(&row[1], item["host"].as_str().unwrap());
        assert_eq!(&row[5], item["overdraft"].to_string());
        assert_eq!(&row[7], item["allowance_exceeded"].to_string());
    }

    wait_until_projected(&env, Duration::from_secs(30))
        .await
        .unwrap();
    let messages = stream_messages(&env.jetstream().await, &env.stream).await;
    let usage: Vec<_> = messages
        .iter()
        .filter(|m| header(m, "Ledger-Aggregate-Type") == "ServerUsage")
        .collect();
    assert_eq!(
        usage.len(),
        4,
        "every report and correction is on the stream"
    );
    assert!(usage[0].subject.contains(".serverusage."));
    drop(ledger);
    env.cleanup().await;
}

#[tokio::test]
async fn bad_reports_are_refused_and_a_bad_batch_records_nothing() {
    let env = TestEnv::fresh();
    let ledger = Ledger::start(ledger_bin!(), &env, &[]).await.unwrap();
    let api = Api::new(&ledger);
    allocated(&api, "user_device", "srv-1", 10).await;
    wait_until_projected(&env, Duration::from_secs(30))
        .await
        .unwrap();
    let pool = env.pool().await;
    let before = stored_events(&pool).await.len();
    let today = Utc::now().date_naive();
    let tomorrow = today + Days::new(1);
    let good = json!({"host": "srv-1", "day": today, "peaks": [{"feature": "XDT_ENT_UD", "peak_in_use": 3}]});
    let cases = [
        (
            json!({"host": "srv-1", "day": today, "peaks": [{"feature": "XDT_STD_UD", "peak_in_use": 3}]}),
            422,
            "unknown-feature",
            None,
        ),
        (
            json!({"host": "srv-1", "day": today, "peaks": [{"feature": "XDT_ENT_UD", "peak_in_use": -3}]}),
            400,
            "bad-request",
            Some("peaks[0].peak_in_use"),
        ),
        (
            json!({"host": "srv-1", "day": tomorrow, "peaks": [{"feature": "XDT_ENT_UD", "peak_in_use": 3}]}),
            422,
            "day-in-future",
            None,
        ),
        (
            json!({"host": "srv 1", "day": today, "peaks": [{"feature": "XDT_ENT_UD", "peak_in_use": 3}]}),
            400,
            "bad-request",
            Some("host"),
        ),
        (
            json!({"host": "srv-1", "day": today, "peaks": []}),
            422,
            "nothing-reported",
            None,
        ),
        (
            json!({"host": "srv-1", "day": today, "peaks": [
            {"feature": "XDT_ENT_UD", "peak_in_use": 3}, {"feature": "XDT_ENT_UD", "peak_in_use": 4}]}),
            400,
            "bad-request",
            Some("peaks[1].feature"),
        ),
    ];
    for (body, status, kind, field) in cases {
        let answer = api.post("/usage-reports", body.clone()).await.unwrap();
        assert_eq!(answer.status, status, "{body}: {}", answer.body);
        assert_eq!(
            answer.body["type"],
            format!("urn:licensing-ledger:problem:{kind}"),
            "{body}"
        );
        if let Some(field) = field {
            assert_eq!(answer.body["field"], field, "{body}");
        }
    }
    let bad_batch = json!({"reports": [good.clone(),
        {"host": "srv-1", "day": tomorrow, "peaks": [{"feature": "XDT_ENT_UD", "peak_in_use": 1}]}]});
    let answer = api.post("/usage-reports/batch", bad_batch).await.unwrap();
    assert_eq!(
        (answer.status, answer.body["field"].as_str()),
        (422, Some("reports[1]")),
        "{}",
        answer.body
    );
    let empty = api
        .post("/usage-reports/batch", json!({"reports": []}))
        .await
        .unwrap();
    assert_eq!(
        (empty.status, empty.body["field"].as_str()),
        (400, Some("reports"))
    );
    assert_eq!(
        stored_events(&pool).await.len(),
        before,
        "nothing was recorded"
    );
    let range = api
        .get(&format!("/usage/overdraft?from={tomorrow}&to={today}"))
        .await
        .unwrap();
    assert_eq!(
        (range.status, range.body["field"].as_str()),
        (400, Some("query.to"))
    );
    let long = api
        .get("/usage/overdraft?from=2020-01-01&to=2026-01-01")
        .await
        .unwrap();
    assert_eq!(
        (long.status, long.body["field"].as_str()),
        (400, Some("query.from"))
    );
    drop(ledger);
    env.cleanup().await;
}
