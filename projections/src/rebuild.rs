//! Rebuilding the read models from the start of the stream into a fresh schema and
//! swapping it in while queries keep running.
//!
//! 1. `read_model_rebuild` is created with every table of `read_model` (structure,
//!    indexes and constraints, no rows).
//! 2. The whole stream is applied to it through an ephemeral consumer, with the same
//!    code the live projector uses.
//! 3. The swap: the live checkpoint table is locked (a live projector batch waits,
//!    and PostgreSQL re-resolves its table names once it gets the lock, so it then
//!    writes to the new schema); whatever the live projector applied beyond the
//!    rebuild is applied from the stream; the schemas are renamed; the old one is
//!    dropped. Queries see the old tables or the new ones, never none.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use async_nats::jetstream::{self, consumer::pull, consumer::AckPolicy, consumer::DeliverPolicy};
use sqlx::{PgConnection, PgPool};

use crate::consumer::{prefetched, project_batch, project_range, Target, LIVE_SCHEMA};
use crate::contract::{ensure_stream, StreamConfig};

/// The schema a rebuild fills before the swap.
pub const REBUILD_SCHEMA: &str = "read_model_rebuild";
/// The old live schema between the swap and its removal.
const RETIRED_SCHEMA: &str = "read_model_retired";

/// What a rebuild did.
#[derive(Debug, Clone, PartialEq)]
pub struct RebuildReport {
    /// Stream messages applied.
    pub messages: u64,
    /// Time spent replaying (before the swap).
    pub replay: Duration,
}

impl RebuildReport {
    /// Messages replayed per second.
    pub fn rate(&self) -> f64 {
        self.messages as f64 / self.replay.as_secs_f64().max(1e-9)
    }
}

/// Rebuilds every read model of `projection` from the stream and swaps it in.
pub async fn rebuild(
    pool: &PgPool,
    jetstream: &jetstream::Context,
    stream_config: &StreamConfig,
    projection: &str,
    batch_size: usize,
) -> anyhow::Result<RebuildReport> {
    let mut tx = pool.begin().await?;
    create_empty_copy(&mut tx, REBUILD_SCHEMA).await?;
    tx.commit().await.context("creating the rebuild schema")?;
    let mut stream = ensure_stream(jetstream, stream_config).await?;
    let target_sequence = stream
        .info()
        .await
        .context("reading stream info")?
        .state
        .last_sequence;
    let target = Target {
        schema: REBUILD_SCHEMA,
        projection,
    };
    let started = Instant::now();
    let mut reached = 0;
    if target_sequence > 0 {
        let consumer = stream
            .create_consumer(pull::Config {
                deliver_policy: DeliverPolicy::All,
                ack_policy: AckPolicy::None,
                inactive_threshold: Duration::from_secs(60),
                ..Default::default()
            })
            .await
            .context("creating the rebuild's consumer")?;
        let mut incoming = prefetched(
            consumer
                .stream()
                .max_messages_per_batch(batch_size)
                .messages()
                .await
                .context("reading the stream")?,
            batch_size,
        );
        let mut batch = Vec::with_capacity(batch_size);
        while reached < target_sequence {
            if incoming.recv_many(&mut batch, batch_size).await == 0 {
                anyhow::bail!("the stream ended at {reached} of {target_sequence}");
            }
            let messages: Vec<_> = batch
                .drain(..)
                .collect::<Result<_, _>>()
                .map_err(|e| anyhow::anyhow!("reading the stream: {e}"))?;
            reached = project_batch(pool, &stream, target, &messages)
                .await?
                .checkpoint
                .stream_sequence;
        }
    }
    let replay = started.elapsed();
    swap(pool, &stream, target).await?;
    Ok(RebuildReport {
        messages: reached,
        replay,
    })
}

/// `schema`, dropped if it exists, with every table of `read_model`, empty —
/// within the caller's transaction, so a scratch copy can vanish with a rollback.
pub async fn create_empty_copy(connection: &mut PgConnection, schema: &str) -> anyhow::Result<()> {
    copy_tables(connection, schema, "INCLUDING ALL").await
}

