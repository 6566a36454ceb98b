//! Rebuilding the read models from the start of the stream into a fresh schema and
//! swapping it in while queries keep running.
//!
//! 1. `read_model_rebuild` is created with every table of `read_model` (structure,
//!    keys and the indexes behind them, no rows). The other indexes wait:
//!    kept up row by row they cost most of a replay (PostgreSQL spends more on the
//!    `licenses` table's nine indexes than on the rows), built once over the full
//!    tables they cost a few sorts.
//! 2. The whole stream is applied to it through an ephemeral consumer, with the same
//!    code the live projector uses, by several writers ("lanes", two per core) in
//!    parallel: each owns the streams (licenses, servers) that hash to it, so every
//!    stream is still applied in order, which is all the read models need. A lane
//!    loads only the licenses it may have written before ([`LicensesWritten`]),
//!    keeps the accounts' versions it moved and saves them once for many batches,
//!    and commits without waiting for the disk: the rebuild is durable when its
//!    checkpoint commits, and a crash before that starts it over. Then the
//!    deferred indexes are built, named as the live ones, a few at once, and the
//!    tables vacuumed and analysed, so the planner knows them at once.
//! 3. The swap: the live checkpoint table is locked (a live projector batch waits,
//!    and PostgreSQL re-resolves its table names once it gets the lock, so it then
//!    writes to the new schema); whatever the live projector applied beyond the
//!    rebuild is applied from the stream; the schemas are renamed; the old one is
//!    dropped. Queries see the old tables or the new ones, never none.

use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::{Duration, Instant};

use anyhow::Context as _;

use async_nats::jetstream::Message;
use async_nats::jetstream::{self, consumer::pull, consumer::AckPolicy, consumer::DeliverPolicy};
use futures::{StreamExt as _, TryStreamExt as _};
use sqlx::{PgConnection, PgPool};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use uuid::Uuid;

use crate::consumer::{prefetched, project_lane, project_range, Target, LIVE_SCHEMA};
use crate::contract::{self, ensure_stream, StreamConfig};
use crate::writer::{self, Checkpoint};
use crate::written::LicensesWritten;

/// The schema a rebuild fills before the swap.
pub const REBUILD_SCHEMA: &str = "read_model_rebuild";
/// The old live schema between the swap and its removal.
const RETIRED_SCHEMA: &str = "read_model_retired";

/// What a rebuild did.
#[derive(Debug, Clone, PartialEq)]
pub struct RebuildReport {
    /// Stream messages applied.
    pub messages: u64,
    /// Time spent replaying and indexing (before the swap).
    pub replay: Duration,
    /// The part of `replay` spent building the deferred indexes and vacuuming.
    pub indexing: Duration,
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
    create_scratch_copy(&mut tx, REBUILD_SCHEMA).await?;
    let deferred = secondary_indexes(&mut tx, REBUILD_SCHEMA).await?;
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
        let incoming = prefetched(
            consumer
                .stream()
                .max_messages_per_batch(batch_size)
                .messages()
                .await
                .context("reading the stream")?,
            batch_size,
        );
        reached = replay_in_lanes(pool, target, incoming, target_sequence, batch_size).await?;
    }
    let indexing = build_indexes(pool, REBUILD_SCHEMA, &deferred).await?;
    let replay = started.elapsed();
    swap(pool, &stream, target).await?;
    Ok(RebuildReport {
        messages: reached,
        replay,
        indexing,
    })
}

/// Writers of a replay: two per core, so that PostgreSQL applies a lane's batch
/// while the next lane's is decoded on every core.
fn lanes() -> usize {
    (2 * cores()).clamp(2, 16)
}

/// The machine's cores, at most 8: index builds and vacuums run this many at once.
fn cores() -> usize {
    std::thread::available_parallelism().map_or(2, |cores| cores.get().min(8))
}

/// The database connections a rebuild uses at most: one per lane and one for
/// what the rebuild writes itself.
pub fn connections() -> u32 {
    u32::try_from(lanes() + 1).unwrap_or(u32::MAX)
}

