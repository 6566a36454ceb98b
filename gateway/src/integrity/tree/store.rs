//! The tree's rows in PostgreSQL (migration `…16_transparency_log`): every perfect
//! subtree ever completed, leaves included, and which event each leaf is. Rows are
//! only ever added; a second writer adding the same leaf fails on the key.

use ledger_domain::transparency::merkle::{Frontier, Hash, NodeId};
use sqlx::PgConnection;

use crate::write::event_store::CommitPosition;

/// How many leaves the stored tree has.
pub async fn size(connection: &mut PgConnection) -> sqlx::Result<u64> {
    let size: i64 =
        sqlx::query_scalar("SELECT coalesce(max(leaf_index) + 1, 0) FROM transparency_leaves")
            .fetch_one(&mut *connection)
            .await?;
    Ok(u64::try_from(size).unwrap_or(0))
}

/// The commit position of the last leaf's event (the start of the store for an
/// empty tree): where growing the tree goes on from.
pub async fn last_leaf_position(connection: &mut PgConnection) -> sqlx::Result<CommitPosition> {
    let found: Option<(i64, i64)> = sqlx::query_as(
        "SELECT e.transaction_id::text::bigint, e.global_position
           FROM (SELECT global_position FROM transparency_leaves
                  ORDER BY leaf_index DESC LIMIT 1) AS last
           JOIN public.events e ON e.global_position = last.global_position",
    )
    .fetch_optional(&mut *connection)
    .await?;
    Ok(found
        .map(|(transaction_id, global_position)| CommitPosition {
            transaction_id,
            global_position,
        })
        .unwrap_or_default())
}

/// The stored hashes of `ids`, in any order; an absent node is left out.
pub async fn nodes(
    connection: &mut PgConnection,
    ids: &[NodeId],
) -> sqlx::Result<Vec<(NodeId, Hash)>> {
    let levels: Vec<i16> = ids.iter().map(|id| i16::from(id.level)).collect();
    let indexes: Vec<i64> = ids
        .iter()
        .map(|id| i64::try_from(id.index).unwrap_or(i64::MAX))
        .collect();
    let rows: Vec<(i16, i64, Vec<u8>)> = sqlx::query_as(
        "SELECT n.level, n.node_index, n.hash
           FROM unnest($1::smallint[], $2::bigint[]) AS wanted(level, node_index)
           JOIN transparency_nodes n USING (level, node_index)",
    )
    .bind(levels)
    .bind(indexes)
    .fetch_all(&mut *connection)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(level, index, hash)| {
            Some((
                NodeId {
                    level: u8::try_from(level).ok()?,
                    index: u64::try_from(index).ok()?,
                },
                Hash::try_from(hash.as_slice()).ok()?,
            ))
        })
        .collect())
}

/// The stored tree's frontier (what appending goes on from), checked complete.
pub async fn frontier(connection: &mut PgConnection, size: u64) -> anyhow::Result<Frontier> {
    let ids = Frontier::ids(size);
    let found: std::collections::HashMap<NodeId, Hash> =
        nodes(connection, &ids).await?.into_iter().collect();
    let hashes = ids
        .iter()
        .map(|id| {
            found.get(id).copied().ok_or_else(|| {
                anyhow::anyhow!(
                    "the transparency log's node (level {}, index {}) is missing: \
                     its rows were removed",
                    id.level,
                    id.index
                )
            })
        })
        .collect::<anyhow::Result<Vec<Hash>>>()?;
    Ok(Frontier::from_nodes(size, hashes)?)
}

/// The leaf index of the event at `global_position`, if the tree has it.
pub async fn leaf_of(
    connection: &mut PgConnection,
    global_position: i64,
) -> sqlx::Result<Option<u64>> {
    let found: Option<i64> =
        sqlx::query_scalar("SELECT leaf_index FROM transparency_leaves WHERE global_position = $1")
            .bind(global_position)
            .fetch_optional(&mut *connection)
            .await?;
    Ok(found.and_then(|index| u64::try_from(index).ok()))
}

/// Adds leaves (their events' global positions, from leaf `first` on) and the
/// nodes their appending completed, in one statement each. Run it in a
/// transaction so a tree is never stored half grown.
pub async fn append(
    connection: &mut PgConnection,
    first: u64,
    global_positions: &[i64],
    completed: &[(NodeId, Hash)],
) -> sqlx::Result<()> {
    let first = i64::try_from(first).unwrap_or(i64::MAX);
    let indexes: Vec<i64> = (first..).take(global_positions.len()).collect();
    sqlx::query(
        "INSERT INTO transparency_leaves (leaf_index, global_position)
         SELECT * FROM unnest($1::bigint[], $2::bigint[])",
    )
    .bind(indexes)
    .bind(global_positions)
    .execute(&mut *connection)
    .await?;
    let levels: Vec<i16> = completed
        .iter()
        .map(|(id, _)| i16::from(id.level))
        .collect();
    let node_indexes: Vec<i64> = completed
        .iter()
        .map(|(id, _)| i64::try_from(id.index).unwrap_or(i64::MAX))
        .collect();
    let hashes: Vec<Vec<u8>> = completed.iter().map(|(_, hash)| hash.to_vec()).collect();
    sqlx::query(
        "INSERT INTO transparency_nodes (level, node_index, hash)
         SELECT * FROM unnest($1::smallint[], $2::bigint[], $3::bytea[])",
    )
    .bind(levels)
    .bind(node_indexes)
    .bind(hashes)
    .execute(&mut *connection)
    .await?;
    Ok(())
}

/// An event as the tree takes it: where it is in commit order and its hash.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LeafEvent {
    /// The writing transaction.
    pub transaction_id: i64,
    /// Its global position.
    pub global_position: i64,
    /// Its stored content hash: the leaf's data.
    pub hash: Vec<u8>,
    /// Whether no running transaction can still precede it.
    pub settled: bool,
}

/// Up to `limit` events after `after` in commit order, their hashes only. Each
/// says whether it is settled (see [`crate::write::event_store`]): the tree takes events
/// up to the first that is not, so it never has to take a leaf back.
pub async fn events_after(
    connection: &mut PgConnection,
    after: CommitPosition,
    limit: usize,
) -> sqlx::Result<Vec<LeafEvent>> {
    sqlx::query_as(
        "SELECT transaction_id::text::bigint AS transaction_id, global_position, hash,
                transaction_id < pg_snapshot_xmin(pg_current_snapshot()) AS settled
           FROM public.events
          WHERE (transaction_id, global_position) > ($1::text::xid8, $2)
          ORDER BY events.transaction_id, events.global_position
          LIMIT $3",
    )
    .bind(after.transaction_id.to_string())
    .bind(after.global_position)
    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
    // Planned for its parameters each call, like the relay's read (event_store).
    .persistent(false)
    .fetch_all(&mut *connection)
    .await
}

/// Whether an event other than a checkpoint is at leaf `from` or later.
pub async fn has_events_from(connection: &mut PgConnection, from: u64) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "SELECT EXISTS (
            SELECT 1 FROM transparency_leaves l
              JOIN public.events e ON e.global_position = l.global_position
             WHERE l.leaf_index >= $1 AND e.aggregate_type <> $2)",
    )
    .bind(i64::try_from(from).unwrap_or(i64::MAX))
    .bind(ledger_projections::contract::CHECKPOINT_AGGREGATE_TYPE)
    .fetch_one(&mut *connection)
    .await
}
