//! The read side end to end: search by each criterion, the portal's filters,
//! sorting and cursor paging, expiry, asset components, license servers — and the
//! CSV export parsed back with a CSV parser and compared with the JSON answer.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{Days, NaiveDate, NaiveTime};
use ledger_tests::{
    buy_boundary_licenses, ledger_bin, purchase_body, wait_until_projected, Api, Ledger, TestEnv,
};
use serde_json::{json, Value};

/// The day every `as_of` below is; purchases are placed relative to it. Today for
/// real, because commands (an allocation on a term license) are decided now.
fn today() -> NaiveDate {
    chrono::Utc::now().date_naive()
}

/// Name, order number, access code, days since purchase, days to expiry, trial.
type SeedLine = (
    &'static str,
    &'static str,
    &'static str,
    u64,
    Option<i64>,
    bool,
);

struct Seeded {
    api: Api,
    ids: std::collections::BTreeMap<&'static str, String>,
}

/// One account with licenses of every kind the filters tell apart.
async fn seed(ledger: &Ledger) -> Seeded {
    let api = Api::new(ledger);
    let noon = |days_ago: u64| {
        (today() - Days::new(days_ago))
            .and_time(NaiveTime::from_hms_opt(12, 0, 0).unwrap())
            .and_utc()
    };
    // (name, order, access code, days ago purchased, expiry in days from today, trial)
    let lines: [SeedLine; 6] = [
        ("new_perpetual", "ORD-100", "LA-AAA-1", 3, None, false),
        ("expiring_red", "ORD-100", "LA-AAA-2", 200, Some(10), false),
        (
            "expiring_orange",
            "ORD-200",
            "LA-BBB-1",
            300,
            Some(60),
            false,
        ),
        ("expired", "ORD-200", "LA-BBB-2", 400, Some(-5), false),
        ("trial", "ORD-300", "LA-CCC-1", 20, Some(25), true),
        ("hidden", "ORD-400", "=HYPERLINK(\"x\")", 50, None, false),
    ];
    let mut ids = std::collections::BTreeMap::new();
    for (name, order, code, days_ago, expires_in, trial) in lines {
        let expires_on = expires_in.map(|days| {
            if days >= 0 {
                today() + Days::new(days as u64)
            } else {
                today() - Days::new((-days) as u64)
            }
        });
        let mut body = purchase_body(expires_on);
        body["order_number"] = json!(order);
        body["access_code"] = json!(code);
        body["purchased_at"] = json!(noon(days_ago));
        body["trial"] = json!(trial);
        body["quantity"] = json!(100);
        let answer = api.post("/licenses", body).await.unwrap();
        assert_eq!(answer.status, 201, "{name}: {}", answer.body);
        let id = answer.body["license_id"].as_str().unwrap().to_owned();
        ids.insert(name, id);
    }
    let activate = json!({"access_code": "LA-AAA-1"});
    let id = &ids["new_perpetual"];
    assert_eq!(
        api.post(&format!("/licenses/{id}/activate"), activate)
            .await
            .unwrap()
            .status,
        200
    );
    for (host, quantity) in [("srv-east", 60), ("srv-west", 40)] {
        let answer = api
            .post(
                &format!("/licenses/{id}/allocations"),
                json!({"host": host, "quantity": quantity}),
            )
            .await
            .unwrap();
        assert_eq!(answer.status, 201, "{}", answer.body);
    }
    let id = &ids["expiring_red"];
    let activate = json!({"access_code": "LA-AAA-2"});
    assert_eq!(
        api.post(&format!("/licenses/{id}/activate"), activate)
            .await
            .unwrap()
            .status,
        200
    );
    let answer = api
        .post(
            &format!("/licenses/{id}/allocations"),
            json!({"host": "srv-east", "quantity": 30}),
        )
        .await
        .unwrap();
    assert_eq!(answer.status, 201);
    let hidden = &ids["hidden"];
    assert_eq!(
        api.post_empty(&format!("/licenses/{hidden}/hide"))
            .await
            .unwrap()
            .status,
        200
    );
    Seeded { api, ids }
}

fn ids_of(page: &Value) -> BTreeSet<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["license_id"].as_str().unwrap().to_owned())
        .collect()
}