/// Like [`create_empty_copy`], but with only the tables' primary keys and unique
/// constraints (what the projection's upserts name), not their secondary
/// indexes: a copy filled once and read a few times, as an as-of query's replay
/// is. Maintaining the nine indexes of `licenses` was most of PostgreSQL's work
/// in replaying an account of 25,000 licenses; a search of one account's rows
/// needs none of them.
pub async fn create_scratch_copy(
    connection: &mut PgConnection,
    schema: &str,
) -> anyhow::Result<()> {
    copy_tables(connection, schema, "INCLUDING ALL EXCLUDING INDEXES").await?;
    let constraints: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT c.relname::text, k.conname::text, pg_get_constraintdef(k.oid)
           FROM pg_constraint k
           JOIN pg_class c ON c.oid = k.conrelid
           JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = $1 AND k.contype IN ('p', 'u')
          ORDER BY c.relname, k.conname",
    )
    .bind(LIVE_SCHEMA)
    .fetch_all(&mut *connection)
    .await
    .context("listing read-model keys")?;
    for (table, name, definition) in constraints {
        sqlx::query(&format!(
            "ALTER TABLE {schema}.{} ADD CONSTRAINT {} {definition}",
            identifier(&table),
            identifier(&name)
        ))
        .execute(&mut *connection)
        .await
        .with_context(|| format!("adding {name} to {schema}.{table}"))?;
    }
    Ok(())
}

/// `name` quoted as an SQL identifier.
fn identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `schema`, dropped if it exists, with every table of `read_model` made `LIKE`
/// it with `like` (which of its parts to copy), empty.
async fn copy_tables(
    connection: &mut PgConnection,
    schema: &str,
    like: &str,
) -> anyhow::Result<()> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables
          WHERE table_schema = $1 AND table_type = 'BASE TABLE' ORDER BY table_name",
    )
    .bind(LIVE_SCHEMA)
    .fetch_all(&mut *connection)
    .await
    .context("listing read-model tables")?;
    sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .execute(&mut *connection)
        .await?;
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&mut *connection)
        .await?;
    for table in tables {
        // Names come from the catalog, quoted as identifiers.
        let table = identifier(&table);
        sqlx::query(&format!(
            "CREATE TABLE {schema}.{table} (LIKE {LIVE_SCHEMA}.{table} {like})"
        ))
        .execute(&mut *connection)
        .await
        .with_context(|| format!("creating {schema}.{table}"))?;
    }
    Ok(())
}

/// Catches up with the live projector and swaps the schemas.
async fn swap(
    pool: &PgPool,
    stream: &jetstream::stream::Stream,
    target: Target<'_>,
) -> anyhow::Result<()> {
    let mut swap = pool.begin().await?;
    sqlx::query(&format!(
        "LOCK TABLE {LIVE_SCHEMA}.checkpoints IN ACCESS EXCLUSIVE MODE"
    ))
    .execute(&mut *swap)
    .await
    .context("locking the live checkpoint")?;
    let live: Option<i64> = sqlx::query_scalar(&format!(
        "SELECT stream_sequence FROM {LIVE_SCHEMA}.checkpoints WHERE projection = $1"
    ))
    .bind(target.projection)
    .fetch_optional(&mut *swap)
    .await?;
    let live = u64::try_from(live.unwrap_or(0)).unwrap_or(0);
    // The live projector may have gone further while we replayed: match it, so the
    // swap never shows readers an older state than they already saw.
    project_range(pool, stream, target, live).await?;
    for statement in [
        format!("ALTER SCHEMA {LIVE_SCHEMA} RENAME TO {RETIRED_SCHEMA}"),
        format!("ALTER SCHEMA {REBUILD_SCHEMA} RENAME TO {LIVE_SCHEMA}"),
    ] {
        sqlx::query(&statement).execute(&mut *swap).await?;
    }
    swap.commit().await.context("swapping the schemas")?;
    sqlx::query(&format!("DROP SCHEMA {RETIRED_SCHEMA} CASCADE"))
        .execute(pool)
        .await
        .context("dropping the retired schema")?;
    Ok(())
}
