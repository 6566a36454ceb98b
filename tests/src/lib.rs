//! Harness for the black-box tests: each test gets a fresh database, a fresh
//! JetStream stream and subject prefix, and the real `ledger` binary on port 0,
//! so tests run in parallel without seeing each other's data.
#![allow(clippy::expect_used, clippy::unwrap_used)]

pub mod analytics;
pub mod bench;

use std::collections::{BTreeMap, HashSet};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _};
use async_nats::jetstream::{self, message::StreamMessage};
use ledger_domain::usage::ServerHost;
use ledger_domain::{AccountId, License, LicenseEvent};
use ledger_gateway::auth::token::TokenRequest;
pub use ledger_gateway::auth::{Role, Verifier};
use serde_json::Value;
use sqlx::PgPool;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
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
        let keys = ledger_gateway::license_keys::parse_compact(&self.auth_signing_keys)
            .expect("the test's own auth key");
        ledger_gateway::config::Settings {
            auth_signing_keys: ledger_gateway::license_keys::SigningKeys(keys),
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
    let key = ledger_gateway::license_keys::generate(key_id, active_from)
        .expect("generating a signing key");
    ledger_gateway::license_keys::compact_entry(&key)
}

/// Path of the `ledger` binary built for this package's tests. A macro, because
/// Cargo tells only integration tests (not this library) where it is.
#[macro_export]
macro_rules! ledger_bin {
    () => {
        env!("CARGO_BIN_EXE_ledger-under-test")
    };
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

/// A running `ledger` process.
pub struct Ledger {
    child: Child,
    /// e.g. `http://127.0.0.1:41234`.
    pub base_url: String,
    /// Issues tokens it accepts.
    pub tokens: Arc<Verifier>,
}

impl Ledger {
    /// Starts `ledger serve` (binary `bin`, from [`ledger_bin!`]) with all roles and
    /// extra environment, and waits until it is ready.
    pub async fn start(bin: &str, env: &TestEnv, extra: &[(&str, &str)]) -> anyhow::Result<Self> {
        Self::start_roles(bin, env, "gateway,relay,projector", extra).await
    }

    /// Starts `ledger serve --roles <roles>` and waits until it is ready.
    pub async fn start_roles(
        bin: &str,
        env: &TestEnv,
        roles: &str,
        extra: &[(&str, &str)],
    ) -> anyhow::Result<Self> {
        let log_path = env.log_path();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .context("opening the process log")?;
        let mut child = Command::new(bin)
            .args(["serve", "--roles", roles])
            .envs(env.vars())
            .envs(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())))
            .stdout(Stdio::piped())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .context("starting the ledger binary")?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let first = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .with_context(|| format!("ledger did not start; see {}", log_path.display()))??
            .with_context(|| format!("ledger exited at start; see {}", log_path.display()))?;
        let Some(address) = first.strip_prefix("listening on ") else {
            bail!("unexpected first line `{first}`");
        };
        // Keep draining stdout so the process can never block on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let ledger = Self {
            child,
            base_url: address.to_owned(),
            tokens: Arc::new(env.tokens()),
        };
        ledger.wait_ready().await?;
        Ok(ledger)
    }

    async fn wait_ready(&self) -> anyhow::Result<()> {
        let client = reqwest::Client::new();
        for _ in 0..300 {
            let ready = client
                .get(format!("{}/health/ready", self.base_url))
                .send()
                .await
                .map(|r| r.status().is_success())
                .unwrap_or(false);
            if ready {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("ledger never became ready")
    }

    /// The process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// SIGKILL: no shutdown code runs.
    pub async fn kill(&mut self) {
        self.child.start_kill().expect("sending SIGKILL");
        let _ = self.child.wait().await;
    }
}

/// Runs `ledger <args>` (binary `bin`) against `env` to completion.
pub async fn run_ledger(bin: &str, env: &TestEnv, args: &[&str]) -> std::process::Output {
    Command::new(bin)
        .args(args)
        .envs(env.vars())
        .output()
        .await
        .expect("running the ledger binary")
}

/// A finished command's exit status and everything it printed, stdout then stderr.
pub fn status_and_output(output: &std::process::Output) -> (i32, String) {
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code().unwrap_or(-1), said)
}

