//! The event stream contract: what an event looks like on NATS JetStream.
//!
//! Subject: `<prefix>.<account_id>.<aggregate_type>.<aggregate_id>.<event_type>`, so a
//! consumer filters by account, aggregate, license or event type with wildcards.
//! The store's signed integrity checkpoints belong to no account: they travel as
//! `<prefix>._system.integritycheckpoint.store.Checkpointed`.
//! Payload: the event body as JSON (see `ledger_domain::events`). Headers: ours
//! (`Ledger-*`), CloudEvents 1.0 attributes (`ce-*`) and W3C `traceparent`.
//! `Nats-Msg-Id` is `<aggregate_id>/<sequence>`, so JetStream drops a re-publish.

use async_nats::jetstream::{self, stream};
use async_nats::{HeaderMap, HeaderName};
use chrono::{DateTime, Utc};
use ledger_domain::events::LicenseEvent;
use ledger_domain::usage::UsageEvent;
use ledger_domain::values::{AccountId, LicenseId};
use serde_json::Value;
use uuid::Uuid;

/// The aggregate type of the store's signed integrity checkpoints: one stream of
/// them, chained like every other stream, published so the stream carries them too.
pub const CHECKPOINT_AGGREGATE_TYPE: &str = "IntegrityCheckpoint";
/// The checkpoint stream's id.
pub const CHECKPOINT_STREAM_ID: &str = "store";
/// The account token of events that belong to no account (checkpoints): not a
/// UUID, so it never collides with a real account on a subject or in a filter.
pub const SYSTEM_ACCOUNT: &str = "_system";

/// The aggregate a message's headers name: its type and id. The names are built
/// once (looking a `&str` up builds, and allocates, a name every time), for the
/// lookups made on every message of a batch before it is decoded.
pub fn aggregate_of(headers: &HeaderMap) -> (Option<&str>, Option<&str>) {
    static TYPE: HeaderName = HeaderName::from_static(header::AGGREGATE_TYPE);
    static ID: HeaderName = HeaderName::from_static(header::AGGREGATE_ID);
    let value = |name: &HeaderName| headers.get(name.clone()).map(|value| value.as_str());
    (value(&TYPE), value(&ID))
}

/// Header names.
pub mod header {
    /// Event name, e.g. `Allocated`.
    pub const EVENT_TYPE: &str = "Ledger-Event-Type";
    /// Version of the event's shape, e.g. `1`.
    pub const EVENT_VERSION: &str = "Ledger-Event-Version";
    /// Aggregate type, e.g. `License`.
    pub const AGGREGATE_TYPE: &str = "Ledger-Aggregate-Type";
    /// Aggregate id (the license id for licenses).
    pub const AGGREGATE_ID: &str = "Ledger-Aggregate-Id";
    /// Position of the event in its aggregate's history, from 1.
    pub const SEQUENCE: &str = "Ledger-Sequence";
    /// Position of the event in the whole store (insertion order).
    pub const GLOBAL_POSITION: &str = "Ledger-Global-Position";
    /// The writing transaction; with the global position, the stream's order.
    pub const TRANSACTION_ID: &str = "Ledger-Transaction-Id";
    /// When the command was decided (RFC 3339).
    pub const OCCURRED_AT: &str = "Ledger-Occurred-At";
    /// When the store committed it (RFC 3339).
    pub const RECORDED_AT: &str = "Ledger-Recorded-At";
    /// The owning account.
    pub const ACCOUNT: &str = "Ledger-Account";
    /// Who sent the command.
    pub const ACTOR: &str = "Ledger-Actor";
    /// The HTTP request that caused it.
    pub const REQUEST_ID: &str = "Ledger-Request-Id";
    /// W3C trace context of the command.
    pub const TRACEPARENT: &str = "traceparent";
    /// JetStream de-duplication id.
    pub const MSG_ID: &str = "Nats-Msg-Id";
    /// JetStream stores the message only if the stream's last sequence is this
    /// one: the relay's guard against holes.
    pub const EXPECTED_LAST_SEQUENCE: &str = "Nats-Expected-Last-Sequence";
    /// CloudEvents spec version (`1.0`).
    pub const CE_SPECVERSION: &str = "ce-specversion";
    /// CloudEvents id (same as `Nats-Msg-Id`).
    pub const CE_ID: &str = "ce-id";
    /// CloudEvents type, e.g. `ledger.license.allocated.v1`.
    pub const CE_TYPE: &str = "ce-type";
    /// CloudEvents source, e.g. `/accounts/<id>/licenses/<id>`.
    pub const CE_SOURCE: &str = "ce-source";
    /// CloudEvents time (same as occurred-at).
    pub const CE_TIME: &str = "ce-time";
    /// CloudEvents subject: the aggregate id.
    pub const CE_SUBJECT: &str = "ce-subject";
    /// Content type of the payload.
    pub const CONTENT_TYPE: &str = "Content-Type";
}

