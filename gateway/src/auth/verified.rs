//! Tokens whose signature already held, so that a token sent again is not
//! verified again: Ed25519 verification was the largest single cost the gateway
//! added to a request (~6 % of its CPU in a `perf` profile under the benchmark
//! harness). Keyed by the whole token, signature included, so only a token that
//! was verified can hit; the caller still checks its times, issuer and audience
//! on every request. Bounded: when full it starts over.

use std::collections::HashMap;
use std::sync::Mutex;

use super::token::Claims;

/// Tokens remembered at most; a portal deployment holds a handful per backend.
const CAPACITY: usize = 10_000;

/// Claims of tokens whose signature was checked.
#[derive(Debug, Default)]
pub struct VerifiedTokens {
    entries: Mutex<HashMap<String, Claims>>,
}

impl VerifiedTokens {
    /// The claims of `token`, when its signature was checked before.
    pub(crate) fn get(&self, token: &str) -> Option<Claims> {
        self.entries.lock().ok()?.get(token).cloned()
    }

    /// Remembers `token`'s claims once its signature has held.
    pub(crate) fn insert(&self, token: &str, claims: Claims) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= CAPACITY {
                entries.clear();
            }
            entries.insert(token.to_owned(), claims);
        }
    }

    /// How many tokens are remembered.
    pub fn len(&self) -> usize {
        self.entries
            .lock()
            .map(|entries| entries.len())
            .unwrap_or(0)
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
