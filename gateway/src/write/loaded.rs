//! A stream read once for a command: its events folded into the aggregate, and
//! the ones an earlier attempt recorded under the command's idempotency key.
//!
//! One read serves both questions a command asks before deciding ("was I already
//! recorded?" and "what is the state?"), because the key travels in every event's
//! metadata.

use cqrs_es::persist::{EventUpcaster, SerializedEvent};
use cqrs_es::Aggregate;
use ledger_projections::contract::metadata;
use sqlx::PgPool;

/// A stored event of the stream, as read.
#[derive(sqlx::FromRow)]
struct Row {
    sequence: i64,
    event_type: String,
    event_version: String,
    payload: serde_json::Value,
    metadata: serde_json::Value,
    global_position: i64,
}

/// A stream as its events leave it.
pub struct Loaded<A: Aggregate> {
    /// The aggregate after every event.
    pub aggregate: A,
    /// The last event's sequence (0 for a new stream).
    pub version: i64,
    /// The events recorded under the key asked about, with the last one's
    /// sequence and global position; none when nothing was.
    pub under_key: Option<(Vec<A::Event>, i64, i64)>,
}

/// Which earlier attempt to look for: an idempotency key and the item of a bulk
/// request (empty for a request of one command).
pub struct KeyItem<'a> {
    /// The key.
    pub key: &'a str,
    /// The item.
    pub item: &'a str,
}

/// Why a stream could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// Reading it failed.
    #[error("reading the stream failed")]
    Read(#[source] sqlx::Error),
    /// A stored event does not fit the aggregate's events (after upcasting).
    #[error("a stored {event_type} event (sequence {sequence}) cannot be read")]
    Undecodable {
        /// Its name.
        event_type: String,
        /// Its place.
        sequence: i64,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
}

/// Reads stream `aggregate_id` of `A` in one statement and folds it, bringing old
/// event versions up to date with `upcasters`.
pub async fn load<A: Aggregate>(
    pool: &PgPool,
    aggregate_id: &str,
    upcasters: &[Box<dyn EventUpcaster>],
    earlier: Option<&KeyItem<'_>>,
) -> Result<Loaded<A>, LoadError> {
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT sequence, event_type, event_version, payload, metadata, global_position
           FROM events WHERE aggregate_type = $1 AND aggregate_id = $2
          ORDER BY sequence",
    )
    .bind(A::TYPE)
    .bind(aggregate_id)
    .fetch_all(pool)
    .await
    .map_err(LoadError::Read)?;
    let mut loaded = Loaded {
        aggregate: A::default(),
        version: 0,
        under_key: None,
    };
    let mut under_key = Vec::new();
    let mut last_under_key = (0, 0);
    for row in rows {
        let recorded_under_key = earlier.is_some_and(|earlier| {
            text_of(&row.metadata, metadata::IDEMPOTENCY_KEY) == Some(earlier.key)
                && text_of(&row.metadata, metadata::IDEMPOTENCY_ITEM).unwrap_or("") == earlier.item
        });
        let (sequence, position) = (row.sequence, row.global_position);
        let event = decode::<A>(aggregate_id, row, upcasters)?;
        if recorded_under_key {
            under_key.push(event.clone());
            last_under_key = (sequence, position);
        }
        loaded.aggregate.apply(event);
        loaded.version = sequence;
    }
    if !under_key.is_empty() {
        loaded.under_key = Some((under_key, last_under_key.0, last_under_key.1));
    }
    Ok(loaded)
}

fn text_of<'a>(metadata: &'a serde_json::Value, name: &str) -> Option<&'a str> {
    metadata.get(name).and_then(serde_json::Value::as_str)
}

fn decode<A: Aggregate>(
    aggregate_id: &str,
    row: Row,
    upcasters: &[Box<dyn EventUpcaster>],
) -> Result<A::Event, LoadError> {
    let mut stored = SerializedEvent {
        aggregate_id: aggregate_id.to_owned(),
        sequence: usize::try_from(row.sequence).unwrap_or_default(),
        aggregate_type: A::TYPE.to_owned(),
        event_type: row.event_type,
        event_version: row.event_version,
        payload: row.payload,
        metadata: serde_json::Value::Null,
    };
    for upcaster in upcasters {
        if upcaster.can_upcast(&stored.event_type, &stored.event_version) {
            stored = upcaster.upcast(stored);
        }
    }
    serde_json::from_value(stored.payload).map_err(|source| LoadError::Undecodable {
        event_type: stored.event_type,
        sequence: row.sequence,
        source,
    })
}
