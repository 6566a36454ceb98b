//! The history against signed tree heads: the events, read in commit order, are
//! made into the transparency log again, and at each signed size its root must be
//! the signed one — every altered, removed, inserted or reordered event at or
//! before it changes that root, and a store cut short never reaches the size.
//!
//! The stored log is read beside the events: where it still gives the signed root
//! it is genuine, and the first place where it and the events differ names the
//! event at fault.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use futures::TryStreamExt as _;
use ledger_domain::transparency::merkle::{leaf_hash, Frontier, Hash};
use sqlx::PgPool;
use uuid::Uuid;

use super::tree_head::TreeHead;
use super::verify::{CheckpointProblem, CheckpointReport, CheckpointSummary};

#[derive(sqlx::FromRow)]
struct LoggedEvent {
    global_position: i64,
    hash: Vec<u8>,
    account_id: Option<String>,
}

#[derive(sqlx::FromRow)]
struct LoggedLeaf {
    global_position: i64,
    hash: Vec<u8>,
}

/// A leaf of the log as the events make it.
fn leaf(hash: &[u8]) -> Hash {
    // A hash of another length cannot be genuine: it makes a leaf no tree has.
    Hash::try_from(hash).map_or([0; 32], |hash| leaf_hash(&hash))
}

/// A leaf as the stored log keeps it (the leaf hash itself).
fn kept_leaf(hash: &[u8]) -> Hash {
    Hash::try_from(hash).unwrap_or([0; 32])
}

/// The first place where the events and the stored log differ.
#[derive(Debug, Clone, Copy)]
struct Parting {
    leaf_index: u64,
    /// The event the store has there, when it is one to name.
    found: Option<i64>,
    /// The event the stored log has there, when it is one to name.
    logged: Option<i64>,
}

/// Compares the history with `heads` (tree heads whose signatures hold, oldest
/// first); counts and names only `account`'s events when given.
pub async fn compare(
    pool: &PgPool,
    heads: &[TreeHead],
    account: Option<Uuid>,
    report: &mut CheckpointReport,
) -> sqlx::Result<()> {
    let Some(newest) = heads.last() else {
        return Ok(());
    };
    report.compared_with = Some(CheckpointSummary {
        checkpoint: newest.checkpoint,
        key_id: newest.key_id.clone(),
        at: newest.at,
        tree_size: Some(newest.tree_size),
        root_hash: Some(newest.root_hash.clone()),
        transaction_id: None,
        global_position: None,
    });
    for pair in heads.windows(2) {
        if pair[1].tree_size < pair[0].tree_size {
            report.problems.push(CheckpointProblem::LogShrank {
                checkpoint: pair[1].checkpoint,
                tree_size: pair[1].tree_size,
                previous_checkpoint: pair[0].checkpoint,
                previous_size: pair[0].tree_size,
            });
        }
    }
    let mut by_size: Vec<&TreeHead> = heads.iter().collect();
    by_size.sort_by_key(|h| h.tree_size);
    let largest = by_size.last().map_or(0, |h| h.tree_size);
    let mut by_size = by_size.into_iter().peekable();
    let only = account.map(|id| id.to_string());
    let ours = |event: &LoggedEvent| only.is_none() || event.account_id == only;

    let mut events = sqlx::query_as::<_, LoggedEvent>(
        "SELECT global_position, hash, metadata->>'account_id' AS account_id
           FROM public.events ORDER BY transaction_id, global_position",
    )
    .fetch(pool);
    let mut logged = sqlx::query_as::<_, LoggedLeaf>(
        "SELECT l.global_position, n.hash
           FROM transparency_leaves l
           JOIN transparency_nodes n ON n.level = 0 AND n.node_index = l.leaf_index
          ORDER BY l.leaf_index",
    )
    .fetch(pool);

    let mut rebuilt = Frontier::new();
    let mut stored = Frontier::new();
    let mut parted: Option<Parting> = None;
    loop {
        let index = rebuilt.size();
        while let Some(head) = by_size.next_if(|h| h.tree_size == index) {
            if BASE64.encode(rebuilt.root()) != head.root_hash {
                report.problems.push(differs(head, &stored, parted));
            }
        }
        let Some(event) = events.try_next().await? else {
            break;
        };
        if index >= largest {
            after_count(report, ours(&event));
            continue;
        }
        if ours(&event) {
            report.covered_events += 1;
        }
        let found = leaf(&event.hash);
        let kept = if stored.size() == index {
            logged.try_next().await?
        } else {
            None
        };
        if let Some(kept) = &kept {
            stored.append(kept_leaf(&kept.hash));
        }
        let same = kept.as_ref().is_some_and(|k| {
            k.global_position == event.global_position && kept_leaf(&k.hash) == found
        });
        if parted.is_none() && !same {
            parted = Some(Parting {
                leaf_index: index,
                found: ours(&event).then_some(event.global_position),
                logged: kept
                    .as_ref()
                    .filter(|_| only.is_none())
                    .map(|k| k.global_position),
            });
        }
        rebuilt.append(found);
    }
    // Sizes the store never reached: its newest events are gone. The stored log
    // may still hold them, and name the first.
    for head in by_size {
        while stored.size() < head.tree_size {
            let Some(kept) = logged.try_next().await? else {
                break;
            };
            if parted.is_none() {
                parted = Some(Parting {
                    leaf_index: stored.size(),
                    found: None,
                    logged: only.is_none().then_some(kept.global_position),
                });
            }
            stored.append(kept_leaf(&kept.hash));
        }
        report.problems.push(differs(head, &stored, parted));
    }
    Ok(())
}

fn after_count(report: &mut CheckpointReport, ours: bool) {
    if ours {
        report.events_after += 1;
    }
}

/// The problem for `head`, naming the parting place only when the stored log,
/// read up to the head's size, gives the root it signed: then the stored log is
/// the signed one, and where the events leave it is where they were changed.
fn differs(head: &TreeHead, stored: &Frontier, parted: Option<Parting>) -> CheckpointProblem {
    let genuine = stored.size() == head.tree_size && BASE64.encode(stored.root()) == head.root_hash;
    let parted = parted.filter(|p| genuine && p.leaf_index < head.tree_size);
    CheckpointProblem::LogDiffers {
        checkpoint: head.checkpoint,
        tree_size: head.tree_size,
        leaf_index: parted.map(|p| p.leaf_index),
        global_position: parted.and_then(|p| p.found),
        logged_global_position: parted.and_then(|p| p.logged),
    }
}
