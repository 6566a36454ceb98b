//! The benchmark harness (`ledger-bench`, `deploy/bench.sh`): the real `ledger`
//! binary with each role in its own process, as in production, measured against
//! this machine's own limits taken in the same run (pgbench, raw JetStream, a
//! static endpoint). Not a test: CI runs only [`Plan::smoke`] so it keeps working.
//!
//! A run: load purchases straight into a fresh store; time the relay publishing
//! that backlog, the projector applying it and `ledger rebuild` replaying it; then,
//! with the gateway up, each query alone, the command mix with queries alongside,
//! the command mix alone against the ledger and then against a plain cqrs-es
//! peer ([`peer`]), many clients allocating on one license at once, the
//! projection lag at a fixed command rate, the two baselines, peak memory.

mod baseline;
mod commands;
mod contention;
pub mod cpu;
mod fleet;
mod lag;
pub mod peer;
mod processes;
mod queries;
pub mod rebuilds;
pub mod report;
pub mod seed;
pub mod stats;
mod versus;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use async_nats::jetstream::message::StreamMessage;
use serde::Serialize;

use crate::own_postgres::OwnPostgres;
use crate::{run_ledger, Ledger, TestEnv};
use fleet::Fleet;
use queries::{Query, Readers};
use report::{
    Baselines, CheckpointFigures, CommandFigures, LagFigures, Memory, Report, Throughput,
};

/// Sizes and durations of a run.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// Accounts the seeded licenses and the load are spread over.
    pub accounts: usize,
    /// Purchases loaded before the ledger starts (the backlog, the query data set).
    pub seeded_licenses: usize,
    /// Concurrent command clients (and pgbench clients).
    pub clients: usize,
    /// Concurrent clients per query measurement.
    pub query_clients: usize,
    /// Query clients running alongside the command mix.
    pub background_query_clients: usize,
    /// Clients allocating on one license at once.
    pub contention_clients: usize,
    /// Length of each measured phase.
    pub phase_seconds: u64,
    /// Offered rate for the projection-lag phase.
    pub lag_commands_per_second: f64,
    /// Messages in the JetStream baseline.
    pub baseline_messages: usize,
}

impl Plan {
    /// Seconds, for CI: every phase runs, nothing is worth reading.
    pub fn smoke() -> Self {
        Self {
            accounts: 3,
            seeded_licenses: 3_000,
            clients: 2,
            query_clients: 2,
            background_query_clients: 1,
            contention_clients: 20,
            phase_seconds: 1,
            lag_commands_per_second: 40.0,
            baseline_messages: 2_000,
        }
    }

    /// The figures BENCHMARKS.md reports.
    pub fn full() -> Self {
        Self {
            accounts: 100,
            seeded_licenses: 1_000_000,
            clients: 16,
            query_clients: 16,
            background_query_clients: 4,
            contention_clients: 20,
            phase_seconds: 30,
            lag_commands_per_second: 1_000.0,
            baseline_messages: 300_000,
        }
    }

    fn phase(&self) -> Duration {
        Duration::from_secs(self.phase_seconds)
    }
}

/// Settings that differ from the tests' (which keep pools small): the ledger's
/// own defaults, as a production deployment starts with.
const PRODUCTION_SETTINGS: [(&str, &str); 1] = [("LEDGER_DATABASE_MAX_CONNECTIONS", "16")];

/// Longest any backlog may take before the run gives up.
const BACKLOG_TIMEOUT: Duration = Duration::from_secs(1800);

/// The binaries a run starts.
#[derive(Debug, Clone, Copy)]
pub struct Binaries<'a> {
    /// The `ledger` binary.
    pub ledger: &'a str,
    /// The `ledger-peer` binary: the plain cqrs-es service measured beside it.
    pub peer: &'a str,
}

/// Runs `plan` against the ledger and the peer in fresh databases and a fresh
/// stream, removed afterwards.
pub async fn run(bins: Binaries<'_>, plan: &Plan) -> anyhow::Result<Report> {
    let (postgres, env) = own_postgres().await?;
    let peer_database_url = format!("{}_peer", env.database_url);
    let result = run_in(bins, &peer_database_url, plan, &env).await;
    env.cleanup().await;
    peer::drop_database(&peer_database_url).await;
    drop(postgres);
    result
}

