//! Group commit: the events of concurrent commands appended by one statement in
//! one transaction, so they share one round trip and one flush of the write-ahead
//! log instead of paying for one each.
//!
//! Commands hand their new events to a single writer task and wait for its answer.
//! The writer takes whatever has queued while the previous statement ran (up to
//! [`MAX_GROUP`] commands) and inserts all of their events with one
//! `INSERT … SELECT FROM unnest(…)`, which answers every event's global position,
//! so a command learns its position without reading it back. The statement is
//! its own transaction: all of it is recorded or none of it.
//!
//! One command's failure must not fail the others. A command conflicts when
//! another process appended to its stream first (a duplicate
//! `(aggregate_type, aggregate_id, sequence)`), and that fails the whole statement.
//! The writer then appends the group's commands one at a time, so each gets its
//! own outcome: the conflicting one is told so and retries on fresh state, the
//! others are recorded. Commands of one process never conflict with each other
//! (they take turns per stream, see [`super::turns`]), so this path is taken only
//! when several gateways write to the same license at once.

use sqlx::PgPool;
use tokio::sync::{mpsc, oneshot};

use crate::metrics::CommandMetrics;

/// Most commands appended together.
pub const MAX_GROUP: usize = 256;
/// Commands waiting for the writer before new ones wait to hand over.
const QUEUE: usize = 4 * MAX_GROUP;

/// An event to append: its stream, its place there and its stored form.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// Aggregate type.
    pub aggregate_type: &'static str,
    /// Aggregate id.
    pub aggregate_id: String,
    /// Its sequence in the stream (the last stored one's plus one).
    pub sequence: i64,
    /// Event name.
    pub event_type: String,
    /// Event version.
    pub event_version: String,
    /// The event.
    pub payload: serde_json::Value,
    /// Who and what caused it.
    pub metadata: serde_json::Value,
}

/// Why an append recorded nothing.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    /// Another writer appended to the stream first.
    #[error("another writer appended to the stream first")]
    Conflict,
    /// The store failed, or the writer is gone; nothing is known to be recorded.
    #[error("appending to the event store failed")]
    Store(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// One command's append and where its answer goes.
struct Request {
    events: Vec<NewEvent>,
    answer: oneshot::Sender<Result<Vec<i64>, AppendError>>,
}

/// Hands events to the writer task; cheap to clone. The writer stops when the
/// last handle is dropped.
#[derive(Clone)]
pub struct Appender {
    requests: mpsc::Sender<Request>,
}

impl Appender {
    /// Starts the writer on `pool`, counting group sizes into `metrics`.
    pub fn start(pool: PgPool, metrics: CommandMetrics) -> Self {
        let (requests, queue) = mpsc::channel(QUEUE);
        tokio::spawn(write_groups(pool, queue, metrics));
        Self { requests }
    }

    /// Appends `events` (one command's, at least one) as one unit; answers each
    /// event's global position, in order.
    pub async fn append(&self, events: Vec<NewEvent>) -> Result<Vec<i64>, AppendError> {
        let (answer, answered) = oneshot::channel();
        self.requests
            .send(Request { events, answer })
            .await
            .map_err(|_| gone())?;
        answered.await.map_err(|_| gone())?
    }
}

fn gone() -> AppendError {
    AppendError::Store("the event store's writer has stopped".into())
}

async fn write_groups(pool: PgPool, mut queue: mpsc::Receiver<Request>, metrics: CommandMetrics) {
    let mut group = Vec::with_capacity(MAX_GROUP);
    while queue.recv_many(&mut group, MAX_GROUP).await > 0 {
        metrics.grouped(group.len());
        write_group(&pool, std::mem::take(&mut group)).await;
    }
}

/// All of `requests` in one statement; one at a time if that fails and there
/// was more than one.
async fn write_group(pool: &PgPool, mut requests: Vec<Request>) {
    if requests.len() == 1 {
        if let Some(request) = requests.pop() {
            let outcome = insert(pool, &request.events).await;
            let _ = request.answer.send(outcome);
        }
        return;
    }
    let events: Vec<NewEvent> = requests
        .iter()
        .flat_map(|request| request.events.iter().cloned())
        .collect();
    match insert(pool, &events).await {
        Ok(positions) => {
            let mut positions = positions.into_iter();
            for request in requests {
                let own: Vec<i64> = positions.by_ref().take(request.events.len()).collect();
                let _ = request.answer.send(Ok(own));
            }
        }
        Err(error) => {
            tracing::debug!(%error, commands = requests.len(), "group append failed; appending one command at a time");
            for request in requests {
                let outcome = insert(pool, &request.events).await;
                let _ = request.answer.send(outcome);
            }
        }
    }
}

/// Inserts `events` in one statement, in order; answers their global positions.
async fn insert(pool: &PgPool, events: &[NewEvent]) -> Result<Vec<i64>, AppendError> {
    let column = |value: fn(&NewEvent) -> String| events.iter().map(value).collect::<Vec<_>>();
    // The positions come back in insertion order, which is the order given: the
    // SELECT is ordered by each row's place in the arrays.
    let rows: Vec<(i64,)> = sqlx::query_as(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type,
                             event_version, payload, metadata)
         SELECT aggregate_type, aggregate_id, sequence, event_type, event_version,
                payload::jsonb::json, metadata::jsonb::json
           FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[],
                       $6::text[], $7::text[])
                WITH ORDINALITY AS e(aggregate_type, aggregate_id, sequence, event_type,
                                     event_version, payload, metadata, place)
          ORDER BY place
         RETURNING global_position",
    )
    .bind(column(|e| e.aggregate_type.to_owned()))
    .bind(column(|e| e.aggregate_id.clone()))
    .bind(events.iter().map(|e| e.sequence).collect::<Vec<_>>())
    .bind(column(|e| e.event_type.clone()))
    .bind(column(|e| e.event_version.clone()))
    .bind(column(|e| e.payload.to_string()))
    .bind(column(|e| e.metadata.to_string()))
    .fetch_all(pool)
    .await
    .map_err(|error| match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() => AppendError::Conflict,
        _ => AppendError::Store(error.into()),
    })?;
    let mut positions: Vec<i64> = rows.into_iter().map(|(position,)| position).collect();
    // Identity values are drawn in insertion order, so sorting restores it should
    // RETURNING ever answer in another order.
    positions.sort_unstable();
    Ok(positions)
}
