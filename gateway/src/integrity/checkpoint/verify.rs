//! Checking the store against its signed checkpoints: every checkpoint's
//! signature, then the history against the newest valid one.
//!
//! - A tree head (version 2): the transparency log recomputed from the events in
//!   commit order must give every signed root ([`super::verify_tree`]).
//! - Stream heads (version 1, when no tree head holds yet): every stream head at
//!   its cut, recomputed from the events, against the digests it signed. A
//!   difference is named down to the stream — and the first event past the signed
//!   head — with the heads the checkpoints carry (trusted only once they reproduce
//!   a signed digest).
//!
//! Events after the newest checkpoint are covered by their hash chains only.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use ledger_domain::keys::Keyring;
use serde::Serialize;
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use super::canonical::{summarize, AccountDigest, Head, SignatureProblem, SignedCheckpoint};
use super::store::{self, AnyCheckpoint};
use super::tree_head::{HeadProblem, TreeHead};
use crate::write::event_store::CommitPosition;

/// What the checkpoints say about the history checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CheckpointStatus {
    /// The newest checkpoint's signature holds and the history is what it signed
    /// (the log's root, or for version 1 every stream head at its cut).
    Verified,
    /// A checkpoint is forged or the events disagree with one: see `problems`.
    Tampered,
    /// No checkpoint has been written yet: only the chains were checked.
    NoCheckpoint,
    /// Checkpoints exist but no checkpoint key is configured to check them.
    NoKey,
}

/// The checkpoint the history was compared with.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CheckpointSummary {
    /// Its number (its sequence in the checkpoint stream).
    pub checkpoint: i64,
    /// The key that signed it.
    pub key_id: String,
    /// When it was taken.
    pub at: DateTime<Utc>,
    /// A tree head: the log's size it signed (the first `tree_size` events in
    /// commit order).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tree_size: Option<u64>,
    /// A tree head: the root it signed (base64).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub root_hash: Option<String>,
    /// Version 1: the cut, every event up to this commit position.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<i64>,
    /// Version 1: the cut's global position.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub global_position: Option<i64>,
}

/// Something a checkpoint and the events disagree on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum CheckpointProblem {
    /// The checkpoint names a key no configured key has: forged, or the key's
    /// public half was removed from `checkpoint_signing_keys`.
    UnknownKey {
        /// The checkpoint.
        checkpoint: i64,
        /// The key it names.
        key_id: String,
    },
    /// The signature does not hold over the checkpoint's content: forged or altered.
    BadSignature {
        /// The checkpoint.
        checkpoint: i64,
    },
    /// The stored checkpoint is not a checkpoint, or its number is not its place.
    Malformed {
        /// Its sequence in the checkpoint stream.
        checkpoint: i64,
        /// What is wrong.
        reason: String,
    },
    /// The events in commit order do not make the log the checkpoint signed: an
    /// event was altered, removed, inserted or moved at or before `leaf_index`, or
    /// the newest were cut off (`global_position` absent: the store ends there).
    LogDiffers {
        /// The checkpoint.
        checkpoint: i64,
        /// The log's size it signed.
        tree_size: u64,
        /// The first place where the store's events and the stored log differ,
        /// when the stored log still gives the signed root (else unknown).
        #[serde(skip_serializing_if = "Option::is_none")]
        leaf_index: Option<u64>,
        /// The event the store has there (one of the account's, when checking an
        /// account; absent when the store ends there or it is another's).
        #[serde(skip_serializing_if = "Option::is_none")]
        global_position: Option<i64>,
        /// The event the signed log has there (same rule).
        #[serde(skip_serializing_if = "Option::is_none")]
        logged_global_position: Option<i64>,
    },
    /// A checkpoint signs a smaller log than an earlier one: the log must only grow.
    LogShrank {
        /// The checkpoint.
        checkpoint: i64,
        /// The size it signed.
        tree_size: u64,
        /// The earlier checkpoint.
        previous_checkpoint: i64,
        /// The size that one signed.
        previous_size: u64,
    },
    /// A stream's last event at the cut is not the one signed: events were added
    /// at or before the cut (found > signed), removed (found < signed), or the
    /// stream was rewritten (same sequence, another hash).
    HeadDiffers {
        /// The checkpoint.
        checkpoint: i64,
        /// The stream's account.
        account_id: String,
        /// e.g. `License`.
        aggregate_type: String,
        /// The stream.
        aggregate_id: String,
        /// The head sequence signed.
        signed_sequence: i64,
        /// The head sequence found at the cut.
        found_sequence: i64,
        /// The first event not as signed: the one after the signed head, or the
        /// head itself when rewritten or cut short.
        #[serde(skip_serializing_if = "Option::is_none")]
        global_position: Option<i64>,
    },
    /// A stream with events at or before the cut that the checkpoint never saw:
    /// inserted afterwards with a backdated position.
    StreamAdded {
        /// The checkpoint.
        checkpoint: i64,
        /// The stream's account.
        account_id: String,
        /// e.g. `License`.
        aggregate_type: String,
        /// The stream.
        aggregate_id: String,
        /// Its head at the cut.
        found_sequence: i64,
        /// Its first event.
        #[serde(skip_serializing_if = "Option::is_none")]
        global_position: Option<i64>,
    },
    /// A stream signed at the cut whose events are gone.
    StreamMissing {
        /// The checkpoint.
        checkpoint: i64,
        /// The stream's account.
        account_id: String,
        /// e.g. `License`.
        aggregate_type: String,
        /// The stream.
        aggregate_id: String,
        /// The head sequence signed.
        signed_sequence: i64,
    },
    /// The account's heads differ from its signed digest, and the heads stored with
    /// the checkpoints do not reproduce that digest either (the checkpoint stream
    /// was tampered with too), so no single stream can be named.
    AccountDiffers {
        /// The checkpoint.
        checkpoint: i64,
        /// The account.
        account_id: String,
        /// Streams signed.
        signed_streams: u64,
        /// Streams found at the cut.
        found_streams: u64,
    },
}

