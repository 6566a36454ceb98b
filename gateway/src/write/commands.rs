//! Command handling: load a license from the event store, decide, append — through
//! cqrs-es and postgres-es, with the plain event store only (DESIGN.md decision 1:
//! the 0.5 snapshot stores apply new events twice).
//!
//! Commands on one license through this process take turns
//! ([`super::turns`]), so they never conflict with each other. A conflict (a
//! writer in another process appended to the same license first) is retried
//! against the fresh state a bounded number of times; only then does the caller
//! get [`CommandError::Conflict`]. Every command is counted by type and outcome,
//! and every retry, in [`CommandMetrics`].

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::persist::{EventUpcaster, PersistedEventStore, SerializedEvent};
use cqrs_es::{Aggregate, AggregateContext, AggregateError, DomainEvent, EventStore};
use ledger_domain::usage::ReportUsage;
use ledger_domain::{AccountId, LicenseAction, LicenseCommand};
use ledger_projections::contract::{metadata, StoredEvent};
use postgres_es::PostgresEventRepository;
use sqlx::PgPool;
use tracing::Instrument as _;
use uuid::Uuid;

use super::turns::Turns;
use crate::metrics::CommandMetrics;

/// What the service needs to know of any command: whose it is, when it is
/// decided, and a name for traces.
pub trait Command {
    /// The account acting.
    fn account_id(&self) -> AccountId;
    /// The instant it is decided at.
    fn now(&self) -> DateTime<Utc>;
    /// A short name for spans and logs.
    fn name(&self) -> &'static str;
}

impl Command for LicenseCommand {
    fn account_id(&self) -> AccountId {
        self.account_id
    }

    fn now(&self) -> DateTime<Utc> {
        self.now
    }

    fn name(&self) -> &'static str {
        match self.action {
            LicenseAction::Purchase(_) => "purchase",
            LicenseAction::Activate(_) => "activate",
            LicenseAction::Allocate(_) => "allocate",
            LicenseAction::ModifyAllocation(_) => "modify_allocation",
            LicenseAction::ReturnAllocation(_) => "return_allocation",
            LicenseAction::Hide => "hide",
            LicenseAction::Unhide => "unhide",
            LicenseAction::Renew(_) => "renew",
            LicenseAction::Upgrade(_) => "upgrade",
        }
    }
}

impl Command for ReportUsage {
    fn account_id(&self) -> AccountId {
        self.account_id
    }

    fn now(&self) -> DateTime<Utc> {
        self.now
    }

    fn name(&self) -> &'static str {
        "report_usage"
    }
}

/// Namespace of the ids derived from keys.
const ID_NAMESPACE: Uuid = Uuid::from_u128(0x6c65_6467_6572_2d69_6465_6d70_6f74_656e);

/// The `Idempotency-Key` a command runs under. It lives here, not in
/// [`crate::http::idempotency`], because the write side derives ids from it and must not
/// depend on the HTTP layer that claims the keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey {
    /// The account the request acts on.
    pub scope: String,
    /// The client's key.
    pub key: String,
}

impl IdempotencyKey {
    /// An id derived from the key and `purpose` (e.g. `license`, `allocation/3`): the
    /// same on every retry, different for every key, purpose and account.
    pub fn derive_id(&self, purpose: &str) -> Uuid {
        let name = format!("{}\n{}\n{}", self.scope, self.key, purpose);
        Uuid::new_v5(&ID_NAMESPACE, name.as_bytes())
    }
}

/// Who and what caused a command: stored with every event it records.
#[derive(Debug, Clone, Default)]
pub struct CommandContext {
    /// The authenticated caller: its token's subject.
    pub actor: String,
    /// Its token's role.
    pub actor_role: &'static str,
    /// Its token's id.
    pub token_id: String,
    /// The HTTP request id.
    pub request_id: String,
    /// W3C trace context, when tracing is on.
    pub traceparent: Option<String>,
    /// The request's `Idempotency-Key`, when it has one.
    pub idempotency_key: Option<IdempotencyKey>,
    /// Which of the request's commands this is (a bulk request runs many); empty
    /// for a request of one command.
    pub item: String,
}

