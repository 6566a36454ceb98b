//! Tamper evidence (DESIGN.md decision 8): checking the event store's hash chains.
//!
//! Every event's hash covers its content and the previous event's hash in its
//! stream (the database computes it on insert; see the migration). Verifying walks
//! every stream in sequence order, recomputing each hash from the stored bytes
//! ([`chain`]): an altered event breaks its own link, a removed one leaves a gap,
//! reordered ones break theirs. The first bad event — the earliest by global
//! position — is named. Signed [`checkpoint`]s over every stream head catch what
//! the chains cannot: an event inserted whole.

pub mod audit;
pub mod chain;
pub mod checkpoint;
pub mod offline;
pub mod summary;
pub mod tree;
pub mod witness;
pub mod witness_run;

use futures::TryStreamExt as _;
use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

use chain::{Break, ChainedEvent, StreamWalk};
use checkpoint::{verify_checkpoints, CheckpointReport, CheckpointStatus};
use ledger_domain::keys::Keyring;

/// The chains and the checkpoints, checked together.
#[derive(Debug, Clone)]
pub struct HistoryReport {
    /// The hash chains.
    pub chains: ChainReport,
    /// The signed checkpoints.
    pub checkpoint: CheckpointReport,
}

impl HistoryReport {
    /// Every chain links and no checkpoint disagrees (there may be none).
    pub fn intact(&self) -> bool {
        self.chains.breaks.is_empty() && self.checkpoint.status != CheckpointStatus::Tampered
    }
}

/// Checks the chains and the checkpoints (with `keys`) of the whole store, or of
/// `account`'s streams.
pub async fn verify_history(
    pool: &PgPool,
    keys: &Keyring,
    account: Option<Uuid>,
) -> sqlx::Result<HistoryReport> {
    let chains = verify_chains(pool, account).await?;
    let checkpoint = verify_checkpoints(pool, keys, account).await?;
    Ok(HistoryReport { chains, checkpoint })
}

/// A break, with the stream it is in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct StreamBreak {
    /// e.g. `License`.
    pub aggregate_type: String,
    /// The stream.
    pub aggregate_id: String,
    /// The event's sequence.
    pub sequence: i64,
    /// What is wrong.
    #[serde(flatten)]
    pub found: Break,
}

impl StreamBreak {
    /// The global position of the event named.
    pub fn global_position(&self) -> i64 {
        match self.found {
            Break::HashMismatch { global_position }
            | Break::Missing {
                global_position, ..
            } => global_position,
        }
    }
}

/// What verifying the chains found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ChainReport {
    /// Events checked.
    pub events: u64,
    /// Streams checked.
    pub streams: u64,
    /// Every break, stream by stream.
    pub breaks: Vec<StreamBreak>,
}

impl ChainReport {
    /// The earliest bad event by global position.
    pub fn first_break(&self) -> Option<&StreamBreak> {
        self.breaks.iter().min_by_key(|b| b.global_position())
    }
}

/// Walks every stream of the store, or of `account`, and checks every link.
pub async fn verify_chains(pool: &PgPool, account: Option<Uuid>) -> sqlx::Result<ChainReport> {
    let account_filter = match account {
        Some(_) => "metadata->>'account_id' = $1",
        None => "$1::text IS NULL",
    };
    let sql = format!(
        "SELECT aggregate_type, aggregate_id, sequence, event_type, event_version,
                payload::text AS payload, metadata::text AS metadata, global_position,
                recorded_at, hash
           FROM public.events WHERE {account_filter}
          ORDER BY aggregate_type, aggregate_id, sequence"
    );
    let mut rows = sqlx::query_as::<_, ChainedEvent>(&sql)
        .bind(account.map(|id| id.to_string()))
        .fetch(pool);
    let mut report = ChainReport::default();
    let mut current: Option<(String, String)> = None;
    let mut walk = StreamWalk::new();
    while let Some(event) = rows.try_next().await? {
        let stream = (event.aggregate_type.clone(), event.aggregate_id.clone());
        if current.as_ref() != Some(&stream) {
            current = Some(stream);
            walk = StreamWalk::new();
            report.streams += 1;
        }
        report.events += 1;
        if let Some(found) = walk.step(&event) {
            report.breaks.push(StreamBreak {
                aggregate_type: event.aggregate_type,
                aggregate_id: event.aggregate_id,
                sequence: event.sequence,
                found,
            });
        }
    }
    Ok(report)
}