/// Keys of the metadata the gateway stores with each event (cqrs-es metadata).
pub mod metadata {
    /// The owning account.
    pub const ACCOUNT_ID: &str = "account_id";
    /// Who sent the command: its bearer token's subject (`sub`).
    pub const ACTOR: &str = "actor";
    /// That token's role (`portal`, `license_server`, …).
    pub const ACTOR_ROLE: &str = "actor_role";
    /// That token's id (`jti`), to trace every change back to one token.
    pub const TOKEN_ID: &str = "token_id";
    /// When the command was decided (RFC 3339).
    pub const OCCURRED_AT: &str = "occurred_at";
    /// The HTTP request id.
    pub const REQUEST_ID: &str = "request_id";
    /// W3C trace context.
    pub const TRACEPARENT: &str = "traceparent";
    /// The client's `Idempotency-Key`, when the command came with one.
    pub const IDEMPOTENCY_KEY: &str = "idempotency_key";
    /// Which command of a bulk request under that key.
    pub const IDEMPOTENCY_ITEM: &str = "idempotency_item";
}

/// An event as read from the store, ready to publish.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    /// e.g. `License`.
    pub aggregate_type: String,
    /// e.g. the license id.
    pub aggregate_id: String,
    /// Position in the aggregate's history.
    pub sequence: i64,
    /// Event name.
    pub event_type: String,
    /// Event version.
    pub event_version: String,
    /// The stored payload (`{"Name": body}`).
    pub payload: Value,
    /// The stored metadata (string to string).
    pub metadata: Value,
    /// Insertion order in the store.
    pub global_position: i64,
    /// The writing transaction.
    pub transaction_id: i64,
    /// Commit time.
    pub recorded_at: DateTime<Utc>,
}

/// A message ready for `publish_with_headers`.
#[derive(Debug)]
pub struct OutgoingMessage {
    /// Subject.
    pub subject: String,
    /// Headers, including `Nats-Msg-Id`.
    pub headers: HeaderMap,
    /// The JSON body.
    pub payload: bytes::Bytes,
}

impl OutgoingMessage {
    /// The message as the relay publishes it: stored only if the stream's last
    /// sequence is `last_sequence`. The header counts against the broker's limit,
    /// so sizes are measured with it.
    pub fn expecting(mut self, last_sequence: u64) -> Self {
        self.headers.insert(
            header::EXPECTED_LAST_SEQUENCE,
            last_sequence.to_string().as_str(),
        );
        self
    }

    /// Bytes the message takes against the broker's `max_payload`: its payload and
    /// its header block as sent (`NATS/1.0` CRLF, `name: value` CRLF each, CRLF).
    pub fn size(&self) -> usize {
        let headers: usize = self
            .headers
            .iter()
            .flat_map(|(name, values)| {
                let name: &[u8] = name.as_ref();
                values
                    .iter()
                    .map(move |value| name.len() + value.as_str().len() + 4)
            })
            .sum();
        let framing = if self.headers.is_empty() { 0 } else { 12 };
        self.payload.len() + headers + framing
    }
}

