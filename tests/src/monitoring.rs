//! The operators' monitoring in `deploy/monitoring/` read back for tests: the
//! Grafana dashboard's queries, every metric name the dashboard and the alert
//! rules use, and Prometheus' own `promtool` to check metrics, rules and queries.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// `deploy/monitoring/<file>`.
pub fn file(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy/monitoring")
        .join(name)
}

/// Every PromQL query of the dashboard, with Grafana's variables given values
/// Prometheus takes (`$__rate_interval` → `5m`, `$instance` → `.*`).
pub fn dashboard_queries() -> Vec<String> {
    let text = std::fs::read_to_string(file("grafana-dashboard.json")).expect("the dashboard");
    let dashboard: serde_json::Value = serde_json::from_str(&text).expect("the dashboard is JSON");
    let mut queries = Vec::new();
    let panels = dashboard["panels"].as_array().expect("panels");
    for panel in panels {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"].as_str().expect("a target's expr");
            queries.push(
                expr.replace("$__rate_interval", "5m")
                    .replace("$instance", ".*"),
            );
        }
    }
    queries
}

/// The `ledger_…` names in `text`.
fn ledger_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("ledger_") {
        let name: String = rest[at..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        rest = &rest[at + name.len()..];
        names.insert(name);
    }
    names
}

/// Every metric name the dashboard's queries and the alert rules use.
pub fn metric_names_used() -> BTreeSet<String> {
    let rules = std::fs::read_to_string(file("alerts.yaml")).expect("the alert rules");
    let mut names = ledger_names(&rules);
    for query in dashboard_queries() {
        names.extend(ledger_names(&query));
    }
    names
}

/// Runs `promtool <args>` with `stdin`: whether it succeeded, and all it printed.
/// `PROMTOOL` names the binary, else `promtool` on PATH (deploy/test.sh installs it).
pub fn promtool(args: &[&str], stdin: &str) -> (bool, String) {
    let binary = std::env::var("PROMTOOL")
        .ok()
        .filter(|path| !path.is_empty())
        .unwrap_or_else(|| "promtool".into());
    let mut child = Command::new(&binary)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("starting {binary} (apt-get install prometheus, or run deploy/test.sh): {e}")
        });
    if let Some(mut input) = child.stdin.take() {
        input
            .write_all(stdin.as_bytes())
            .expect("writing to promtool");
    }
    let output = child.wait_with_output().expect("running promtool");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), said)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_found_wherever_they_stand_in_a_query() {
        let found = ledger_names("rate(ledger_a_total{job=\"ledger\"}[5m])/ledger_c_bucket");
        let expected: BTreeSet<String> = ["ledger_a_total", "ledger_c_bucket"]
            .into_iter()
            .map(str::to_owned)
            .collect();
        assert_eq!(found, expected);
    }
}
