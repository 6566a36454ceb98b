//! What a benchmark run found: every figure, the baselines measured in the same
//! run, the ratios the targets are stated in, as JSON and as a Markdown summary.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use super::cpu::{backends_of, PhaseLoad};
use super::stats::Summary;
use super::Plan;

/// The CPU phase of the command mix alone against the ledger.
pub const LEDGER_ALONE: &str = "command mix alone: ledger";
/// The CPU phase of the command mix alone against the peer.
pub const PEER_ALONE: &str = "command mix alone: peer";
/// The phase of the ledger's write path alone (relay and projector paused).
pub const WRITE_PATH_ALONE: &str =
    "command mix alone: ledger's write path, relay and projector paused";

/// A backlog worked through: how many events, how long, how fast.
#[derive(Debug, Clone, Serialize)]
pub struct Throughput {
    /// Events (or messages) handled.
    pub events: u64,
    /// Seconds it took.
    pub seconds: f64,
    /// Events per second.
    pub per_second: f64,
}

impl Throughput {
    /// `events` in `seconds`.
    pub fn new(events: u64, seconds: f64) -> Self {
        Self {
            events,
            seconds,
            per_second: events as f64 / seconds.max(1e-9),
        }
    }
}

/// The machine's limits, measured in the same run.
#[derive(Debug, Clone, Serialize)]
pub struct Baselines {
    /// pgbench single-row inserts per second into a table shaped like `events`.
    pub pgbench_inserts_per_second: f64,
    /// JetStream acknowledged publishes per second of the ledger's own messages.
    pub jetstream_publishes_per_second: f64,
}

/// A closed-loop run of the command mix.
#[derive(Debug, Clone, Serialize)]
pub struct MixFigures {
    /// Every command together.
    pub all: Summary,
    /// Per command.
    pub by_command: BTreeMap<String, Summary>,
    /// The first failure's status and body, when any command failed.
    pub first_failure: Option<String>,
}

/// The command mix, closed-loop, with queries alongside.
#[derive(Debug, Clone, Serialize)]
pub struct CommandFigures {
    /// The commands.
    #[serde(flatten)]
    pub mix: MixFigures,
    /// The queries sent at the same time (landing page, search, license by id).
    pub queries_alongside: Summary,
}

/// The command mix alone, the same clients and phase length, against the ledger
/// and then against the peer (a plain cqrs-es service, `bench::peer`).
#[derive(Debug, Clone, Serialize)]
pub struct PeerFigures {
    /// The ledger, every production feature on.
    pub ledger: MixFigures,
    /// The ledger's write path alone: the gateway, every production feature on,
    /// with the relay and the projector paused, as if they ran on machines of
    /// their own; what the peer does is this part.
    pub write_path: MixFigures,
    /// The peer.
    pub peer: MixFigures,
}

/// Many clients allocating on one license at once, through one gateway.
#[derive(Debug, Clone, Serialize)]
pub struct ContentionFigures {
    /// Clients allocating on one license at once.
    pub clients: usize,
    /// The allocations answered 201 (rate over the rounds' time, latencies).
    pub allocations: Summary,
    /// Allocations answered 409 (concurrent changes won every retry).
    pub conflicts: u64,
    /// Allocations refused with 422 (none expected: every round has the seats).
    pub refusals: u64,
    /// The first unexpected answer, to say why allocations failed.
    pub first_failure: Option<String>,
}

/// Projection lag at a fixed command rate.
#[derive(Debug, Clone, Serialize)]
pub struct LagFigures {
    /// Commands per second offered.
    pub offered_per_second: f64,
    /// The commands as answered (their `per_second` is the rate achieved).
    pub commands: Summary,
    /// From a command's answer until the read model had applied its event.
    pub lag: Summary,
    /// The first failure's status and body, when any command failed.
    pub first_failure: Option<String>,
}

/// Peak resident memory (VmHWM) of each process, MiB.
#[derive(Debug, Clone, Serialize)]
pub struct Memory {
    /// `ledger serve --roles gateway`.
    pub gateway_mib: f64,
    /// `ledger serve --roles relay`.
    pub relay_mib: f64,
    /// `ledger serve --roles projector`.
    pub projector_mib: f64,
    /// `ledger rebuild`.
    pub rebuild_mib: f64,
}

