//! A worked example of an analytics consumer of the ledger's event stream, as the
//! README's "For analytics consumers" section describes it: its own durable pull
//! consumer, filtered to one account's subjects, starting from the beginning, from
//! a time, or after a global position, and idempotent on redelivery.
//!
//! Idempotence: JetStream delivers at least once, so a message may come twice (a
//! lost ack, a restart). Every event is identified by `Ledger-Aggregate-Id` +
//! `Ledger-Sequence` (also its `Nats-Msg-Id`), and a stream's sequences arrive in
//! order, so remembering the last sequence applied per aggregate makes a
//! redelivery a no-op. A real consumer stores that next to its own results, in the
//! same transaction.
//!
//! Starting after a global position: the stream is in commit order, which global
//! positions follow only roughly (concurrent transactions commit out of position
//! order), so "after position P" means "after P's message". The example starts a
//! few seconds before P was recorded (`ByStartTime`: a message is published after
//! its event committed) and skips up to and including P's message.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{bail, Context as _};
use async_nats::jetstream::consumer::{pull, AckPolicy, DeliverPolicy};
use async_nats::jetstream::{self, AckKind};
use chrono::{DateTime, Utc};
use futures::StreamExt as _;

/// Where the consumer starts.
#[derive(Debug, Clone, Copy)]
pub enum Start {
    /// The first event of the stream.
    Beginning,
    /// The first event published at or after this instant.
    Time(DateTime<Utc>),
    /// The event after the one at this global position, recorded at `recorded_at`.
    After {
        /// Its `Ledger-Global-Position`.
        global_position: i64,
        /// Its `recorded_at` (from the history API or the export).
        recorded_at: DateTime<Utc>,
    },
}

/// What a consumer reads: a durable consumer on one stream, filtered to subjects.
#[derive(Debug, Clone)]
pub struct Subscription {
    /// The stream (`stream_name`).
    pub stream: String,
    /// The durable consumer's name: the broker remembers its position.
    pub name: String,
    /// The subject filter, e.g. `<prefix>.<account>.>` for one account.
    pub subject: String,
    /// Where it starts.
    pub start: Start,
}

/// One event as the example keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// `Ledger-Event-Type`.
    pub event_type: String,
    /// `Ledger-Aggregate-Id`.
    pub aggregate_id: String,
    /// `Ledger-Sequence`.
    pub sequence: i64,
    /// `Ledger-Global-Position`.
    pub global_position: i64,
}

/// The example consumer's state: what it applied, and the last sequence per
/// aggregate that makes redeliveries no-ops.
#[derive(Debug, Default)]
pub struct Consumer {
    /// Events applied, in the order applied.
    pub applied: Vec<Seen>,
    /// Redeliveries recognised and skipped.
    pub duplicates: usize,
    last_sequence: HashMap<String, i64>,
}

fn header<'m>(message: &'m jetstream::Message, name: &str) -> anyhow::Result<&'m str> {
    message
        .headers
        .as_ref()
        .and_then(|headers| headers.get(name))
        .map(|value| value.as_str())
        .with_context(|| format!("message without {name}"))
}

fn seen(message: &jetstream::Message) -> anyhow::Result<Seen> {
    Ok(Seen {
        event_type: header(message, "Ledger-Event-Type")?.to_owned(),
        aggregate_id: header(message, "Ledger-Aggregate-Id")?.to_owned(),
        sequence: header(message, "Ledger-Sequence")?.parse()?,
        global_position: header(message, "Ledger-Global-Position")?.parse()?,
    })
}

impl Consumer {
    /// Applies `event` once: a redelivery (a sequence at or below the last one of
    /// its aggregate) changes nothing.
    pub fn apply(&mut self, event: Seen) -> bool {
        let last = self
            .last_sequence
            .entry(event.aggregate_id.clone())
            .or_default();
        if event.sequence <= *last {
            self.duplicates += 1;
            return false;
        }
        *last = event.sequence;
        self.applied.push(event);
        true
    }

    /// Reads `subscription` until `count` events are applied. With
    /// `redeliver_first`, the first message is not acked but nak'ed once, so it
    /// comes again — as after a consumer crash — and must not count twice.
    pub async fn run(
        &mut self,
        js: &jetstream::Context,
        subscription: &Subscription,
        count: usize,
        redeliver_first: bool,
    ) -> anyhow::Result<()> {
        let deliver_policy = match subscription.start {
            Start::Beginning => DeliverPolicy::All,
            Start::Time(at) => DeliverPolicy::ByStartTime { start_time: at },
            Start::After { recorded_at, .. } => DeliverPolicy::ByStartTime {
                start_time: recorded_at - chrono::Duration::seconds(5),
            },
        };
        // Straight to the consumer, without reading the stream's info first: a user
        // limited to one account's events may not read it (deploy/nats/accounts.conf).
        let consumer = js
            .create_consumer_on_stream(
                pull::Config {
                    durable_name: Some(subscription.name.clone()),
                    filter_subject: subscription.subject.clone(),
                    deliver_policy,
                    ack_policy: AckPolicy::Explicit,
                    ack_wait: Duration::from_secs(30),
                    ..Default::default()
                },
                &subscription.stream,
            )
            .await?;
        let mut messages = consumer.messages().await?;
        let mut skipping_to = match subscription.start {
            Start::After {
                global_position, ..
            } => Some(global_position),
            _ => None,
        };
        let mut nak_pending = redeliver_first;
        // Until the nak'ed message is back (it may come after the others).
        let mut awaiting_redelivery = redeliver_first;
        while self.applied.len() < count || awaiting_redelivery {
            let Some(message) = tokio::time::timeout(Duration::from_secs(10), messages.next())
                .await
                .context("no message within 10 s")?
            else {
                bail!("the stream ended");
            };
            let message = message.map_err(|e| anyhow::anyhow!("receiving: {e}"))?;
            let event = seen(&message)?;
            if nak_pending {
                nak_pending = false;
                message
                    .ack_with(AckKind::Nak(None))
                    .await
                    .map_err(|e| anyhow::anyhow!("nak: {e}"))?;
                // Applied, then "crashed" before the ack: the redelivery must be a no-op.
                if skipping_to.is_none() {
                    self.apply(event);
                }
                continue;
            }
            if let Some(position) = skipping_to {
                if event.global_position == position {
                    skipping_to = None;
                }
            } else if !self.apply(event) {
                awaiting_redelivery = false;
            }
            message
                .ack()
                .await
                .map_err(|e| anyhow::anyhow!("ack: {e}"))?;
        }
        Ok(())
    }
}