/// Where the stream lives and what it is called; per deployment (and per test).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamConfig {
    /// JetStream stream name, e.g. `LEDGER_EVENTS`.
    pub name: String,
    /// Subject prefix, e.g. `ledger.events`; the stream holds `<prefix>.>`.
    pub subject_prefix: String,
    /// Replicas: 1 on a single server, 3 in a cluster.
    pub replicas: usize,
}

impl StreamConfig {
    /// The subject every message of this stream matches.
    pub fn wildcard(&self) -> String {
        format!("{}.>", self.subject_prefix)
    }
}

/// Creates the stream if it is absent and returns it. Retention is by limits with
/// no limits: the stream is the full history analytics consumers read from the start.
pub async fn ensure_stream(
    jetstream: &jetstream::Context,
    config: &StreamConfig,
) -> anyhow::Result<stream::Stream> {
    use anyhow::Context as _;
    let wanted = stream::Config {
        name: config.name.clone(),
        subjects: vec![config.wildcard()],
        storage: stream::StorageType::File,
        retention: stream::RetentionPolicy::Limits,
        num_replicas: config.replicas,
        duplicate_window: std::time::Duration::from_secs(120),
        ..Default::default()
    };
    let mut attempt = 1;
    loop {
        let asked = tokio::time::timeout(
            STREAM_REQUEST_PATIENCE,
            jetstream.get_or_create_stream(wanted.clone()),
        )
        .await;
        match asked {
            Ok(answer) => {
                return answer.with_context(|| {
                    format!("creating or opening JetStream stream {}", config.name)
                })
            }
            Err(_) if attempt < STREAM_REQUEST_ATTEMPTS => attempt += 1,
            Err(_) => anyhow::bail!(
                "creating or opening JetStream stream {}: no answer in {STREAM_REQUEST_ATTEMPTS} \
                 attempts of {} s",
                config.name,
                STREAM_REQUEST_PATIENCE.as_secs()
            ),
        }
    }
}

/// How long one lookup (or creation) of the stream may take. A request sent to a
/// clustered stream while it elects a leader, after a node is lost, gets no answer
/// at all, and async-nats waited out its own request timeouts: 10 s after every
/// lost node in the soak, measured, where an election takes 1–2 s.
const STREAM_REQUEST_PATIENCE: std::time::Duration = std::time::Duration::from_secs(2);
/// Lookups of the stream tried before giving up.
const STREAM_REQUEST_ATTEMPTS: u32 = 5;

fn meta_str<'a>(metadata: &'a Value, key: &str) -> &'a str {
    metadata.get(key).and_then(Value::as_str).unwrap_or("")
}