/// The checkpoint signed once the backlog was in the log.
#[derive(Debug, Clone, Serialize)]
pub struct CheckpointFigures {
    /// The log's size it signs.
    pub tree_size: u64,
    /// Its message's payload on the stream, in bytes.
    pub payload_bytes: usize,
}

/// Everything one run measured.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Sizes and durations of this run.
    pub plan: Plan,
    /// CPUs the machine showed.
    pub cpus: usize,
    /// Loading the seeded purchases straight into the store (setup, for scale).
    pub seed: Throughput,
    /// The relay publishing the seeded backlog (the transparency log grown beside it).
    pub relay_catch_up: Throughput,
    /// The transparency log taking in the same backlog, from the relay's start.
    pub log_catch_up: Throughput,
    /// The checkpoint signed over the whole backlog: its size on the stream.
    pub checkpoint: CheckpointFigures,
    /// The live projector applying it.
    pub projector_catch_up: Throughput,
    /// `ledger rebuild` replaying the whole stream into fresh read models.
    pub rebuild: Throughput,
    /// The part of the rebuild's time spent building indexes and vacuuming.
    pub rebuild_indexing_seconds: f64,
    /// The machine's limits.
    pub baselines: Baselines,
    /// Each query alone, closed-loop, over the seeded licenses.
    pub queries: BTreeMap<String, Summary>,
    /// The command mix at `plan.clients` clients.
    pub commands: CommandFigures,
    /// The command mix alone against the ledger and against the peer.
    pub versus_peer: PeerFigures,
    /// `plan.contention_clients` clients allocating on one license at once.
    pub contention: ContentionFigures,
    /// Projection lag at `plan.lag_commands_per_second`.
    pub lag: LagFigures,
    /// Peak memory of each process.
    pub memory: Memory,
    /// CPU use of each phase, by process group.
    pub cpu: BTreeMap<String, PhaseLoad>,
}

impl Report {
    /// The target ratios: `(what, ours, of what, ratio)`.
    pub fn ratios(&self) -> Vec<(&'static str, f64, &'static str, f64)> {
        let ratio = |ours: f64, base: f64| if base > 0.0 { ours / base } else { 0.0 };
        let query = |name: &str| self.queries.get(name).map(|s| s.per_second).unwrap_or(0.0);
        let static_rate = query("static_endpoint");
        let commands = self.commands.mix.all.per_second;
        let (alone, write_path, peer) = (
            self.versus_peer.ledger.all.per_second,
            self.versus_peer.write_path.all.per_second,
            self.versus_peer.peer.all.per_second,
        );
        let pgbench = self.baselines.pgbench_inserts_per_second;
        let jetstream = self.baselines.jetstream_publishes_per_second;
        let mut ratios = vec![
            (
                "commands/s, mix alone",
                alone,
                "peer commands/s",
                ratio(alone, peer),
            ),
            (
                "commands/s, mix alone, write path only",
                write_path,
                "peer commands/s",
                ratio(write_path, peer),
            ),
            (
                "commands/s",
                commands,
                "pgbench inserts/s",
                ratio(commands, pgbench),
            ),
            (
                "relay catch-up events/s",
                self.relay_catch_up.per_second,
                "JetStream publishes/s",
                ratio(self.relay_catch_up.per_second, jetstream),
            ),
        ];
        for (what, name) in [
            ("landing page/s", "landing_page"),
            (
                "landing page revalidated (304)/s",
                "landing_page_revalidated",
            ),
            (
                "landing page from the database (no-cache)/s",
                "landing_page_from_database",
            ),
            ("search (expiring)/s", "search_expiring"),
            (
                "search (expiring) from the database (no-cache)/s",
                "search_expiring_from_database",
            ),
            ("search (order number)/s", "search_order_number"),
            ("license by id/s", "license_by_id"),
            ("inclusion proof/s", "inclusion_proof"),
        ] {
            ratios.push((
                what,
                query(name),
                "static endpoint/s",
                ratio(query(name), static_rate),
            ));
        }
        ratios
    }

