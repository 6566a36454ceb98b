//! The soak's clients: every command carries an `Idempotency-Key` and is sent
//! again, with the same key, through the other gateway when an answer does not
//! come (a killed process, a restarting engine), until it is decided. A command
//! counts as acknowledged only when a 2xx answer came back; each answer's
//! position is kept so the store can be checked for it afterwards.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::Value;
use uuid::Uuid;

/// How long one attempt may take before it is abandoned and sent again.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a command is retried before the client gives up on it.
const GIVE_UP_AFTER: Duration = Duration::from_secs(180);

/// Everything the clients saw, shared between them.
#[derive(Debug, Default)]
pub struct Seen {
    /// Positions named by acknowledged commands (their last event).
    pub acknowledged: Vec<i64>,
    /// Commands acknowledged, by name.
    pub commands: std::collections::BTreeMap<&'static str, u64>,
    /// When each 5xx answer came, and what it said (with the wall-clock time, to
    /// find it in the ledger's log).
    pub server_errors: Vec<(Instant, String)>,
    /// Attempts that got no answer (connection refused or reset, timeout).
    pub unanswered: u64,
    /// Attempts answered "busy" (429, or the key's first attempt still running).
    pub busy: u64,
    /// Commands refused with a status their caller did not expect, or given up.
    pub failures: Vec<String>,
    /// Queries answered 2xx.
    pub queries: u64,
}

/// Sends commands and queries to the gateways.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    gateways: Arc<Vec<String>>,
    /// What was seen.
    pub seen: Arc<Mutex<Seen>>,
}

impl Client {
    /// A client of `gateways` (base URLs), all serving the same ledger.
    pub fn new(gateways: Vec<String>) -> anyhow::Result<Self> {
        Ok(Self {
            http: reqwest::Client::builder()
                .timeout(ATTEMPT_TIMEOUT)
                .pool_max_idle_per_host(64)
                .build()?,
            gateways: Arc::new(gateways),
            seen: Arc::default(),
        })
    }

    fn seen(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Purchases acknowledged so far.
    pub fn purchases(&self) -> u64 {
        self.seen().commands.get("purchase").copied().unwrap_or(0)
    }

    /// POSTs a command `name` to `path` as `token` under a new key until it is
    /// decided; the answer when its status was `expected`.
    pub async fn command(
        &self,
        name: &'static str,
        path: &str,
        token: &str,
        body: Option<Value>,
        expected: u16,
    ) -> Option<Value> {
        let key = Uuid::new_v4().to_string();
        let started = Instant::now();
        let mut attempt = 0usize;
        loop {
            let gateway = &self.gateways[attempt % self.gateways.len()];
            attempt += 1;
            let mut request = self
                .http
                .post(format!("{gateway}{path}"))
                .bearer_auth(token)
                .header("Idempotency-Key", &key);
            if let Some(body) = &body {
                request = request.json(body);
            }
            let retry = match request.send().await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let text = response.text().await.unwrap_or_default();
                    if status == expected {
                        let answer: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                        let mut seen = self.seen();
                        if let Some(position) = answer["position"].as_i64() {
                            seen.acknowledged.push(position);
                        }
                        *seen.commands.entry(name).or_default() += 1;
                        return Some(answer);
                    }
                    match status {
                        500..=599 => {
                            self.seen().server_errors.push((
                                Instant::now(),
                                format!("{} {name} {status}: {text}", now()),
                            ));
                            true
                        }
                        // Rate limited, or this key's earlier attempt still runs.
                        429 | 409
                            if text.contains("rate-limited")
                                || text.contains("idempotency-key-in-use") =>
                        {
                            self.seen().busy += 1;
                            true
                        }
                        _ => {
                            self.seen()
                                .failures
                                .push(format!("{name} answered {status}: {text}"));
                            return None;
                        }
                    }
                }
                Err(_) => {
                    self.seen().unanswered += 1;
                    true
                }
            };
            if !retry || started.elapsed() > GIVE_UP_AFTER {
                self.seen()
                    .failures
                    .push(format!("{name} gave up after {attempt} attempts"));
                return None;
            }
            tokio::time::sleep(Duration::from_millis(100 * attempt.min(20) as u64)).await;
        }
    }

    /// GETs `path` as `token` until it answers 2xx, through either gateway;
    /// `None` after [`GIVE_UP_AFTER`] (recorded as a failure).
    pub async fn read(&self, path: &str, token: &str) -> Option<()> {
        let started = Instant::now();
        let mut attempt = 0;
        while started.elapsed() < GIVE_UP_AFTER {
            if self.query(attempt, path, token).await {
                return Some(());
            }
            attempt += 1;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.seen()
            .failures
            .push(format!("GET {path} never answered 2xx"));
        None
    }

    /// GETs `path` as `token` through gateway `n`; whether it answered 2xx. A
    /// 5xx is recorded like a command's.
    pub async fn query(&self, n: usize, path: &str, token: &str) -> bool {
        let gateway = &self.gateways[n % self.gateways.len()];
        match self
            .http
            .request(Method::GET, format!("{gateway}{path}"))
            .bearer_auth(token)
            .send()
            .await
        {
            Ok(response) if response.status().is_success() => {
                // Read the whole answer: an export streams.
                let whole = response.bytes().await.is_ok();
                if whole {
                    self.seen().queries += 1;
                }
                whole
            }
            Ok(response) if response.status().is_server_error() => {
                let status = response.status();
                let text = response.text().await.unwrap_or_default();
                self.seen().server_errors.push((
                    Instant::now(),
                    format!("{} GET {path} {status}: {text}", now()),
                ));
                false
            }
            _ => false,
        }
    }
}

/// The wall-clock time, as the ledger's log writes it.
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
