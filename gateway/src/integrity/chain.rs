//! The event hash chain, recomputed outside the database: the same bytes the
//! `event_hash` SQL function hashes (see the migration that adds it), so an auditor
//! does not have to trust the database's own arithmetic, only its stored bytes.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

/// An event as stored, with the text of its JSON columns exactly as kept.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ChainedEvent {
    /// e.g. `License`.
    pub aggregate_type: String,
    /// The stream within the aggregate type.
    pub aggregate_id: String,
    /// Position in the stream, from 1.
    pub sequence: i64,
    /// Event name.
    pub event_type: String,
    /// Event version.
    pub event_version: String,
    /// The stored payload text.
    pub payload: String,
    /// The stored metadata text.
    pub metadata: String,
    /// Position in the store.
    pub global_position: i64,
    /// When the store recorded it.
    pub recorded_at: DateTime<Utc>,
    /// The stored hash.
    pub hash: Vec<u8>,
}

/// SHA-256 over `previous` and the event's content.
pub fn event_hash(previous: Option<&[u8]>, event: &ChainedEvent) -> Vec<u8> {
    let mut hash = Sha256::new();
    if let Some(previous) = previous {
        hash.update(previous);
    }
    let text = [
        event.aggregate_type.as_str(),
        event.aggregate_id.as_str(),
        &event.sequence.to_string(),
        event.event_type.as_str(),
        event.event_version.as_str(),
        event.payload.as_str(),
        event.metadata.as_str(),
        &event.global_position.to_string(),
        &event
            .recorded_at
            .format("%Y-%m-%dT%H:%M:%S%.6fZ")
            .to_string(),
    ]
    .join("\n");
    hash.update(text.as_bytes());
    hash.finalize().to_vec()
}

/// What is wrong with an event, found walking its stream.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum Break {
    /// The event's content or its place no longer matches its hash: altered,
    /// reordered, or forged without the chain before it.
    HashMismatch {
        /// The event's global position.
        global_position: i64,
    },
    /// Sequences are missing before this event: events were removed.
    Missing {
        /// The first missing sequence.
        from_sequence: i64,
        /// The event found instead.
        found_sequence: i64,
        /// Its global position.
        global_position: i64,
    },
}

/// Walks one stream's events in sequence order and checks each link.
#[derive(Debug, Default)]
pub struct StreamWalk {
    previous: Option<Vec<u8>>,
    next_sequence: i64,
}

impl StreamWalk {
    /// A walk from the stream's start.
    pub fn new() -> Self {
        Self {
            previous: None,
            next_sequence: 1,
        }
    }

    /// Checks the next event; returns what is wrong with it, if anything. The walk
    /// goes on from the stored hash, so one bad event is named once and the rest of
    /// the stream is still checked against what is stored.
    pub fn step(&mut self, event: &ChainedEvent) -> Option<Break> {
        let found = if event.sequence != self.next_sequence {
            Some(Break::Missing {
                from_sequence: self.next_sequence,
                found_sequence: event.sequence,
                global_position: event.global_position,
            })
        } else if event_hash(self.previous.as_deref(), event) != event.hash {
            Some(Break::HashMismatch {
                global_position: event.global_position,
            })
        } else {
            None
        };
        self.previous = Some(event.hash.clone());
        self.next_sequence = event.sequence + 1;
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;

    fn event(sequence: i64, payload: &str) -> ChainedEvent {
        ChainedEvent {
            aggregate_type: "License".into(),
            aggregate_id: "l-1".into(),
            sequence,
            event_type: "Hidden".into(),
            event_version: "1".into(),
            payload: payload.into(),
            metadata: "{}".into(),
            global_position: sequence * 10,
            recorded_at: Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap(),
            hash: Vec::new(),
        }
    }

    fn chain(payloads: &[&str]) -> Vec<ChainedEvent> {
        let mut previous: Option<Vec<u8>> = None;
        payloads
            .iter()
            .enumerate()
            .map(|(index, payload)| {
                let mut e = event(index as i64 + 1, payload);
                e.hash = event_hash(previous.as_deref(), &e);
                previous = Some(e.hash.clone());
                e
            })
            .collect()
    }

    fn breaks(events: &[ChainedEvent]) -> Vec<Break> {
        let mut walk = StreamWalk::new();
        events.iter().filter_map(|e| walk.step(e)).collect()
    }

    #[test]
    fn an_intact_chain_has_no_break() {
        assert!(breaks(&chain(&["{\"a\":1}", "{}", "{}"])).is_empty());
    }

    #[test]
    fn an_altered_payload_is_named() {
        let mut events = chain(&["{}", "{}", "{}"]);
        events[1].payload = "{\"x\":1}".into();
        assert_eq!(
            breaks(&events),
            [Break::HashMismatch {
                global_position: 20
            }]
        );
    }

    #[test]
    fn a_removed_event_is_named_by_the_one_after_the_gap() {
        let mut events = chain(&["{}", "{}", "{}"]);
        events.remove(1);
        assert_eq!(
            breaks(&events),
            [Break::Missing {
                from_sequence: 2,
                found_sequence: 3,
                global_position: 30
            }]
        );
    }

    #[test]
    fn swapped_events_break_their_links() {
        let mut events = chain(&["{\"n\":1}", "{\"n\":2}", "{\"n\":3}"]);
        let (second, third) = (events[1].payload.clone(), events[2].payload.clone());
        events[1].payload = third;
        events[2].payload = second;
        assert_eq!(breaks(&events).len(), 2);
    }

    #[test]
    fn instants_are_hashed_in_microseconds_utc() {
        let mut e = event(1, "{}");
        e.recorded_at =
            Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap() + chrono::Duration::microseconds(60);
        let plain = event_hash(None, &e);
        e.recorded_at += chrono::Duration::microseconds(1);
        assert_ne!(plain, event_hash(None, &e));
    }
}