    /// CPU per command of the mix alone: `(service, commands/s, ms of its own
    /// processes, ms of PostgreSQL)`. The ledger's own processes are the gateway,
    /// the relay, the projector and NATS: all of them work for each command. Two
    /// more rows split the ledger: the gateway with the PostgreSQL backends
    /// serving it (deciding and recording, what the peer does), and the rest
    /// (publishing, the transparency log, projecting) with theirs.
    pub fn cpu_per_command(&self) -> Vec<(&'static str, f64, f64, f64)> {
        let all_postgres = vec!["postgres".to_owned()];
        let of = |roles: &[&str]| -> Vec<String> { roles.iter().map(|r| backends_of(r)).collect() };
        let sides = [
            (
                "ledger",
                &self.versus_peer.ledger,
                LEDGER_ALONE,
                &["gateway", "relay", "projector", "nats-server"][..],
                all_postgres.clone(),
            ),
            (
                "ledger: gateway",
                &self.versus_peer.ledger,
                LEDGER_ALONE,
                &["gateway"][..],
                of(&["gateway"]),
            ),
            (
                "ledger: gateway, relay and projector paused",
                &self.versus_peer.write_path,
                WRITE_PATH_ALONE,
                &["gateway"][..],
                of(&["gateway"]),
            ),
            (
                "ledger: relay, projector, NATS",
                &self.versus_peer.ledger,
                LEDGER_ALONE,
                &["relay", "projector", "nats-server"][..],
                of(&["relay", "projector"]),
            ),
            (
                "peer",
                &self.versus_peer.peer,
                PEER_ALONE,
                &["peer"][..],
                all_postgres,
            ),
        ];
        sides
            .into_iter()
            .map(|(what, mix, phase, own, database)| {
                let per_second = mix.all.per_second;
                let cores = |groups: &[&str]| -> f64 {
                    let load = self.cpu.get(phase);
                    groups
                        .iter()
                        .filter_map(|group| load?.cpu.cores.get(*group))
                        .sum()
                };
                let database: Vec<&str> = database.iter().map(String::as_str).collect();
                let ms = |cores: f64| {
                    if per_second > 0.0 {
                        1_000.0 * cores / per_second
                    } else {
                        0.0
                    }
                };
                (what, per_second, ms(cores(own)), ms(cores(&database)))
            })
            .collect()
    }

