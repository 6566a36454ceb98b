//! What a fuzz run found, read from schemathesis' NDJSON event log: how many
//! requests it sent to how many operations, and each distinct failure with one
//! request that shows it and the ledger's answer.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context as _;
use base64::Engine as _;
use serde_json::Value;

use super::schemathesis::Scope;

/// One schemathesis run's findings.
#[derive(Debug, Clone)]
pub struct ScopeReport {
    /// Whose token it sent.
    pub scope: Scope,
    /// Schemathesis' exit status (0: every check held).
    pub exit_code: i32,
    /// Requests sent.
    pub requests: u64,
    /// Operations that got at least one request.
    pub operations: usize,
    /// Distinct failures: one per operation, check and message.
    pub failures: Vec<Failure>,
    /// Errors schemathesis met outside the checks (e.g. a connection refused).
    pub errors: Vec<String>,
}

/// A check that failed, with one example.
#[derive(Debug, Clone)]
pub struct Failure {
    /// `POST /v1/accounts/{account_id}/licenses`, or `Stateful tests`.
    pub operation: String,
    /// Schemathesis' code and title, e.g. `ST103 Undocumented status code`.
    pub check: String,
    /// What the check says, e.g. `Received: 415 | Documented: 201, 400`.
    pub message: String,
    /// Test cases that failed this way.
    pub count: u64,
    /// One of them: method, URI, headers and body.
    pub request: String,
    /// The ledger's answer to it: status and body.
    pub response: String,
}

/// Longest stretch of a body quoted in a failure.
const QUOTED_BYTES: usize = 600;

impl ScopeReport {
    /// Reads the event log at `events` of a run that exited `exit_code`.
    pub fn read(scope: Scope, exit_code: i32, events: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(events)
            .with_context(|| format!("reading {}", events.display()))?;
        let mut report = Self {
            scope,
            exit_code,
            requests: 0,
            operations: 0,
            failures: Vec::new(),
            errors: Vec::new(),
        };
        let mut operations = BTreeSet::new();
        let mut failures: BTreeMap<(String, String, String), Failure> = BTreeMap::new();
        for line in text.lines().filter(|line| !line.trim().is_empty()) {
            let event: Value = serde_json::from_str(line)
                .with_context(|| format!("a line of {} is not JSON", events.display()))?;
            if let Some(error) = event.get("NonFatalError").or(event.get("FatalError")) {
                report.errors.push(quote(&error.to_string()));
                continue;
            }
            let Some(recorder) = event
                .get("ScenarioFinished")
                .or(event.get("FuzzScenarioFinished"))
                .and_then(|finished| finished.get("recorder"))
            else {
                continue;
            };
            let label = recorder["label"].as_str().unwrap_or("?").to_owned();
            let interactions = recorder["interactions"].as_object();
            let sent = interactions.map_or(0, |all| all.len() as u64);
            report.requests += sent;
            // `Stateful tests` is a sequence of operations, not one.
            if sent > 0 && label.contains(" /") {
                operations.insert(label.clone());
            }
            let Some(checks) = recorder["checks"].as_object() else {
                continue;
            };
            for (case, results) in checks {
                for result in results.as_array().into_iter().flatten() {
                    if result["status"] != "failure" {
                        continue;
                    }
                    let failure = &result["failure_info"]["failure"];
                    let check = format!(
                        "{} {}",
                        failure["code"].as_str().unwrap_or("?"),
                        failure["title"].as_str().unwrap_or("?")
                    );
                    let message = failure["message"]
                        .as_str()
                        .unwrap_or("")
                        .replace('\n', " | ");
                    let key = (label.clone(), check.clone(), first_part(&message));
                    let interaction = &recorder["interactions"][case];
                    failures
                        .entry(key)
                        .or_insert_with(|| Failure {
                            operation: label.clone(),
                            check,
                            message,
                            count: 0,
                            request: request(&interaction["request"]),
                            response: response(&interaction["response"]),
                        })
                        .count += 1;
                }
            }
        }
        report.operations = operations.len();
        report.failures = failures.into_values().collect();
        Ok(report)
    }

    /// True when schemathesis passed and nothing failed.
    pub fn passed(&self) -> bool {
        self.exit_code == 0 && self.failures.is_empty() && self.errors.is_empty()
    }
}

/// Both runs' findings.
#[derive(Debug, Clone)]
pub struct Report {
    /// Schemathesis' seed, to repeat the run.
    pub seed: u64,
    /// Where the settings, output and event logs are.
    pub dir: std::path::PathBuf,
    /// The ledger's log (a server error's cause is there).
    pub ledger_log: std::path::PathBuf,
    /// One per token.
    pub scopes: Vec<ScopeReport>,
}

impl Report {
    /// True when every run passed.
    pub fn passed(&self) -> bool {
        self.scopes.iter().all(ScopeReport::passed)
    }

    /// Requests sent by every run.
    pub fn requests(&self) -> u64 {
        self.scopes.iter().map(|scope| scope.requests).sum()
    }

    /// Distinct failures of every run.
    pub fn failures(&self) -> usize {
        self.scopes.iter().map(|scope| scope.failures.len()).sum()
    }

    /// A summary for people: figures, then every failure with its example.
    pub fn summary(&self) -> String {
        let mut text = String::new();
        for scope in &self.scopes {
            let _ = writeln!(
                text,
                "fuzz ({} token): {} requests to {} operations, {} distinct failures, {} errors, \
                 schemathesis exit status {}",
                scope.scope.name(),
                scope.requests,
                scope.operations,
                scope.failures.len(),
                scope.errors.len(),
                scope.exit_code
            );
            for failure in &scope.failures {
                let _ = writeln!(
                    text,
                    "\n  {} — {} ({} cases)\n    {}\n    request:  {}\n    response: {}",
                    failure.operation,
                    failure.check,
                    failure.count,
                    failure.message,
                    failure.request,
                    failure.response
                );
            }
            for error in &scope.errors {
                let _ = writeln!(text, "\n  error: {error}");
            }
        }
        let _ = write!(
            text,
            "seed {} (repeat with `bash deploy/fuzz.sh --seed {}`); schemathesis' logs in {}, \
             the ledger's in {}",
            self.seed,
            self.seed,
            self.dir.display(),
            self.ledger_log.display()
        );
        text
    }
}

/// The part of a check's message that names the kind of failure, not the values.
fn first_part(message: &str) -> String {
    message.split(" | ").next().unwrap_or("").to_owned()
}

fn request(request: &Value) -> String {
    let headers: Vec<String> = request["headers"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, values)| format!("{name}: {}", values[0].as_str().unwrap_or("")))
        .collect();
    format!(
        "{} {} [{}] {}",
        request["method"].as_str().unwrap_or("?"),
        request["uri"].as_str().unwrap_or("?"),
        headers.join("; "),
        body(&request["body"])
    )
}

fn response(response: &Value) -> String {
    if response.is_null() {
        return "none (the request failed)".to_owned();
    }
    format!("{} {}", response["status_code"], body(&response["content"]))
}

/// A recorded body: schemathesis keeps it as base64 (`{"$base64": …}`) or text.
fn body(recorded: &Value) -> String {
    let text = match recorded.get("$base64").and_then(Value::as_str) {
        Some(encoded) => base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .unwrap_or_else(|_| encoded.to_owned()),
        None => recorded.as_str().unwrap_or("").to_owned(),
    };
    quote(&text)
}

fn quote(text: &str) -> String {
    if text.len() <= QUOTED_BYTES {
        return text.to_owned();
    }
    let mut end = QUOTED_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}
