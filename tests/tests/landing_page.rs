//! The landing page's boundaries, end to end: "new" is purchased 0–30 days before
//! `as_of`; "expiring" is 0–90 days left, red through 30 and orange from 31; each
//! section holds the five most recent purchases; hidden licenses stay off it.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{Days, NaiveDate, Utc};
use ledger_tests::{
    buy, buy_boundary_licenses, ledger_bin, wait_until_projected, Api, Ledger, TestEnv,
};
use serde_json::{json, Value};

fn orders(section: &Value) -> Vec<String> {
    section
        .as_array()
        .unwrap()
        .iter()
        .map(|line| line["order_number"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn new_and_expiring_follow_the_portals_boundaries_as_of_any_day() {
    let env = TestEnv::fresh();
    let ledger = Ledger::start(ledger_bin!(), &env, &[]).await.unwrap();
    let api = Api::new(&ledger);
    // A fixed day in the past, so every purchase is in the past and `as_of` decides.
    let today = NaiveDate::from_ymd_opt(2026, 6, 15).unwrap();
    let ids = buy_boundary_licenses(&api, today).await;

    wait_until_projected(&env, Duration::from_secs(30))
        .await
        .unwrap();
    let as_of = format!("{today}");
    let page = api
        .get(&format!("/landing-page?as_of={as_of}"))
        .await
        .unwrap();
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(
        orders(&page.body["new_licenses"]),
        ["NEW-30"],
        "30 days ago is new, 31 is not"
    );
    let lines: BTreeMap<String, (i64, String)> = page.body["expiring_licenses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|line| {
            let order = ids
                .iter()
                .find(|(_, id)| line["license_id"] == id.as_str())
                .map(|(order, _)| order.to_string())
                .unwrap();
            (
                order,
                (
                    line["days_left"].as_i64().unwrap(),
                    line["band"].as_str().unwrap().to_owned(),
                ),
            )
        })
        .collect();
    let expected: BTreeMap<String, (i64, String)> = [
        ("EXP-0", 0, "red"),
        ("EXP-30", 30, "red"),
        ("EXP-31", 31, "orange"),
        ("EXP-90", 90, "orange"),
    ]
    .into_iter()
    .map(|(order, days, band)| (order.to_owned(), (days, band.to_owned())))
    .collect();
    assert_eq!(
        lines, expected,
        "0–90 days left, red through 30; 91 and expired are out"
    );

    // One day later everything shifts: nothing is new, EXP-0 has expired.
    let tomorrow = api
        .get(&format!("/landing-page?as_of={}", today + Days::new(1)))
        .await
        .unwrap();
    assert_eq!(orders(&tomorrow.body["new_licenses"]), Vec::<String>::new());
    assert_eq!(
        tomorrow.body["expiring_licenses"].as_array().unwrap().len(),
        4,
        "EXP-91 came in, EXP-0 left"
    );
    drop(ledger);
    env.cleanup().await;
}

#[tokio::test]
async fn each_section_shows_the_five_most_recent_purchases_and_never_hidden_ones() {
    let env = TestEnv::fresh();
    let ledger = Ledger::start(ledger_bin!(), &env, &[]).await.unwrap();
    let api = Api::new(&ledger);
    let now = Utc::now();
    let mut ids = Vec::new();
    for n in 0..7u64 {
        let at = now - chrono::Duration::hours(n as i64 + 1);
        ids.push(
            buy(
                &api,
                &format!("ORD-{n}"),
                at,
                Some(now.date_naive() + Days::new(10 + n)),
            )
            .await,
        );
    }
    let hidden = api
        .post_empty(&format!("/licenses/{}/hide", ids[0]))
        .await
        .unwrap();
    assert_eq!(hidden.status, 200);
    let position = hidden.body["position"].as_i64().unwrap();
    let page = api
        .get(&format!("/landing-page?min_position={position}"))
        .await
        .unwrap();
    assert_eq!(
        orders(&page.body["new_licenses"]),
        ["ORD-1", "ORD-2", "ORD-3", "ORD-4", "ORD-5"]
    );
    let expiring: Vec<&str> = page.body["expiring_licenses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|line| line["license_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        expiring,
        ids[1..6].iter().map(String::as_str).collect::<Vec<_>>()
    );
    wait_until_projected(&env, Duration::from_secs(30))
        .await
        .unwrap();
    let other_account = Api::new(&ledger);
    let empty = other_account.get("/landing-page").await.unwrap();
    assert_eq!(
        empty.body["new_licenses"],
        json!([]),
        "accounts never see each other's licenses"
    );
    drop(ledger);
    env.cleanup().await;
}
