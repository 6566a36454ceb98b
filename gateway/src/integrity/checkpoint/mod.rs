//! Signed checkpoints (DESIGN.md decision 8, part two): the hash chains catch an
//! event altered, removed or reordered within its stream, but not one inserted
//! whole by SQL (the database chains it like any other), nor a stream removed or
//! cut short at its end. A checkpoint signs the transparency log's head
//! ([`crate::integrity::tree`]): its size and Merkle root over every event in
//! commit order, so any event changed, added, removed or moved at or before it
//! changes the root, and an auditor checks proofs against it offline.
//!
//! - [`tree_head`]: the checkpoint, a C2SP `tlog-checkpoint` signed note (pure);
//! - [`write`]: signing one (the active relay does, on the schedule of
//!   [`crate::relay::checkpoint_schedule`]);
//! - [`store`]: the checkpoint stream in the database;
//! - [`verify`] and [`verify_tree`]: checking the history against them.
//! - [`canonical`]: version 1, which signed every stream head (it grew with the
//!   store until it outgrew the broker's message limit). It is no longer
//!   written; stored ones still decode and verify.

pub mod canonical;
pub mod store;
pub mod tree_head;
pub mod verify;
pub mod verify_tree;
pub mod write;

pub use verify::{verify_checkpoints, CheckpointProblem, CheckpointReport, CheckpointStatus};
pub use write::{write_checkpoint, Written};