/// Applies `incoming` up to at least `target_sequence` in parallel lanes, each
/// given the messages of the streams that hash to it in stream order, in batches
/// of `batch_size`; then saves the checkpoint they reached. Answers it.
async fn replay_in_lanes<E: std::fmt::Display>(
    pool: &PgPool,
    target: Target<'_>,
    mut incoming: mpsc::Receiver<Result<Message, E>>,
    target_sequence: u64,
    batch_size: usize,
) -> anyhow::Result<u64> {
    let lanes = lanes();
    let mut senders = Vec::with_capacity(lanes);
    let mut writers = JoinSet::new();
    for _ in 0..lanes {
        let (sender, mut batches) = mpsc::channel::<Vec<Message>>(2);
        senders.push(sender);
        let pool = pool.clone();
        let (schema, projection) = (target.schema.to_owned(), target.projection.to_owned());
        writers.spawn(async move {
            let target = Target {
                schema: &schema,
                projection: &projection,
            };
            let mut reached = Checkpoint::default();
            let mut accounts = AccountVersions::default();
            let mut written = LicensesWritten::default();
            while let Some(messages) = batches.recv().await {
                let batch = project_lane(&pool, target, &messages, &mut written).await?;
                reached = furthest(reached, batch.reached);
                accounts.note(batch.accounts);
                if accounts.newest.len() >= MOST_ACCOUNTS_HELD {
                    accounts.save(&pool, target.schema).await?;
                }
            }
            accounts.save(&pool, target.schema).await?;
            anyhow::Ok(reached)
        });
    }
    let mut buffers: Vec<Vec<Message>> = vec![Vec::new(); lanes];
    let mut batch = Vec::with_capacity(batch_size);
    let mut reached = 0;
    'reading: while reached < target_sequence {
        if incoming.recv_many(&mut batch, batch_size).await == 0 {
            anyhow::bail!("the stream ended at {reached} of {target_sequence}");
        }
        for message in batch.drain(..) {
            let message = message.map_err(|e| anyhow::anyhow!("reading the stream: {e}"))?;
            reached = message
                .info()
                .map_err(|e| anyhow::anyhow!("message without JetStream info: {e}"))?
                .stream_sequence;
            let lane = lane_of(&message, lanes);
            buffers[lane].push(message);
            if buffers[lane].len() >= batch_size {
                let full = std::mem::take(&mut buffers[lane]);
                if senders[lane].send(full).await.is_err() {
                    // That writer failed: its error is reported below.
                    break 'reading;
                }
            }
        }
    }
    for (sender, rest) in senders.into_iter().zip(buffers) {
        if !rest.is_empty() {
            // A writer that failed has its error reported below.
            let _ = sender.send(rest).await;
        }
    }
    let mut applied = Checkpoint::default();
    while let Some(writer) = writers.join_next().await {
        applied = furthest(applied, writer.context("a rebuild writer panicked")??);
    }
    applied.stream_sequence = reached;
    let mut tx = pool.begin().await?;
    writer::use_schema(&mut tx, target.schema).await?;
    writer::lock_checkpoint(&mut tx, target.projection).await?;
    writer::save_checkpoint(&mut tx, target.projection, &applied).await?;
    tx.commit()
        .await
        .context("saving the rebuild's checkpoint")?;
    Ok(reached)
}

/// Accounts a rebuild's lane holds before it saves their versions: bounds its
/// memory (an entry is some 40 bytes) while an account of many licenses is
/// saved once for many batches.
const MOST_ACCOUNTS_HELD: usize = 65_536;

/// The accounts a lane moved, each with the newest license event applied: their
/// pages' versions (`account_positions`), saved once for many batches. Saved in
/// every batch, each lane's batch would lock the rows of the accounts it touched
/// until it committed, and the lanes would wait on one another (an account's
/// licenses are spread over every lane).
#[derive(Debug, Default)]
struct AccountVersions {
    newest: BTreeMap<Uuid, (i64, i64)>,
}

impl AccountVersions {
    /// Takes in a batch's accounts.
    fn note(&mut self, accounts: Vec<(Uuid, (i64, i64))>) {
        for (account, version) in accounts {
            let newest = self.newest.entry(account).or_insert(version);
            *newest = (*newest).max(version);
        }
    }

    /// Saves the versions held (never moving one backwards) and forgets them.
    async fn save(&mut self, pool: &PgPool, schema: &str) -> anyhow::Result<()> {
        if self.newest.is_empty() {
            return Ok(());
        }
        let versions: Vec<(Uuid, (i64, i64))> =
            std::mem::take(&mut self.newest).into_iter().collect();
        let mut tx = pool.begin().await?;
        writer::use_schema(&mut tx, schema).await?;
        writer::advance_account_positions(&mut tx, &versions).await?;
        tx.commit()
            .await
            .context("saving a rebuild lane's account versions")?;
        Ok(())
    }
}

