//! RFC 9162 §2.1 Merkle tree hashing, the incremental tree, and inclusion and
//! consistency proofs.
//!
//! # Storage model
//!
//! The tree of `n` leaves is stored as every *perfect subtree* it contains: a
//! [`NodeId`] `(level, index)` covers the `2^level` leaves from `index << level`.
//! Such a node never changes once complete, so storage is append-only, like the
//! events. [`Frontier::append`] returns exactly the nodes one new leaf completes,
//! and the caller stores them.
//!
//! RFC proofs also use hashes of *ragged* subtrees on the tree's right edge (say
//! leaves 4..7 of a 7-leaf tree), which are not perfect and change as the tree
//! grows. Each is the right-to-left fold of the perfect subtrees it decomposes into
//! (`4..7` = `node(4..6, 6)`), so a proof is described as a list of [`ProofPart`]s,
//! each a list of perfect subtrees to fold. [`needed`] lists what to fetch and
//! [`assemble`] builds the RFC proof; nothing but perfect subtrees is ever stored.
//!
//! # The empty tree
//!
//! RFC 9162 defines no consistency proof from the empty tree (it requires
//! `0 < first`). Here a tree of size 0 is consistent with every tree, with the
//! empty proof: it is a prefix of all of them, so there is nothing to prove, and a
//! client whose last checkpoint was a freshly created ledger moves on without a
//! special case. [`verify_consistency`] still checks that the old root is the empty
//! tree's root, so a mislabelled checkpoint is caught.
//! (transparency-dev/merkle rejects size 0 instead; we differ on purpose.)

use std::fmt;

use sha2::{Digest, Sha256};

#[cfg(test)]
mod tests;

/// A SHA-256 digest: a leaf hash, a node hash or a root.
pub type Hash = [u8; 32];

/// The hash of one leaf: `SHA-256(0x00 || data)`. The prefix keeps a leaf from
/// ever hashing like an interior node (a second-preimage attack).
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x00]);
    hasher.update(data);
    hasher.finalize().into()
}

/// The hash of an interior node: `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x01]);
    hasher.update(left);
    hasher.update(right);
    hasher.finalize().into()
}

/// The root of the empty tree: SHA-256 of the empty string.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// A perfect subtree: level L, index i covers leaves `[i << L, (i + 1) << L)`.
/// Leaves are level 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId {
    /// Height above the leaves: the subtree holds `2^level` leaves.
    pub level: u8,
    /// Position among the subtrees of this level, from the left.
    pub index: u64,
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "(level {}, index {})", self.level, self.index)
    }
}

/// Why a tree could not be rebuilt, a proof built, or a proof verified.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MerkleError {
    /// The leaf is not in a tree of that size: ask for a proof in a later tree
    /// head, or the index is simply wrong.
    #[error("leaf {index} is not in a tree of {size} leaves")]
    IndexOutOfRange {
        /// The leaf asked about.
        index: u64,
        /// The tree's size.
        size: u64,
    },
    /// Consistency goes from a smaller (or equal) tree to a bigger one; `old`
    /// above `new` means the caller swapped them or a log shrank.
    #[error("no consistency proof goes from a tree of {old} leaves to one of {new}")]
    BadSizes {
        /// The earlier tree's size.
        old: u64,
        /// The later tree's size.
        new: u64,
    },
    /// The proof has more or fewer hashes than a proof for these sizes has: it is
    /// not a proof for this question (truncated, padded, or for other sizes).
    #[error("the proof has {got} hashes; a proof for these sizes has {expected}")]
    WrongProofLength {
        /// How many a correct proof has.
        expected: usize,
        /// How many were given.
        got: usize,
    },
    /// The proof does not lead to the (new) tree's root: the leaf is not in that
    /// tree at that position, or the proof or the root was altered.
    #[error("the proof does not lead to the given root")]
    RootMismatch,
    /// The consistency proof does not reproduce the old tree's root: the old tree
    /// is not a prefix of the new one, or the proof or old root was altered.
    #[error("the consistency proof does not reproduce the old root")]
    OldRootMismatch,
    /// Storage does not have a node the proof needs: for a tree it stores in full,
    /// that is a storage fault, not a property of the tree.
    #[error("node {0} is not stored")]
    MissingNode(NodeId),
    /// A proof part lists no node: not one that [`inclusion_parts`] or
    /// [`consistency_parts`] produce.
    #[error("a proof part lists no node")]
    EmptyProofPart,
    /// The stored frontier of a tree does not have one hash per set bit of its
    /// size: the stored state is corrupt or from another size.
    #[error("a tree of {size} leaves has {expected} frontier nodes, not {got}")]
    WrongFrontierLength {
        /// The tree's size.
        size: u64,
        /// `size.count_ones()`.
        expected: usize,
        /// How many hashes were given.
        got: usize,
    },
}