/// The licenses CSV's header line, as the README documents it.
const CSV_COLUMNS: [&str; 22] = [
    "license_id",
    "product",
    "edition",
    "version",
    "feature",
    "license_model",
    "binding_type",
    "quantity",
    "allocated",
    "available",
    "term",
    "expires_on",
    "days_to_expiry",
    "expiry_band",
    "maintenance_until",
    "order_number",
    "access_code",
    "trial",
    "hidden",
    "new",
    "purchased_at",
    "activated_at",
];

/// What the CSV holds for a JSON value: nothing for null, text as it is, numbers
/// and booleans as JSON writes them; a cell a spreadsheet would run as a formula
/// (starting `=`, `+`, `-`, `@`, tab or CR, but not a negative number) with a
/// leading `'`.
fn csv_cell(value: &Value) -> String {
    let text = match value {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    let negative_number = value.as_i64().is_some_and(|n| n < 0);
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) && !negative_number {
        format!("'{text}")
    } else {
        text
    }
}

/// Runs the search `query` as JSON and as the CSV export, parses the CSV with a
/// CSV parser and checks that it holds the JSON's lines in the same order, cell by
/// cell. Returns the JSON lines.
async fn csv_matches_json(api: &Api, query: &str) -> Vec<Value> {
    let json = api
        .get(&format!("/licenses?limit=500&{query}"))
        .await
        .unwrap();
    assert_eq!(json.status, 200, "{query}: {}", json.body);
    let response = api
        .request(
            reqwest::Method::GET,
            &format!("/exports/licenses.csv?{query}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{query}");
    assert_eq!(
        response.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    let text = response.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader.headers().unwrap().clone();
    assert_eq!(headers.iter().collect::<Vec<_>>(), CSV_COLUMNS);
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let items = json.body["items"].as_array().unwrap().clone();
    assert_eq!(rows.len(), items.len(), "{query}");
    for (row, item) in rows.iter().zip(&items) {
        for (name, cell) in headers.iter().zip(row) {
            match name {
                "term" => {
                    let term = if item["expires_on"].is_null() {
                        "perpetual"
                    } else {
                        "term"
                    };
                    assert_eq!(cell, term, "{query}");
                }
                // RFC 3339 both, not necessarily spelled alike (`Z` or `+00:00`).
                "purchased_at" | "activated_at" => {
                    let instant = |text: &str| chrono::DateTime::parse_from_rfc3339(text).ok();
                    let json_instant = item[name].as_str().and_then(instant);
                    assert_eq!(instant(cell), json_instant, "{query}: {name}");
                }
                _ => assert_eq!(cell, csv_cell(&item[name]), "{query}: {name}"),
            }
        }
    }
    items
}

#[tokio::test]
async fn every_filter_and_criterion_finds_exactly_its_licenses() {
    let env = TestEnv::fresh();
    let ledger = Ledger::start(ledger_bin!(), &env, &[]).await.unwrap();
    let Seeded { api, ids } = seed(&ledger).await;
    wait_until_projected(&env, Duration::from_secs(30))
        .await
        .unwrap();
    let names = |expected: &[&str]| -> BTreeSet<String> {
        expected.iter().map(|n| ids[n].clone()).collect()
    };
    let as_of = format!("as_of={}", today());
    let expiring_within_30 = format!("filter=expiring&expires_to={}", today() + Days::new(30));
    let cases: [(&str, &[&str]); 14] = [
        (
            "",
            &[
                "new_perpetual",
                "expiring_red",
                "expiring_orange",
                "expired",
                "trial",
            ],
        ),
        ("filter=new", &["new_perpetual", "trial"]),
        (
            "filter=expiring",
            &["expiring_red", "expiring_orange", "trial"],
        ),
        ("filter=expired", &["expired"]),
        ("filter=available", &["expiring_red"]),
        ("filter=trial", &["trial"]),
        ("filter=hidden", &["hidden"]),
        (
            "filter=active",
            &["new_perpetual", "expiring_red", "expiring_orange", "trial"],
        ),
        (
            "find_by=order_number&q=ORD-10",
            &["new_perpetual", "expiring_red"],
        ),
        (
            "find_by=access_code&q=LA-BBB",
            &["expiring_orange", "expired"],
        ),
        (
            "find_by=server_host&q=srv-east",
            &["new_perpetual", "expiring_red"],
        ),
        ("find_by=server_host&q=SRV-EAST", &[]),
        ("term=perpetual", &["new_perpetual"]),
        (&expiring_within_30, &["expiring_red", "trial"]),
    ];
    for (query, expected) in cases {
        let page = api
            .get(&format!("/licenses?{as_of}&{query}"))
            .await
            .unwrap();
        assert_eq!(page.status, 200, "{query}: {}", page.body);
        assert_eq!(ids_of(&page.body), names(expected), "{query}");
    }
    let red = api
        .get(&format!("/licenses?{as_of}&find_by=access_code&q=LA-AAA-2"))
        .await
        .unwrap();
    let line = &red.body["items"][0];
    assert_eq!(
        (
            line["days_to_expiry"].as_i64(),
            line["expiry_band"].as_str()
        ),
        (Some(10), Some("red"))
    );
    assert_eq!(
        (line["allocated"].as_i64(), line["available"].as_i64()),
        (Some(30), Some(70))
    );
    drop(ledger);
    env.cleanup().await;
}

#[tokio::test]
async fn pages_follow_the_cursor_in_sort_order_without_gaps_or_repeats() {
    let env = TestEnv::fresh();
    let ledger = Ledger::start(ledger_bin!(), &env, &[]).await.unwrap();
    let Seeded { api, .. } = seed(&ledger).await;
    wait_until_projected(&env, Duration::from_secs(30))
        .await
        .unwrap();
    for sort in ["purchased_at", "expires_on", "order_number", "quantity"] {
        let everything = api
            .get(&format!("/licenses?sort={sort}&limit=500"))
            .await
            .unwrap();
        let all: Vec<Value> = everything.body["items"].as_array().unwrap().clone();
        let mut paged = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let query = match &cursor {
                Some(cursor) => format!("/licenses?sort={sort}&limit=2&cursor={cursor}"),
                None => format!("/licenses?sort={sort}&limit=2"),
            };
            let page = api.get(&query).await.unwrap();
            assert_eq!(page.status, 200, "{}", page.body);
            paged.extend(page.body["items"].as_array().unwrap().iter().cloned());
            match page.body["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
        }
        let ids = |lines: &[Value]| -> Vec<String> {
            lines
                .iter()
                .map(|l| l["license_id"].as_str().unwrap().to_owned())
                .collect()
        };
        assert_eq!(
            ids(&paged),
            ids(&all),
            "paging by {sort} gives the same lines in the same order"
        );
    }
    let by_expiry = api.get("/licenses?sort=expires_on").await.unwrap();
    let dates: Vec<Option<&str>> = by_expiry.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|line| line["expires_on"].as_str())
        .collect();
    assert_eq!(dates.last(), Some(&None), "perpetual licenses sort last");
    let mismatched = api.get("/licenses?sort=quantity&limit=1").await.unwrap();
    let cursor = mismatched.body["next_cursor"].as_str().unwrap();
    let wrong = api
        .get(&format!("/licenses?sort=product&cursor={cursor}"))
        .await
        .unwrap();
    assert_eq!(
        (wrong.status, wrong.body["field"].as_str()),
        (400, Some("query.cursor"))
    );
    drop(ledger);
    env.cleanup().await;
}

#[tokio::test]
async fn the_csv_export_parses_back_to_the_json_answer_with_formulas_neutralised() {
    let env = TestEnv::fresh();
    let ledger = Ledger::start(ledger_bin!(), &env, &[]).await.unwrap();
    let Seeded { api, ids } = seed(&ledger).await;
    wait_until_projected(&env, Duration::from_secs(30))
        .await
        .unwrap();
    for query in ["", "filter=hidden", "filter=expiring&sort=expires_on"] {
        let items = csv_matches_json(&api, &format!("as_of={}&{query}", today())).await;
        assert!(!items.is_empty(), "{query}");
    }
    // Without `as_of` (now), and with a formula in the access code.
    let hidden = csv_matches_json(&api, "filter=hidden").await;
    assert_eq!(hidden[0]["license_id"], ids["hidden"].as_str());
    assert_eq!(
        hidden[0]["access_code"], "=HYPERLINK(\"x\")",
        "the JSON keeps the text as it is; the CSV cell starts with '"
    );
    drop(ledger);
    env.cleanup().await;
}

/// A line a boundary search must show: order number, `new`, `days_to_expiry`,
/// `expiry_band`.
type BoundaryLine = (&'static str, bool, Option<i64>, Option<&'static str>);

#[tokio::test]
async fn new_expiring_and_expired_filters_draw_their_lines_on_the_portals_boundary_days() {
    let env = TestEnv::fresh();
    let ledger = Ledger::start(ledger_bin!(), &env, &[]).await.unwrap();
    let api = Api::new(&ledger);
    // A fixed day in the past, so every purchase is in the past and `as_of` alone
    // decides: the answers cannot change at midnight.
    let ids = buy_boundary_licenses(&api, NaiveDate::from_ymd_opt(2026, 6, 15).unwrap()).await;
    wait_until_projected(&env, Duration::from_secs(30))
        .await
        .unwrap();
    let perpetual = |order| (order, false, None, None);
    let cases: [(&str, &str, &[BoundaryLine]); 8] = [
        // 30 days ago is new, 31 is not.
        ("2026-06-15", "new", &[("NEW-30", true, None, None)]),
        // 0 to 90 days left, red through 30; 91 and expired yesterday are out.
        (
            "2026-06-15",
            "expiring",
            &[
                ("EXP-0", false, Some(0), Some("red")),
                ("EXP-30", false, Some(30), Some("red")),
                ("EXP-31", false, Some(31), Some("orange")),
                ("EXP-90", false, Some(90), Some("orange")),
            ],
        ),
        // Valid through the expiry day: expiring today is not expired.
        (
            "2026-06-15",
            "expired",
            &[("EXPIRED-1", false, Some(-1), Some("expired"))],
        ),
        (
            "2026-06-15",
            "active",
            &[
                ("NEW-30", true, None, None),
                perpetual("OLD-31"),
                ("EXP-0", false, Some(0), Some("red")),
                ("EXP-30", false, Some(30), Some("red")),
                ("EXP-31", false, Some(31), Some("orange")),
                ("EXP-90", false, Some(90), Some("orange")),
                ("EXP-91", false, Some(91), None),
            ],
        ),
        // An instant counts by its UTC day: the day's first second is that day.
        (
            "2026-06-15T00:00:00Z",
            "expired",
            &[("EXPIRED-1", false, Some(-1), Some("expired"))],
        ),
        // The next day's first second: nothing is new, EXP-0 has expired, 91 came in.
        ("2026-06-16T00:00:00Z", "new", &[]),
        (
            "2026-06-16T00:00:00Z",
            "expired",
            &[
                ("EXP-0", false, Some(-1), Some("expired")),
                ("EXPIRED-1", false, Some(-2), Some("expired")),
            ],
        ),
        (
            "2026-06-16T00:00:00Z",
            "expiring",
            &[
                ("EXP-30", false, Some(29), Some("red")),
                ("EXP-31", false, Some(30), Some("red")),
                ("EXP-90", false, Some(89), Some("orange")),
                ("EXP-91", false, Some(90), Some("orange")),
            ],
        ),
    ];
    let order_of = |id: &Value| -> &'static str {
        ids.iter()
            .find(|(_, known)| id == known.as_str())
            .map(|(order, _)| *order)
            .unwrap()
    };
    for (as_of, filter, expected) in cases {
        let query = format!("as_of={as_of}&filter={filter}");
        let items = csv_matches_json(&api, &query).await;
        let mut lines: Vec<(&str, bool, Option<i64>, Option<&str>)> = items
            .iter()
            .map(|item| {
                (
                    order_of(&item["license_id"]),
                    item["new"].as_bool().unwrap(),
                    item["days_to_expiry"].as_i64(),
                    item["expiry_band"].as_str(),
                )
            })
            .collect();
        lines.sort();
        let mut expected = expected.to_vec();
        expected.sort();
        assert_eq!(lines, expected, "{query}");
    }
    drop(ledger);
    env.cleanup().await;
}

