//! `ledger verify history`'s output: every problem as a JSON line, then one
//! summary line, and the exit status that tells "intact" from "tampered" from
//! "intact, but no signed checkpoint to hold it to".

use super::checkpoint::CheckpointStatus;
use super::HistoryReport;

/// Exit status: the chains link and the newest checkpoint verifies.
pub const VERIFIED: u8 = 0;
/// Exit status: a chain breaks or a checkpoint disagrees.
pub const TAMPERED: u8 = 1;
/// Exit status: the chains link, but no checkpoint could be checked (none written,
/// or no `checkpoint_signing_keys` to check them with).
pub const UNCHECKPOINTED: u8 = 3;

/// The lines to print and the exit status.
pub fn render(report: &HistoryReport) -> serde_json::Result<(Vec<String>, u8)> {
    let mut lines = Vec::new();
    for found in &report.chains.breaks {
        lines.push(serde_json::to_string(found)?);
    }
    for problem in &report.checkpoint.problems {
        lines.push(serde_json::to_string(problem)?);
    }
    let chains = &report.chains;
    let checkpoint = &report.checkpoint;
    let chain_part = match chains.first_break() {
        None => format!(
            "{} events in {} streams; every chain links",
            chains.events, chains.streams
        ),
        Some(first) => format!(
            "{} bad events in {} events; the first is {} {} sequence {} at global position {}",
            chains.breaks.len(),
            chains.events,
            first.aggregate_type,
            first.aggregate_id,
            first.sequence,
            first.global_position()
        ),
    };
    let checkpoint_part = match (checkpoint.status, &checkpoint.compared_with) {
        (CheckpointStatus::NoCheckpoint, _) => {
            "no signed checkpoint yet: every event is covered by its chain only".to_owned()
        }
        (CheckpointStatus::NoKey, _) => format!(
            "{} checkpoints, but no checkpoint_signing_keys to check them with",
            checkpoint.checkpoints
        ),
        (CheckpointStatus::Verified, Some(with)) => match (with.tree_size, with.global_position) {
            (Some(tree_size), _) => format!(
                "checkpoint {} (key {}) verifies: the log of {} events has its signed root; \
                 {} events checked are covered by its signature, {} after it by their chains only",
                with.checkpoint,
                with.key_id,
                tree_size,
                checkpoint.covered_events,
                checkpoint.events_after
            ),
            (None, global_position) => format!(
                "checkpoint {} (key {}) verifies: {} events in {} streams up to global position {} \
                 are covered by its signature, {} after it by their chains only",
                with.checkpoint,
                with.key_id,
                checkpoint.covered_events,
                checkpoint.covered_streams.unwrap_or_default(),
                global_position.unwrap_or_default(),
                checkpoint.events_after
            ),
        },
        _ => format!(
            "{} checkpoint problems; the first: {}",
            checkpoint.problems.len(),
            checkpoint
                .first_problem
                .as_ref()
                .map(serde_json::to_string)
                .transpose()?
                .unwrap_or_default()
        ),
    };
    lines.push(format!("verify: {chain_part}; {checkpoint_part}"));
    let status = if !report.intact() {
        TAMPERED
    } else if checkpoint.status == CheckpointStatus::Verified {
        VERIFIED
    } else {
        UNCHECKPOINTED
    };
    Ok((lines, status))
}