/// Reference MTH over a list of leaf hashes (RFC 9162 definition, recursive split at
/// the largest power of two smaller than n). For tests and for full recomputation by
/// a verifier.
pub fn root_from_leaves(leaves: &[Hash]) -> Hash {
    match leaves {
        [] => empty_root(),
        [leaf] => *leaf,
        _ => {
            // A usize fits in a u64 on every target we build for, and back: k < len.
            let k = largest_power_of_two_below(leaves.len() as u64) as usize;
            node_hash(
                &root_from_leaves(&leaves[..k]),
                &root_from_leaves(&leaves[k..]),
            )
        }
    }
}

/// The largest power of two strictly smaller than `n`; `n` must be at least 2.
fn largest_power_of_two_below(n: u64) -> u64 {
    1 << (63 - (n - 1).leading_zeros())
}

/// The perfect subtrees that make up the leaves `[start, end)`, left to right
/// (largest first). `start` must be a multiple of a power of two at least
/// `end - start`, as every range of the RFC's recursive split is.
fn range_ids(start: u64, end: u64) -> Vec<NodeId> {
    let width = end - start;
    let mut ids = Vec::with_capacity(width.count_ones() as usize);
    let mut at = start;
    for level in (0..64u8).rev() {
        if (width >> level) & 1 == 1 {
            ids.push(NodeId {
                level,
                index: at >> level,
            });
            at += 1 << level;
        }
    }
    ids
}

/// Folds hashes right to left: `node(h1, node(h2, ... hk))`, the hash of a ragged
/// subtree from its perfect parts. `None` for no hashes.
fn fold_right<'a>(hashes: impl DoubleEndedIterator<Item = &'a Hash>) -> Option<Hash> {
    hashes.rev().fold(None, |right, left| match right {
        None => Some(*left),
        Some(right) => Some(node_hash(left, &right)),
    })
}

/// The incremental tree ("compact range" from 0 to size): the perfect subtrees of
/// size's binary decomposition, largest (leftmost) first.
///
/// This is all a writer needs to keep between appends: one hash per set bit of the
/// size, at most 64.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    /// How many leaves the tree has.
    size: u64,
    /// The hashes of [`Frontier::ids`]`(size)`, in that order.
    nodes: Vec<Hash>,
}

impl Frontier {
    /// The empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Which nodes make the frontier of a tree of `size` leaves, left to right.
    pub fn ids(size: u64) -> Vec<NodeId> {
        range_ids(0, size)
    }

    /// The frontier of a tree of `size` leaves from its nodes' hashes, in the order
    /// of [`Frontier::ids`]`(size)` (as read back from storage).
    pub fn from_nodes(size: u64, hashes: Vec<Hash>) -> Result<Self, MerkleError> {
        let expected = size.count_ones() as usize;
        if hashes.len() != expected {
            return Err(MerkleError::WrongFrontierLength {
                size,
                expected,
                got: hashes.len(),
            });
        }
        Ok(Self {
            size,
            nodes: hashes,
        })
    }

    /// How many leaves the tree has.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The frontier's hashes, in the order of [`Frontier::ids`]`(self.size())`.
    pub fn hashes(&self) -> &[Hash] {
        &self.nodes
    }

