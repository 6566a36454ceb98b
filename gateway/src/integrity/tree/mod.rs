//! The transparency log (DESIGN.md decision 8): a Merkle tree with RFC 9162
//! hashing over every event in commit order, the order the relay publishes them.
//! Leaf i is the i-th settled event; its data is the event's stored content hash,
//! so the tree pins each event's chain hash and its place in the log.
//!
//! - [`store`]: the tree's rows in PostgreSQL;
//! - [`grow`]: the active relay appends each settled event (and, on a store older
//!   than the tree, backfills it beside publishing);
//! - [`proof`]: inclusion and consistency proofs and roots from the stored nodes.
//!
//! A checkpoint ([`super::checkpoint`]) signs the tree's size and root; the proofs
//! are checked against it offline with only its public key (`ledger verify`).

pub mod grow;
pub mod proof;
pub mod store;