impl StoredEvent {
    /// The message for this event: subject, headers and body.
    pub fn to_message(&self, subject_prefix: &str) -> anyhow::Result<OutgoingMessage> {
        let account = meta_str(&self.metadata, metadata::ACCOUNT_ID);
        let occurred_at = meta_str(&self.metadata, metadata::OCCURRED_AT);
        let aggregate_token = self.aggregate_type.to_ascii_lowercase();
        let subject = format!(
            "{subject_prefix}.{account}.{aggregate_token}.{}.{}",
            self.aggregate_id, self.event_type
        );
        let msg_id = format!("{}/{}", self.aggregate_id, self.sequence);
        let mut headers = HeaderMap::new();
        let mut put = |name: &'static str, value: &str| {
            if !value.is_empty() {
                headers.insert(name, value);
            }
        };
        put(header::MSG_ID, &msg_id);
        put(header::EVENT_TYPE, &self.event_type);
        put(header::EVENT_VERSION, &self.event_version);
        put(header::AGGREGATE_TYPE, &self.aggregate_type);
        put(header::AGGREGATE_ID, &self.aggregate_id);
        put(header::SEQUENCE, &self.sequence.to_string());
        put(header::GLOBAL_POSITION, &self.global_position.to_string());
        put(header::TRANSACTION_ID, &self.transaction_id.to_string());
        put(header::OCCURRED_AT, occurred_at);
        put(header::RECORDED_AT, &self.recorded_at.to_rfc3339());
        put(header::ACCOUNT, account);
        put(header::ACTOR, meta_str(&self.metadata, metadata::ACTOR));
        put(
            header::REQUEST_ID,
            meta_str(&self.metadata, metadata::REQUEST_ID),
        );
        put(
            header::TRACEPARENT,
            meta_str(&self.metadata, metadata::TRACEPARENT),
        );
        put(header::CE_SPECVERSION, "1.0");
        put(header::CE_ID, &msg_id);
        put(
            header::CE_TYPE,
            &format!(
                "ledger.{aggregate_token}.{}.v{}",
                self.event_type.to_ascii_lowercase(),
                self.event_version
            ),
        );
        put(
            header::CE_SOURCE,
            &format!(
                "/accounts/{account}/{aggregate_token}s/{}",
                self.aggregate_id
            ),
        );
        put(header::CE_TIME, occurred_at);
        put(header::CE_SUBJECT, &self.aggregate_id);
        put(header::CONTENT_TYPE, "application/json");
        let body = ledger_domain::events::untag(self.payload.clone());
        let payload = serde_json::to_vec(&body)?.into();
        Ok(OutgoingMessage {
            subject,
            headers,
            payload,
        })
    }
}

/// The facts every message carries around its event, read from its headers.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    /// Position in the JetStream stream.
    pub stream_sequence: u64,
    /// The owning account.
    pub account_id: AccountId,
    /// Position in the aggregate's history.
    pub sequence: i64,
    /// Position in the store.
    pub global_position: i64,
    /// The writing transaction.
    pub transaction_id: i64,
    /// When the command was decided.
    pub occurred_at: DateTime<Utc>,
}

/// A License event read back from the stream, with the facts around it.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamedEvent {
    /// Position in the JetStream stream.
    pub stream_sequence: u64,
    /// The license.
    pub license_id: LicenseId,
    /// The owning account.
    pub account_id: AccountId,
    /// Position in the license's history.
    pub sequence: i64,
    /// Position in the store.
    pub global_position: i64,
    /// The writing transaction.
    pub transaction_id: i64,
    /// When the command was decided.
    pub occurred_at: DateTime<Utc>,
    /// The event itself.
    pub event: LicenseEvent,
}

/// A usage event read back from the stream.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamedUsage {
    /// The facts around it.
    pub envelope: Envelope,
    /// The server-day stream.
    pub stream_id: Uuid,
    /// The event itself.
    pub event: UsageEvent,
}

/// Any event a projection here reads.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// Of a license.
    License(StreamedEvent),
    /// Of a server's daily usage.
    Usage(StreamedUsage),
    /// A signed integrity checkpoint: no read model reads it, but the projection's
    /// position moves past it.
    Checkpoint {
        /// The writing transaction.
        transaction_id: i64,
        /// Its position in the store.
        global_position: i64,
    },
}

impl Incoming {
    /// Transaction id and global position: where the stream's commit order is.
    pub fn commit_position(&self) -> (i64, i64) {
        match self {
            Self::License(e) => (e.transaction_id, e.global_position),
            Self::Usage(u) => (u.envelope.transaction_id, u.envelope.global_position),
            Self::Checkpoint {
                transaction_id,
                global_position,
            } => (*transaction_id, *global_position),
        }
    }
}

