//! PostgreSQL start-up: create the database if it is missing, open the pool and
//! apply the migrations in `migrations/` (embedded at build time).

use std::net::IpAddr;
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context as _;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgSslMode};
use sqlx::{ConnectOptions, Connection, PgConnection, PgPool};

/// Migrations embedded from the workspace's `migrations/` folder.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// How to connect to `url`. Where neither the URL's `sslmode` nor `PGSSLMODE`
/// chooses, a server on this machine (a loopback address or a Unix socket) is
/// reached without TLS: sqlx's default, `prefer`, otherwise encrypts every round
/// trip to a local server that has TLS on, as Debian's has, for no one to read.
pub fn connect_options(url: &str) -> anyhow::Result<PgConnectOptions> {
    let options = PgConnectOptions::from_str(url).context("parsing database_url")?;
    let chosen = std::env::var_os("PGSSLMODE").is_some() || names_ssl_mode(url);
    Ok(if !chosen && on_this_machine(&options) {
        options.ssl_mode(PgSslMode::Disable)
    } else {
        options
    })
}

/// Whether `url`'s query sets `sslmode` (or sqlx's spelling, `ssl-mode`).
fn names_ssl_mode(url: &str) -> bool {
    url.split_once('?').is_some_and(|(_, query)| {
        query
            .split('&')
            .filter_map(|pair| pair.split('=').next())
            .any(|key| key == "sslmode" || key == "ssl-mode")
    })
}

/// Whether `options` reach a server on this machine.
fn on_this_machine(options: &PgConnectOptions) -> bool {
    let host = options.get_host();
    options.get_socket().is_some()
        || host.starts_with('/')
        || host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|address| address.is_loopback())
}

/// Creates the database named in `url` if it does not exist, connecting to the
/// server's `postgres` database to do so.
pub async fn ensure_database(url: &str) -> anyhow::Result<()> {
    let options = connect_options(url)?;
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
        .connect_with(connect_options(url)?)
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
        .connect_with(connect_options(url)?)
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
    connect_options(url)?
        .application_name(application_name)
        .connect()
        .await
        .context("opening a dedicated PostgreSQL connection")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn mode(url: &str) -> PgSslMode {
        connect_options(url).unwrap().get_ssl_mode()
    }

    #[test]
    fn a_server_on_this_machine_goes_without_tls_unless_the_url_asks() {
        // The tests never set PGSSLMODE, which would choose for every URL.
        assert!(std::env::var_os("PGSSLMODE").is_none());
        for local in [
            "postgres://postgres@127.0.0.1:5432/ledger",
            "postgres://postgres@127.0.0.2/ledger",
            "postgres://postgres@localhost/ledger",
            "postgres://postgres@[::1]:5432/ledger",
            "postgres://postgres@%2Fvar%2Frun%2Fpostgresql/ledger",
            "postgres:///ledger?host=/var/run/postgresql",
        ] {
            assert!(matches!(mode(local), PgSslMode::Disable), "{local}");
        }
        assert!(matches!(
            mode("postgres://postgres@db.internal:5432/ledger"),
            PgSslMode::Prefer
        ));
        assert!(matches!(
            mode("postgres://postgres@127.0.0.1/ledger?sslmode=require"),
            PgSslMode::Require
        ));
        assert!(matches!(
            mode("postgres://postgres@localhost/ledger?application_name=x&sslmode=prefer"),
            PgSslMode::Prefer
        ));
    }
}
