//! Who the load generator speaks as: accounts, their portal tokens and the license
//! servers (each with its own host-bound token), over one HTTP connection pool.
//! The same fleet drives the ledger and, re-aimed, the peer.

use std::sync::Arc;

use uuid::Uuid;

use crate::{mint, Role, Verifier};

/// Hosts each identity allocates to and reports usage for.
pub const HOSTS_PER_IDENTITY: usize = 3;

/// One client's identity: an account, its portal token and its license servers.
#[derive(Debug, Clone)]
pub struct Identity {
    /// The account.
    pub account: Uuid,
    /// A portal token of that account.
    pub portal: String,
    /// `(host, license-server token for that host)`.
    pub servers: Vec<(String, String)>,
}

/// Everything a load task needs to send requests.
#[derive(Clone)]
pub struct Fleet {
    /// Shared connection pool.
    pub client: reqwest::Client,
    /// e.g. `http://127.0.0.1:41234`.
    pub base_url: String,
    /// The accounts the load is spread over.
    pub accounts: Arc<Vec<Uuid>>,
    tokens: Arc<Verifier>,
    /// Whether commands carry a bearer token and an `Idempotency-Key` (the
    /// ledger, as production clients send them) or neither (the peer).
    credentials: bool,
}

impl Fleet {
    /// A fleet over `accounts`, with tokens issued by `tokens`.
    pub fn new(base_url: &str, accounts: Vec<Uuid>, tokens: Verifier) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(1024)
            .tcp_nodelay(true)
            .build()?;
        Ok(Self {
            client,
            base_url: base_url.to_owned(),
            accounts: Arc::new(accounts),
            tokens: Arc::new(tokens),
            credentials: true,
        })
    }

    /// The same identities sent to the peer at `base_url`, without credentials.
    pub fn aimed_at_peer(&self, base_url: &str) -> Self {
        Self {
            base_url: base_url.to_owned(),
            credentials: false,
            ..self.clone()
        }
    }

    /// A command (POST) to `url` as the holder of `token`, with a fresh
    /// `Idempotency-Key` when the target takes credentials.
    pub fn command(&self, url: &str, token: &str) -> reqwest::RequestBuilder {
        let request = self.client.post(url);
        if self.credentials {
            request
                .bearer_auth(token)
                .header("idempotency-key", Uuid::new_v4().to_string())
        } else {
            request
        }
    }

    /// The `n`th identity: accounts in turn, hosts of its own.
    pub fn identity(&self, n: usize) -> Identity {
        let account = self.accounts[n % self.accounts.len()];
        let servers = (0..HOSTS_PER_IDENTITY)
            .map(|k| {
                let host = format!("bench-{n}-{k}");
                let token = mint(
                    &self.tokens,
                    Role::LicenseServer,
                    Some(account),
                    Some(&host),
                );
                (host, token)
            })
            .collect();
        Identity {
            account,
            portal: mint(&self.tokens, Role::Portal, Some(account), None),
            servers,
        }
    }

    /// `path` under an account's routes.
    pub fn account_url(&self, account: Uuid, path: &str) -> String {
        format!("{}/v1/accounts/{account}{path}", self.base_url)
    }
}

/// A small, fast, seedable generator: load tasks pick accounts and licenses
/// without a shared lock or another dependency.
#[derive(Debug, Clone)]
pub struct Pick(u64);

impl Pick {
    /// Seeded; 0 is replaced (xorshift stays at 0 forever).
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// A number below `bound` (> 0).
    pub fn below(&mut self, bound: usize) -> usize {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        (x % bound.max(1) as u64) as usize
    }
}
