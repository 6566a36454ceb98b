//! A ledger process as an operator sees it: readiness, each role's status and the
//! metrics, read over HTTP, with waits for what a test expects to come about.
//! Waits are bounded generously: they wait for behaviour, they time nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::Value;

use crate::Ledger;

/// Longest a test waits for a process to come to a state it should reach.
const PATIENCE: Duration = Duration::from_secs(90);

/// `GET <path>` of `ledger`: status and body as text.
async fn get(ledger: &Ledger, path: &str) -> (u16, String) {
    let answer = reqwest::get(format!("{}{path}", ledger.base_url))
        .await
        .unwrap_or_else(|error| panic!("GET {path}: {error}"));
    let status = answer.status().as_u16();
    (status, answer.text().await.unwrap_or_default())
}

/// `GET /health/ready`: status and body.
pub async fn readiness(ledger: &Ledger) -> (u16, Value) {
    let (status, body) = get(ledger, "/health/ready").await;
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

/// Polls `/health/ready` until it answers 503 with a problem `named` accepts;
/// the answer's body.
pub async fn not_ready_because(ledger: &Ledger, named: impl Fn(&str) -> bool) -> Value {
    let started = tokio::time::Instant::now();
    loop {
        let (status, body) = readiness(ledger).await;
        let problems = body["problems"].as_array().cloned().unwrap_or_default();
        if status == 503 && problems.iter().any(|p| named(p.as_str().unwrap_or(""))) {
            return body;
        }
        assert!(started.elapsed() < PATIENCE, "still {status}: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Polls `/health/ready` until it answers 200.
pub async fn ready_again(ledger: &Ledger) {
    let started = tokio::time::Instant::now();
    loop {
        let (status, body) = readiness(ledger).await;
        if status == 200 {
            return;
        }
        assert!(started.elapsed() < PATIENCE, "still {status}: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `role`'s entry of `GET /health/status`.
pub async fn role_status(ledger: &Ledger, role: &str) -> Value {
    let (status, body) = get(ledger, "/health/status").await;
    assert_eq!(status, 200, "{body}");
    let body: Value = serde_json::from_str(&body).expect("a JSON status");
    body["roles"]
        .as_array()
        .and_then(|roles| roles.iter().find(|entry| entry["role"] == role))
        .cloned()
        .unwrap_or_else(|| panic!("no {role} in {body}"))
}

/// Polls `/health/status` until `role`'s entry satisfies `expected`; the entry.
pub async fn role_status_until(
    ledger: &Ledger,
    role: &str,
    expected: impl Fn(&Value) -> bool,
) -> Value {
    let started = tokio::time::Instant::now();
    loop {
        let entry = role_status(ledger, role).await;
        if expected(&entry) {
            return entry;
        }
        assert!(started.elapsed() < PATIENCE, "{role}: {entry}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One scrape of `GET /metrics`.
#[derive(Debug, Clone)]
pub struct Scrape {
    /// The text as served.
    pub text: String,
    samples: BTreeMap<String, f64>,
}

impl Scrape {
    /// The value of `series`, its name and labels exactly as served (e.g.
    /// `ledger_role_stalled{role="relay"}`).
    pub fn value(&self, series: &str) -> Option<f64> {
        self.samples.get(series).copied()
    }

    /// The names a query may use: every family's, and every sample's (a
    /// histogram's `_bucket`, `_sum`, `_count`).
    pub fn names(&self) -> BTreeSet<String> {
        let families = self.text.lines().filter_map(|line| {
            let mut words = line.strip_prefix("# TYPE ")?.split(' ');
            words.next().map(str::to_owned)
        });
        let samples = self
            .samples
            .keys()
            .map(|series| series.split('{').next().unwrap_or(series).to_owned());
        families.chain(samples).collect()
    }
}

/// `GET /metrics` of `ledger`, parsed; panics on a line that is not a sample.
pub async fn scrape(ledger: &Ledger) -> Scrape {
    let (status, text) = get(ledger, "/metrics").await;
    assert_eq!(status, 200, "{text}");
    let mut samples = BTreeMap::new();
    for line in text.lines().filter(|line| !line.starts_with('#')) {
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("not a sample: {line}"));
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("not a number: {line}"));
        samples.insert(series.to_owned(), value);
    }
    Scrape { text, samples }
}

/// Scrapes `ledger` until `expected` holds; that scrape.
pub async fn scrape_until(ledger: &Ledger, expected: impl Fn(&Scrape) -> bool) -> Scrape {
    let started = tokio::time::Instant::now();
    loop {
        let scraped = scrape(ledger).await;
        if expected(&scraped) {
            return scraped;
        }
        assert!(started.elapsed() < PATIENCE, "{}", scraped.text);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
