//! The ledger against its peer: the command mix alone (no queries alongside),
//! the same clients, identities and phase length, first against the ledger with
//! every production feature on, then against the plain cqrs-es peer in its own
//! database. The peer stays up until the run ends so its CPU is never counted
//! as an exited child's in a later phase.

use std::path::Path;

use tokio::process::{Child, Command};

use super::commands;
use super::cpu::PhaseLog;
use super::fleet::Fleet;
use super::report::{PeerFigures, LEDGER_ALONE, PEER_ALONE};
use super::Plan;
use crate::spawn_listening;

/// Runs the mix alone against the ledger `fleet` is aimed at, then starts the
/// peer (`peer_bin` on `database_url`, stderr to `log_path`) and runs it there.
/// Returns the figures and the running peer.
pub async fn command_mix_alone(
    plan: &Plan,
    fleet: &Fleet,
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
    Ok((PeerFigures { ledger, peer }, child))
}