/// A PostgreSQL of the run's own, set up as deploy/ says to set up a production
/// one (the machine's shared server has stock memory settings and autovacuum
/// off), and a fresh test environment on it with every production feature on:
/// checkpoints (every second), auth and an Idempotency-Key on every command
/// (`Fleet::command`), and the transparency log the relay always grows. The
/// peer and pgbench use the same server.
async fn own_postgres() -> anyhow::Result<(OwnPostgres, TestEnv)> {
    let postgres = OwnPostgres::start_with(&[
        deploy_dir().join("postgres/postgresql.conf.d"),
        deploy_dir().join("postgres/sized/one-million-licenses.conf"),
    ])
    .await
    .context("starting the run's PostgreSQL")?;
    let env = TestEnv::fresh()
        .on_postgres(&postgres.url())
        .with_checkpoints();
    Ok((postgres, env))
}

/// The CPUs this machine shows.
fn cpus() -> usize {
    std::thread::available_parallelism()
        .map(usize::from)
        .unwrap_or(1)
}

/// This checkout's `deploy/`.
fn deploy_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy")
}

async fn run_in(
    bins: Binaries<'_>,
    peer_database_url: &str,
    plan: &Plan,
    env: &TestEnv,
) -> anyhow::Result<Report> {
    let bin = bins.ledger;
    migrate(bin, env).await?;
    let pool = env.pool().await;
    let jetstream = env.jetstream().await;
    let mut cpu = cpu::PhaseLog::new(pool.clone());
    let Relayed {
        seeded,
        seed,
        relay,
        relay_catch_up,
        log_catch_up,
    } = seed_and_relay(bin, plan, env, &jetstream, &mut cpu).await?;
    let checkpoint = checkpoint_over(&jetstream, env, seeded.events).await?;

    eprintln!("bench: projector catch-up");
    let projector = Ledger::start_roles(bin, env, "projector", &PRODUCTION_SETTINGS).await?;
    cpu.named.push(("projector", projector.pid()));
    cpu.start().await;
    let projector_catch_up = processes::backlog(seeded.events, BACKLOG_TIMEOUT, || {
        processes::projected(&pool)
    })
    .await?;
    cpu.end("projector catch-up").await;

    eprintln!("bench: rebuild");
    cpu.start().await;
    let rebuilt = processes::rebuild(bin, env).await?;
    cpu.end("rebuild (the harness's share is the rebuild process)")
        .await;

    let gateway = Ledger::start_roles(bin, env, "gateway", &PRODUCTION_SETTINGS).await?;
    cpu.named.push(("gateway", gateway.pid()));
    let fleet = Fleet::new(&gateway.base_url, seeded.accounts.clone(), env.tokens())?;
    let readers = Readers::new(&fleet, &seeded.sample_licenses);
    let queries = query_phases(plan, &readers, &mut cpu).await;
    let commands = command_mix(plan, &fleet, &readers, &mut cpu).await;
    let read_side = versus::ReadSide {
        processes: [&relay, &projector],
        pool: &pool,
    };
    let (versus_peer, peer) = versus::command_mix_alone(
        plan,
        &fleet,
        read_side,
        bins.peer,
        peer_database_url,
        &env.log_path(),
        &mut cpu,
    )
    .await?;
    eprintln!(
        "bench: {} clients allocating on one license",
        plan.contention_clients
    );
    cpu.start().await;
    let contention =
        contention::on_one_license(&fleet, plan.contention_clients, plan.phase()).await?;
    cpu.end("allocations on one license").await;
    let lag = projection_lag(plan, &fleet, &pool, &mut cpu).await?;
    let memory = Memory {
        gateway_mib: processes::peak_rss_mib(gateway.pid()),
        relay_mib: processes::peak_rss_mib(relay.pid()),
        projector_mib: processes::peak_rss_mib(projector.pid()),
        rebuild_mib: rebuilt.peak_mib,
    };
    // Stopped only now: a process that exits mid-phase would have its whole
    // run's CPU time counted in that phase (through its parent's reaped time).
    let baselines = baselines(plan, env, &pool, &jetstream, &mut cpu).await?;
    drop((gateway, projector, relay, peer));
    pool.close().await;
    Ok(Report {
        plan: plan.clone(),
        cpus: cpus(),
        seed,
        relay_catch_up,
        log_catch_up,
        checkpoint,
        projector_catch_up,
        rebuild: rebuilt.replay,
        rebuild_indexing_seconds: rebuilt.indexing_seconds,
        baselines,
        queries,
        commands,
        versus_peer,
        contention,
        lag,
        memory,
        cpu: cpu.phases,
    })
}

