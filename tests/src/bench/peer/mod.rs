//! The peer: the minimal service a user would write from the cqrs-es and
//! postgres-es documentation, around the ledger's own `License` and `ServerUsage`
//! aggregates. axum, `postgres_cqrs` over postgres-es's standard `events` and
//! `snapshots` tables, and nothing more: no auth, no idempotency keys, no hash
//! chain, no outbox or relay, no read models. The benchmark drives it with the
//! same load generator as the ledger to give a ledger/peer ratio; `ledger-peer`
//! runs it.

mod routes;
mod schema;

use std::sync::Arc;

use anyhow::Context as _;
use tokio::net::TcpListener;

pub use routes::router;
pub use schema::{drop_database, open};

/// Creates the peer's database and tables when missing, listens on `listen`
/// (`host:port`, port 0 for any), announces `listening on http://…` on stdout
/// once it accepts connections, and serves until the process ends.
pub async fn serve(database_url: &str, listen: &str) -> anyhow::Result<()> {
    let pool = open(database_url).await?;
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, router(Arc::new(routes::Peer::new(pool)))).await?;
    Ok(())
}