    /// The RFC root of the tree ([`empty_root`] for 0 leaves): the frontier folded
    /// right to left, `node(p1, node(p2, ... pk))`.
    pub fn root(&self) -> Hash {
        fold_right(self.nodes.iter()).unwrap_or_else(empty_root)
    }

    /// Appends one leaf hash (already [`leaf_hash`]ed). Returns every node this
    /// append completed, leaf first: `(NodeId { level: 0, index: size }, leaf)`,
    /// then each parent it completed up the tree. The caller stores exactly these,
    /// so storage holds every perfect subtree of the tree.
    pub fn append(&mut self, leaf: Hash) -> Vec<(NodeId, Hash)> {
        let mut id = NodeId {
            level: 0,
            index: self.size,
        };
        let mut hash = leaf;
        let mut completed = vec![(id, hash)];
        // Each trailing 1 bit of the old size is a perfect subtree at the end of
        // the frontier, the left sibling of the subtree just completed: merging
        // them completes their parent, like a carry in binary addition.
        for _ in 0..self.size.trailing_ones() {
            // The frontier holds one node per set bit of the size, so there is
            // one to pop for every trailing 1 bit.
            let Some(left) = self.nodes.pop() else { break };
            hash = node_hash(&left, &hash);
            id = NodeId {
                level: id.level + 1,
                index: id.index >> 1,
            };
            completed.push((id, hash));
        }
        self.nodes.push(hash);
        // A ledger does not reach 2^64 - 1 events (at a million a second that takes
        // over half a million years), so this cannot overflow.
        self.size += 1;
        completed
    }
}

/// One element of a proof: the perfect subtrees whose right-to-left fold is that
/// element's hash (one id for a perfect subtree).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProofPart(pub Vec<NodeId>);

/// What to fetch for the inclusion proof of leaf `index` in a tree of `size`
/// (RFC 9162 §2.1.3.1 PATH), in proof order (the leaf's sibling first).
pub fn inclusion_parts(index: u64, size: u64) -> Result<Vec<ProofPart>, MerkleError> {
    if index >= size {
        return Err(MerkleError::IndexOutOfRange { index, size });
    }
    // PATH(m, D[lo:hi]) walks down from the root; each step adds the subtree on
    // the other side of the split. Collected root first, so reversed at the end.
    let (mut lo, mut hi) = (0, size);
    let mut parts = Vec::new();
    while hi - lo > 1 {
        let mid = lo + largest_power_of_two_below(hi - lo);
        if index < mid {
            parts.push(ProofPart(range_ids(mid, hi)));
            hi = mid;
        } else {
            parts.push(ProofPart(range_ids(lo, mid)));
            lo = mid;
        }
    }
    parts.reverse();
    Ok(parts)
}

/// What to fetch for the consistency proof from `old` to `new` (RFC 9162 §2.1.4.1
/// SUBPROOF with the `true` start), in proof order. Err unless `old <= new`.
/// `old == new` gives the empty proof, and so does `old == 0` (the empty tree is a
/// prefix of every tree; see the module documentation).
pub fn consistency_parts(old: u64, new: u64) -> Result<Vec<ProofPart>, MerkleError> {
    if old > new {
        return Err(MerkleError::BadSizes { old, new });
    }
    if old == 0 || old == new {
        return Ok(Vec::new());
    }
    // SUBPROOF(m, D[lo:hi], complete), walked down from the root; `complete` says
    // whether D[lo:lo+m] is the whole old tree, whose root the verifier has.
    let (mut lo, mut hi, mut m, mut complete) = (0, new, old, true);
    let mut parts = Vec::new();
    loop {
        if m == hi - lo {
            if !complete {
                parts.push(ProofPart(range_ids(lo, hi)));
            }
            break;
        }
        let k = largest_power_of_two_below(hi - lo);
        if m <= k {
            parts.push(ProofPart(range_ids(lo + k, hi)));
            hi = lo + k;
        } else {
            parts.push(ProofPart(range_ids(lo, lo + k)));
            lo += k;
            m -= k;
            complete = false;
        }
    }
    parts.reverse();
    Ok(parts)
}

