//! The ledger's transparency log: a Merkle tree over every event, in commit order,
//! whose signed heads anyone can check offline.
//!
//! Events are append-only, and this module makes that promise checkable by people
//! who do not trust the operator:
//! - [`merkle`] hashes the events' canonical bytes into an append-only Merkle tree
//!   with the hashing of RFC 9162 (Certificate Transparency v2, §2.1): a leaf is
//!   `SHA-256(0x00 || data)`, an interior node `SHA-256(0x01 || left || right)`.
//!   From stored subtree hashes it assembles *inclusion proofs* (this event is at
//!   this position of the tree of this size) and *consistency proofs* (the tree of
//!   this size is a prefix of that bigger one: nothing was rewritten), and verifies
//!   both exactly as the RFC says.
//! - [`note`] writes and reads the tree heads: *checkpoints* in the C2SP
//!   `tlog-checkpoint` text format, signed as C2SP *signed notes* with Ed25519, and
//!   witnesses' *cosignatures* (`tlog-cosignature`, `cosignature/v1`). Because these
//!   are the formats of the Go checksum database and of Certificate Transparency's
//!   tiled logs, existing verifiers and witnesses take our checkpoints and keys as
//!   they are.
//!
//! Everything here is pure: no I/O, no clock. Timestamps are passed in, and the
//! caller fetches the stored nodes a proof needs ([`merkle::needed`]) in one query.
//!
//! # Layout
//! - [`merkle`]: hashing, the incremental tree ([`Frontier`]), proofs and their
//!   verification.
//! - [`note`]: checkpoint bodies, signed notes, verifier keys, cosignatures.

pub mod merkle;
pub mod note;

pub use merkle::{
    assemble, consistency_parts, empty_root, inclusion_parts, leaf_hash, needed, node_hash,
    root_from_leaves, verify_consistency, verify_inclusion, Frontier, Hash, MerkleError, NodeId,
    ProofPart,
};
pub use note::{
    cosign, sign_note, verify_cosignature, CheckpointBody, NoteError, NoteSignature, SignedNote,
    VerifierKey,
};