/// Why a message on the stream could not be read as an event.
#[derive(Debug, thiserror::Error)]
pub enum ContractError {
    /// A required header is absent.
    #[error("missing header {0}")]
    MissingHeader(&'static str),
    /// A header does not parse.
    #[error("header {name} is malformed: `{value}`")]
    BadHeader {
        /// Header name.
        name: &'static str,
        /// What it held.
        value: String,
    },
    /// An aggregate type no projection here reads.
    #[error("aggregate type `{0}` is not read by this projection")]
    UnknownAggregate(String),
    /// The body is not JSON.
    #[error("payload is not JSON: {0}")]
    NotJson(#[from] serde_json::Error),
    /// The body is not a known event.
    #[error(transparent)]
    Event(#[from] ledger_domain::events::EventDecodeError),
}

/// The headers a projection reads, found in one pass over a message's headers.
/// `HeaderMap::get` builds, hashes and drops a name for every lookup: at a
/// rebuild's tens of thousands of messages a second, ten lookups a message were
/// the rebuild's largest cost (measured with `perf`).
#[derive(Debug, Default)]
struct ReadHeaders<'h> {
    aggregate_type: Option<&'h str>,
    aggregate_id: Option<&'h str>,
    event_type: Option<&'h str>,
    event_version: Option<&'h str>,
    sequence: Option<&'h str>,
    global_position: Option<&'h str>,
    transaction_id: Option<&'h str>,
    occurred_at: Option<&'h str>,
    account: Option<&'h str>,
}

impl<'h> ReadHeaders<'h> {
    /// Each header's first value, as `HeaderMap::get` answers it.
    fn of(headers: &'h HeaderMap) -> Self {
        let mut read = Self::default();
        for (name, values) in headers.iter() {
            let slot = match name.as_ref() {
                header::AGGREGATE_TYPE => &mut read.aggregate_type,
                header::AGGREGATE_ID => &mut read.aggregate_id,
                header::EVENT_TYPE => &mut read.event_type,
                header::EVENT_VERSION => &mut read.event_version,
                header::SEQUENCE => &mut read.sequence,
                header::GLOBAL_POSITION => &mut read.global_position,
                header::TRANSACTION_ID => &mut read.transaction_id,
                header::OCCURRED_AT => &mut read.occurred_at,
                header::ACCOUNT => &mut read.account,
                _ => continue,
            };
            *slot = values.first().map(|value| value.as_str());
        }
        read
    }
}

fn required<'h>(value: Option<&'h str>, name: &'static str) -> Result<&'h str, ContractError> {
    value.ok_or(ContractError::MissingHeader(name))
}

fn parsed<T: std::str::FromStr>(
    value: Option<&str>,
    name: &'static str,
) -> Result<T, ContractError> {
    let raw = required(value, name)?;
    raw.parse().map_err(|_| ContractError::BadHeader {
        name,
        value: raw.to_owned(),
    })
}

impl Envelope {
    /// Reads and checks the headers every event message carries.
    fn decode(stream_sequence: u64, headers: &ReadHeaders<'_>) -> Result<Self, ContractError> {
        let occurred_raw = required(headers.occurred_at, header::OCCURRED_AT)?;
        let occurred_at = DateTime::parse_from_rfc3339(occurred_raw)
            .map_err(|_| ContractError::BadHeader {
                name: header::OCCURRED_AT,
                value: occurred_raw.to_owned(),
            })?
            .with_timezone(&Utc);
        let sequence: i64 = parsed(headers.sequence, header::SEQUENCE)?;
        if sequence < 1 {
            return Err(ContractError::BadHeader {
                name: header::SEQUENCE,
                value: sequence.to_string(),
            });
        }
        Ok(Self {
            stream_sequence,
            account_id: parsed(headers.account, header::ACCOUNT)?,
            sequence,
            global_position: parsed(headers.global_position, header::GLOBAL_POSITION)?,
            transaction_id: parsed(headers.transaction_id, header::TRANSACTION_ID)?,
            occurred_at,
        })
    }
}

impl Incoming {
    /// Reads an event from a message's headers and payload, checking every header it
    /// relies on, and tells License events from usage events.
    pub fn decode(
        stream_sequence: u64,
        headers: &HeaderMap,
        payload: &[u8],
    ) -> Result<Self, ContractError> {
        let headers = ReadHeaders::of(headers);
        let aggregate_type = required(headers.aggregate_type, header::AGGREGATE_TYPE)?;
        if aggregate_type == CHECKPOINT_AGGREGATE_TYPE {
            return Ok(Self::Checkpoint {
                transaction_id: parsed(headers.transaction_id, header::TRANSACTION_ID)?,
                global_position: parsed(headers.global_position, header::GLOBAL_POSITION)?,
            });
        }
        if !matches!(aggregate_type, "License" | "ServerUsage") {
            return Err(ContractError::UnknownAggregate(aggregate_type.to_owned()));
        }
        let envelope = Envelope::decode(stream_sequence, &headers)?;
        let body: Value = serde_json::from_slice(payload)?;
        let event_type = required(headers.event_type, header::EVENT_TYPE)?;
        let version = required(headers.event_version, header::EVENT_VERSION)?;
        if aggregate_type == "ServerUsage" {
            return Ok(Self::Usage(StreamedUsage {
                stream_id: parsed(headers.aggregate_id, header::AGGREGATE_ID)?,
                event: UsageEvent::decode(event_type, version, body)?,
                envelope,
            }));
        }
        Ok(Self::License(StreamedEvent {
            stream_sequence,
            license_id: parsed(headers.aggregate_id, header::AGGREGATE_ID)?,
            account_id: envelope.account_id,
            sequence: envelope.sequence,
            global_position: envelope.global_position,
            transaction_id: envelope.transaction_id,
            occurred_at: envelope.occurred_at,
            event: LicenseEvent::decode(event_type, version, body)?,
        }))
    }
}

impl StreamedEvent {
    /// Reads a License event; any other message is an error.
    pub fn decode(
        stream_sequence: u64,
        headers: &HeaderMap,
        payload: &[u8],
    ) -> Result<Self, ContractError> {
        match Incoming::decode(stream_sequence, headers, payload)? {
            Incoming::License(event) => Ok(event),
            Incoming::Usage(_) => Err(ContractError::UnknownAggregate("ServerUsage".into())),
            Incoming::Checkpoint { .. } => Err(ContractError::UnknownAggregate(
                CHECKPOINT_AGGREGATE_TYPE.into(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn stored() -> StoredEvent {
        StoredEvent {
            aggregate_type: "License".into(),
            aggregate_id: "0190f4c2-0000-7000-8000-000000000001".into(),
            sequence: 3,
            event_type: "Hidden".into(),
            event_version: "1".into(),
            payload: json!({"Hidden": {}}),
            metadata: json!({
                "account_id": "0190f4c2-0000-7000-8000-0000000000aa",
                "occurred_at": "2026-11-22T10:00:00Z",
                "actor": "portal",
            }),
            global_position: 42,
            transaction_id: 900,
            recorded_at: "2026-11-22T10:00:01Z".parse().unwrap(),
        }
    }

    #[test]
    fn a_stored_event_travels_as_subject_headers_and_body_and_reads_back() {
        let message = stored().to_message("ledger.events").unwrap();
        assert_eq!(
            message.subject,
            "ledger.events.0190f4c2-0000-7000-8000-0000000000aa.license.\
             0190f4c2-0000-7000-8000-000000000001.Hidden"
        );
        let msg_id = message.headers.get(header::MSG_ID).unwrap().as_str();
        assert_eq!(msg_id, "0190f4c2-0000-7000-8000-000000000001/3");
        assert_eq!(
            message.headers.get(header::CE_TYPE).unwrap().as_str(),
            "ledger.license.hidden.v1"
        );
        assert_eq!(&message.payload[..], b"{}");
        let back = StreamedEvent::decode(7, &message.headers, &message.payload).unwrap();
        assert_eq!(back.sequence, 3);
        assert_eq!(back.global_position, 42);
        assert_eq!(back.transaction_id, 900);
        assert_eq!(back.stream_sequence, 7);
        assert!(matches!(back.event, LicenseEvent::Hidden(_)));
    }

    #[test]
    fn a_checkpoint_travels_under_the_system_account_and_reads_back_as_a_position_only() {
        let checkpoint = StoredEvent {
            aggregate_type: CHECKPOINT_AGGREGATE_TYPE.into(),
            aggregate_id: CHECKPOINT_STREAM_ID.into(),
            event_type: "Checkpointed".into(),
            payload: json!({"Checkpointed": {"checkpoint": 3}}),
            metadata: json!({"account_id": SYSTEM_ACCOUNT, "occurred_at": "2026-11-22T10:00:00Z"}),
            ..stored()
        };
        let message = checkpoint.to_message("ledger.events").unwrap();
        assert_eq!(
            message.subject,
            "ledger.events._system.integritycheckpoint.store.Checkpointed"
        );
        assert_eq!(&message.payload[..], br#"{"checkpoint":3}"#);
        assert_eq!(
            Incoming::decode(7, &message.headers, &message.payload).unwrap(),
            Incoming::Checkpoint {
                transaction_id: 900,
                global_position: 42
            }
        );
        assert!(matches!(
            StreamedEvent::decode(7, &message.headers, &message.payload),
            Err(ContractError::UnknownAggregate(_))
        ));
    }

    #[test]
    fn messages_missing_or_mangling_headers_are_refused() {
        let message = stored().to_message("p").unwrap();
        let mut no_account = HeaderMap::new();
        for (name, values) in message.headers.iter() {
            if name.to_string() != header::ACCOUNT {
                for value in values {
                    no_account.insert(name.clone(), value.clone());
                }
            }
        }
        assert!(matches!(
            StreamedEvent::decode(1, &no_account, &message.payload),
            Err(ContractError::MissingHeader(header::ACCOUNT))
        ));
        let mut bad_sequence = message.headers.clone();
        bad_sequence.insert(header::SEQUENCE, "zero");
        assert!(matches!(
            StreamedEvent::decode(1, &bad_sequence, &message.payload),
            Err(ContractError::BadHeader { .. })
        ));
        assert!(matches!(
            StreamedEvent::decode(1, &message.headers, b"not json"),
            Err(ContractError::NotJson(_))
        ));
    }

    #[test]
    fn every_header_read_is_found_in_one_pass_at_its_first_value() {
        let message = stored().to_message("p").unwrap();
        let read = ReadHeaders::of(&message.headers);
        for (name, found) in [
            (header::AGGREGATE_TYPE, read.aggregate_type),
            (header::AGGREGATE_ID, read.aggregate_id),
            (header::EVENT_TYPE, read.event_type),
            (header::EVENT_VERSION, read.event_version),
            (header::SEQUENCE, read.sequence),
            (header::GLOBAL_POSITION, read.global_position),
            (header::TRANSACTION_ID, read.transaction_id),
            (header::OCCURRED_AT, read.occurred_at),
            (header::ACCOUNT, read.account),
        ] {
            let expected = message.headers.get(name).map(|value| value.as_str());
            assert!(expected.is_some(), "{name} is on every event message");
            assert_eq!(found, expected, "{name}");
        }
        assert_eq!(
            aggregate_of(&message.headers),
            (read.aggregate_type, read.aggregate_id)
        );
        let mut twice = message.headers.clone();
        twice.append(header::SEQUENCE, "9");
        assert_eq!(
            StreamedEvent::decode(1, &twice, &message.payload)
                .unwrap()
                .sequence,
            3,
            "a repeated header counts at its first value, as HeaderMap::get has it"
        );
    }
}