    /// A Markdown summary, the form BENCHMARKS.md quotes.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let plan = &self.plan;
        let _ = writeln!(
            out,
            "Run: {} accounts, {} seeded licenses, {} command clients, {} query clients, {} s phases, {} CPUs.\n",
            plan.accounts, plan.seeded_licenses, plan.clients, plan.query_clients, plan.phase_seconds, self.cpus
        );
        let _ = writeln!(
            out,
            "| figure | value | baseline | ratio |\n| --- | ---: | --- | ---: |"
        );
        for (what, ours, base, ratio) in self.ratios() {
            let _ = writeln!(out, "| {what} | {ours:.0} | {base} | {ratio:.2} |");
        }
        let _ = writeln!(
            out,
            "| peer commands/s | {:.0} | | |\n| pgbench inserts/s | {:.0} | | |\n| JetStream publishes/s | {:.0} | | |",
            self.versus_peer.peer.all.per_second,
            self.baselines.pgbench_inserts_per_second,
            self.baselines.jetstream_publishes_per_second
        );
        let _ = writeln!(
            out,
            "\nCPU per command of the mix alone, ms (the service's own processes; PostgreSQL):\n\n| service | commands/s | service CPU ms | postgres CPU ms |\n| --- | ---: | ---: | ---: |"
        );
        for (what, per_second, own, postgres) in self.cpu_per_command() {
            let _ = writeln!(
                out,
                "| {what} | {per_second:.0} | {own:.2} | {postgres:.2} |"
            );
        }
        let _ = writeln!(
            out,
            "\n| backlog | events | seconds | events/s |\n| --- | ---: | ---: | ---: |"
        );
        for (what, figures) in [
            ("seed (SQL insert)", &self.seed),
            ("relay catch-up", &self.relay_catch_up),
            ("transparency log catch-up", &self.log_catch_up),
            ("projector catch-up", &self.projector_catch_up),
            ("rebuild", &self.rebuild),
        ] {
            let _ = writeln!(
                out,
                "| {what} | {} | {:.1} | {:.0} |",
                figures.events, figures.seconds, figures.per_second
            );
        }
        let _ = writeln!(
            out,
            "\nOf the rebuild's {:.1} s, {:.1} s built the deferred indexes and vacuumed.",
            self.rebuild.seconds, self.rebuild_indexing_seconds
        );
        let _ = writeln!(out, "\n| requests | count | errors | per s | p50 ms | p95 ms | p99 ms | max ms |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        let mut row = |what: &str, s: &Summary| {
            let _ = writeln!(
                out,
                "| {what} | {} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {:.1} |",
                s.count, s.errors, s.per_second, s.p50_ms, s.p95_ms, s.p99_ms, s.max_ms
            );
        };
        for (name, summary) in &self.queries {
            row(&format!("query {name}"), summary);
        }
        for (what, mix) in [
            ("", &self.commands.mix),
            (" alone, ledger", &self.versus_peer.ledger),
            (" alone, ledger's write path", &self.versus_peer.write_path),
            (" alone, peer", &self.versus_peer.peer),
        ] {
            row(&format!("commands{what} (all)"), &mix.all);
            for (name, summary) in &mix.by_command {
                row(&format!("command{what}: {name}"), summary);
            }
        }
        row(
            "queries alongside commands",
            &self.commands.queries_alongside,
        );
        row(
            &format!(
                "allocations, {} clients on one license",
                self.contention.clients
            ),
            &self.contention.allocations,
        );
        row(
            &format!("commands at {:.0}/s offered", self.lag.offered_per_second),
            &self.lag.commands,
        );
        row("projection lag", &self.lag.lag);
        let _ = writeln!(
            out,
            "\n{} clients allocating on one license at once: {} answered 409 (a conflict), {} answered 422.",
            self.contention.clients, self.contention.conflicts, self.contention.refusals
        );
        let _ = writeln!(
            out,
            "\nCheckpoint over the backlog: a log of {} events, {} bytes on the stream.",
            self.checkpoint.tree_size, self.checkpoint.payload_bytes
        );
        let memory = &self.memory;
        let _ = writeln!(
            out,
            "\nPeak memory (VmHWM): gateway {:.0} MiB, relay {:.0} MiB, projector {:.0} MiB, rebuild {:.0} MiB.",
            memory.gateway_mib, memory.relay_mib, memory.projector_mib, memory.rebuild_mib
        );
        let groups = [
            "gateway".to_owned(),
            "relay".to_owned(),
            "projector".to_owned(),
            "postgres".to_owned(),
            backends_of("gateway"),
            backends_of("relay"),
            backends_of("projector"),
            "nats-server".to_owned(),
            "peer".to_owned(),
            "harness + exited children".to_owned(),
        ];
        let _ = writeln!(
            out,
            "\nLoad by phase: CPU in cores (CPU seconds per second; {} CPUs), and transactions committed in the ledger's database:\n\n| phase | machine busy % | {} | commits |\n| --- | ---: |{} ---: |",
            self.cpus,
            groups.join(" | "),
            " ---: |".repeat(groups.len())
        );
        for (phase, load) in &self.cpu {
            let cells: Vec<String> = groups
                .iter()
                .map(|group| format!("{:.2}", load.cpu.cores.get(group).copied().unwrap_or(0.0)))
                .collect();
            let _ = writeln!(
                out,
                "| {phase} | {:.0} | {} | {} |",
                load.cpu.machine_busy_percent,
                cells.join(" | "),
                load.database_commits
            );
        }
        for (phase, failure) in [
            ("command mix", &self.commands.mix.first_failure),
            (
                "command mix alone, ledger",
                &self.versus_peer.ledger.first_failure,
            ),
            (
                "command mix alone, peer",
                &self.versus_peer.peer.first_failure,
            ),
            ("allocations on one license", &self.contention.first_failure),
            ("fixed rate", &self.lag.first_failure),
        ] {
            if let Some(failure) = failure {
                let _ = writeln!(out, "\nFirst failed command ({phase}): {failure}");
            }
        }
        out
    }
}
