//! Command handling: read a license's stream once, decide through the cqrs-es
//! aggregate, append through the group-committing [`Appender`], which answers
//! every event's global position.
//!
//! postgres-es' repository is not used for commands: through it, a command cost a
//! transaction of its own with a statement per event, a read of the position
//! afterwards, and another read for an earlier attempt under the same
//! idempotency key (BENCHMARKS.md, "Commands"). Here one read answers both what
//! the state is and whether the key was already recorded ([`super::loaded`]),
//! and one statement appends for many commands at once. The plain event store
//! only, no snapshots (DESIGN.md decision 1): a license's stream is short.
//!
//! Commands on one license through this process take turns
//! ([`super::turns`]), so they never conflict with each other. A conflict (a
//! writer in another process appended to the same license first) is retried
//! against the fresh state a bounded number of times; only then does the caller
//! get [`CommandError::Conflict`]. Every command is counted by type and outcome,
//! and every retry, in [`CommandMetrics`].

use std::collections::HashMap;
use std::marker::PhantomData;

use chrono::{DateTime, Utc};

use cqrs_es::event_sink::EventSink;
use cqrs_es::persist::EventUpcaster;
use cqrs_es::{Aggregate, DomainEvent};
use ledger_domain::usage::ReportUsage;
use ledger_domain::{AccountId, LicenseAction, LicenseCommand};
use ledger_projections::contract::{metadata, StoredEvent};
use sqlx::PgPool;
use tracing::Instrument as _;
use uuid::Uuid;

use super::appender::{AppendError, Appender, NewEvent};
use super::loaded::{self, KeyItem, Loaded};
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
    pool: PgPool,
    appender: Appender,
    conflict_retries: u32,
    upcasters: Vec<Box<dyn EventUpcaster>>,
    limit: MessageLimit,
    turns: Turns,
    metrics: CommandMetrics,
    aggregate: PhantomData<fn() -> A>,
}

impl<A> CommandService<A>
where
    A: Aggregate<Services = ()>,
    A::Command: Command + Clone,
{
    /// A service that reads from `pool` and appends through `appender`; stored
    /// events are brought to their current version by `upcasters` as they are read.
    /// Events whose stream message would be over `limit` are refused. Outcomes
    /// are counted in `metrics`.
    pub fn new(
        pool: PgPool,
        appender: Appender,
        conflict_retries: u32,
        upcasters: Upcasters,
        limit: MessageLimit,
        metrics: CommandMetrics,
    ) -> Self {
        Self {
            pool,
            appender,
            conflict_retries,
            upcasters: upcasters(),
            limit,
            turns: Turns::default(),
            metrics,
            aggregate: PhantomData,
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
        let result = self
            .decide_and_append(aggregate_id, command, context, expected)
            .await;
        let outcome = match &result {
            Ok((_, outcome)) => outcome,
            Err(error) => error.outcome(),
        };
        self.metrics.decided(name, outcome);
        result.map(|(recorded, _)| recorded)
    }

    /// The command decided on the aggregate's current events and appended, retried
    /// on conflict; or what an earlier attempt under the same key recorded.
    async fn decide_and_append(
        &self,
        aggregate_id: &str,
        command: A::Command,
        context: &CommandContext,
        expected: Option<ExpectedVersion>,
    ) -> Result<(Recorded<A::Event>, &'static str), CommandError<A::Error>> {
        let metadata = serde_json::to_value(event_metadata(&command, context)).unwrap_or_default();
        let earlier = context.idempotency_key.as_ref().map(|key| KeyItem {
            key: &key.key,
            item: &context.item,
        });
        let _turn = self
            .turns
            .take(aggregate_id)
            .instrument(tracing::info_span!("ledger.command.wait_turn"))
            .await;
        let mut attempts = 0;
        loop {
            attempts += 1;
            let mut loaded = self.load_stream(aggregate_id, earlier.as_ref()).await?;
            if let Some((events, version, position)) = loaded.under_key {
                let recorded = Recorded {
                    events,
                    version,
                    position,
                };
                return Ok((recorded, "already_recorded"));
            }
            if let Some(expected) = expected.filter(|e| !e.matches(loaded.version)) {
                return Err(CommandError::VersionMismatch {
                    expected: expected.to_string(),
                    current: loaded.version,
                });
            }
            let sink = EventSink::default();
            loaded
                .aggregate
                .handle(command.clone(), &(), &sink)
                .await
                .map_err(CommandError::Rule)?;
            let events = sink.collect().await;
            let mut new_events = Vec::with_capacity(events.len());
            for (sequence, event) in (loaded.version + 1..).zip(&events) {
                self.limit
                    .check(A::TYPE, aggregate_id, event, &metadata, command.now())
                    .map_err(|(bytes, limit)| CommandError::TooLarge { bytes, limit })?;
                new_events.push(NewEvent {
                    aggregate_type: A::TYPE,
                    aggregate_id: aggregate_id.to_owned(),
                    sequence,
                    event_type: event.event_type(),
                    event_version: event.event_version(),
                    payload: serde_json::to_value(event).map_err(|error| CommandError::Store {
                        step: "serialising an event",
                        source: error.into(),
                    })?,
                    metadata: metadata.clone(),
                });
            }
            let append = self
                .appender
                .append(new_events)
                .instrument(tracing::info_span!("ledger.command.append", attempts));
            match append.await {
                Ok(positions) => {
                    let recorded = Recorded {
                        version: loaded.version + events.len() as i64,
                        position: positions.last().copied().unwrap_or_default(),
                        events,
                    };
                    return Ok((recorded, "recorded"));
                }
                Err(AppendError::Conflict) if attempts <= self.conflict_retries => {
                    tracing::debug!(attempts, "conflict; retrying on fresh state");
                    self.metrics.retried(command.name());
                }
                Err(AppendError::Conflict) => return Err(CommandError::Conflict { attempts }),
                Err(AppendError::Store(source)) => {
                    return Err(CommandError::Store {
                        step: "appending the events",
                        source,
                    })
                }
            }
        }
    }

    /// The aggregate as its events make it now (a default one when it has none).
    pub async fn load(&self, aggregate_id: &str) -> Result<A, CommandError<A::Error>> {
        Ok(self.load_stream(aggregate_id, None).await?.aggregate)
    }

    /// Decides `command` without recording anything: whether it would be accepted
    /// now. Batches use it to refuse a whole batch before recording any of it.
    pub async fn check(
        &self,
        aggregate_id: &str,
        command: A::Command,
    ) -> Result<(), CommandError<A::Error>> {
        let sink = EventSink::default();
        self.load(aggregate_id)
            .await?
            .handle(command, &(), &sink)
            .await
            .map_err(CommandError::Rule)
    }

    async fn load_stream(
        &self,
        aggregate_id: &str,
        earlier: Option<&KeyItem<'_>>,
    ) -> Result<Loaded<A>, CommandError<A::Error>> {
        loaded::load(&self.pool, aggregate_id, &self.upcasters, earlier)
            .instrument(tracing::info_span!("ledger.command.load"))
            .await
            .map_err(|error| CommandError::Store {
                step: LOADING,
                source: error.into(),
            })
    }
}

/// The step of loading an aggregate, as a store failure names it.
const LOADING: &str = "loading the aggregate's events";

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
