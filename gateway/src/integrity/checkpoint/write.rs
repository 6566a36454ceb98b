//! Taking a checkpoint: the settled cut, every stream head at it, signed and
//! appended to the checkpoint stream — in one REPEATABLE READ transaction, so the
//! cut and the heads come from one snapshot.

use anyhow::Context as _;
use chrono::{DateTime, SubsecRound as _, Utc};
use ledger_domain::license_file::Keyring;
use sqlx::PgPool;

use super::canonical::{summarize, CheckpointBody, SignedCheckpoint};
use super::store;
use crate::event_store::CommitPosition;

/// A checkpoint just written.
#[derive(Debug, Clone)]
pub struct Written {
    /// What was written.
    pub checkpoint: SignedCheckpoint,
    /// Its event's global position.
    pub global_position: i64,
}

/// Writes a checkpoint at the newest settled cut, signed with `keyring`'s key for
/// `now`. `None` when nothing new was recorded since the previous checkpoint (or
/// nothing at all). Errors when no configured key can sign.
#[tracing::instrument(name = "ledger.integrity.checkpoint", skip_all, err)]
pub async fn write_checkpoint(
    pool: &PgPool,
    keyring: &Keyring,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<Written>> {
    let mut tx = pool.begin().await.context("beginning the checkpoint")?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        .execute(&mut *tx)
        .await
        .context("setting the checkpoint's isolation")?;
    let Some(cut) = store::settled_cut(&mut tx)
        .await
        .context("finding the settled cut")?
    else {
        return Ok(None);
    };
    let previous = store::checkpoints(&mut tx, true)
        .await
        .context("reading the previous checkpoint")?
        .into_iter()
        .next();
    let (number, since) = match &previous {
        Some(stored) => {
            let body = stored
                .parse()
                .with_context(|| format!("reading checkpoint {}", stored.sequence))?
                .body;
            let since = CommitPosition {
                transaction_id: body.transaction_id,
                global_position: body.global_position,
            };
            if cut <= since {
                return Ok(None);
            }
            refuse_if_changed_since(&mut tx, &body, since).await?;
            (stored.sequence + 1, Some(since))
        }
        None => (1, None),
    };
    let heads = store::heads_at(&mut tx, cut, None)
        .await
        .context("reading the stream heads")?;
    let (accounts, streams, accounts_digest) =
        summarize(&heads.iter().map(|h| h.head.clone()).collect::<Vec<_>>());
    // Only the heads that moved travel with the checkpoint: enough to name a
    // stream that differs later, without repeating every stream each time.
    let moved = heads
        .into_iter()
        .filter(|h| since.is_none_or(|since| h.position > since))
        .map(|h| h.head)
        .collect();
    let body = CheckpointBody {
        checkpoint: number,
        transaction_id: cut.transaction_id,
        global_position: cut.global_position,
        at: now.trunc_subsecs(6),
        streams,
        accounts_digest,
        accounts,
    };
    let checkpoint = body
        .sign(keyring, moved)
        .context("no configured checkpoint key can sign (checkpoint_signing_keys)")?;
    let global_position = store::append(&mut tx, &checkpoint)
        .await
        .context("appending the checkpoint")?;
    tx.commit().await.context("committing the checkpoint")?;
    Ok(Some(Written {
        checkpoint,
        global_position,
    }))
}

/// A checkpoint signs whatever the store holds, so an event forged before the
/// previous checkpoint's cut would be signed into the next one, and checking the
/// newest checkpoint would no longer see it. The history up to the previous cut
/// must still be what it signed; if not, no checkpoint is written until an
/// operator has looked (`ledger verify history` names what changed).
async fn refuse_if_changed_since(
    connection: &mut sqlx::PgConnection,
    previous: &CheckpointBody,
    cut: CommitPosition,
) -> anyhow::Result<()> {
    let heads = store::heads_at(connection, cut, None)
        .await
        .context("reading the stream heads at the previous checkpoint")?;
    let (accounts, _, accounts_digest) =
        summarize(&heads.into_iter().map(|h| h.head).collect::<Vec<_>>());
    if accounts_digest != previous.accounts_digest || accounts != previous.accounts {
        anyhow::bail!(
            "the history up to checkpoint {} no longer matches it (run `ledger verify history`): \
             no checkpoint is written over a changed history",
            previous.checkpoint
        );
    }
    Ok(())
}
