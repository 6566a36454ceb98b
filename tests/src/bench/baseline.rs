//! The machine's own limits, measured in the same run as the ledger: PostgreSQL's
//! durable single-row inserts into a table shaped like `events` (pgbench, at the
//! ledger's client count), and JetStream acknowledged publishes of the ledger's
//! own messages (async-nats, pipelined). The ledger's figures are reported as
//! ratios of these.

use std::future::IntoFuture as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use async_nats::jetstream::{self, message::StreamMessage};
use async_nats::HeaderMap;
use futures::stream::{FuturesUnordered, StreamExt as _};
use ledger_projections::contract::{ensure_stream, StreamConfig};
use sqlx::PgPool;
use uuid::Uuid;

/// Where the baseline's table lives, in the ledger's own database.
const BASELINE_SCHEMA: &str = "bench_baseline";

/// pgbench's transactions per second: `clients` connections each inserting one
/// event (`payload`, `metadata`: a real event's JSON) per transaction for
/// `duration`, into a copy of the ledger's `events` table (columns, defaults,
/// constraints and indexes — `LIKE … INCLUDING ALL` — but not its triggers):
/// what a plain durable append costs here. `pool` and `database_url` are the
/// ledger's database, which gets the copy for the run's length.
pub async fn pgbench_inserts(
    pool: &PgPool,
    database_url: &str,
    clients: usize,
    duration: Duration,
    payload: &str,
    metadata: &str,
) -> anyhow::Result<f64> {
    sqlx::raw_sql(&format!(
        "DROP SCHEMA IF EXISTS {BASELINE_SCHEMA} CASCADE;
         CREATE SCHEMA {BASELINE_SCHEMA};
         CREATE TABLE {BASELINE_SCHEMA}.events (LIKE public.events INCLUDING ALL);"
    ))
    .execute(pool)
    .await?;
    let result = run_pgbench(database_url, clients, duration, payload, metadata).await;
    sqlx::raw_sql(&format!("DROP SCHEMA {BASELINE_SCHEMA} CASCADE"))
        .execute(pool)
        .await?;
    result
}

async fn run_pgbench(
    url: &str,
    clients: usize,
    duration: Duration,
    payload: &str,
    metadata: &str,
) -> anyhow::Result<f64> {
    // The JSON goes in as pgbench variables (bound parameters): in the script's
    // text pgbench would take its `:name` sequences for variables. No trigger
    // fills `hash` here: an empty one satisfies its NOT NULL.
    let script = format!(
        "INSERT INTO {BASELINE_SCHEMA}.events (aggregate_type, aggregate_id, sequence, event_type, \
         event_version, payload, metadata, hash) VALUES ('License', gen_random_uuid()::text, 1, \
         'Purchased', '2', CAST(:payload AS json), CAST(:metadata AS json), ''::bytea);\n"
    );
    let script_path =
        std::env::temp_dir().join(format!("{BASELINE_SCHEMA}_{}.sql", Uuid::new_v4().simple()));
    std::fs::write(&script_path, script)?;
    let output = tokio::process::Command::new(pgbench()?)
        .args(["-n", "-M", "prepared", "-j", "2"])
        .arg(format!("--client={clients}"))
        .arg(format!("--time={}", duration.as_secs().max(1)))
        .arg(format!("--define=payload={payload}"))
        .arg(format!("--define=metadata={metadata}"))
        .arg("--file")
        .arg(&script_path)
        .arg(url)
        .output()
        .await
        .context("running pgbench")?;
    let _ = std::fs::remove_file(&script_path);
    let report = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "pgbench failed: {report}{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    tps(&report).with_context(|| format!("no tps in pgbench's report: {report}"))
}

/// `tps = 1234.5 (without initial connection time)` from pgbench's report.
fn tps(report: &str) -> Option<f64> {
    report
        .lines()
        .find_map(|line| line.strip_prefix("tps = "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|number| number.parse().ok())
}

/// `pgbench` on PATH, else the newest PostgreSQL's own.
fn pgbench() -> anyhow::Result<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .map(|path| {
            std::env::split_paths(&path)
                .map(|dir| dir.join("pgbench"))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let mut installed: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|dirs| {
            dirs.flatten()
                .map(|dir| dir.path().join("bin/pgbench"))
                .collect()
        })
        .unwrap_or_default();
    installed.sort();
    on_path
        .into_iter()
        .chain(installed.into_iter().rev())
        .find(|candidate| candidate.is_file())
        .context("pgbench not found (PostgreSQL's server or contrib package has it)")
}

/// Messages per second JetStream acknowledged: `count` publishes of `messages`
/// (cycled; headers kept, each with its own `Nats-Msg-Id`) to a fresh stream
/// configured like the ledger's, `in_flight` unacknowledged at most.
pub async fn jetstream_publish(
    jetstream: &jetstream::Context,
    messages: &[StreamMessage],
    count: usize,
    in_flight: usize,
) -> anyhow::Result<f64> {
    anyhow::ensure!(!messages.is_empty(), "no messages to publish");
    let id = Uuid::new_v4().simple();
    let config = StreamConfig {
        name: format!("BENCH_BASELINE_{id}"),
        subject_prefix: format!("bench{id}.events"),
        replicas: 1,
    };
    ensure_stream(jetstream, &config).await?;
    let subject = format!("{}.baseline", config.subject_prefix);
    let started = Instant::now();
    let mut acks = FuturesUnordered::new();
    let mut published = 0;
    let mut failed = None;
    for n in 0..count {
        let message = &messages[n % messages.len()];
        let mut headers = HeaderMap::new();
        for (name, values) in message.headers.iter() {
            let name = name.to_string();
            if name == "Nats-Msg-Id" || name == "Nats-Expected-Last-Sequence" {
                continue;
            }
            for value in values {
                headers.append(name.as_str(), value.as_str());
            }
        }
        headers.insert("Nats-Msg-Id", n.to_string().as_str());
        let ack = jetstream
            .publish_with_headers(subject.clone(), headers, message.payload.clone())
            .await?;
        acks.push(ack.into_future());
        while acks.len() >= in_flight {
            if let Some(done) = acks.next().await {
                match done {
                    Ok(_) => published += 1,
                    Err(error) => failed = Some(error),
                }
            }
        }
    }
    while let Some(done) = acks.next().await {
        match done {
            Ok(_) => published += 1,
            Err(error) => failed = Some(error),
        }
    }
    let elapsed = started.elapsed();
    let _ = jetstream.delete_stream(&config.name).await;
    if let Some(error) = failed {
        bail!("a baseline publish failed: {error}");
    }
    Ok(published as f64 / elapsed.as_secs_f64().max(1e-9))
}

#[cfg(test)]
mod tests {
    use super::tps;

    #[test]
    fn reads_pgbench_tps() {
        let report = "number of failed transactions: 0 (0.000%)\n\
                      latency average = 1.234 ms\n\
                      initial connection time = 10.1 ms\n\
                      tps = 12963.412345 (without initial connection time)\n";
        assert_eq!(tps(report), Some(12963.412345));
        assert_eq!(tps("nothing"), None);
    }
}