/// Every [`NodeId`] a list of parts needs (deduplicated, sorted), so a caller
/// fetches them in one query.
pub fn needed(parts: &[ProofPart]) -> Vec<NodeId> {
    let mut ids: Vec<NodeId> = parts
        .iter()
        .flat_map(|part| part.0.iter().copied())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// The proof hashes from the parts, looking each node up; `Err(MissingNode(id))` if
/// `lookup` returns `None`.
pub fn assemble(
    parts: &[ProofPart],
    lookup: impl Fn(NodeId) -> Option<Hash>,
) -> Result<Vec<Hash>, MerkleError> {
    parts
        .iter()
        .map(|part| {
            let hashes = part
                .0
                .iter()
                .map(|&id| lookup(id).ok_or(MerkleError::MissingNode(id)))
                .collect::<Result<Vec<_>, _>>()?;
            fold_right(hashes.iter()).ok_or(MerkleError::EmptyProofPart)
        })
        .collect()
}

/// RFC 9162 §2.1.3.2 verification: `leaf` (a [`leaf_hash`]) is at `index` of the
/// tree of `size` leaves whose root is `root`. Ok(()) or Err(why).
///
/// `root` must be the root of a tree of exactly `size` leaves, as a signed
/// checkpoint states; the proof shows nothing about other sizes.
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), MerkleError> {
    if index >= size {
        return Err(MerkleError::IndexOutOfRange { index, size });
    }
    let wrong_length = || MerkleError::WrongProofLength {
        expected: inclusion_parts(index, size).map_or(0, |parts| parts.len()),
        got: proof.len(),
    };
    // The RFC's algorithm: `f` is the node's index on its level, `s` the index of
    // the last node of that level.
    let (mut f, mut s) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s == 0 {
            return Err(wrong_length());
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            // A right-edge node without a right sibling moves up unchanged.
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(wrong_length());
    }
    if r != *root {
        return Err(MerkleError::RootMismatch);
    }
    Ok(())
}

/// RFC 9162 §2.1.4.2 verification: the tree of `old_size` leaves with `old_root` is
/// a prefix of the tree of `new_size` leaves with `new_root`.
///
/// `old_size == new_size` needs the empty proof and equal roots; `old_size == 0`
/// needs the empty proof and `old_root` = [`empty_root`] (see the module
/// documentation).
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), MerkleError> {
    if old_size > new_size {
        return Err(MerkleError::BadSizes {
            old: old_size,
            new: new_size,
        });
    }
    if old_size == 0 || old_size == new_size {
        if !proof.is_empty() {
            return Err(MerkleError::WrongProofLength {
                expected: 0,
                got: proof.len(),
            });
        }
        if old_size == 0 && *old_root != empty_root() {
            return Err(MerkleError::OldRootMismatch);
        }
        let same_tree = old_size == new_size;
        if same_tree && old_root != new_root {
            return Err(MerkleError::RootMismatch);
        }
        return Ok(());
    }
    let wrong_length = || MerkleError::WrongProofLength {
        expected: consistency_parts(old_size, new_size).map_or(0, |parts| parts.len()),
        got: proof.len(),
    };
    // Step 1: between different sizes the proof is never empty.
    let Some((head, tail)) = proof.split_first() else {
        return Err(wrong_length());
    };
    // Step 2: when the old tree is a perfect subtree of the new one, its root is
    // the proof's implicit first element.
    let (first, rest) = if old_size.is_power_of_two() {
        (*old_root, proof)
    } else {
        (*head, tail)
    };
    // Steps 3 and 4.
    let (mut f, mut s) = (old_size - 1, new_size - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    // Steps 5 and 6: `fr` rebuilds the old root, `sr` the new one.
    let (mut fr, mut sr) = (first, first);
    for c in rest {
        if s == 0 {
            return Err(wrong_length());
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    // Step 7.
    if s != 0 {
        return Err(wrong_length());
    }
    if fr != *old_root {
        return Err(MerkleError::OldRootMismatch);
    }
    if sr != *new_root {
        return Err(MerkleError::RootMismatch);
    }
    Ok(())
}