/// The store seeded and its backlog relayed: the start of every run.
struct Relayed {
    seeded: seed::Seeded,
    seed: Throughput,
    /// The relay, still running.
    relay: Ledger,
    relay_catch_up: Throughput,
    log_catch_up: Throughput,
}

/// Creates the run's database and migrates it.
async fn migrate(bin: &str, env: &TestEnv) -> anyhow::Result<()> {
    let migrated = run_ledger(bin, env, &["migrate"]).await;
    anyhow::ensure!(
        migrated.status.success(),
        "ledger migrate failed: {migrated:?}"
    );
    Ok(())
}

/// Loads `plan`'s purchases into the migrated store and times the relay
/// publishing them (and the transparency log taking them in).
async fn seed_and_relay(
    bin: &str,
    plan: &Plan,
    env: &TestEnv,
    jetstream: &async_nats::jetstream::Context,
    cpu: &mut cpu::PhaseLog,
) -> anyhow::Result<Relayed> {
    let pool = env.pool().await;
    eprintln!("bench: loading {} purchases", plan.seeded_licenses);
    let seeding = Instant::now();
    let seeded = seed::purchases(&pool, plan.accounts, plan.seeded_licenses).await?;
    let seed = Throughput::new(seeded.events, seeding.elapsed().as_secs_f64());

    eprintln!("bench: relay catch-up");
    let relay = Ledger::start_roles(bin, env, "relay", &PRODUCTION_SETTINGS).await?;
    cpu.named.push(("relay", relay.pid()));
    cpu.start().await;
    let (relay_catch_up, log_catch_up) = tokio::join!(
        processes::backlog(seeded.events, BACKLOG_TIMEOUT, || async {
            // The relay creates the stream once it has started.
            match jetstream.get_stream(&env.stream).await {
                Ok(mut stream) => Ok(stream.info().await?.state.messages),
                Err(_) => Ok(0),
            }
        }),
        processes::backlog(seeded.events, BACKLOG_TIMEOUT, || async {
            let size: i64 = sqlx::query_scalar(
                "SELECT coalesce(max(leaf_index) + 1, 0) FROM transparency_leaves",
            )
            .fetch_one(&pool)
            .await?;
            Ok(size.max(0) as u64)
        }),
    );
    let (relay_catch_up, log_catch_up) = (relay_catch_up?, log_catch_up?);
    cpu.end("relay catch-up (and the transparency log)").await;
    pool.close().await;
    Ok(Relayed {
        seeded,
        seed,
        relay,
        relay_catch_up,
        log_catch_up,
    })
}

/// Each query alone, closed-loop.
async fn query_phases(
    plan: &Plan,
    readers: &Readers,
    cpu: &mut cpu::PhaseLog,
) -> BTreeMap<String, stats::Summary> {
    let mut queries = BTreeMap::new();
    for query in Query::ALL {
        eprintln!("bench: query {}", query.name());
        cpu.start().await;
        let (samples, elapsed) = readers
            .closed_loop(&[query], plan.query_clients, plan.phase())
            .await;
        cpu.end(&format!("query {}", query.name())).await;
        queries.insert(query.name().to_owned(), samples.summary(elapsed));
    }
    queries
}

/// The command mix, closed-loop, with queries alongside.
async fn command_mix(
    plan: &Plan,
    fleet: &Fleet,
    readers: &Readers,
    cpu: &mut cpu::PhaseLog,
) -> CommandFigures {
    eprintln!("bench: command mix");
    let alongside = [
        Query::LandingPage,
        Query::SearchExpiring,
        Query::LicenseById,
    ];
    cpu.start().await;
    let ((log, elapsed), (background, background_elapsed)) = tokio::join!(
        commands::closed_loop(fleet, plan.clients, plan.phase()),
        readers.closed_loop(&alongside, plan.background_query_clients, plan.phase()),
    );
    cpu.end("command mix").await;
    CommandFigures {
        mix: log.figures(elapsed),
        queries_alongside: background.summary(background_elapsed),
    }
}