impl CheckpointProblem {
    /// The global position of the event named, when one is.
    pub fn global_position(&self) -> Option<i64> {
        match self {
            Self::HeadDiffers {
                global_position, ..
            }
            | Self::LogDiffers {
                global_position, ..
            }
            | Self::StreamAdded {
                global_position, ..
            } => *global_position,
            _ => None,
        }
    }
}

/// What checking the checkpoints found.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CheckpointReport {
    /// The verdict.
    pub status: CheckpointStatus,
    /// Checkpoints found (every signature is checked).
    pub checkpoints: u64,
    /// The newest checkpoint whose signature holds, which the events were compared with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compared_with: Option<CheckpointSummary>,
    /// Events it covers (the account's, when checking an account).
    pub covered_events: u64,
    /// Version 1: streams at its cut.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub covered_streams: Option<u64>,
    /// Events after it (all, with no checkpoint): covered by their chains only.
    pub events_after: u64,
    /// The first problem: the earliest event named, else the first found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_problem: Option<CheckpointProblem>,
    /// Every problem.
    pub problems: Vec<CheckpointProblem>,
}

/// Checks the checkpoints' signatures with `keyring`, then the history against
/// the newest valid tree head (the whole log; counts and names for `account`
/// only, when given), else against the newest valid version 1 checkpoint's heads
/// (every account's, or `account`'s only).
pub async fn verify_checkpoints(
    pool: &sqlx::PgPool,
    keyring: &Keyring,
    account: Option<Uuid>,
) -> sqlx::Result<CheckpointReport> {
    // The tree comparison reads the events and the stored log side by side on
    // connections of its own: this one goes back to the pool before it runs.
    let mut held = pool.acquire().await?;
    let stored = store::checkpoints(&mut held, false).await?;
    let mut report = CheckpointReport {
        status: CheckpointStatus::NoCheckpoint,
        checkpoints: stored.len() as u64,
        compared_with: None,
        covered_events: 0,
        covered_streams: None,
        events_after: 0,
        first_problem: None,
        problems: Vec::new(),
    };
    if stored.is_empty() || keyring.keys().is_empty() {
        report.events_after =
            store::count_events(&mut held, CommitPosition::default(), false, account).await?;
        if !stored.is_empty() {
            report.status = CheckpointStatus::NoKey;
        }
        return Ok(report);
    }
    let mut parsed = Vec::with_capacity(stored.len());
    let mut newest = None;
    let mut trees = Vec::new();
    for (expected, checkpoint) in (1..).zip(&stored) {
        match check_one(expected, checkpoint, keyring, &mut report.problems) {
            Some((AnyCheckpoint::Heads(heads), valid)) => {
                if valid {
                    newest = Some(parsed.len());
                }
                parsed.push(heads);
            }
            Some((AnyCheckpoint::Tree(head), true)) => trees.push(head),
            Some((AnyCheckpoint::Tree(_), false)) | None => {}
        }
    }
    if !trees.is_empty() {
        drop(held);
        super::verify_tree::compare(pool, &trees, account, &mut report).await?;
    } else if let Some(newest) = newest {
        let connection = &mut *held;
        // The heads as the checkpoints carry them (each only those that moved),
        // folded in order up to the one compared with.
        let mut signed_heads: BTreeMap<(String, String), Head> = BTreeMap::new();
        for checkpoint in &parsed[..=newest] {
            for head in &checkpoint.heads {
                let stream = (head.aggregate_type.clone(), head.aggregate_id.clone());
                signed_heads.insert(stream, head.clone());
            }
        }
        compare(
            connection,
            &parsed[newest],
            &signed_heads,
            account,
            &mut report,
        )
        .await?;
    } else {
        report.events_after =
            store::count_events(&mut held, CommitPosition::default(), false, account).await?;
    }
    report.status = if report.problems.is_empty() {
        CheckpointStatus::Verified
    } else {
        CheckpointStatus::Tampered
    };
    report.first_problem = report
        .problems
        .iter()
        .filter(|p| p.global_position().is_some())
        .min_by_key(|p| p.global_position())
        .or(report.problems.first())
        .cloned();
    Ok(report)
}

