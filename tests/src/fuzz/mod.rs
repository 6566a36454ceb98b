//! The HTTP contract fuzzed (`ledger-fuzz`, `deploy/fuzz.sh`): schemathesis sends
//! requests generated from `GET /openapi.json` to the real `ledger` binary (every
//! role in one process, checkpoints signed every second) and checks each answer
//! against the document: no server error, no undocumented status, no answer
//! outside its schema, schema-valid requests accepted and invalid ones refused.
//!
//! The requests carry real tokens and the ids of one seeded account ([`seed`]),
//! so they reach the ledger's rules instead of stopping at "not found". Admin
//! operations run with an admin token, every other one with the account's portal
//! token, each as its own schemathesis run ([`schemathesis`]).

pub mod report;
pub mod schemathesis;
pub mod seed;

use std::path::PathBuf;

use anyhow::Context as _;

use crate::{Ledger, TestEnv};
use report::{Report, ScopeReport};
use schemathesis::{Run, Scope};

/// How long a run fuzzes.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// Seconds for both runs together (the admin run gets an eighth: it has three
    /// operations of the document's fifty).
    pub seconds: u64,
    /// Schemathesis' random seed; the same seed repeats a run's requests.
    pub seed: u64,
}

impl Budget {
    /// What CI spends: two minutes and a half.
    pub fn ci() -> Self {
        Self::seconds(150)
    }

    /// `seconds` with a fresh seed.
    pub fn seconds(seconds: u64) -> Self {
        Self {
            seconds,
            seed: fresh_seed(),
        }
    }

    fn split(&self) -> [(Scope, u64); 2] {
        let admin = (self.seconds / 8).max(10);
        [
            (Scope::Admin, admin),
            (Scope::Portal, self.seconds.saturating_sub(admin).max(10)),
        ]
    }
}

fn fresh_seed() -> u64 {
    // Nanoseconds of the clock are random enough to vary runs, and printed to repeat one.
    chrono::Utc::now()
        .timestamp_nanos_opt()
        .unwrap_or_default()
        .unsigned_abs()
}

/// Seeds an account on a fresh `ledger` (binary `bin`), fuzzes it within `budget`
/// and answers what was found. The database and stream are removed afterwards;
/// schemathesis' logs stay in [`Report::dir`].
pub async fn run(bin: &str, budget: Budget) -> anyhow::Result<Report> {
    let schemathesis = schemathesis::command().await?;
    let env = TestEnv::fresh().with_checkpoints();
    let result = run_in(bin, &schemathesis, budget, &env).await;
    env.cleanup().await;
    result
}

async fn run_in(
    bin: &str,
    schemathesis: &std::path::Path,
    budget: Budget,
    env: &TestEnv,
) -> anyhow::Result<Report> {
    let dir = std::env::temp_dir().join(format!("{}-fuzz", env.database));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let ledger = Ledger::start(bin, env, &[]).await?;
    let seeded = seed::account(bin, env, &ledger).await?;
    let mut scopes = Vec::new();
    for (scope, seconds) in budget.split() {
        let run = Run {
            bin: schemathesis,
            base_url: &ledger.base_url,
            scope,
            seconds,
            seed: budget.seed,
            dir: &dir,
        };
        eprintln!("fuzz: {} token, {seconds} s", scope.name());
        let exit_code = run.execute(&seeded).await?;
        let report = ScopeReport::read(scope, exit_code, &run.events()).with_context(|| {
            format!(
                "schemathesis exited {exit_code}; its output is in {}",
                run.output().display()
            )
        })?;
        scopes.push(report);
    }
    Ok(Report {
        seed: budget.seed,
        dir: PathBuf::from(&dir),
        ledger_log: env.log_path(),
        scopes,
    })
}
