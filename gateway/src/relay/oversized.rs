//! Events the broker would refuse: the relay never skips one (that would break
//! the order), so it publishes up to it and names it in the log and readiness.

use ledger_projections::contract::{OutgoingMessage, StoredEvent};

/// An event whose message the broker would refuse.
#[derive(Debug)]
pub(super) struct Oversized {
    pub(super) aggregate_type: String,
    pub(super) aggregate_id: String,
    pub(super) sequence: i64,
    pub(super) global_position: i64,
    pub(super) bytes: usize,
}

impl Oversized {
    pub(super) fn reason(&self, max_payload: usize) -> String {
        format!(
            "cannot publish {} {} sequence {} (global position {}): its message is {} bytes, \
             over the broker's max_payload of {max_payload}; nothing after it is published \
             until the broker's limit is raised",
            self.aggregate_type, self.aggregate_id, self.sequence, self.global_position, self.bytes
        )
    }
}

/// The messages of `events`, from the first, that the broker takes, as the relay
/// publishes them after the stream's end at `stream_end`; and the first event it
/// would refuse.
pub(super) fn fitting(
    events: &[StoredEvent],
    subject_prefix: &str,
    max_payload: usize,
    stream_end: u64,
) -> anyhow::Result<(Vec<OutgoingMessage>, Option<Oversized>)> {
    let mut messages = Vec::with_capacity(events.len());
    for (offset, event) in (0u64..).zip(events) {
        let message = event
            .to_message(subject_prefix)?
            .expecting(stream_end + offset);
        let bytes = message.size();
        if bytes > max_payload {
            return Ok((
                messages,
                Some(Oversized {
                    aggregate_type: event.aggregate_type.clone(),
                    aggregate_id: event.aggregate_id.clone(),
                    sequence: event.sequence,
                    global_position: event.global_position,
                    bytes,
                }),
            ));
        }
        messages.push(message);
    }
    Ok((messages, None))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn purchase() -> StoredEvent {
        StoredEvent {
            aggregate_type: "License".into(),
            aggregate_id: "0190f4c2-0000-7000-8000-000000000001".into(),
            sequence: 1,
            event_type: "Purchased".into(),
            event_version: "2".into(),
            payload: serde_json::json!({ "Purchased": { "quantity": 1000 } }),
            metadata: serde_json::json!({ "account_id": "0190f4c2-0000-7000-8000-0000000000aa" }),
            global_position: 7,
            transaction_id: 800,
            recorded_at: chrono::DateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn an_event_that_fits_the_broker_only_without_the_relays_sequence_header_is_oversized() {
        let event = purchase();
        let bare = event.to_message("ledger.events").unwrap().size();
        let (sendable, oversized) =
            fitting(std::slice::from_ref(&event), "ledger.events", bare, 41).unwrap();
        assert!(sendable.is_empty());
        let oversized = oversized.unwrap();
        assert!(oversized.bytes > bare, "measured with the header");

        let published = event
            .to_message("ledger.events")
            .unwrap()
            .expecting(41)
            .size();
        assert_eq!(oversized.bytes, published);
        let (sendable, oversized) = fitting(&[event], "ledger.events", published, 41).unwrap();
        assert_eq!(sendable.len(), 1);
        assert!(oversized.is_none());
        assert_eq!(
            sendable[0]
                .headers
                .get("Nats-Expected-Last-Sequence")
                .unwrap()
                .as_str(),
            "41"
        );
    }
}