/// A client for one account's part of the API, with a portal token of it.
#[derive(Clone)]
pub struct Api {
    client: reqwest::Client,
    base: String,
    tokens: Arc<Verifier>,
    token: String,
    /// The account every call acts for.
    pub account: Uuid,
}

/// An HTTP answer: status and JSON body (`Null` when the body is not JSON).
#[derive(Debug, Clone)]
pub struct Answer {
    /// Status code.
    pub status: u16,
    /// Body.
    pub body: Value,
}

impl Api {
    /// A client for a fresh account.
    pub fn new(ledger: &Ledger) -> Self {
        let account = Uuid::now_v7();
        Self {
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("building the HTTP client"),
            base: ledger.base_url.clone(),
            token: mint(&ledger.tokens, Role::Portal, Some(account), None),
            tokens: ledger.tokens.clone(),
            account,
        }
    }

    /// The same client acting for `account` (with a portal token of it).
    pub fn for_account(self, account: Uuid) -> Self {
        Self {
            token: mint(&self.tokens, Role::Portal, Some(account), None),
            account,
            ..self
        }
    }

    /// The same account with a token of `role` (a license server's for `host`).
    pub fn as_role(&self, role: Role, host: Option<&str>) -> Self {
        Self {
            token: mint(&self.tokens, role, Some(self.account), host),
            ..self.clone()
        }
    }

    /// The same client acting for `account` with `token` (e.g. one `ledger admin
    /// issue-token` printed).
    pub fn with_token(&self, account: Uuid, token: &str) -> Self {
        Self {
            account,
            token: token.to_owned(),
            ..self.clone()
        }
    }

    /// GET `path` as text (CSV, NDJSON): status and body.
    pub async fn text(&self, path: &str) -> anyhow::Result<(u16, String)> {
        let response = self.request(reqwest::Method::GET, path).send().await?;
        Ok((response.status().as_u16(), response.text().await?))
    }

    /// The bearer token it sends.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The same account, talking to another (e.g. restarted) process.
    pub fn at(&self, ledger: &Ledger) -> Self {
        Self {
            base: ledger.base_url.clone(),
            ..self.clone()
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/v1/accounts/{}{path}", self.base, self.account)
    }

    /// POST a JSON body to `path` (relative to the account).
    pub async fn post(&self, path: &str, body: Value) -> anyhow::Result<Answer> {
        let response = self
            .request(reqwest::Method::POST, path)
            .json(&body)
            .send()
            .await?;
        answer(response).await
    }

    /// POST with no body.
    pub async fn post_empty(&self, path: &str) -> anyhow::Result<Answer> {
        let response = self.request(reqwest::Method::POST, path).send().await?;
        answer(response).await
    }

    /// GET `path` (relative to the account).
    pub async fn get(&self, path: &str) -> anyhow::Result<Answer> {
        let response = self.request(reqwest::Method::GET, path).send().await?;
        answer(response).await
    }

    /// A request builder for the account-relative `path`, with the token.
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, self.url(path))
            .bearer_auth(&self.token)
    }
}

/// Reads status and JSON body.
pub async fn answer(response: reqwest::Response) -> anyhow::Result<Answer> {
    let status = response.status().as_u16();
    let bytes = response.bytes().await?;
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Ok(Answer { status, body })
}

/// A valid purchase body: 1,000 user/device seats of XDT Enterprise.
pub fn purchase_body(expires_on: Option<chrono::NaiveDate>) -> Value {
    serde_json::json!({
        "product": "XDT",
        "edition": "ENT",
        "version": "7.15",
        "license_model": "user_device",
        "binding_type": "host_name",
        "quantity": 1000,
        "expires_on": expires_on,
        "maintenance_until": (chrono::Utc::now().date_naive() + chrono::Days::new(365)),
        "order_number": "ORD-0001234",
        "access_code": "LA-0001234567-12345",
    })
}

