//! PostgreSQL start-up: create the database if it is missing, open the pool and
//! apply the migrations in `migrations/` (embedded at build time).

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context as _;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgConnection, PgPool};

/// Migrations embedded from the workspace's `migrations/` folder.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// Creates the database named in `url` if it does not exist, connecting to the
/// server's `postgres` database to do so.
pub async fn ensure_database(url: &str) -> anyhow::Result<()> {
    let options = PgConnectOptions::from_str(url).context("parsing database_url")?;
    let name = options
        .get_database()
        .context("database_url names no database")?
        .to_owned();
    let mut admin = options
        .clone()
        .database("postgres")
        .connect()
        .await
        .context("connecting to PostgreSQL to check the database exists")?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&name)
            .fetch_one(&mut admin)
            .await
            .context("checking the database exists")?;
    if !exists {
        let quoted = format!("\"{}\"", name.replace('"', "\"\""));
        match sqlx::query(&format!("CREATE DATABASE {quoted}"))
            .execute(&mut admin)
            .await
        {
            Ok(_) => tracing::info!(database = %name, "created database"),
            // Another process created it between our check and our create: either
            // "duplicate database" or the catalog's unique index, depending on timing.
            Err(sqlx::Error::Database(e))
                if matches!(e.code().as_deref(), Some("42P04") | Some("23505")) => {}
            Err(e) => return Err(e).context("creating the database"),
        }
    }
    admin.close().await.ok();
    Ok(())
}

/// How long a request waits for a connection before it is answered 503. sqlx
/// retries a lost server within this time, doubling its pause up to a fifth of it:
/// with its default of 30 s, requests held through a PostgreSQL restart kept
/// sleeping up to 6 s after the server was back.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// Pool settings shared by the ledger's roles and the auditors' checks.
fn pool_options(max_connections: u32) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(ACQUIRE_TIMEOUT)
}

/// Opens the pool and brings the schema up to date.
pub async fn connect_and_migrate(url: &str, max_connections: u32) -> anyhow::Result<PgPool> {
    ensure_database(url).await?;
    let pool = pool_options(max_connections)
        .connect(url)
        .await
        .context("connecting to PostgreSQL")?;
    MIGRATOR.run(&pool).await.context("applying migrations")?;
    Ok(pool)
}

/// Opens a pool on an existing ledger database without changing it: for the
/// auditors' checks, which must never create a database (a mistyped name would
/// then "verify" an empty store) nor migrate the one they inspect.
pub async fn connect_to_store(url: &str, max_connections: u32) -> anyhow::Result<PgPool> {
    let pool = pool_options(max_connections)
        .connect(url)
        .await
        .context("connecting to PostgreSQL")?;
    let store: Option<String> = sqlx::query_scalar("SELECT to_regclass('events')::text")
        .fetch_one(&pool)
        .await
        .context("looking for the event store")?;
    if store.is_none() {
        pool.close().await;
        anyhow::bail!("this database holds no ledger event store (is database_url right?)");
    }
    Ok(pool)
}

/// A connection of its own (not from the pool), for a session-level advisory lock:
/// the lock lives and dies with this connection. `application_name` shows in
/// `pg_stat_activity`, so an operator can see which process holds the lock.
pub async fn dedicated_connection(
    url: &str,
    application_name: &str,
) -> anyhow::Result<PgConnection> {
    PgConnectOptions::from_str(url)
        .context("parsing database_url")?
        .application_name(application_name)
        .connect()
        .await
        .context("opening a dedicated PostgreSQL connection")
}
