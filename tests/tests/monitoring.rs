//! The monitoring shipped in `deploy/monitoring/`, checked with Prometheus' own
//! `promtool`: the alert rules load, and each fires when it should and not when it
//! should not (`alerts.test.yaml`); every query of the Grafana dashboard parses.
//! That they name only metrics the ledger serves is checked against a running
//! ledger in `metrics.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use ledger_tests::monitoring::{dashboard_queries, file, promtool};

#[test]
fn the_alert_rules_load_and_each_fires_exactly_when_its_unit_test_says() {
    let rules = file("alerts.yaml");
    let (valid, said) = promtool(&["check", "rules", rules.to_str().unwrap()], "");
    assert!(valid, "{said}");
    assert!(said.contains("SUCCESS: 9 rules found"), "{said}");
    let tests = file("alerts.test.yaml");
    let (passed, said) = promtool(&["test", "rules", tests.to_str().unwrap()], "");
    assert!(passed, "{said}");
}

#[test]
fn every_query_of_the_dashboard_is_valid_promql() {
    let queries = dashboard_queries();
    assert!(queries.len() >= 20, "{} queries", queries.len());
    // promtool parses rule files only: each query becomes a recording rule.
    let mut rules = String::from("groups:\n  - name: dashboard\n    rules:\n");
    for (index, query) in queries.iter().enumerate() {
        let quoted = serde_json::to_string(query).unwrap();
        rules.push_str(&format!(
            "      - record: dashboard_query_{index}\n        expr: {quoted}\n"
        ));
    }
    let path = std::env::temp_dir().join(format!("ledger-dashboard-{}.yaml", std::process::id()));
    std::fs::write(&path, rules).unwrap();
    let (valid, said) = promtool(&["check", "rules", path.to_str().unwrap()], "");
    let _ = std::fs::remove_file(&path);
    assert!(valid, "{said}");
    assert!(
        said.contains(&format!("SUCCESS: {} rules found", queries.len())),
        "{said}"
    );
}
