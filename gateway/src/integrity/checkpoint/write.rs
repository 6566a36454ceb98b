//! Taking a checkpoint: the transparency log's size and root, signed and appended
//! to the checkpoint stream, in one transaction. Nothing is written when no event
//! but checkpoints joined the tree since the last one, so an idle ledger does not
//! checkpoint its own checkpoints.

use anyhow::Context as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use ledger_domain::keys::Keyring;
use sqlx::PgPool;

use super::store::{self, AnyCheckpoint};
use super::tree_head::{TreeHead, EVENT_VERSION};
use crate::integrity::tree;

/// A checkpoint just written.
#[derive(Debug, Clone)]
pub struct Written {
    /// What was written.
    pub head: TreeHead,
    /// Its event's global position.
    pub global_position: i64,
}

/// Signs the tree's head as it is stored now, with `keyring`'s key for `now`, as
/// checkpoint of log `origin`. `None` when the tree is empty or nothing but
/// checkpoints joined it since the previous checkpoint. Errors when no configured
/// key can sign, or when the stored tree no longer extends the previous one.
#[tracing::instrument(name = "ledger.integrity.checkpoint", skip_all, err)]
pub async fn write_checkpoint(
    pool: &PgPool,
    keyring: &Keyring,
    origin: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<Written>> {
    let mut tx = pool.begin().await.context("beginning the checkpoint")?;
    let size = tree::store::size(&mut tx)
        .await
        .context("reading the tree's size")?;
    if size == 0 {
        return Ok(None);
    }
    let previous = store::checkpoints(&mut tx, true)
        .await
        .context("reading the previous checkpoint")?
        .into_iter()
        .next();
    let number = previous.as_ref().map_or(1, |p| p.sequence + 1);
    if let Some(stored) = &previous {
        let parsed = stored
            .parse()
            .map_err(|error| anyhow::anyhow!("reading checkpoint {}: {error}", stored.sequence))?;
        if let AnyCheckpoint::Tree(head) = parsed {
            if !tree::store::has_events_from(&mut tx, head.tree_size)
                .await
                .context("looking for events since the previous checkpoint")?
            {
                return Ok(None);
            }
            refuse_unless_extended(&mut tx, &head, size).await?;
        }
    }
    let root = tree::proof::root(&mut tx, size)
        .await
        .context("computing the tree's root")?;
    let head = TreeHead::sign(keyring, number, origin, size, root, now)
        .context("no configured checkpoint key can sign (checkpoint_signing_keys)")?;
    let body = serde_json::to_value(&head).context("writing the checkpoint")?;
    let global_position = store::append(&mut tx, number, EVENT_VERSION, body, head.at)
        .await
        .context("appending the checkpoint")?;
    tx.commit().await.context("committing the checkpoint")?;
    Ok(Some(Written {
        head,
        global_position,
    }))
}

/// The tree only grows: at the previous checkpoint's size the stored tree must
/// still have the root it signed. If not, its rows were changed, and no checkpoint
/// is signed over them until an operator has looked (`ledger verify history`).
async fn refuse_unless_extended(
    connection: &mut sqlx::PgConnection,
    previous: &TreeHead,
    size: u64,
) -> anyhow::Result<()> {
    let then = if size >= previous.tree_size {
        Some(
            tree::proof::root(connection, previous.tree_size)
                .await
                .context("computing the previous checkpoint's root")?,
        )
    } else {
        None
    };
    if then.map(|root| BASE64.encode(root)) != Some(previous.root_hash.clone()) {
        anyhow::bail!(
            "the stored transparency log no longer extends checkpoint {} (size {}) \
             (run `ledger verify history`): no checkpoint is signed over it",
            previous.checkpoint,
            previous.tree_size
        );
    }
    Ok(())
}
