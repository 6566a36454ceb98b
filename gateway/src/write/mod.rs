//! The write side at the edge: commands decided by the domain and appended to the
//! event store through cqrs-es and postgres-es, and reading that store back.
//!
//! - [`commands`]: load, decide, append, with bounded retries on conflict;
//! - [`turns`]: commands on one aggregate queued within the process;
//! - [`event_store`]: the store read in commit order or one stream at a time;
//! - [`replay`]: the store folded into a scratch copy of the read models, for
//!   `ledger audit` and the as-of history queries.

pub mod commands;
pub mod event_store;
pub mod replay;
pub mod turns;
