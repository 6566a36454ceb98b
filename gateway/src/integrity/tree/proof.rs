//! Proofs from the stored tree: which perfect subtrees a proof needs (the domain's
//! [`merkle`] decides), fetched in one query and folded into the proof's hashes.

use std::collections::HashMap;

use ledger_domain::transparency::merkle::{self, Hash, MerkleError, ProofPart};
use sqlx::PgConnection;

use super::store;

/// Why a proof could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ProofError {
    /// The sizes or index asked for do not make a proof (e.g. an index past the tree).
    #[error(transparent)]
    Asked(#[from] MerkleError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] sqlx::Error),
}

async fn assemble(
    connection: &mut PgConnection,
    parts: &[ProofPart],
) -> Result<Vec<Hash>, ProofError> {
    let found: HashMap<_, _> = store::nodes(connection, &merkle::needed(parts))
        .await?
        .into_iter()
        .collect();
    Ok(merkle::assemble(parts, |id| found.get(&id).copied())?)
}

/// The inclusion proof of leaf `index` in the tree of `size` leaves.
pub async fn inclusion(
    connection: &mut PgConnection,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, ProofError> {
    let parts = merkle::inclusion_parts(index, size)?;
    assemble(connection, &parts).await
}

/// The consistency proof from the tree of `old` leaves to the tree of `new`.
pub async fn consistency(
    connection: &mut PgConnection,
    old: u64,
    new: u64,
) -> Result<Vec<Hash>, ProofError> {
    let parts = merkle::consistency_parts(old, new)?;
    assemble(connection, &parts).await
}

/// The root of the tree of `size` leaves (any size the stored tree has reached).
pub async fn root(connection: &mut PgConnection, size: u64) -> Result<Hash, ProofError> {
    if size == 0 {
        return Ok(merkle::empty_root());
    }
    // The root is the fold of the size's perfect subtrees: one proof part.
    let part = ProofPart(merkle::Frontier::ids(size));
    Ok(assemble(connection, std::slice::from_ref(&part))
        .await?
        .pop()
        .unwrap_or_else(merkle::empty_root))
}
