//! Command handling: load a license from the event store, decide, append — through
//! cqrs-es and postgres-es, with the plain event store only (DESIGN.md decision 1:
//! the 0.5 snapshot stores apply new events twice).
//!
//! A conflict (another command appended to the same license first) is retried
//! against the fresh state a bounded number of times; only then does the caller
//! get [`CommandError::Conflict`].

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::persist::PersistedEventStore;
use cqrs_es::{Aggregate, AggregateContext, AggregateError, EventStore};
use ledger_domain::{License, LicenseCommand, LicenseError, LicenseEvent, LicenseId};
use ledger_projections::contract::metadata;
use postgres_es::PostgresEventRepository;
use sqlx::PgPool;

/// Who and what caused a command: stored with every event it records.
#[derive(Debug, Clone, Default)]
pub struct CommandContext {
    /// The authenticated caller.
    pub actor: String,
    /// The HTTP request id.
    pub request_id: String,
    /// W3C trace context, when tracing is on.
    pub traceparent: Option<String>,
}

/// What a command recorded.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The events, in order.
    pub events: Vec<LicenseEvent>,
    /// The license's version after them: its last event's sequence.
    pub version: i64,
    /// The global position of the last event, for read-your-writes.
    pub position: i64,
}

/// Why a command did not record anything.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// A business rule refused it.
    #[error(transparent)]
    Rule(#[from] LicenseError),
    /// Other commands kept changing the license first; retrying may succeed.
    #[error("the license changed concurrently {attempts} times; try again")]
    Conflict {
        /// Attempts made.
        attempts: u32,
    },
    /// The store failed; nothing is known to have been recorded.
    #[error("event store failure: {0}")]
    Store(String),
}

/// Executes commands against the event store.
pub struct CommandService {
    store: PersistedEventStore<PostgresEventRepository, License>,
    pool: PgPool,
    conflict_retries: u32,
}

impl CommandService {
    /// A service over `pool`.
    pub fn new(pool: PgPool, conflict_retries: u32) -> Self {
        let repository = PostgresEventRepository::new(pool.clone());
        Self {
            store: PersistedEventStore::new_event_store(repository),
            pool,
            conflict_retries,
        }
    }

    /// Decides `command` on license `id` and appends the events.
    #[tracing::instrument(name = "ledger.command.execute", skip_all,
        fields(license_id = %id, action = action_name(&command)), err(Display))]
    pub async fn execute(
        &self,
        id: LicenseId,
        command: LicenseCommand,
        context: &CommandContext,
    ) -> Result<Recorded, CommandError> {
        let aggregate_id = id.to_string();
        let metadata = event_metadata(&command, context);
        let mut attempts = 0;
        loop {
            attempts += 1;
            let mut loaded = self
                .store
                .load_aggregate(&aggregate_id)
                .await
                .map_err(store_error)?;
            let sink = EventSink::default();
            loaded
                .aggregate()
                .handle(command.clone(), &(), &sink)
                .await?;
            let events = sink.collect().await;
            match self.store.commit(events, loaded, metadata.clone()).await {
                Ok(committed) => return self.recorded(&aggregate_id, committed).await,
                Err(AggregateError::AggregateConflict) if attempts <= self.conflict_retries => {
                    tracing::debug!(attempts, "conflict; retrying on fresh state");
                }
                Err(AggregateError::AggregateConflict) => {
                    return Err(CommandError::Conflict { attempts })
                }
                Err(other) => return Err(store_error(other)),
            }
        }
    }

    async fn recorded(
        &self,
        aggregate_id: &str,
        committed: Vec<cqrs_es::EventEnvelope<License>>,
    ) -> Result<Recorded, CommandError> {
        let version = committed
            .last()
            .map(|envelope| envelope.sequence as i64)
            .unwrap_or_default();
        let position: i64 = sqlx::query_scalar(
            "SELECT global_position FROM events
              WHERE aggregate_type = $1 AND aggregate_id = $2 AND sequence = $3",
        )
        .bind(License::TYPE)
        .bind(aggregate_id)
        .bind(version)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| CommandError::Store(format!("reading the recorded position: {e}")))?;
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

fn store_error(error: AggregateError<LicenseError>) -> CommandError {
    match error {
        AggregateError::UserError(rule) => CommandError::Rule(rule),
        AggregateError::AggregateConflict => CommandError::Conflict { attempts: 1 },
        other => CommandError::Store(other.to_string()),
    }
}

fn event_metadata(command: &LicenseCommand, context: &CommandContext) -> HashMap<String, String> {
    let occurred_at: DateTime<Utc> = command.now;
    let mut metadata = HashMap::from([
        (
            metadata::ACCOUNT_ID.to_owned(),
            command.account_id.to_string(),
        ),
        (metadata::ACTOR.to_owned(), context.actor.clone()),
        (metadata::OCCURRED_AT.to_owned(), occurred_at.to_rfc3339()),
        (metadata::REQUEST_ID.to_owned(), context.request_id.clone()),
    ]);
    if let Some(traceparent) = &context.traceparent {
        metadata.insert(metadata::TRACEPARENT.to_owned(), traceparent.clone());
    }
    metadata
}

fn action_name(command: &LicenseCommand) -> &'static str {
    use ledger_domain::LicenseAction as A;
    match command.action {
        A::Purchase(_) => "purchase",
        A::Activate(_) => "activate",
        A::Allocate(_) => "allocate",
        A::ModifyAllocation(_) => "modify_allocation",
        A::ReturnAllocation(_) => "return_allocation",
        A::Hide => "hide",
        A::Unhide => "unhide",
        A::Renew(_) => "renew",
        A::Upgrade(_) => "upgrade",
    }
}