impl CommandContext {
    /// The context of the command for `item` of a bulk request.
    pub fn for_item(&self, item: impl Into<String>) -> Self {
        Self {
            item: item.into(),
            ..self.clone()
        }
    }

    /// A new id for `purpose` (`license`, `allocation`, …): derived from the
    /// idempotency key when there is one, so a retry names the same thing; else new.
    pub fn new_id(&self, purpose: &str) -> Uuid {
        match &self.idempotency_key {
            Some(key) if self.item.is_empty() => key.derive_id(purpose),
            Some(key) => key.derive_id(&format!("{purpose}/{}", self.item)),
            None => Uuid::now_v7(),
        }
    }
}

/// What `If-Match` asks of a license's version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectedVersion {
    /// `*`: any version, as long as the license exists.
    Exists,
    /// `"N"`: exactly this version.
    Exactly(i64),
}

impl ExpectedVersion {
    fn matches(self, current: i64) -> bool {
        match self {
            Self::Exists => current > 0,
            Self::Exactly(version) => version == current,
        }
    }
}

impl std::fmt::Display for ExpectedVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Exists => f.write_str("*"),
            Self::Exactly(version) => write!(f, "\"{version}\""),
        }
    }
}

/// What a command recorded.
#[derive(Debug, Clone)]
pub struct Recorded<E> {
    /// The events, in order.
    pub events: Vec<E>,
    /// The license's version after them: its last event's sequence.
    pub version: i64,
    /// The global position of the last event, for read-your-writes.
    pub position: i64,
}

/// Why a command did not record anything.
#[derive(Debug, thiserror::Error)]
pub enum CommandError<R: std::error::Error> {
    /// A business rule refused it.
    #[error(transparent)]
    Rule(R),
    /// The aggregate is not at the version the caller expected.
    #[error("the version is {current}, not {expected}")]
    VersionMismatch {
        /// What the caller expected.
        expected: String,
        /// The actual version.
        current: i64,
    },
    /// Writers in other processes kept changing the license first; retrying may
    /// succeed.
    #[error("the license changed concurrently {attempts} times; try again")]
    Conflict {
        /// Attempts made.
        attempts: u32,
    },
    /// An event the command would record makes a stream message over the limit
    /// (`event_max_bytes`): the relay could never publish it, so nothing is
    /// recorded. Retrying the same command cannot succeed.
    #[error(
        "the event would make a {bytes}-byte message, over the stream's limit of {limit} bytes"
    )]
    TooLarge {
        /// The message's size.
        bytes: usize,
        /// The limit.
        limit: usize,
    },
    /// The store failed at `step`; nothing is known to have been recorded.
    #[error("event store failure: {step}")]
    Store {
        /// What the service was doing.
        step: &'static str,
        /// The store's own error, kept so that the log shows its whole chain.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// How large an event's stream message may be, and the subjects it goes to.
#[derive(Debug, Clone)]
pub struct MessageLimit {
    /// Largest message, in bytes (`event_max_bytes`).
    pub max_bytes: usize,
    /// The stream's subject prefix, part of every message's size.
    pub subject_prefix: String,
}

impl MessageLimit {
    /// Refuses an event whose message would be over the limit. Its positions (and
    /// the stream sequence the relay will expect before it) are not known before
    /// it is stored: the widest numbers stand in for them.
    fn check<E: DomainEvent>(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
        event: &E,
        metadata: &serde_json::Value,
        now: DateTime<Utc>,
    ) -> Result<(), (usize, usize)> {
        let payload = serde_json::to_value(event).unwrap_or_default();
        let stored = StoredEvent {
            aggregate_type: aggregate_type.to_owned(),
            aggregate_id: aggregate_id.to_owned(),
            sequence: i64::MAX,
            event_type: event.event_type(),
            event_version: event.event_version(),
            payload,
            metadata: metadata.clone(),
            global_position: i64::MAX,
            transaction_id: i64::MAX,
            recorded_at: now,
        };
        let bytes = stored
            .to_message(&self.subject_prefix)
            .map_or(usize::MAX, |message| message.expecting(u64::MAX).size());
        if bytes > self.max_bytes {
            Err((bytes, self.max_bytes))
        } else {
            Ok(())
        }
    }
}

impl<R: std::error::Error> CommandError<R> {
    /// How `ledger_commands_total` names this outcome.
    fn outcome(&self) -> &'static str {
        match self {
            Self::Rule(_) => "refused",
            Self::VersionMismatch { .. } => "version_mismatch",
            Self::Conflict { .. } => "conflict",
            Self::TooLarge { .. } => "too_large",
            Self::Store { .. } => "failed",
        }
    }
}