/// A [`purchase_body`] license of `api`'s account, purchased and activated: two
/// events. Returns its id.
pub async fn activated_license(api: &Api) -> String {
    let purchased = api
        .post("/licenses", purchase_body(None))
        .await
        .expect("purchasing");
    assert_eq!(purchased.status, 201, "{}", purchased.body);
    let id = purchased.body["license_id"]
        .as_str()
        .expect("a license id")
        .to_owned();
    let code = serde_json::json!({"access_code": "LA-0001234567-12345"});
    let activated = api
        .post(&format!("/licenses/{id}/activate"), code)
        .await
        .expect("activating");
    assert_eq!(activated.status, 200, "{}", activated.body);
    id
}

/// Noon (UTC) on `date`: a purchase placed there is half a day from either midnight.
pub fn noon(date: chrono::NaiveDate) -> chrono::DateTime<chrono::Utc> {
    date.and_time(chrono::NaiveTime::from_hms_opt(12, 0, 0).expect("noon is a time"))
        .and_utc()
}

/// Purchases a [`purchase_body`] license with its own order number, purchase
/// instant and expiry; returns its id.
pub async fn buy(
    api: &Api,
    order: &str,
    purchased_at: chrono::DateTime<chrono::Utc>,
    expires_on: Option<chrono::NaiveDate>,
) -> String {
    let mut body = purchase_body(expires_on);
    body["order_number"] = serde_json::json!(order);
    body["purchased_at"] = serde_json::json!(purchased_at);
    let answer = api.post("/licenses", body).await.expect("purchasing");
    assert_eq!(answer.status, 201, "{order}: {}", answer.body);
    answer.body["license_id"]
        .as_str()
        .expect("a license id")
        .to_owned()
}

/// One license on each side of every boundary of the portal's time rules, as of
/// `today` (a past day, so that `as_of` alone decides): purchased 30 (`NEW-30`)
/// and 31 (`OLD-31`) days before; expiring in 0, 30, 31, 90 and 91 days
/// (`EXP-<days>`); expired yesterday (`EXPIRED-1`). Keys are the order numbers,
/// values the license ids.
pub async fn buy_boundary_licenses(
    api: &Api,
    today: chrono::NaiveDate,
) -> BTreeMap<&'static str, String> {
    let days_ago = |n: u64| noon(today - chrono::Days::new(n));
    let mut ids = BTreeMap::new();
    ids.insert("NEW-30", buy(api, "NEW-30", days_ago(30), None).await);
    ids.insert("OLD-31", buy(api, "OLD-31", days_ago(31), None).await);
    for (order, days_left) in [
        ("EXP-0", 0),
        ("EXP-30", 30),
        ("EXP-31", 31),
        ("EXP-90", 90),
        ("EXP-91", 91),
    ] {
        let expires_on = today + chrono::Days::new(days_left);
        let id = buy(api, order, days_ago(200 + days_left), Some(expires_on)).await;
        ids.insert(order, id);
    }
    let yesterday = today - chrono::Days::new(1);
    let expired = buy(api, "EXPIRED-1", days_ago(300), Some(yesterday)).await;
    ids.insert("EXPIRED-1", expired);
    ids
}

/// A row of the event store.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredRow {
    /// Aggregate id.
    pub aggregate_id: String,
    /// Sequence in the aggregate.
    pub sequence: i64,
    /// Event name.
    pub event_type: String,
    /// Stored payload (`{"Name": body}`).
    pub payload: Value,
    /// Global position.
    pub global_position: i64,
}

/// Every event in the store, in global order.
pub async fn stored_events(pool: &PgPool) -> Vec<StoredRow> {
    sqlx::query_as(
        "SELECT aggregate_id, sequence, event_type, payload, global_position
           FROM events ORDER BY global_position",
    )
    .fetch_all(pool)
    .await
    .expect("reading the event store")
}

