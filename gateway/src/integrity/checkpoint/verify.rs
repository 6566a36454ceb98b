//! Checking the store against its signed checkpoints: every checkpoint's
//! signature, then every stream head at the newest valid checkpoint's cut,
//! recomputed from the events, against the digests it signed. A difference is
//! named down to the stream — and the first event past the signed head — with the
//! heads the checkpoints carry (trusted only once they reproduce a signed digest).
//!
//! Events after the newest checkpoint's cut are covered by their hash chains only.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use ledger_domain::license_file::Keyring;
use serde::Serialize;
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use super::canonical::{summarize, AccountDigest, Head, SignatureProblem, SignedCheckpoint};
use super::store;
use crate::event_store::CommitPosition;

/// What the checkpoints say about the history checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CheckpointStatus {
    /// The newest checkpoint's signature holds and every stream head at its cut is
    /// the one it signed.
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
    /// The cut: every event up to this commit position is covered.
    pub transaction_id: i64,
    /// The cut's global position.
    pub global_position: i64,
    /// When it was taken.
    pub at: DateTime<Utc>,
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
    /// Events at or before its cut: covered by its signature.
    pub covered_events: u64,
    /// Streams at its cut.
    pub covered_streams: u64,
    /// Events after its cut (all, with no checkpoint): covered by their chains only.
    pub events_after: u64,
    /// The first problem: the earliest event named, else the first found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_problem: Option<CheckpointProblem>,
    /// Every problem.
    pub problems: Vec<CheckpointProblem>,
}

/// Checks the checkpoints' signatures with `keyring`, and the heads at the newest
/// valid one's cut — every account's, or `account`'s only.
pub async fn verify_checkpoints(
    connection: &mut PgConnection,
    keyring: &Keyring,
    account: Option<Uuid>,
) -> sqlx::Result<CheckpointReport> {
    let stored = store::checkpoints(connection, false).await?;
    let mut report = CheckpointReport {
        status: CheckpointStatus::NoCheckpoint,
        checkpoints: stored.len() as u64,
        compared_with: None,
        covered_events: 0,
        covered_streams: 0,
        events_after: 0,
        first_problem: None,
        problems: Vec::new(),
    };
    if stored.is_empty() || keyring.keys().is_empty() {
        report.events_after =
            store::count_events(connection, CommitPosition::default(), false, account).await?;
        if !stored.is_empty() {
            report.status = CheckpointStatus::NoKey;
        }
        return Ok(report);
    }
    let mut parsed = Vec::with_capacity(stored.len());
    let mut newest = None;
    for (expected, checkpoint) in (1..).zip(&stored) {
        let Some(checkpoint) = check_one(expected, checkpoint, keyring, &mut report.problems)
        else {
            continue;
        };
        if checkpoint.1 {
            newest = Some(parsed.len());
        }
        parsed.push(checkpoint.0);
    }
    if let Some(newest) = newest {
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
            store::count_events(connection, CommitPosition::default(), false, account).await?;
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
) -> Option<(SignedCheckpoint, bool)> {
    let mut malformed = |reason: String| {
        problems.push(CheckpointProblem::Malformed {
            checkpoint: stored.sequence,
            reason,
        })
    };
    let parsed = match stored.parse() {
        Ok(parsed) => parsed,
        Err(error) => {
            malformed(error.to_string());
            return None;
        }
    };
    if parsed.body.checkpoint != stored.sequence {
        malformed(format!(
            "it says it is checkpoint {}",
            parsed.body.checkpoint
        ));
        return None;
    }
    if stored.sequence != expected {
        malformed(format!("checkpoint {expected} is missing before it"));
    }
    let problem = match parsed.check_signature(keyring) {
        Ok(()) => return Some((parsed, true)),
        Err(SignatureProblem::UnknownKey) => CheckpointProblem::UnknownKey {
            checkpoint: stored.sequence,
            key_id: parsed.key_id.clone(),
        },
        Err(SignatureProblem::Mismatch) => CheckpointProblem::BadSignature {
            checkpoint: stored.sequence,
        },
    };
    problems.push(problem);
    Some((parsed, false))
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
        transaction_id: body.transaction_id,
        global_position: body.global_position,
        at: body.at,
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
    report.covered_streams = found.values().map(|heads| heads.len() as u64).sum();
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