#[tokio::test]
async fn a_license_answers_the_fields_of_its_search_line_at_every_as_of() {
    let env = TestEnv::fresh();
    let ledger = Ledger::start(ledger_bin!(), &env, &[]).await.unwrap();
    let api = Api::new(&ledger);
    let ids = buy_boundary_licenses(&api, NaiveDate::from_ymd_opt(2026, 6, 15).unwrap()).await;
    // Seats allocated, so that `available` is not simply the quantity.
    let old = &ids["OLD-31"];
    let code = json!({"access_code": "LA-0001234567-12345"});
    let activated = api
        .post(&format!("/licenses/{old}/activate"), code)
        .await
        .unwrap();
    assert_eq!(activated.status, 200, "{}", activated.body);
    let allocated = api
        .post(
            &format!("/licenses/{old}/allocations"),
            json!({"host": "srv-east", "quantity": 250}),
        )
        .await
        .unwrap();
    assert_eq!(allocated.status, 201, "{}", allocated.body);
    wait_until_projected(&env, Duration::from_secs(30))
        .await
        .unwrap();
    // The boundary day itself, its first and its next day's first second, 30 and
    // 31 days on (NEW-30 stops being new), the days around EXP-91's expiry, and an
    // instant before NEW-30 was purchased.
    let instants = [
        "2026-06-15",
        "2026-06-15T00:00:00Z",
        "2026-06-16T00:00:00Z",
        "2026-07-15",
        "2026-07-16",
        "2026-09-13",
        "2026-09-14",
        "2026-09-15",
        "2026-05-16T11:00:00Z",
    ];
    let mut bands_seen = BTreeSet::new();
    let mut compared = 0;
    for as_of in instants {
        let page = api
            .get(&format!("/licenses?as_of={as_of}&limit=500"))
            .await
            .unwrap();
        assert_eq!(page.status, 200, "{}", page.body);
        let items = page.body["items"].as_array().unwrap();
        for (order, id) in &ids {
            let single = api
                .get(&format!("/licenses/{id}?as_of={as_of}"))
                .await
                .unwrap();
            let Some(line) = items.iter().find(|item| item["license_id"] == id.as_str()) else {
                // The search leaves out a license purchased after as_of: so does this.
                assert_eq!(single.status, 404, "{order} at {as_of}: {}", single.body);
                continue;
            };
            assert_eq!(single.status, 200, "{order} at {as_of}: {}", single.body);
            assert_eq!(
                single.body["as_of"], page.body["as_of"],
                "{order} at {as_of}"
            );
            for (key, value) in line.as_object().unwrap() {
                assert_eq!(&single.body[key], value, "{order} at {as_of}: `{key}`");
            }
            bands_seen.insert(line["expiry_band"].as_str().unwrap_or("none").to_owned());
            compared += 1;
        }
    }
    assert_eq!(
        bands_seen,
        BTreeSet::from(["expired", "red", "orange", "none"].map(str::to_owned))
    );
    assert!(compared > 60, "{compared}");
    let single = api.get(&format!("/licenses/{old}")).await.unwrap();
    assert_eq!(
        (
            single.body["available"].as_i64(),
            single.body["new"].as_bool()
        ),
        (Some(750), Some(false)),
        "by default as of now: {}",
        single.body
    );
    for bad in ["yesterday", "2026-02-30", "10000-01-01"] {
        let answer = api
            .get(&format!("/licenses/{old}?as_of={bad}"))
            .await
            .unwrap();
        assert_eq!(
            (answer.status, answer.body["field"].as_str()),
            (400, Some("query.as_of")),
            "{bad}: {}",
            answer.body
        );
    }
    drop(ledger);
    env.cleanup().await;
}