/// A header of a stream message as text (panics if absent: the contract requires it).
pub fn header(message: &StreamMessage, name: &str) -> String {
    message
        .headers
        .get(name)
        .unwrap_or_else(|| panic!("message without {name}"))
        .to_string()
}

/// A numeric header of a stream message.
pub fn header_number(message: &StreamMessage, name: &str) -> i64 {
    header(message, name)
        .parse()
        .unwrap_or_else(|_| panic!("{name} is not a number"))
}

/// Every message in the stream, in stream order.
pub async fn stream_messages(js: &jetstream::Context, stream: &str) -> Vec<StreamMessage> {
    let mut stream = js.get_stream(stream).await.expect("opening the stream");
    let last = stream
        .info()
        .await
        .expect("stream info")
        .state
        .last_sequence;
    let mut messages = Vec::new();
    for sequence in 1..=last {
        messages.push(
            stream
                .get_raw_message(sequence)
                .await
                .expect("reading a message"),
        );
    }
    messages
}

/// Waits until the stream holds every stored event and the projector has applied
/// the whole stream.
pub async fn wait_until_projected(env: &TestEnv, timeout: Duration) -> anyhow::Result<()> {
    let pool = env.pool().await;
    let js = env.jetstream().await;
    let started = tokio::time::Instant::now();
    loop {
        let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
            .fetch_one(&pool)
            .await?;
        let applied: Option<i64> = sqlx::query_scalar(
            "SELECT stream_sequence FROM read_model.checkpoints WHERE projection = 'licenses'",
        )
        .fetch_optional(&pool)
        .await?;
        let streamed = match js.get_stream(&env.stream).await {
            Ok(mut stream) => stream.info().await?.state.messages as i64,
            Err(_) => 0,
        };
        if streamed == stored && applied.unwrap_or(0) >= streamed {
            return Ok(());
        }
        if started.elapsed() > timeout {
            bail!("not caught up: stored {stored}, streamed {streamed}, applied {applied:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A NATS server of the test's own, on a free port with its own store, that the
/// test may kill and restart. The binary is `NATS_SERVER_BIN` (deploy/test.sh sets
/// it), else `nats-server` on PATH.
pub struct OwnNats {
    child: Option<std::process::Child>,
    port: u16,
    store: std::path::PathBuf,
    /// A configuration file from `deploy/nats/`, run as it is: port, monitoring and
    /// store come from the command line and `NATS_STORE_DIR`, which win over it.
    config: Option<std::path::PathBuf>,
    /// Environment for the server, e.g. the passwords the configuration reads.
    vars: Vec<(String, String)>,
}

impl OwnNats {
    /// Starts a server with JetStream and no authentication.
    pub async fn start() -> Self {
        Self::start_with_config(None, &[]).await
    }

    /// Starts a server from `config` (or none), with `vars` in its environment.
    pub async fn start_with_config(
        config: Option<&std::path::Path>,
        vars: &[(&str, &str)],
    ) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("finding a free port")
            .port();
        let store =
            std::env::temp_dir().join(format!("ledger-test-nats-{}", Uuid::new_v4().simple()));
        let mut nats = Self {
            child: None,
            port,
            store,
            config: config.map(std::path::Path::to_path_buf),
            vars: vars
                .iter()
                .map(|(name, value)| (name.to_string(), value.to_string()))
                .collect(),
        };
        nats.restart().await;
        nats
    }

    /// Its URL.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Its URL with a user's credentials in it, as `nats_url` takes them.
    pub fn url_as(&self, user: &str, password: &str) -> String {
        format!("nats://{user}:{password}@127.0.0.1:{}", self.port)
    }

    /// SIGKILL: the server stops at once, mid-write if it was writing.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port and store, and waits until it listens.
    pub async fn restart(&mut self) {
        let binary = std::env::var("NATS_SERVER_BIN").unwrap_or_else(|_| "nats-server".into());
        let mut command = std::process::Command::new(&binary);
        match &self.config {
            // The file names its store as `$NATS_STORE_DIR`: a `-sd` beside it
            // would be a second `store_dir`, which stops the server.
            Some(config) => command.arg("-c").arg(config),
            None => command.args(["-js", "-sd"]).arg(&self.store),
        };
        let log_path = self.store.with_extension("log");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .expect("opening the nats-server log");
        // `-m 0`: no monitoring port, which a configuration may set and the
        // machine's own server may already hold.
        command
            .args(["-a", "127.0.0.1", "-p", &self.port.to_string(), "-m", "0"])
            .env("NATS_STORE_DIR", &self.store)
            .envs(self.vars.iter().map(|(name, value)| (name, value)))
            .stdout(Stdio::null())
            .stderr(log);
        let child = command.spawn().unwrap_or_else(|e| {
            panic!("starting {binary} (set NATS_SERVER_BIN, or run deploy/test.sh): {e}")
        });
        self.child = Some(child);
        // A TCP connection, not a NATS one: a server that requires a login would
        // refuse an anonymous client. It listens only once JetStream is up.
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "nats-server did not come up on port {}; see {}",
            self.port,
            log_path.display()
        );
    }
}

impl Drop for OwnNats {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.store);
        // The server's log is kept only when the test failed.
        if !std::thread::panicking() {
            let _ = std::fs::remove_file(self.store.with_extension("log"));
        }
    }
}

