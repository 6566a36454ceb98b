//! The soak and fault harness (`ledger-soak`, `deploy/soak.sh`; RELIABILITY.md):
//! the real `ledger` binary with each role in a process of its own — two
//! gateways, an active and a standby relay, a projector — over a PostgreSQL
//! cluster and a NATS server of the harness's own, every production feature on
//! (checkpoints every 5 s, an `Idempotency-Key` on every command, auth, history
//! queries alongside), while faults are injected: each role killed with SIGKILL,
//! NATS killed and restarted, PostgreSQL crashed and restarted. Afterwards every
//! acknowledged command must be in the store, the stream must hold the store
//! exactly once in order, the read models must equal a replay, and the chains and
//! checkpoints must verify; 5xx answers outside the fault windows are counted.

mod client;
mod faults;
mod load;
pub mod report;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde::Serialize;
use tokio::task::JoinSet;
use uuid::Uuid;

use crate::{assert_exactly_once_everywhere, run_ledger, status_and_output, OwnPostgres, TestEnv};
use client::Client;
use faults::{Broker, Fault, Roles};
use report::{FaultRecord, Report};

/// Sizes of a run.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// Licenses bought before the load stops (each a stream changed a dozen times).
    pub licenses: u64,
    /// Concurrent clients, each with an account of its own.
    pub clients: usize,
    /// Pause between two faults.
    pub fault_every: Duration,
    /// Faults injected at most (in the order of [`Fault::all`], round after round).
    pub max_faults: usize,
    /// NATS servers: 1, or a cluster (3) whose stream has a replica on each.
    pub nats_nodes: usize,
}

impl Plan {
    /// For CI: one fault of each kind, a few hundred licenses.
    pub fn smoke() -> Self {
        Self {
            licenses: 100,
            clients: 4,
            fault_every: Duration::from_secs(3),
            max_faults: 6,
            nats_nodes: 1,
        }
    }

    /// The documented run: 200,000 streams changed, 16 clients.
    pub fn full() -> Self {
        Self {
            licenses: 200_000,
            clients: 16,
            fault_every: Duration::from_secs(60),
            max_faults: usize::MAX,
            nats_nodes: 1,
        }
    }
}

/// Runs `plan` against the `ledger` binary `bin`.
pub async fn run(bin: &str, plan: &Plan) -> anyhow::Result<Report> {
    let postgres = OwnPostgres::start().await?;
    let mut broker = Broker::start(plan.nats_nodes).await;
    let env = TestEnv::fresh()
        .on_postgres(&postgres.url())
        .on_nats(&broker.url())
        .with_checkpoints();
    let migrated = run_ledger(bin, &env, &["migrate"]).await;
    anyhow::ensure!(migrated.status.success(), "ledger migrate: {migrated:?}");
    let mut roles = Roles::start(bin, &env, broker.replicas()).await?;
    let client = Client::new(roles.gateway_urls())?;
    let tokens = env.tokens();
    let started = Instant::now();

    // A bounded plan (the smoke) runs every fault it names before the load stops,
    // however fast the machine buys its licenses.
    let faults_pending = Arc::new(AtomicBool::new(plan.max_faults != usize::MAX));
    let mut clients = JoinSet::new();
    for n in 0..plan.clients {
        let identity = load::Identity::new(&tokens, Uuid::new_v4(), n);
        let (client, target) = (client.clone(), plan.licenses);
        let (done, pending) = (client.clone(), faults_pending.clone());
        clients.spawn(load::client_loop(client, identity, n, move || {
            done.purchases() >= target && !pending.load(Ordering::Relaxed)
        }));
    }

    let probe = load::Identity::new(&tokens, Uuid::new_v4(), usize::MAX);
    let mut faults = Vec::new();
    let mut next = 0usize;
    while !clients.is_empty() {
        tokio::select! {
            _ = clients.join_next() => continue,
            () = tokio::time::sleep(plan.fault_every) => {}
        }
        if next >= plan.max_faults {
            faults_pending.store(false, Ordering::Relaxed);
            continue;
        }
        if client.purchases() >= plan.licenses && !faults_pending.load(Ordering::Relaxed) {
            continue;
        }
        let faults_of_broker = Fault::all(&broker);
        let fault = faults_of_broker[next % faults_of_broker.len()];
        let nth = next / faults_of_broker.len();
        next += 1;
        let at = Instant::now();
        let at_utc = client::now();
        fault
            .inject(&mut roles, &mut broker, &postgres, &env, nth)
            .await
            .with_context(|| format!("injecting {}", fault.name()))?;
        let recovered = probe.round_trip(&client).await;
        fault.heal(&mut broker, nth).await;
        faults.push(FaultRecord {
            fault: fault.name(),
            at: at_utc,
            started: at,
            recovered_after: recovered.map(|done| done.duration_since(at)),
        });
    }
    let load_time = started.elapsed();
    let died = roles.exited();
    crate::wait_until_projected(&env, Duration::from_secs(600)).await?;
    assert_exactly_once_everywhere(&env).await;
    let acknowledged_missing = missing_positions(&env, &client).await?;
    let (audit, audit_said) = status_and_output(&run_ledger(bin, &env, &["audit"]).await);
    let (verified, verify_said) =
        status_and_output(&run_ledger(bin, &env, &["verify", "history"]).await);
    let streams: i64 = sqlx::query_scalar("SELECT count(DISTINCT aggregate_id) FROM events")
        .fetch_one(&env.pool().await)
        .await?;
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&env.pool().await)
        .await?;
    drop(roles);
    let seen = client
        .seen
        .lock()
        .map_err(|_| anyhow::anyhow!("a client panicked"))?;
    Ok(Report::new(
        plan,
        load_time,
        &seen,
        faults,
        report::Checks {
            streams,
            events,
            processes_died: died,
            acknowledged_missing,
            audit: (audit, audit_said),
            verify_history: (verified, verify_said),
        },
    ))
}

/// Acknowledged positions the store does not hold (there must be none).
async fn missing_positions(env: &TestEnv, client: &Client) -> anyhow::Result<Vec<i64>> {
    let positions = client
        .seen
        .lock()
        .map_err(|_| anyhow::anyhow!("a client panicked"))?
        .acknowledged
        .clone();
    let found: Vec<i64> =
        sqlx::query_scalar("SELECT global_position FROM events WHERE global_position = ANY($1)")
            .bind(&positions)
            .fetch_all(&env.pool().await)
            .await?;
    let found: std::collections::HashSet<i64> = found.into_iter().collect();
    Ok(positions
        .into_iter()
        .filter(|position| !found.contains(position))
        .collect())
}
