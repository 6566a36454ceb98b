//! What a soak run found, as Markdown for RELIABILITY.md and as JSON.

use std::time::{Duration, Instant};

use serde::Serialize;

use super::client::Seen;
use super::Plan;

/// Answers the clients may still get just after a probe saw the ledger whole
/// again: requests that were already waiting when it recovered.
const SETTLING: Duration = Duration::from_secs(2);

/// One injected fault and how long the ledger took to work end to end again.
#[derive(Debug, Clone)]
pub struct FaultRecord {
    /// What was done.
    pub fault: &'static str,
    /// When, by the wall clock.
    pub at: String,
    /// When.
    pub started: Instant,
    /// Until a command's effect was read back from the read model; `None`: never.
    pub recovered_after: Option<Duration>,
}

/// The checks after the load.
#[derive(Debug, Clone, Serialize)]
pub struct Checks {
    /// Distinct streams (licenses, usage streams, checkpoints) in the store.
    pub streams: i64,
    /// Events in the store.
    pub events: i64,
    /// Roles whose process exited on its own.
    pub processes_died: Vec<&'static str>,
    /// Positions of acknowledged commands the store does not hold.
    pub acknowledged_missing: Vec<i64>,
    /// `ledger audit`: exit status and output.
    pub audit: (i32, String),
    /// `ledger verify history`: exit status and output.
    pub verify_history: (i32, String),
}

/// A whole run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The plan run.
    pub plan: Plan,
    /// Seconds the load ran.
    pub load_seconds: f64,
    /// Commands acknowledged, by name.
    pub commands: std::collections::BTreeMap<&'static str, u64>,
    /// Auditor queries answered.
    pub queries: u64,
    /// Attempts that got no answer, to be sent again.
    pub unanswered: u64,
    /// Attempts answered "busy".
    pub busy: u64,
    /// Commands refused unexpectedly or given up.
    pub failures: Vec<String>,
    /// Each fault: what, and seconds until the ledger worked end to end (`None`: never).
    pub faults: Vec<(&'static str, Option<f64>)>,
    /// Each fault's wall-clock start, to match the 5xx and the logs against.
    pub fault_times: Vec<String>,
    /// 5xx answers inside a fault window (until the probe saw recovery).
    pub server_errors_in_faults: usize,
    /// 5xx answers outside every fault window: each one a defect.
    pub server_errors_outside: Vec<String>,
    /// The checks.
    pub checks: Checks,
}

impl Report {
    /// Puts the run's figures together.
    pub fn new(
        plan: &Plan,
        load_time: Duration,
        seen: &Seen,
        faults: Vec<FaultRecord>,
        checks: Checks,
    ) -> Self {
        let within = |at: Instant| {
            faults.iter().any(|fault| {
                let end = fault.started
                    + fault.recovered_after.unwrap_or(Duration::from_secs(3600))
                    + SETTLING;
                at >= fault.started && at <= end
            })
        };
        let (inside, outside): (Vec<_>, Vec<_>) =
            seen.server_errors.iter().partition(|(at, _)| within(*at));
        Self {
            plan: plan.clone(),
            load_seconds: load_time.as_secs_f64(),
            commands: seen.commands.clone(),
            queries: seen.queries,
            unanswered: seen.unanswered,
            busy: seen.busy,
            failures: seen.failures.clone(),
            faults: faults
                .iter()
                .map(|fault| (fault.fault, fault.recovered_after.map(|d| d.as_secs_f64())))
                .collect(),
            fault_times: faults
                .iter()
                .map(|fault| {
                    let recovered = fault
                        .recovered_after
                        .map_or("never".to_owned(), |d| format!("{:.1} s", d.as_secs_f64()));
                    format!("{} {} (recovered after {recovered})", fault.at, fault.fault)
                })
                .collect(),
            server_errors_in_faults: inside.len(),
            server_errors_outside: outside.into_iter().map(|(_, what)| what.clone()).collect(),
            checks,
        }
    }

    /// Whether every check held.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
            && self.server_errors_outside.is_empty()
            && self.faults.iter().all(|(_, recovered)| recovered.is_some())
            && self.checks.processes_died.is_empty()
            && self.checks.acknowledged_missing.is_empty()
            && self.checks.audit.0 == 0
            && self.checks.verify_history.0 == 0
    }

    /// The figures as Markdown.
    pub fn markdown(&self) -> String {
        let commands: u64 = self.commands.values().sum();
        let mut out = format!(
            "| figure | value |\n| --- | ---: |\n\
             | clients | {} |\n| load time | {:.0} s |\n\
             | commands acknowledged | {commands} ({:.0}/s) |\n\
             | auditor queries answered | {} |\n\
             | streams in the store | {} |\n| events in the store | {} |\n\
             | attempts unanswered (sent again) | {} |\n| attempts answered busy | {} |\n\
             | 5xx inside fault windows | {} |\n| 5xx outside fault windows | {} |\n\
             | commands refused or given up | {} |\n\n",
            self.plan.clients,
            self.load_seconds,
            commands as f64 / self.load_seconds.max(1e-9),
            self.queries,
            self.checks.streams,
            self.checks.events,
            self.unanswered,
            self.busy,
            self.server_errors_in_faults,
            self.server_errors_outside.len(),
            self.failures.len(),
        );
        out.push_str(
            "| fault | injected | recovered end to end after: median | max |\n\
             | --- | ---: | ---: | ---: |\n",
        );
        let mut kinds: Vec<&str> = self.faults.iter().map(|(fault, _)| *fault).collect();
        kinds.sort_unstable();
        kinds.dedup();
        for kind in kinds {
            let mut times: Vec<f64> = Vec::new();
            let mut never = 0;
            for (_, recovered) in self.faults.iter().filter(|(fault, _)| *fault == kind) {
                match recovered {
                    Some(seconds) => times.push(*seconds),
                    None => never += 1,
                }
            }
            times.sort_by(f64::total_cmp);
            let seconds =
                |time: Option<&f64>| time.map_or("—".to_owned(), |s| format!("{s:.1} s"));
            let max = if never > 0 {
                format!("never ({never})")
            } else {
                seconds(times.last())
            };
            out.push_str(&format!(
                "| {kind} | {} | {} | {max} |\n",
                times.len() + never,
                seconds(times.get(times.len() / 2)),
            ));
        }
        let yes = |ok: bool| if ok { "yes" } else { "NO" };
        out.push_str(&format!(
            "\n| check | holds |\n| --- | --- |\n\
             | every acknowledged command is in the store | {} |\n\
             | the stream holds the store exactly once, in order; read models match it | yes (checked, or the run fails) |\n\
             | read models equal a replay (`ledger audit` exit 0) | {} |\n\
             | chains and checkpoints verify (`ledger verify history` exit 0) | {} |\n\
             | no role process died | {} |\n\
             | no 5xx outside fault windows | {} |\n",
            yes(self.checks.acknowledged_missing.is_empty()),
            yes(self.checks.audit.0 == 0),
            yes(self.checks.verify_history.0 == 0),
            yes(self.checks.processes_died.is_empty()),
            yes(self.server_errors_outside.is_empty()),
        ));
        for failure in self
            .failures
            .iter()
            .chain(&self.server_errors_outside)
            .take(20)
        {
            out.push_str(&format!("\n- {failure}"));
        }
        out
    }
}
