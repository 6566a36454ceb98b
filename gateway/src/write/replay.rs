//! Replaying the event store into a scratch copy of the read models, through the
//! same fold the live projector applies, fed from the store in commit order
//! instead of the stream. `ledger audit` replays the whole store up to the live
//! projector's position; the as-of history queries replay one account as it was
//! at an instant.

use anyhow::{bail, Context as _};
use chrono::{DateTime, Utc};
use ledger_projections::consumer::{project_stored, Target};
use ledger_projections::contract::StoredEvent;
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use super::event_store::{events_after, CommitPosition, Horizon};

/// Which events of the store a replay applies.
#[derive(Debug, Clone, Copy)]
pub enum Until {
    /// Every settled event up to this position in commit order, which the store
    /// must reach (the live read models claim it).
    Position(CommitPosition),
    /// Every visible event recorded by this instant.
    RecordedBy(DateTime<Utc>),
}

/// A replay: where to, whose events, how far.
#[derive(Debug, Clone, Copy)]
pub struct Replay<'a> {
    /// The scratch schema and its checkpoint row.
    pub target: Target<'a>,
    /// Only this account's events, when given.
    pub account: Option<Uuid>,
    /// How far.
    pub until: Until,
    /// Events read and applied per round.
    pub batch_size: usize,
}

impl Replay<'_> {
    /// Applies the store's events after `replayed` within `tx`, moving `replayed`
    /// past each batch; returns how many were applied.
    pub async fn run(
        &self,
        tx: &mut Transaction<'_, Postgres>,
        replayed: &mut CommitPosition,
    ) -> anyhow::Result<u64> {
        let horizon = match self.until {
            Until::Position(_) => Horizon::Settled,
            Until::RecordedBy(_) => Horizon::Visible,
        };
        let mut applied = 0;
        loop {
            if let Until::Position(until) = self.until {
                if *replayed >= until {
                    return Ok(applied);
                }
            }
            let batch = events_after(tx, *replayed, self.batch_size, horizon, self.account, None)
                .await
                .context("reading the event store")?;
            let full = batch.events.len() == self.batch_size;
            let read_to = batch.events.last().map(CommitPosition::from);
            let events: Vec<StoredEvent> = match self.until {
                Until::Position(until) => batch
                    .events
                    .into_iter()
                    .take_while(|event| CommitPosition::from(event) <= until)
                    .collect(),
                Until::RecordedBy(as_of) => batch
                    .events
                    .into_iter()
                    .filter(|event| event.recorded_at <= as_of)
                    .collect(),
            };
            match (self.until, read_to) {
                (Until::Position(until), _) => {
                    let Some(last) = events.last() else {
                        bail!(
                            "the live read models claim events the store does not have \
                             (up to {until:?})"
                        );
                    };
                    *replayed = CommitPosition::from(last);
                }
                (Until::RecordedBy(_), Some(read_to)) => *replayed = read_to,
                (Until::RecordedBy(_), None) => return Ok(applied),
            }
            project_stored(tx, self.target, &events).await?;
            applied += events.len() as u64;
            if !full && matches!(self.until, Until::RecordedBy(_)) {
                return Ok(applied);
            }
        }
    }
}
