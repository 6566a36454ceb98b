//! What the store, the stream and the read models hold, and the check that they
//! agree exactly once: the proof of every test that kills something.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use anyhow::bail;
use async_nats::jetstream::{self, message::StreamMessage};
use ledger_domain::{License, LicenseEvent};
use serde_json::Value;
use sqlx::PgPool;

use crate::*;

/// A row of the event store.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredRow {
    /// Aggregate type: `License`, `ServerUsage`, `IntegrityCheckpoint`.
    pub aggregate_type: String,
    /// Aggregate id.
    pub aggregate_id: String,
    /// Sequence in the aggregate.
    pub sequence: i64,
    /// Event name.
    pub event_type: String,
    /// Stored payload (`{"Name": body}`).
    pub payload: Value,
    /// Global position.
    pub global_position: i64,
}

/// Every event in the store, in global order.
pub async fn stored_events(pool: &PgPool) -> Vec<StoredRow> {
    sqlx::query_as(
        "SELECT aggregate_type, aggregate_id, sequence, event_type, payload, global_position
           FROM events ORDER BY global_position",
    )
    .fetch_all(pool)
    .await
    .expect("reading the event store")
}

/// A header of a stream message as text (panics if absent: the contract requires it).
pub fn header(message: &StreamMessage, name: &str) -> String {
    message
        .headers
        .get(name)
        .unwrap_or_else(|| panic!("message without {name}"))
        .to_string()
}

/// A numeric header of a stream message.
pub fn header_number(message: &StreamMessage, name: &str) -> i64 {
    header(message, name)
        .parse()
        .unwrap_or_else(|_| panic!("{name} is not a number"))
}

/// Every message in the stream, in stream order.
pub async fn stream_messages(js: &jetstream::Context, stream: &str) -> Vec<StreamMessage> {
    let mut stream = js.get_stream(stream).await.expect("opening the stream");
    let last = stream
        .info()
        .await
        .expect("stream info")
        .state
        .last_sequence;
    let mut messages = Vec::new();
    for sequence in 1..=last {
        messages.push(
            stream
                .get_raw_message(sequence)
                .await
                .expect("reading a message"),
        );
    }
    messages
}

/// Waits until the stream holds every stored event and the projector has applied
/// the whole stream.
pub async fn wait_until_projected(env: &TestEnv, timeout: Duration) -> anyhow::Result<()> {
    let pool = env.pool().await;
    let js = env.jetstream().await;
    let started = tokio::time::Instant::now();
    loop {
        let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
            .fetch_one(&pool)
            .await?;
        let applied: Option<i64> = sqlx::query_scalar(
            "SELECT stream_sequence FROM read_model.checkpoints WHERE projection = 'licenses'",
        )
        .fetch_optional(&pool)
        .await?;
        let streamed = match js.get_stream(&env.stream).await {
            Ok(mut stream) => stream.info().await?.state.messages as i64,
            Err(_) => 0,
        };
        if streamed == stored && applied.unwrap_or(0) >= streamed {
            return Ok(());
        }
        if started.elapsed() > timeout {
            bail!("not caught up: stored {stored}, streamed {streamed}, applied {applied:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The store and the stream read at a moment when they hold as many events.
/// A ledger that is still running may commit an event (an integrity checkpoint
/// on its timer) between the wait and the reads; that is in flight, not lost, so
/// the reads are repeated until they agree in number or a minute has passed, and
/// the caller's comparison then tells what differs.
async fn settled_store_and_stream(
    env: &TestEnv,
    pool: &PgPool,
) -> (Vec<StoredRow>, Vec<StreamMessage>) {
    let started = tokio::time::Instant::now();
    loop {
        wait_until_projected(env, Duration::from_secs(60))
            .await
            .unwrap();
        let stored = stored_events(pool).await;
        let messages = stream_messages(&env.jetstream().await, &env.stream).await;
        if stored.len() == messages.len() || started.elapsed() > Duration::from_secs(60) {
            return (stored, messages);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Checks the stream and the read model against the event store: every stored
/// event streamed exactly once, per-stream order, no message set aside, and each
/// license row equal to the fold of its events through the domain.
pub async fn assert_exactly_once_everywhere(env: &TestEnv) {
    let pool = env.pool().await;
    let (stored, messages) = settled_store_and_stream(env, &pool).await;
    let streamed: Vec<(String, i64)> = messages
        .iter()
        .map(|m| {
            (
                header(m, "Ledger-Aggregate-Id"),
                header_number(m, "Ledger-Sequence"),
            )
        })
        .collect();
    let unique: HashSet<&(String, i64)> = streamed.iter().collect();
    assert_eq!(unique.len(), streamed.len(), "an event was streamed twice");
    let stored_keys: HashSet<(String, i64)> = stored
        .iter()
        .map(|row| (row.aggregate_id.clone(), row.sequence))
        .collect();
    let streamed_keys: HashSet<(String, i64)> = streamed.iter().cloned().collect();
    let only_stored: Vec<_> = stored_keys.difference(&streamed_keys).collect();
    let only_streamed: Vec<_> = streamed_keys.difference(&stored_keys).collect();
    assert!(
        only_stored.is_empty() && only_streamed.is_empty(),
        "stream and store hold different events: stored, not streamed {only_stored:?}; \
         streamed, not stored {only_streamed:?}"
    );
    let mut last_per_license: BTreeMap<&str, i64> = BTreeMap::new();
    for (id, sequence) in &streamed {
        let last = last_per_license.entry(id.as_str()).or_default();
        assert_eq!(
            *sequence,
            *last + 1,
            "stream {id} out of order in the stream"
        );
        *last = *sequence;
    }

    // Usage reports and checkpoints have streams of their own, not license rows.
    let mut by_license: BTreeMap<String, Vec<&StoredRow>> = BTreeMap::new();
    for row in stored.iter().filter(|row| row.aggregate_type == "License") {
        by_license
            .entry(row.aggregate_id.clone())
            .or_default()
            .push(row);
    }
    let rows: Vec<(uuid::Uuid, i32, i32, i64)> = sqlx::query_as(
        "SELECT license_id, quantity, allocated, last_sequence FROM read_model.licenses",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        rows.len(),
        by_license.len(),
        "one read-model row per license"
    );
    for (license_id, quantity, allocated, last_sequence) in rows {
        let events: Vec<LicenseEvent> = by_license[&license_id.to_string()]
            .iter()
            .map(|row| serde_json::from_value(row.payload.clone()).unwrap())
            .collect();
        let folded = License::replay(&events);
        let state = folded.state().unwrap();
        assert_eq!(quantity as u32, state.terms.quantity);
        assert_eq!(allocated as u32, state.allocated(), "license {license_id}");
        assert_eq!(last_sequence, events.len() as i64);
    }
    let rejected: i64 = sqlx::query_scalar("SELECT count(*) FROM read_model.rejected_messages")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(rejected, 0, "no message was set aside");
}
