//! Where the CPU went during a phase: CPU time of the ledger's processes, of
//! PostgreSQL, NATS and the harness itself, read from /proc before and after, so
//! each figure can be explained by what was busy (on a 2-core machine everything
//! shares the same cores). Processes that exit during a phase are counted through
//! their parent's reaped-children times: a closed PostgreSQL backend in
//! `postgres`, pgbench and `ledger rebuild` in the harness's.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use serde::Serialize;
use sqlx::PgPool;

/// Clock ticks per second of /proc's CPU times (USER_HZ: 100 on Linux).
const TICKS_PER_SECOND: f64 = 100.0;

/// CPU counters at one instant.
#[derive(Debug, Clone)]
pub struct Snapshot {
    at: Instant,
    by_group: BTreeMap<String, u64>,
    machine_busy: u64,
    machine_total: u64,
}

/// What a phase used.
#[derive(Debug, Clone, Serialize)]
pub struct Usage {
    /// Share of all the machine's CPUs that were busy, percent.
    pub machine_busy_percent: f64,
    /// Cores' worth of CPU per process group over the phase (CPU s / wall s).
    pub cores: BTreeMap<String, f64>,
}

/// The group of the PostgreSQL backends serving a ledger process of `roles`:
/// part of `postgres`, shown apart so that each role's database work is seen.
pub fn backends_of(roles: &str) -> String {
    format!("postgres ← {roles}")
}

/// Reads the counters; `named` are the ledger's processes by role, `backends`
/// the PostgreSQL backends serving them (pid → the roles they serve).
pub fn snapshot(named: &[(&str, Option<u32>)], backends: &HashMap<u32, String>) -> Snapshot {
    let own = std::process::id();
    let mut by_group: BTreeMap<String, u64> = BTreeMap::new();
    let pids = std::fs::read_dir("/proc")
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    for pid in pids {
        let Some((command, ticks)) = process_ticks(pid) else {
            continue;
        };
        let group = if pid == own {
            Some("harness + exited children")
        } else if let Some((role, _)) = named.iter().find(|(_, p)| *p == Some(pid)) {
            Some(*role)
        } else {
            match command.as_str() {
                "postgres" => Some("postgres"),
                "nats-server" => Some("nats-server"),
                _ => None,
            }
        };
        if let Some(group) = group {
            *by_group.entry(group.to_owned()).or_default() += ticks;
        }
        if let (Some("postgres"), Some(roles)) = (group, backends.get(&pid)) {
            *by_group.entry(backends_of(roles)).or_default() += ticks;
        }
    }
    let (machine_busy, machine_total) = machine_ticks().unwrap_or((0, 0));
    Snapshot {
        at: Instant::now(),
        by_group,
        machine_busy,
        machine_total,
    }
}

/// What was used between two snapshots.
pub fn usage(before: &Snapshot, after: &Snapshot) -> Usage {
    let wall = (after.at - before.at).as_secs_f64().max(1e-9);
    let cores = after
        .by_group
        .iter()
        .map(|(group, ticks)| {
            let used = ticks.saturating_sub(before.by_group.get(group).copied().unwrap_or(0));
            (group.clone(), used as f64 / TICKS_PER_SECOND / wall)
        })
        .collect();
    let busy = after.machine_busy.saturating_sub(before.machine_busy) as f64;
    let total = after.machine_total.saturating_sub(before.machine_total) as f64;
    Usage {
        machine_busy_percent: if total > 0.0 {
            100.0 * busy / total
        } else {
            0.0
        },
        cores,
    }
}

/// `(command name, utime + stime + reaped children's)` of a process.
fn process_ticks(pid: u32) -> Option<(String, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (head, rest) = stat.rsplit_once(')')?;
    let command = head.split_once('(')?.1.to_owned();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the command: state is field 3 of stat(5), so utime (14) is index 11.
    let ticks = fields
        .get(11..15)?
        .iter()
        .map(|field| field.parse::<u64>().ok())
        .sum::<Option<u64>>()?;
    Some((command, ticks))
}

/// `(busy, total)` ticks of all CPUs from /proc/stat.
fn machine_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let values: Vec<u64> = line
        .split_whitespace()
        .filter_map(|value| value.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is inside user).
    let total: u64 = values.iter().take(8).sum();
    let idle = values.get(3)? + values.get(4)?;
    Some((total - idle, total))
}

/// What a phase used: CPU, and transactions committed in the ledger's database
/// (events per transaction tell how well work is batched).
#[derive(Debug, Clone, Serialize)]
pub struct PhaseLoad {
    /// CPU by process group.
    #[serde(flatten)]
    pub cpu: Usage,
    /// Transactions committed in the ledger's database during the phase.
    pub database_commits: i64,
}

/// The load of each phase, as a run goes.
pub struct PhaseLog {
    pool: PgPool,
    /// The ledger's processes by role, as they are started.
    pub named: Vec<(&'static str, Option<u32>)>,
    started: Option<(Snapshot, i64)>,
    /// Each finished phase's load.
    pub phases: BTreeMap<String, PhaseLoad>,
}

impl PhaseLog {
    /// A log reading commits of `pool`'s database.
    pub fn new(pool: PgPool) -> Self {
        Self {
            pool,
            named: Vec::new(),
            started: None,
            phases: BTreeMap::new(),
        }
    }

    /// A phase begins.
    pub async fn start(&mut self) {
        let commits = self.commits().await;
        let backends = self.backends().await;
        self.started = Some((snapshot(&self.named, &backends), commits));
    }

    /// The phase begun last ends.
    pub async fn end(&mut self, phase: &str) {
        if let Some((started, commits)) = self.started.take() {
            let ended = snapshot(&self.named, &self.backends().await);
            let load = PhaseLoad {
                cpu: usage(&started, &ended),
                database_commits: self.commits().await - commits,
            };
            self.phases.insert(phase.to_owned(), load);
        }
    }

    /// The PostgreSQL backends serving ledger processes, and their roles. A
    /// backend that closes within a phase is counted in `postgres` only.
    async fn backends(&self) -> HashMap<u32, String> {
        let rows: Vec<(i32, String)> = sqlx::query_as(
            "SELECT pid, substr(application_name, $1) FROM pg_stat_activity
              WHERE starts_with(application_name, $2)",
        )
        .bind(i32::try_from(crate::BACKEND_PREFIX.len() + 1).unwrap_or(i32::MAX))
        .bind(crate::BACKEND_PREFIX)
        .fetch_all(&self.pool)
        .await
        .unwrap_or_default();
        rows.into_iter()
            .filter_map(|(pid, roles)| Some((u32::try_from(pid).ok()?, roles)))
            .collect()
    }

    async fn commits(&self) -> i64 {
        // Backends report their counts when idle (at most a second late):
        // close enough over phases of several seconds.
        sqlx::query_scalar(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()",
        )
        .fetch_one(&self.pool)
        .await
        .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_shows_and_its_busy_loop_counts() {
        let before = snapshot(&[], &HashMap::new());
        let mut x = 0u64;
        while before.at.elapsed().as_millis() < 300 {
            x = x.wrapping_add(std::hint::black_box(1));
        }
        let after = snapshot(&[], &HashMap::new());
        let used = usage(&before, &after);
        assert!(x > 0);
        let harness = used.cores["harness + exited children"];
        assert!(harness > 0.0, "{used:?}");
        assert!(used.machine_busy_percent > 0.0, "{used:?}");
    }
}