/// Parses one stored checkpoint and checks its place and signature, recording any
/// problem; the checkpoint, and whether its signature holds, unless unreadable.
fn check_one(
    expected: i64,
    stored: &store::StoredCheckpoint,
    keyring: &Keyring,
    problems: &mut Vec<CheckpointProblem>,
) -> Option<(AnyCheckpoint, bool)> {
    let mut malformed = |reason: String| {
        problems.push(CheckpointProblem::Malformed {
            checkpoint: stored.sequence,
            reason,
        })
    };
    let parsed = match stored.parse() {
        Ok(parsed) => parsed,
        Err(error) => {
            malformed(error);
            return None;
        }
    };
    let number = match &parsed {
        AnyCheckpoint::Heads(heads) => heads.body.checkpoint,
        AnyCheckpoint::Tree(head) => head.checkpoint,
    };
    if number != stored.sequence {
        malformed(format!("it says it is checkpoint {number}"));
        return None;
    }
    if stored.sequence != expected {
        malformed(format!("checkpoint {expected} is missing before it"));
    }
    let problem = match &parsed {
        AnyCheckpoint::Heads(heads) => match heads.check_signature(keyring) {
            Ok(()) => None,
            Err(SignatureProblem::UnknownKey) => Some(CheckpointProblem::UnknownKey {
                checkpoint: stored.sequence,
                key_id: heads.key_id.clone(),
            }),
            Err(SignatureProblem::Mismatch) => Some(CheckpointProblem::BadSignature {
                checkpoint: stored.sequence,
            }),
        },
        AnyCheckpoint::Tree(head) => tree_problem(head, keyring),
    };
    let valid = problem.is_none();
    problems.extend(problem);
    Some((parsed, valid))
}

fn tree_problem(head: &TreeHead, keyring: &Keyring) -> Option<CheckpointProblem> {
    match head.check(keyring) {
        Ok(_) => None,
        Err(HeadProblem::UnknownKey) => Some(CheckpointProblem::UnknownKey {
            checkpoint: head.checkpoint,
            key_id: head.key_id.clone(),
        }),
        Err(HeadProblem::Mismatch(_)) => Some(CheckpointProblem::BadSignature {
            checkpoint: head.checkpoint,
        }),
    }
}