/// The lane of a message: by the stream it belongs to (its aggregate id).
fn lane_of(message: &Message, lanes: usize) -> usize {
    let mut hasher = DefaultHasher::new();
    message
        .headers
        .as_ref()
        .and_then(|headers| contract::aggregate_of(headers).1)
        .hash(&mut hasher);
    usize::try_from(hasher.finish() % lanes as u64).unwrap_or(0)
}

/// The further of two positions reached.
fn furthest(a: Checkpoint, b: Checkpoint) -> Checkpoint {
    Checkpoint {
        stream_sequence: a.stream_sequence.max(b.stream_sequence),
        ..if (b.transaction_id, b.global_position) > (a.transaction_id, a.global_position) {
            b
        } else {
            a
        }
    }
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

/// How to build, on `schema`'s tables, every index of `read_model` that no key
/// constraint owns (those [`create_scratch_copy`] leaves out): each live index's
/// own definition and name, aimed at `schema`.
async fn secondary_indexes(
    connection: &mut PgConnection,
    schema: &str,
) -> anyhow::Result<Vec<String>> {
    let live: Vec<(String, String)> = sqlx::query_as(
        "SELECT c.relname::text, pg_get_indexdef(i.indexrelid)
           FROM pg_index i
           JOIN pg_class c ON c.oid = i.indexrelid
           JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = $1
            AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
          ORDER BY c.relname",
    )
    .bind(LIVE_SCHEMA)
    .fetch_all(&mut *connection)
    .await
    .context("listing the live indexes")?;
    let (from, to) = (format!(" ON {LIVE_SCHEMA}."), format!(" ON {schema}."));
    live.into_iter()
        .map(|(name, definition)| {
            anyhow::ensure!(
                definition.contains(&from),
                "index {name} is not on a {LIVE_SCHEMA} table: {definition}"
            );
            Ok(definition.replacen(&from, &to, 1))
        })
        .collect()
}

/// Builds the `deferred` indexes over the replayed tables of `schema`, then
/// vacuums the tables and gathers their statistics, a statement per core at once
/// (one backend builds an index: built in turn, the licenses' eight indexes kept
/// one core busy and left the others idle). Answers how long it took.
async fn build_indexes(
    pool: &PgPool,
    schema: &str,
    deferred: &[String],
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    all_at_once(pool, deferred.iter().cloned(), "building a deferred index").await?;
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables
          WHERE table_schema = $1 AND table_type = 'BASE TABLE'",
    )
    .bind(schema)
    .fetch_all(pool)
    .await?;
    // VACUUM too: it marks the freshly written pages all-visible, which the
    // landing page's index-only walk needs from its first query, not from
    // autovacuum's next visit.
    let vacuums = tables
        .iter()
        .map(|table| format!("VACUUM (ANALYZE) {schema}.{}", identifier(table)));
    all_at_once(pool, vacuums, "vacuuming and analysing").await?;
    let elapsed = started.elapsed();
    tracing::info!(indexes = deferred.len(), ?elapsed, "rebuild indexed");
    Ok(elapsed)
}

/// Runs `statements`, as many at once as there are [`cores`]; the first failure
/// stops it, named with `doing` and the statement.
async fn all_at_once(
    pool: &PgPool,
    statements: impl Iterator<Item = String>,
    doing: &str,
) -> anyhow::Result<()> {
    futures::stream::iter(statements.map(|statement| async move {
        let started = Instant::now();
        sqlx::query(&statement)
            .execute(pool)
            .await
            .with_context(|| format!("{doing}: {statement}"))?;
        tracing::info!(%statement, elapsed = ?started.elapsed(), "rebuild: {doing}");
        anyhow::Ok(())
    }))
    .buffer_unordered(cores())
    .try_collect::<Vec<_>>()
    .await?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lane_keeps_each_accounts_newest_version_in_stream_order() {
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let mut accounts = AccountVersions::default();
        accounts.note(vec![(a, (10, 5)), (b, (10, 6))]);
        // A later transaction can hold a lower global position: it is still newer.
        accounts.note(vec![(a, (11, 3))]);
        accounts.note(vec![(b, (9, 99))]);
        assert_eq!(
            accounts.newest.into_iter().collect::<Vec<_>>(),
            vec![(a, (11, 3)), (b, (10, 6))]
        );
    }
}
