//! The benchmark harness at smoke size: every phase runs against the real binary
//! and yields figures. Nothing here is timed or compared with a target (CI
//! machines are shared and noisy); it only keeps `deploy/bench.sh` working.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use ledger_tests::bench::{self, Binaries, Plan};
use ledger_tests::ledger_bin;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_phase_of_a_smoke_sized_run_yields_figures() {
    let plan = Plan::smoke();
    let bins = Binaries {
        ledger: ledger_bin!(),
        peer: env!("CARGO_BIN_EXE_ledger-peer"),
    };
    let report = bench::run(bins, &plan).await.unwrap();
    let markdown = report.markdown();

    let seeded = plan.seeded_licenses as u64;
    for (what, backlog) in [
        ("relay", &report.relay_catch_up),
        ("transparency log", &report.log_catch_up),
        ("projector", &report.projector_catch_up),
    ] {
        assert!(
            backlog.events > 0 && backlog.events <= seeded,
            "{what}: {markdown}"
        );
        assert!(backlog.per_second > 0.0, "{what}: {markdown}");
    }
    assert!(report.rebuild.events >= seeded, "{markdown}");
    assert!(report.checkpoint.tree_size >= seeded, "{markdown}");
    assert!(report.checkpoint.payload_bytes < 1_024, "{markdown}");
    assert!(
        report.baselines.pgbench_inserts_per_second > 0.0,
        "{markdown}"
    );
    assert!(
        report.baselines.jetstream_publishes_per_second > 0.0,
        "{markdown}"
    );

    assert_eq!(report.queries.len(), 9, "{markdown}");
    for (name, summary) in &report.queries {
        assert!(summary.count > 0, "{name}: {markdown}");
        assert_eq!(summary.errors, 0, "{name}: {markdown}");
    }
    // The same mix, with queries alongside, alone, and alone against the peer:
    // every command of it answered as the ledger answers it.
    for mix in [
        &report.commands.mix,
        &report.versus_peer.ledger,
        &report.versus_peer.write_path,
        &report.versus_peer.peer,
    ] {
        assert_eq!(mix.first_failure, None, "{markdown}");
        for command in [
            "purchase",
            "activate",
            "allocate",
            "modify",
            "return",
            "renew",
            "usage_report",
        ] {
            let summary = &mix.by_command[command];
            assert!(summary.count > 0, "{command}: {markdown}");
            assert_eq!(summary.errors, 0, "{command}: {markdown}");
        }
    }
    // Each side's CPU per command is measured: its own processes and PostgreSQL;
    // the ledger's is split by whose backends did the database's part.
    let per_command = report.cpu_per_command();
    for (side, per_second, own, postgres) in &per_command {
        assert!(*per_second > 0.0, "{side}: {markdown}");
        if !side.starts_with("ledger: relay") {
            // (The relay and projector may idle through a smoke's short phase.)
            assert!(*own > 0.0 && *postgres > 0.0, "{side}: {markdown}");
        }
    }
    // The write path's phase ran with the relay and the projector paused: they
    // used no CPU in it at all.
    let paused = &report.cpu[ledger_tests::bench::report::WRITE_PATH_ALONE]
        .cpu
        .cores;
    for role in ["relay", "projector"] {
        assert_eq!(paused.get(role).copied(), Some(0.0), "{role}: {markdown}");
    }
    let database = |side: &str| {
        per_command
            .iter()
            .find(|row| row.0 == side)
            .map(|row| row.3)
    };
    let (Some(all), Some(gateway), Some(rest)) = (
        database("ledger"),
        database("ledger: gateway"),
        database("ledger: relay, projector, NATS"),
    ) else {
        panic!("the ledger's split is missing: {markdown}");
    };
    assert!(
        gateway + rest <= all + 1e-9,
        "the split is part of the whole: {markdown}"
    );
    assert!(
        markdown.contains("| commands/s, mix alone |") && markdown.contains("| peer commands/s |"),
        "{markdown}"
    );
    // One gateway queues the commands on one license: each gets its decision.
    let contention = &report.contention;
    assert_eq!(contention.clients, 20, "{markdown}");
    assert!(contention.allocations.count > 0, "{markdown}");
    assert_eq!(
        (contention.allocations.errors, contention.conflicts),
        (0, 0),
        "{markdown}"
    );
    assert_eq!(contention.first_failure, None, "{markdown}");
    assert!(report.commands.queries_alongside.count > 0, "{markdown}");
    assert_eq!(report.commands.queries_alongside.errors, 0, "{markdown}");
    // Every command answered in the lag phase was seen applied by the sampler.
    assert!(report.lag.commands.count > 0, "{markdown}");
    assert_eq!(report.lag.commands.errors, 0, "{markdown}");
    assert_eq!(report.lag.first_failure, None, "{markdown}");
    assert_eq!(
        report.lag.lag.count, report.lag.commands.count,
        "{markdown}"
    );
    assert_eq!(report.lag.lag.errors, 0, "{markdown}");
    for (what, mib) in [
        ("gateway", report.memory.gateway_mib),
        ("relay", report.memory.relay_mib),
        ("projector", report.memory.projector_mib),
        ("rebuild", report.memory.rebuild_mib),
    ] {
        assert!(mib > 1.0, "{what}: {markdown}");
    }
    for phase in [
        "relay catch-up (and the transparency log)",
        "command mix",
        "allocations on one license",
        "baseline: pgbench",
    ] {
        let usage = &report.cpu[phase];
        assert!(
            usage.cpu.cores.contains_key("postgres"),
            "{phase}: {markdown}"
        );
    }
    assert!(
        report.cpu["command mix"].cpu.cores["gateway"] > 0.0,
        "{markdown}"
    );
    assert!(report.cpu["command mix"].database_commits > 0, "{markdown}");
    assert!(markdown.contains("| commands/s |"), "{markdown}");
    println!("{markdown}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_rebuild_alone_runs_every_binary_each_round_on_the_same_stream() {
    let plan = Plan::smoke();
    let ledger = ledger_bin!().to_owned();
    let binaries = [ledger.clone(), ledger];
    let report = bench::rebuilds::run(&binaries, &plan, 2).await.unwrap();
    let markdown = report.markdown();
    assert_eq!(report.runs.len(), 4, "{markdown}");
    let seeded = plan.seeded_licenses as u64;
    let replayed = report.runs[0].replay.events;
    for (n, run) in report.runs.iter().enumerate() {
        assert_eq!(run.round, n / 2 + 1, "{markdown}");
        assert!(run.replay.events >= seeded, "{markdown}");
        // The relay is stopped first: every rebuild replays the same messages.
        assert_eq!(run.replay.events, replayed, "{markdown}");
        assert!(run.indexing_seconds > 0.0 && run.indexing_seconds < run.replay.seconds);
        assert!(run.peak_mib > 0.0, "{markdown}");
    }
    assert!(report.pgbench_inserts_per_second > 0.0, "{markdown}");
    assert_eq!(markdown.matches(&binaries[0]).count(), 4, "{markdown}");
}