/// Makes the upcasters of `A`'s older event versions (none for most aggregates).
pub type Upcasters = fn() -> Vec<Box<dyn EventUpcaster>>;

/// Executes commands of aggregate `A` against the event store.
pub struct CommandService<A: Aggregate> {
    store: PersistedEventStore<PostgresEventRepository, A>,
    pool: PgPool,
    conflict_retries: u32,
    upcasters: Vec<Box<dyn EventUpcaster>>,
    limit: MessageLimit,
    turns: Turns,
    metrics: CommandMetrics,
}

impl<A> CommandService<A>
where
    A: Aggregate<Services = ()>,
    A::Command: Command + Clone,
{
    /// A service over `pool`; stored events are brought to their current version
    /// by `upcasters` as they are read.
    /// Events whose stream message would be over `limit` are refused. Outcomes
    /// are counted in `metrics`.
    pub fn new(
        pool: PgPool,
        conflict_retries: u32,
        upcasters: Upcasters,
        limit: MessageLimit,
        metrics: CommandMetrics,
    ) -> Self {
        let repository = PostgresEventRepository::new(pool.clone());
        Self {
            store: PersistedEventStore::new_event_store(repository).with_upcasters(upcasters()),
            pool,
            conflict_retries,
            upcasters: upcasters(),
            limit,
            turns: Turns::default(),
            metrics,
        }
    }

    /// Decides `command` on aggregate `aggregate_id` and appends the events; with
    /// `expected`, only if the aggregate is at that version.
    ///
    /// Under an idempotency key, events already recorded under the same key and
    /// item (by an earlier attempt that died before answering) are returned
    /// instead of deciding again.
    #[tracing::instrument(name = "ledger.command.execute", skip_all,
        fields(aggregate = A::TYPE, aggregate_id = %aggregate_id, action = command.name()),
        err(Display))]
    pub async fn execute(
        &self,
        aggregate_id: &str,
        command: A::Command,
        context: &CommandContext,
        expected: Option<ExpectedVersion>,
    ) -> Result<Recorded<A::Event>, CommandError<A::Error>> {
        let name = command.name();
        let earlier = match &context.idempotency_key {
            Some(key) => {
                self.recorded_under_key(aggregate_id, &key.key, &context.item)
                    .await
            }
            None => Ok(None),
        };
        let result = match earlier {
            Ok(Some(recorded)) => Ok((recorded, "already_recorded")),
            Ok(None) => self
                .decide_and_append(aggregate_id, command, context, expected)
                .await
                .map(|recorded| (recorded, "recorded")),
            Err(error) => Err(error),
        };
        let outcome = match &result {
            Ok((_, outcome)) => outcome,
            Err(error) => error.outcome(),
        };
        self.metrics.decided(name, outcome);
        result.map(|(recorded, _)| recorded)
    }

    /// The command decided on the aggregate's current events and appended, retried
    /// on conflict.
    async fn decide_and_append(
        &self,
        aggregate_id: &str,
        command: A::Command,
        context: &CommandContext,
        expected: Option<ExpectedVersion>,
    ) -> Result<Recorded<A::Event>, CommandError<A::Error>> {
        let metadata = event_metadata(&command, context);
        let metadata_json = serde_json::to_value(&metadata).unwrap_or_default();
        let turn = self
            .turns
            .take(aggregate_id)
            .instrument(tracing::info_span!("ledger.command.wait_turn"))
            .await;
        let mut attempts = 0;
        let committed = loop {
            attempts += 1;
            let mut loaded = self
                .store
                .load_aggregate(aggregate_id)
                .await
                .map_err(store_error(LOADING))?;
            let current = i64::try_from(loaded.current_sequence).unwrap_or(i64::MAX);
            if let Some(expected) = expected.filter(|e| !e.matches(current)) {
                return Err(CommandError::VersionMismatch {
                    expected: expected.to_string(),
                    current,
                });
            }
            let sink = EventSink::default();
            loaded
                .aggregate()
                .handle(command.clone(), &(), &sink)
                .await
                .map_err(CommandError::Rule)?;
            let events = sink.collect().await;
            for event in &events {
                self.limit
                    .check(A::TYPE, aggregate_id, event, &metadata_json, command.now())
                    .map_err(|(bytes, limit)| CommandError::TooLarge { bytes, limit })?;
            }
            let append = self
                .store
                .commit(events, loaded, metadata.clone())
                .instrument(tracing::info_span!("ledger.command.append", attempts));
            match append.await {
                Ok(committed) => break committed,
                Err(AggregateError::AggregateConflict) if attempts <= self.conflict_retries => {
                    tracing::debug!(attempts, "conflict; retrying on fresh state");
                    self.metrics.retried(command.name());
                }
                Err(AggregateError::AggregateConflict) => {
                    return Err(CommandError::Conflict { attempts })
                }
                Err(other) => return Err(store_error("appending the events")(other)),
            }
        };
        // The next command may decide now: the rest only reads what is recorded.
        drop(turn);
        self.recorded(aggregate_id, committed).await
    }

    /// The aggregate as its events make it now (a default one when it has none).
    pub async fn load(&self, aggregate_id: &str) -> Result<A, CommandError<A::Error>> {
        let loaded = self
            .store
            .load_aggregate(aggregate_id)
            .await
            .map_err(store_error(LOADING))?;
        Ok(loaded.aggregate)
    }

    /// Decides `command` without recording anything: whether it would be accepted
    /// now. Batches use it to refuse a whole batch before recording any of it.
    pub async fn check(
        &self,
        aggregate_id: &str,
        command: A::Command,
    ) -> Result<(), CommandError<A::Error>> {
        let mut loaded = self
            .store
            .load_aggregate(aggregate_id)
            .await
            .map_err(store_error(LOADING))?;
        let sink = EventSink::default();
        loaded
            .aggregate()
            .handle(command, &(), &sink)
            .await
            .map_err(CommandError::Rule)
    }

    /// The events an earlier attempt recorded under idempotency `key` and `item`.
    async fn recorded_under_key(
        &self,
        aggregate_id: &str,
        key: &str,
        item: &str,
    ) -> Result<Option<Recorded<A::Event>>, CommandError<A::Error>> {
        let rows: Vec<(i64, String, String, serde_json::Value, i64)> = sqlx::query_as(
            "SELECT sequence, event_type, event_version, payload, global_position FROM events
              WHERE aggregate_type = $1 AND aggregate_id = $2
                AND metadata->>'idempotency_key' = $3
                AND COALESCE(metadata->>'idempotency_item', '') = $4
              ORDER BY sequence",
        )
        .bind(A::TYPE)
        .bind(aggregate_id)
        .bind(key)
        .bind(item)
        .fetch_all(&self.pool)
        .await
        .map_err(|error| CommandError::Store {
            step: "reading the events recorded under the Idempotency-Key",
            source: error.into(),
        })?;
        let Some(&(version, _, _, _, position)) = rows.last() else {
            return Ok(None);
        };
        let events = rows
            .into_iter()
            .map(|(sequence, event_type, event_version, payload, _)| {
                let mut stored = SerializedEvent {
                    aggregate_id: aggregate_id.to_owned(),
                    sequence: usize::try_from(sequence).unwrap_or_default(),
                    aggregate_type: A::TYPE.to_owned(),
                    event_type,
                    event_version,
                    payload,
                    metadata: serde_json::Value::Null,
                };
                for upcaster in &self.upcasters {
                    if upcaster.can_upcast(&stored.event_type, &stored.event_version) {
                        stored = upcaster.upcast(stored);
                    }
                }
                serde_json::from_value(stored.payload)
            })
            .collect::<Result<Vec<A::Event>, _>>()
            .map_err(|error| CommandError::Store {
                step: "reading back an event recorded under the Idempotency-Key",
                source: error.into(),
            })?;
        Ok(Some(Recorded {
            events,
            version,
            position,
        }))
    }

    async fn recorded(
        &self,
        aggregate_id: &str,
        committed: Vec<cqrs_es::EventEnvelope<A>>,
    ) -> Result<Recorded<A::Event>, CommandError<A::Error>> {
        let version = committed
            .last()
            .map(|envelope| envelope.sequence as i64)
            .unwrap_or_default();
        // The events are committed: a failure to read their position must not look
        // like a failed command (a client would retry and record twice), so retry.
        let mut attempt = 0;
        let position: i64 = loop {
            attempt += 1;
            let read = sqlx::query_scalar(
                "SELECT global_position FROM events
                  WHERE aggregate_type = $1 AND aggregate_id = $2 AND sequence = $3",
            )
            .bind(A::TYPE)
            .bind(aggregate_id)
            .bind(version)
            .fetch_one(&self.pool)
            .await;
            match read {
                Ok(position) => break position,
                Err(error) if attempt < 5 => {
                    tracing::warn!(%error, attempt, "reading a recorded position failed; retrying");
                    tokio::time::sleep(std::time::Duration::from_millis(50 * attempt)).await;
                }
                Err(error) => {
                    return Err(CommandError::Store {
                        step: "the command was recorded but its position could not be read",
                        source: error.into(),
                    })
                }
            }
        };
        Ok(Recorded {
            events: committed
                .into_iter()
                .map(|envelope| envelope.payload)
                .collect(),
            version,
            position,
        })
    }
}