/// Checks the stream and the read model against the event store: every stored
/// event streamed exactly once, per-license order, no message set aside, and each
/// license row equal to the fold of its events through the domain.
pub async fn assert_exactly_once_everywhere(env: &TestEnv) {
    wait_until_projected(env, Duration::from_secs(60))
        .await
        .unwrap();
    let pool = env.pool().await;
    let stored = stored_events(&pool).await;
    let messages = stream_messages(&env.jetstream().await, &env.stream).await;
    let streamed: Vec<(String, i64)> = messages
        .iter()
        .map(|m| {
            (
                header(m, "Ledger-Aggregate-Id"),
                header_number(m, "Ledger-Sequence"),
            )
        })
        .collect();
    let unique: HashSet<&(String, i64)> = streamed.iter().collect();
    assert_eq!(unique.len(), streamed.len(), "an event was streamed twice");
    let stored_keys: HashSet<(String, i64)> = stored
        .iter()
        .map(|row| (row.aggregate_id.clone(), row.sequence))
        .collect();
    let streamed_keys: HashSet<(String, i64)> = streamed.iter().cloned().collect();
    assert_eq!(
        streamed_keys, stored_keys,
        "stream and store hold different events"
    );
    let mut last_per_license: BTreeMap<&str, i64> = BTreeMap::new();
    for (id, sequence) in &streamed {
        let last = last_per_license.entry(id.as_str()).or_default();
        assert_eq!(
            *sequence,
            *last + 1,
            "license {id} out of order in the stream"
        );
        *last = *sequence;
    }

    let mut by_license: BTreeMap<String, Vec<&StoredRow>> = BTreeMap::new();
    for row in &stored {
        by_license
            .entry(row.aggregate_id.clone())
            .or_default()
            .push(row);
    }
    let rows: Vec<(uuid::Uuid, i32, i32, i64)> = sqlx::query_as(
        "SELECT license_id, quantity, allocated, last_sequence FROM read_model.licenses",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        rows.len(),
        by_license.len(),
        "one read-model row per license"
    );
    for (license_id, quantity, allocated, last_sequence) in rows {
        let events: Vec<LicenseEvent> = by_license[&license_id.to_string()]
            .iter()
            .map(|row| serde_json::from_value(row.payload.clone()).unwrap())
            .collect();
        let folded = License::replay(&events);
        let state = folded.state().unwrap();
        assert_eq!(quantity as u32, state.terms.quantity);
        assert_eq!(allocated as u32, state.allocated(), "license {license_id}");
        assert_eq!(last_sequence, events.len() as i64);
    }
    let rejected: i64 = sqlx::query_scalar("SELECT count(*) FROM read_model.rejected_messages")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(rejected, 0, "no message was set aside");
}