/// Commands at a fixed rate, and how long each took to show in the read model.
async fn projection_lag(
    plan: &Plan,
    fleet: &Fleet,
    pool: &sqlx::PgPool,
    cpu: &mut cpu::PhaseLog,
) -> anyhow::Result<LagFigures> {
    eprintln!(
        "bench: projection lag at {} commands/s",
        plan.lag_commands_per_second
    );
    let sampler = lag::CheckpointSampler::start(pool.clone(), "licenses");
    cpu.start().await;
    let (log, elapsed) =
        commands::open_loop(fleet, plan.lag_commands_per_second, plan.phase()).await;
    cpu.end("commands at a fixed rate").await;
    let lags = sampler
        .lags(pool, &log.answered, Duration::from_secs(60))
        .await?;
    Ok(LagFigures {
        offered_per_second: plan.lag_commands_per_second,
        commands: log.all().summary(elapsed),
        lag: lags.summary(elapsed),
        first_failure: log.first_failure,
    })
}

/// pgbench and raw JetStream, with the ledger's processes stopped.
async fn baselines(
    plan: &Plan,
    env: &TestEnv,
    pool: &sqlx::PgPool,
    jetstream: &async_nats::jetstream::Context,
    cpu: &mut cpu::PhaseLog,
) -> anyhow::Result<Baselines> {
    eprintln!("bench: baselines");
    let pgbench_inserts_per_second = pgbench_baseline(plan, env, pool, cpu).await?;
    let messages = first_messages(jetstream, &env.stream, 1_000).await?;
    cpu.start().await;
    let jetstream_publishes_per_second =
        baseline::jetstream_publish(jetstream, &messages, plan.baseline_messages, 1_024).await?;
    cpu.end("baseline: JetStream publishes").await;
    Ok(Baselines {
        pgbench_inserts_per_second,
        jetstream_publishes_per_second,
    })
}

/// pgbench inserting rows like the store's first purchase at `plan.clients`.
async fn pgbench_baseline(
    plan: &Plan,
    env: &TestEnv,
    pool: &sqlx::PgPool,
    cpu: &mut cpu::PhaseLog,
) -> anyhow::Result<f64> {
    let (payload, metadata): (String, String) = sqlx::query_as(
        "SELECT payload::text, metadata::text FROM events WHERE event_type = 'Purchased' LIMIT 1",
    )
    .fetch_one(pool)
    .await?;
    cpu.start().await;
    let per_second = baseline::pgbench_inserts(
        pool,
        &env.database_url,
        plan.clients,
        plan.phase(),
        &payload,
        &metadata,
    )
    .await?;
    cpu.end("baseline: pgbench").await;
    Ok(per_second)
}

/// The checkpoint whose log holds at least `events`, as the stream carries it.
async fn checkpoint_over(
    jetstream: &async_nats::jetstream::Context,
    env: &TestEnv,
    events: u64,
) -> anyhow::Result<CheckpointFigures> {
    let stream = jetstream.get_stream(&env.stream).await?;
    let subject = format!(
        "{}._system.integritycheckpoint.store.Checkpointed",
        env.prefix
    );
    let started = Instant::now();
    loop {
        if let Ok(message) = stream.get_last_raw_message_by_subject(&subject).await {
            let body: serde_json::Value = serde_json::from_slice(&message.payload)?;
            let tree_size = body["tree_size"].as_u64().unwrap_or(0);
            if tree_size >= events {
                return Ok(CheckpointFigures {
                    tree_size,
                    payload_bytes: message.payload.len(),
                });
            }
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(120),
            "no checkpoint over the backlog of {events} events"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The first `count` messages of the ledger's stream, as the relay published them.
async fn first_messages(
    jetstream: &async_nats::jetstream::Context,
    stream: &str,
    count: u64,
) -> anyhow::Result<Vec<StreamMessage>> {
    let stream = jetstream.get_stream(stream).await?;
    let mut messages = Vec::new();
    for sequence in 1..=count {
        match stream.get_raw_message(sequence).await {
            Ok(message) => messages.push(message),
            Err(_) if !messages.is_empty() => break,
            Err(error) => return Err(error).context("reading the ledger's stream"),
        }
    }
    Ok(messages)
}
