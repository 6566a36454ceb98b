//! The rebuild alone (`ledger-bench --rebuilds N`): the store seeded and its
//! backlog relayed as a full run does, then `ledger rebuild` run N rounds
//! against that one stream, each round with every binary given in turn. Two
//! builds of the rebuild are so compared on the same data minutes apart, beside
//! pgbench measured in the same run, without the hour a full run takes.

use std::fmt::Write as _;

use anyhow::Context as _;
use serde::Serialize;

use super::cpu::{self, PhaseLoad};
use super::processes;
use super::report::Throughput;
use super::{cpus, migrate, own_postgres, pgbench_baseline, seed_and_relay, Plan, Relayed};
use crate::TestEnv;

/// One `ledger rebuild`.
#[derive(Debug, Clone, Serialize)]
pub struct RebuildRun {
    /// Its round, from 1.
    pub round: usize,
    /// The binary that ran it.
    pub binary: String,
    /// Messages replayed over the time to replay and index them.
    pub replay: Throughput,
    /// The part of that time spent building indexes and vacuuming.
    pub indexing_seconds: f64,
    /// Its peak resident memory, MiB.
    pub peak_mib: f64,
    /// What the machine did meanwhile (the rebuild is in the harness's share).
    pub load: PhaseLoad,
}

/// What a run of rebuilds measured.
#[derive(Debug, Clone, Serialize)]
pub struct RebuildsReport {
    /// Sizes of the run.
    pub plan: Plan,
    /// CPUs the machine showed.
    pub cpus: usize,
    /// The relay publishing the seeded backlog.
    pub relay_catch_up: Throughput,
    /// Every rebuild, in the order run.
    pub runs: Vec<RebuildRun>,
    /// pgbench single-row inserts per second, after the rebuilds.
    pub pgbench_inserts_per_second: f64,
}

impl RebuildsReport {
    /// A Markdown table of the rebuilds, each as a ratio to pgbench.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "Rebuilds: {} seeded licenses over {} accounts, {} CPUs; pgbench {:.0} inserts/s.\n",
            self.plan.seeded_licenses,
            self.plan.accounts,
            self.cpus,
            self.pgbench_inserts_per_second
        );
        let _ = writeln!(
            out,
            "| round | binary | messages | s | of it indexing s | messages/s | / pgbench | rebuild cores | postgres cores | nats cores | peak MiB |\n| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
        );
        for run in &self.runs {
            let cores = |group: &str| run.load.cpu.cores.get(group).copied().unwrap_or(0.0);
            let _ = writeln!(
                out,
                "| {} | {} | {} | {:.1} | {:.1} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {:.0} |",
                run.round,
                run.binary,
                run.replay.events,
                run.replay.seconds,
                run.indexing_seconds,
                run.replay.per_second,
                run.replay.per_second / self.pgbench_inserts_per_second.max(1e-9),
                cores("harness + exited children"),
                cores("postgres"),
                cores("nats-server"),
                run.peak_mib
            );
        }
        out
    }
}

/// Seeds and relays `plan`'s purchases with the first of `binaries`, then runs
/// `rounds` rounds of rebuilds, each with every binary in turn.
pub async fn run(
    binaries: &[String],
    plan: &Plan,
    rounds: usize,
) -> anyhow::Result<RebuildsReport> {
    anyhow::ensure!(!binaries.is_empty(), "no binary to rebuild with");
    let (postgres, env) = own_postgres().await?;
    let result = run_in(binaries, plan, rounds, &env).await;
    env.cleanup().await;
    drop(postgres);
    result
}

async fn run_in(
    binaries: &[String],
    plan: &Plan,
    rounds: usize,
    env: &TestEnv,
) -> anyhow::Result<RebuildsReport> {
    migrate(&binaries[0], env).await?;
    let pool = env.pool().await;
    let jetstream = env.jetstream().await;
    let mut cpu = cpu::PhaseLog::new(pool.clone());
    let Relayed {
        mut relay,
        relay_catch_up,
        ..
    } = seed_and_relay(&binaries[0], plan, env, &jetstream, &mut cpu).await?;
    // The relay would go on signing checkpoints into the stream: stopped, so
    // every rebuild replays the same messages; and waited for, so its CPU time,
    // reaped, is not counted in the first rebuild.
    relay.kill().await;
    cpu.named.clear();
    let mut runs = Vec::new();
    for round in 1..=rounds {
        for binary in binaries {
            eprintln!("bench: rebuild {round} of {rounds} with {binary}");
            cpu.start().await;
            let rebuilt = processes::rebuild(binary, env).await?;
            let phase = format!("rebuild {round}: {binary}");
            cpu.end(&phase).await;
            let load = cpu
                .phases
                .remove(&phase)
                .context("the rebuild's phase was not logged")?;
            runs.push(RebuildRun {
                round,
                binary: binary.clone(),
                replay: rebuilt.replay,
                indexing_seconds: rebuilt.indexing_seconds,
                peak_mib: rebuilt.peak_mib,
                load,
            });
        }
    }
    let pgbench_inserts_per_second = pgbench_baseline(plan, env, &pool, &mut cpu).await?;
    pool.close().await;
    Ok(RebuildsReport {
        plan: plan.clone(),
        cpus: cpus(),
        relay_catch_up,
        runs,
        pgbench_inserts_per_second,
    })
}