#[tokio::test]
async fn expiry_asset_components_and_license_servers_answer_from_the_read_model() {
    let env = TestEnv::fresh();
    let ledger = Ledger::start(ledger_bin!(), &env, &[]).await.unwrap();
    let Seeded { api, ids } = seed(&ledger).await;
    wait_until_projected(&env, Duration::from_secs(30))
        .await
        .unwrap();

    let expiry = api
        .get(&format!("/expiry?as_of={}", today()))
        .await
        .unwrap();
    let order: Vec<&str> = expiry.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|line| line["license_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        order,
        [
            ids["expiring_red"].as_str(),
            &ids["trial"],
            &ids["expiring_orange"]
        ],
        "soonest first"
    );
    let with_expired = api
        .get(&format!(
            "/expiry?as_of={}&include_expired=true&within_days=30",
            today()
        ))
        .await
        .unwrap();
    let bands: Vec<&str> = with_expired.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|line| line["expiry_band"].as_str().unwrap())
        .collect();
    assert_eq!(bands, ["expired", "red", "red"]);

    let by_order = api
        .get("/asset-components?group_by=order_number")
        .await
        .unwrap();
    let groups: Vec<(String, usize)> = by_order.body["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["key"].as_str().unwrap().to_owned(),
                g["licenses"].as_array().unwrap().len(),
            )
        })
        .collect();
    let expected: Vec<(String, usize)> = [("ORD-100", 2), ("ORD-200", 2), ("ORD-300", 1)]
        .iter()
        .map(|(k, n)| (k.to_string(), *n))
        .collect();
    assert_eq!(
        groups, expected,
        "hidden licenses are left out unless asked for"
    );
    let one = api
        .get("/asset-components?group_by=access_code&key=LA-AAA-1")
        .await
        .unwrap();
    let group = &one.body["groups"][0];
    assert_eq!(group["allocated"], 100);
    assert_eq!(
        group["licenses"][0]["allocations"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let paged = api.get("/asset-components?limit=2").await.unwrap();
    let cursor = paged.body["next_cursor"].as_str().unwrap();
    let rest = api
        .get(&format!("/asset-components?limit=2&cursor={cursor}"))
        .await
        .unwrap();
    assert_eq!(rest.body["groups"][0]["key"], "ORD-300");

    let servers = api.get("/license-servers").await.unwrap();
    assert_eq!(
        servers.body["servers"],
        json!([
            {"host": "srv-east", "allocated": 90, "files": 2, "features": ["XDT_ENT_UD"]},
            {"host": "srv-west", "allocated": 40, "files": 1, "features": ["XDT_ENT_UD"]},
        ])
    );
    let east = api.get("/license-servers/srv-east").await.unwrap();
    assert_eq!(east.body["allocated"], 90);
    let revisions: Vec<i64> = east.body["allocations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["file_revision"].as_i64().unwrap())
        .collect();
    assert_eq!(revisions.len(), 2);
    let red = &ids["expiring_red"];
    let renewed = api
        .post(
            &format!("/licenses/{red}/renew"),
            json!({"expires_on": today() + Days::new(400)}),
        )
        .await
        .unwrap();
    let position = renewed.body["position"].as_i64().unwrap();
    let after = api
        .get(&format!(
            "/license-servers/srv-east?min_position={position}"
        ))
        .await
        .unwrap();
    let reissued = after.body["allocations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["license_id"] == red.as_str())
        .unwrap();
    assert_eq!(
        reissued["file_revision"], renewed.body["version"],
        "renewal re-issues the file"
    );
    assert_eq!(
        api.get("/license-servers/nowhere").await.unwrap().status,
        404
    );
    drop(ledger);
    env.cleanup().await;
}

#[tokio::test]
async fn bad_search_parameters_are_refused_naming_the_parameter() {
    let env = TestEnv::fresh();
    let ledger = Ledger::start(ledger_bin!(), &env, &[]).await.unwrap();
    let api = Api::new(&ledger);
    let cases = [
        ("/licenses?filter=shiny", "query.filter"),
        ("/licenses?find_by=colour&q=x", "query.find_by"),
        ("/licenses?find_by=product", "query.q"),
        ("/licenses?q=XDT", "query.find_by"),
        ("/licenses?sort=price", "query.sort"),
        ("/licenses?order=up", "query.order"),
        ("/licenses?limit=0", "query.limit"),
        ("/licenses?limit=501", "query.limit"),
        ("/licenses?cursor=%%%", "query.cursor"),
        ("/licenses?edition=GOLD", "query.edition"),
        (
            "/licenses?purchased_from=2026-02-01&purchased_to=2026-01-01",
            "query.purchased_to",
        ),
        ("/licenses?expires_from=soon", "query.expires_from"),
        ("/licenses?term=forever", "query.term"),
        ("/expiry?within_days=-1", "query.within_days"),
        ("/expiry?include_expired=maybe", "query.include_expired"),
        ("/asset-components?group_by=colour", "query.group_by"),
        ("/license-servers?limit=x", "query.limit"),
        ("/exports/licenses.csv?filter=x", "query.filter"),
    ];
    for (query, field) in cases {
        let answer = api.get(query).await.unwrap();
        assert_eq!(
            (answer.status, answer.body["field"].as_str()),
            (400, Some(field)),
            "{query}: {}",
            answer.body
        );
    }
    drop(ledger);
    env.cleanup().await;
}
