//! Signed checkpoints (DESIGN.md decision 8, part two): the hash chains catch an
//! event altered, removed or reordered, but not one inserted whole by SQL (the
//! database chains it like any other). A checkpoint pins every stream's head at a
//! settled commit position, signed with a configured Ed25519 key, so an event
//! inserted or removed at or before that position — in a stream it knew or a new
//! one — no longer matches what was signed.
//!
//! - [`canonical`]: the content and the exact signed bytes (pure);
//! - [`store`]: the cut, the heads and the checkpoint stream in the database;
//! - [`write`]: taking one; [`schedule`]: the active relay does, every
//!   `checkpoint_interval_secs`;
//! - [`verify`]: checking the history against them.

pub mod canonical;
pub mod schedule;
pub mod store;
pub mod verify;
pub mod write;

pub use schedule::{CheckpointSchedule, CheckpointTimer};
pub use verify::{verify_checkpoints, CheckpointProblem, CheckpointReport, CheckpointStatus};
pub use write::{write_checkpoint, Written};