/// The heads at `checkpoint`'s cut against what it signed, account by account.
async fn compare(
    connection: &mut PgConnection,
    checkpoint: &SignedCheckpoint,
    signed_heads: &BTreeMap<(String, String), Head>,
    account: Option<Uuid>,
    report: &mut CheckpointReport,
) -> sqlx::Result<()> {
    let body = &checkpoint.body;
    let cut = CommitPosition {
        transaction_id: body.transaction_id,
        global_position: body.global_position,
    };
    report.compared_with = Some(CheckpointSummary {
        checkpoint: body.checkpoint,
        key_id: checkpoint.key_id.clone(),
        at: body.at,
        tree_size: None,
        root_hash: None,
        transaction_id: Some(body.transaction_id),
        global_position: Some(body.global_position),
    });
    report.covered_events = store::count_events(connection, cut, true, account).await?;
    report.events_after = store::count_events(connection, cut, false, account).await?;
    let only = account.map(|id| id.to_string());
    let wanted = |id: &str| only.as_deref().is_none_or(|only| only == id);
    let mut found: BTreeMap<String, Vec<Head>> = BTreeMap::new();
    for positioned in store::heads_at(connection, cut, account).await? {
        found
            .entry(positioned.head.account_id.clone())
            .or_default()
            .push(positioned.head);
    }
    report.covered_streams = Some(found.values().map(|heads| heads.len() as u64).sum());
    let mut signed: BTreeMap<String, &AccountDigest> = BTreeMap::new();
    for entry in body.accounts.iter().filter(|e| wanted(&e.account_id)) {
        signed.insert(entry.account_id.clone(), entry);
    }
    let mut accounts: Vec<&String> = found.keys().chain(signed.keys()).collect();
    accounts.sort();
    accounts.dedup();
    for account_id in accounts {
        let found_heads = found.get(account_id).map(Vec::as_slice).unwrap_or_default();
        let found_entry = summarize(found_heads).0.into_iter().next();
        let signed_entry = signed.get(account_id).copied();
        if found_entry.as_ref() == signed_entry {
            continue;
        }
        let expected: Vec<Head> = signed_heads
            .values()
            .filter(|h| &h.account_id == account_id)
            .cloned()
            .collect();
        if summarize(&expected).0.first() != signed_entry {
            report.problems.push(CheckpointProblem::AccountDiffers {
                checkpoint: body.checkpoint,
                account_id: account_id.clone(),
                signed_streams: signed_entry.map_or(0, |e| e.streams),
                found_streams: found_heads.len() as u64,
            });
            continue;
        }
        name_streams(connection, body.checkpoint, &expected, found_heads, report).await?;
    }
    Ok(())
}

/// Names each stream of one account whose head differs from the signed one.
async fn name_streams(
    connection: &mut PgConnection,
    checkpoint: i64,
    signed: &[Head],
    found: &[Head],
    report: &mut CheckpointReport,
) -> sqlx::Result<()> {
    let key = |h: &Head| (h.aggregate_type.clone(), h.aggregate_id.clone());
    let signed: BTreeMap<_, _> = signed.iter().map(|h| (key(h), h)).collect();
    let found: BTreeMap<_, _> = found.iter().map(|h| (key(h), h)).collect();
    for (stream, head) in &found {
        let problem = match signed.get(stream) {
            Some(expected) if expected == head => continue,
            Some(expected) => {
                // The first event past the signed head, or the head itself.
                let named = if head.sequence > expected.sequence {
                    expected.sequence + 1
                } else {
                    head.sequence
                };
                CheckpointProblem::HeadDiffers {
                    checkpoint,
                    account_id: head.account_id.clone(),
                    aggregate_type: head.aggregate_type.clone(),
                    aggregate_id: head.aggregate_id.clone(),
                    signed_sequence: expected.sequence,
                    found_sequence: head.sequence,
                    global_position: store::position_of(connection, &stream.0, &stream.1, named)
                        .await?,
                }
            }
            None => CheckpointProblem::StreamAdded {
                checkpoint,
                account_id: head.account_id.clone(),
                aggregate_type: head.aggregate_type.clone(),
                aggregate_id: head.aggregate_id.clone(),
                found_sequence: head.sequence,
                global_position: store::first_position(connection, &stream.0, &stream.1).await?,
            },
        };
        report.problems.push(problem);
    }
    for (stream, expected) in &signed {
        if !found.contains_key(stream) {
            report.problems.push(CheckpointProblem::StreamMissing {
                checkpoint,
                account_id: expected.account_id.clone(),
                aggregate_type: expected.aggregate_type.clone(),
                aggregate_id: expected.aggregate_id.clone(),
                signed_sequence: expected.sequence,
            });
        }
    }
    Ok(())
}
