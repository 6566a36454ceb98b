//! One test's private world: a fresh database, stream and subject prefix, the
//! keys its ledger signs with, and tokens it accepts.

use std::time::Duration;

use async_nats::jetstream::{self};
use ledger_domain::usage::ServerHost;
use ledger_domain::AccountId;
use ledger_gateway::auth::token::TokenRequest;
use ledger_gateway::auth::{Role, Verifier};
use sqlx::PgPool;
use uuid::Uuid;

/// PostgreSQL server the tests use (`TEST_POSTGRES_URL`, default the local one).
pub fn pg_server() -> String {
    std::env::var("TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

/// NATS server the tests use (`TEST_NATS_URL`, default the local one).
pub fn nats_server() -> String {
    std::env::var("TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
}

/// One test's private database and stream.
#[derive(Debug, Clone)]
pub struct TestEnv {
    /// Database name.
    pub database: String,
    /// Full database URL.
    pub database_url: String,
    /// JetStream stream name.
    pub stream: String,
    /// Subject prefix.
    pub prefix: String,
    /// NATS server URL.
    pub nats_url: String,
    /// `LEDGER_LICENSE_SIGNING_KEYS`: a signing key generated for this test alone.
    pub license_signing_keys: String,
    /// `LEDGER_AUTH_SIGNING_KEYS`: the key this test's bearer tokens are signed with.
    pub auth_signing_keys: String,
    /// `LEDGER_CHECKPOINT_SIGNING_KEYS`: none unless [`TestEnv::with_checkpoints`].
    pub checkpoint_signing_keys: String,
}

impl TestEnv {
    /// New, unused names.
    pub fn fresh() -> Self {
        let id = Uuid::new_v4().simple().to_string();
        let database = format!("ledger_test_{id}");
        Self {
            database_url: format!("{}/{database}", pg_server()),
            database,
            stream: format!("LEDGER_TEST_{id}"),
            prefix: format!("t{id}.events"),
            nats_url: nats_server(),
            license_signing_keys: generated_signing_key("test-key", "2000-01-01T00:00:00Z"),
            auth_signing_keys: generated_signing_key("test-auth", "2000-01-01T00:00:00Z"),
            checkpoint_signing_keys: String::new(),
        }
    }

    /// The same, with a checkpoint signing key of its own and a checkpoint every second.
    pub fn with_checkpoints(self) -> Self {
        Self {
            checkpoint_signing_keys: generated_signing_key("ck-test", "2000-01-01T00:00:00Z"),
            ..self
        }
    }

    /// The same names on another PostgreSQL server (one the test starts and stops).
    pub fn on_postgres(self, server_url: &str) -> Self {
        Self {
            database_url: format!("{server_url}/{}", self.database),
            ..self
        }
    }

    /// The same names on another NATS server (one the test starts and stops).
    pub fn on_nats(self, nats_url: &str) -> Self {
        Self {
            nats_url: nats_url.to_owned(),
            ..self
        }
    }

    /// Environment for the `ledger` process.
    pub fn vars(&self) -> Vec<(String, String)> {
        let mut vars = vec![
            ("LEDGER_DATABASE_URL".into(), self.database_url.clone()),
            ("LEDGER_NATS_URL".into(), self.nats_url.clone()),
            ("LEDGER_LISTEN_ADDR".into(), "127.0.0.1:0".into()),
            ("LEDGER_STREAM_NAME".into(), self.stream.clone()),
            ("LEDGER_SUBJECT_PREFIX".into(), self.prefix.clone()),
            ("LEDGER_DATABASE_MAX_CONNECTIONS".into(), "8".into()),
            (
                "LEDGER_LICENSE_SIGNING_KEYS".into(),
                self.license_signing_keys.clone(),
            ),
            (
                "LEDGER_AUTH_SIGNING_KEYS".into(),
                self.auth_signing_keys.clone(),
            ),
            // Load and fault tests send far more than a portal would per token.
            ("LEDGER_RATE_LIMIT_PER_SECOND".into(), "1000000".into()),
            ("LEDGER_RATE_LIMIT_BURST".into(), "1000000".into()),
            ("RUST_LOG".into(), "info".into()),
        ];
        if !self.checkpoint_signing_keys.is_empty() {
            vars.push((
                "LEDGER_CHECKPOINT_SIGNING_KEYS".into(),
                self.checkpoint_signing_keys.clone(),
            ));
            vars.push(("LEDGER_CHECKPOINT_INTERVAL_SECS".into(), "1".into()));
        }
        vars
    }

    /// Issues this test's tokens, as the ledger's default settings check them.
    pub fn tokens(&self) -> Verifier {
        let keys = ledger_gateway::signing_keys::parse_compact(&self.auth_signing_keys)
            .expect("the test's own auth key");
        ledger_gateway::config::Settings {
            auth_signing_keys: ledger_gateway::signing_keys::SigningKeys(keys),
            ..Default::default()
        }
        .token_verifier()
    }

    /// A token of `role` in `account` (a license server's for `host`), valid an hour.
    pub fn token(&self, role: Role, account: Option<Uuid>, host: Option<&str>) -> String {
        mint(&self.tokens(), role, account, host)
    }

    /// Where the ledger processes of this test write their logs (stderr).
    pub fn log_path(&self) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("{}.log", self.database))
    }

    /// A pool on the test database (which the ledger creates on start).
    pub async fn pool(&self) -> PgPool {
        sqlx::postgres::PgPoolOptions::new()
            .max_connections(4)
            .connect(&self.database_url)
            .await
            .expect("connecting to the test database")
    }

    /// A JetStream context on the test server, logged in as the ledger is.
    pub async fn jetstream(&self) -> jetstream::Context {
        let client = ledger_gateway::nats::connect(&self.nats_url)
            .await
            .expect("connecting to NATS");
        jetstream::new(client)
    }

    /// Drops the database and the stream. Best effort: a failed test leaves them
    /// behind for inspection only if cleanup itself fails.
    ///
    /// Tests call it while their ledger processes still run, and a projector
    /// whose stream vanished restarts and creates it again: the database goes
    /// first (nothing restarts far without it), and a stream that came back
    /// within a moment is deleted once more.
    pub async fn cleanup(&self) {
        if let Ok(pool) = PgPool::connect(&format!("{}/postgres", pg_server())).await {
            let _ = sqlx::query(&format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.database
            ))
            .execute(&pool)
            .await;
        }
        if let Ok(js) = ledger_gateway::nats::connect(&self.nats_url)
            .await
            .map(jetstream::new)
        {
            for _ in 0..3 {
                let _ = js.delete_stream(&self.stream).await;
                tokio::time::sleep(Duration::from_millis(200)).await;
                if js.get_stream(&self.stream).await.is_err() {
                    break;
                }
            }
        }
    }
}

/// A new Ed25519 signing key from the OS's randomness, as one entry of
/// `LEDGER_LICENSE_SIGNING_KEYS` (`<key id>=<base64 seed>@<active_from>`).
pub fn generated_signing_key(key_id: &str, active_from: &str) -> String {
    let active_from = active_from.parse().expect("an RFC 3339 instant");
    let key = ledger_gateway::signing_keys::generate(key_id, active_from)
        .expect("generating a signing key");
    ledger_gateway::signing_keys::compact_entry(&key)
}

/// A token of `role` in `account` (a license server's for `host`) from `tokens`,
/// valid an hour, held by `test-<role>`.
pub fn mint(tokens: &Verifier, role: Role, account: Option<Uuid>, host: Option<&str>) -> String {
    let request = TokenRequest {
        subject: format!("test-{role}"),
        role,
        account: account.map(AccountId),
        host: host.map(|host| ServerHost::parse(host).expect("a host id")),
        valid_for: chrono::Duration::hours(1),
    };
    tokens
        .issue(&request, chrono::Utc::now())
        .expect("issuing a test token")
        .token
}
