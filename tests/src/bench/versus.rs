//! The ledger against its peer: the command mix alone (no queries alongside),
//! the same clients, identities and phase length, first against the ledger with
//! every production feature on, then against its write path alone (the relay
//! and the projector paused, as if they ran on machines of their own: the peer
//! has neither), then against the plain cqrs-es peer in its own database. The
//! peer stays up until the run ends so its CPU is never counted as an exited
//! child's in a later phase.

use std::path::Path;
use std::time::Duration;

use tokio::process::{Child, Command};

use super::commands;
use super::cpu::PhaseLog;
use super::fleet::Fleet;
use super::report::{PeerFigures, LEDGER_ALONE, PEER_ALONE, WRITE_PATH_ALONE};
use super::{processes, Plan};
use crate::process::Ledger;
use crate::spawn_listening;

/// Longest the read side may take to catch up after its pause.
const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(600);

/// The ledger's processes after the command, paused for the write path's phase,
/// and the database whose events they must have caught up with after it.
pub struct ReadSide<'a> {
    /// The relay and the projector.
    pub processes: [&'a Ledger; 2],
    /// The ledger's database.
    pub pool: &'a sqlx::PgPool,
}

/// Runs the mix alone against the ledger `fleet` is aimed at, then again with
/// `read_side` paused (and waits for it to catch up once resumed), then starts
/// the peer (`peer_bin` on `database_url`, stderr to `log_path`) and runs it
/// there. Returns the figures and the running peer.
pub async fn command_mix_alone(
    plan: &Plan,
    fleet: &Fleet,
    read_side: ReadSide<'_>,
    peer_bin: &str,
    database_url: &str,
    log_path: &Path,
    cpu: &mut PhaseLog,
) -> anyhow::Result<(PeerFigures, Child)> {
    eprintln!("bench: command mix alone, ledger");
    cpu.start().await;
    let (log, elapsed) = commands::closed_loop(fleet, plan.clients, plan.phase()).await;
    cpu.end(LEDGER_ALONE).await;
    let ledger = log.figures(elapsed);

    eprintln!("bench: command mix alone, the ledger's write path (relay and projector paused)");
    for process in read_side.processes {
        process.pause().await;
    }
    cpu.start().await;
    let (log, elapsed) = commands::closed_loop(fleet, plan.clients, plan.phase()).await;
    cpu.end(WRITE_PATH_ALONE).await;
    for process in read_side.processes {
        process.resume().await;
    }
    let write_path = log.figures(elapsed);
    let recorded: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(read_side.pool)
        .await?;
    processes::backlog(recorded.max(0) as u64, CATCH_UP_TIMEOUT, || {
        processes::projected(read_side.pool)
    })
    .await?;

    let mut command = Command::new(peer_bin);
    command.args(["--database-url", database_url]);
    let (child, base_url) = spawn_listening(command, log_path).await?;
    cpu.named.push(("peer", child.id()));
    eprintln!("bench: command mix alone, peer");
    let peer_fleet = fleet.aimed_at_peer(&base_url);
    cpu.start().await;
    let (log, elapsed) = commands::closed_loop(&peer_fleet, plan.clients, plan.phase()).await;
    cpu.end(PEER_ALONE).await;
    let peer = log.figures(elapsed);
    Ok((
        PeerFigures {
            ledger,
            write_path,
            peer,
        },
        child,
    ))
}
