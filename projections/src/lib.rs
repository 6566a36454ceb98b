//! The read side: read models built from the JetStream event stream, and the typed
//! queries the gateway serves from them.
//!
//! # Layout
//! - [`contract`]: the stream contract — subjects, headers, how an event is put on
//!   the stream and read back. The relay writes with it; every consumer reads with it.
//! - [`license_view`]: the pure fold of events into license and allocation rows;
//!   [`usage_view`]: usage reports into daily peak rows.
//! - [`writer`]: loads and saves those rows and the checkpoint, in one transaction.
//! - [`consumer`]: the durable JetStream consumer loop that feeds the writer.
//! - [`applied`]: the notice the projector sends of each batch, which accounts'
//!   pages moved, for the gateways' page caches.
//! - [`queries`]: what the gateway asks: a license, the landing page, read-your-writes.
//! - [`rebuild`]: replaying the stream into fresh tables and swapping them in;
//!   [`written`]: which licenses a rebuild's writer has written, so it loads only those.
//! - [`audit`]: the auditor's comparison of replayed and live read models, and the
//!   live projector's position and lock it compares at.
//! - [`supervise`]: restarting long-running loops after failures, keeping the last.
//! - [`lag`]: how far behind a role is (the projector's measured here), for
//!   readiness, `/health/status` and `/metrics`.
//!
//! This crate owns the `read_model` schema: nothing else writes to it.

pub mod applied;
pub mod audit;
pub mod consumer;
pub mod contract;
pub mod lag;
pub mod license_view;
pub mod queries;
pub mod rebuild;
pub mod supervise;
pub mod usage_view;
pub mod writer;
pub mod written;