/// The step of loading an aggregate, as a store failure names it.
const LOADING: &str = "loading the aggregate's events";

/// A cqrs-es error as a command's, a store failure naming `step` and keeping the
/// store's error as its source (not flattened to text).
fn store_error<R: std::error::Error>(
    step: &'static str,
) -> impl FnOnce(AggregateError<R>) -> CommandError<R> {
    move |error| match error {
        AggregateError::UserError(rule) => CommandError::Rule(rule),
        AggregateError::AggregateConflict => CommandError::Conflict { attempts: 1 },
        AggregateError::DatabaseConnectionError(source)
        | AggregateError::DeserializationError(source)
        | AggregateError::UnexpectedError(source) => CommandError::Store { step, source },
    }
}

fn event_metadata(command: &impl Command, context: &CommandContext) -> HashMap<String, String> {
    let occurred_at: DateTime<Utc> = command.now();
    let mut metadata = HashMap::from([
        (
            metadata::ACCOUNT_ID.to_owned(),
            command.account_id().to_string(),
        ),
        (metadata::ACTOR.to_owned(), context.actor.clone()),
        (
            metadata::ACTOR_ROLE.to_owned(),
            context.actor_role.to_owned(),
        ),
        (metadata::TOKEN_ID.to_owned(), context.token_id.clone()),
        (metadata::OCCURRED_AT.to_owned(), occurred_at.to_rfc3339()),
        (metadata::REQUEST_ID.to_owned(), context.request_id.clone()),
    ]);
    if let Some(traceparent) = &context.traceparent {
        metadata.insert(metadata::TRACEPARENT.to_owned(), traceparent.clone());
    }
    if let Some(key) = &context.idempotency_key {
        metadata.insert(metadata::IDEMPOTENCY_KEY.to_owned(), key.key.clone());
        if !context.item.is_empty() {
            metadata.insert(metadata::IDEMPOTENCY_ITEM.to_owned(), context.item.clone());
        }
    }
    metadata
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_ids_differ_by_account_key_and_purpose() {
        let key = |scope: &str, key: &str| IdempotencyKey {
            scope: scope.into(),
            key: key.into(),
        };
        let id = key("a", "k").derive_id("license");
        assert_eq!(id, key("a", "k").derive_id("license"));
        assert_ne!(id, key("b", "k").derive_id("license"));
        assert_ne!(id, key("a", "l").derive_id("license"));
        assert_ne!(id, key("a", "k").derive_id("allocation"));
    }
}
