//! The peer's store: its own database, holding postgres-es's documented tables
//! (`db/init.sql` of postgres-es 0.5: `events`, and `snapshots`, which a
//! snapshotting store would use) and nothing else.

use sqlx::migrate::MigrateDatabase as _;
use sqlx::postgres::PgPoolOptions;
use sqlx::{PgPool, Postgres};

/// postgres-es's DDL as documented, with `IF NOT EXISTS` so a restart reuses it.
const TABLES: [&str; 2] = [
    "CREATE TABLE IF NOT EXISTS events
     (
         aggregate_type text                         NOT NULL,
         aggregate_id   text                         NOT NULL,
         sequence       bigint CHECK (sequence >= 0) NOT NULL,
         event_type     text                         NOT NULL,
         event_version  text                         NOT NULL,
         payload        json                         NOT NULL,
         metadata       json                         NOT NULL,
         PRIMARY KEY (aggregate_type, aggregate_id, sequence)
     )",
    "CREATE TABLE IF NOT EXISTS snapshots
     (
         aggregate_type   text                                 NOT NULL,
         aggregate_id     text                                 NOT NULL,
         last_sequence    bigint CHECK (last_sequence >= 0)    NOT NULL,
         current_snapshot bigint CHECK (current_snapshot >= 0) NOT NULL,
         payload          json                                 NOT NULL,
         PRIMARY KEY (aggregate_type, aggregate_id, last_sequence)
     )",
];

/// Connections in the pool: the ledger's production default, so neither side
/// wins by its pool size.
const MAX_CONNECTIONS: u32 = 16;

/// Creates the database of `database_url` and its tables when missing, and
/// returns a pool on it.
pub async fn open(database_url: &str) -> anyhow::Result<PgPool> {
    if !Postgres::database_exists(database_url).await? {
        Postgres::create_database(database_url).await?;
    }
    let pool = PgPoolOptions::new()
        .max_connections(MAX_CONNECTIONS)
        .connect(database_url)
        .await?;
    for table in TABLES {
        sqlx::query(table).execute(&pool).await?;
    }
    Ok(pool)
}

/// Drops the database of `database_url` (best effort: a benchmark's clean-up).
pub async fn drop_database(database_url: &str) {
    let _ = Postgres::force_drop_database(database_url).await;
}
