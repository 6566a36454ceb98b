//! Pages kept in the gateway's memory: the landing page and the license lists,
//! answered without PostgreSQL while the account has not moved.
//!
//! A page's answer depends on the account's applied license events and on time
//! ([`PageVersion`]). The projector tells every gateway, with each batch, which
//! accounts moved and to which version ([`AppliedNotice`], heard by [`listen`]).
//! A kept page is served while all of this holds:
//! - the account's newest version heard is not past the page's;
//! - the instant asked for lies between the one the page was read for and the
//!   next instant time alone changes it (midnight, or a purchase dated later);
//! - it is younger than `read_cache_max_age_ms`: notices travel at most once,
//!   so a lost one is found at the next notice (each names where its batch
//!   started, which must be where the last one ended) or outlived by this age;
//! - the notices are being heard at all, without a gap, since it was read.
//!
//! Anything else reads the database, as do requests with `min_position`
//! (read-your-writes is checked against the projector's checkpoint, which a
//! notice in flight may not have reached the gateway with yet) and requests that
//! say `Cache-Control: no-cache`. A page's body names its own `as_of`, so it is
//! kept without it and given the instant asked for when served: the answer is
//! byte for byte the one the database would give at that version.

pub mod listen;
pub mod serve;

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{header, HeaderMap};
use chrono::{DateTime, Utc};
use ledger_projections::applied::AppliedNotice;
use ledger_projections::queries::page_version::PageVersion;
use uuid::Uuid;

use crate::metrics::{CacheOutcome, ReadCacheMetrics};

/// Most accounts whose newest version is remembered; past it everything is
/// forgotten at once (and read again), so memory stays bounded whatever the
/// number of accounts.
const MOST_ACCOUNTS_REMEMBERED: usize = 100_000;

/// What the cache may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheSettings {
    /// Most bytes of pages kept (0: nothing is kept).
    pub max_bytes: usize,
    /// Longest a page is served without reading it again.
    pub max_age: Duration,
}

/// Which page: its account, and the request's path and query less `as_of` and
/// `min_position` (see [`crate::http::conditional::asked`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PageKey {
    /// The account the page is of.
    pub account: Uuid,
    /// Path and query, as asked.
    pub asked: String,
}

/// Taken before a page is read from the database, handed back to keep it: a
/// page read across a gap in the notices is not kept.
#[derive(Debug, Clone, Copy)]
pub struct Ticket {
    epoch: u64,
}

/// A kept page, as served for an instant.
#[derive(Debug, Clone)]
pub struct Hit {
    /// The page's version.
    pub version: PageVersion,
    /// The JSON body for the instant asked for.
    pub body: Bytes,
}

#[derive(Debug)]
struct Kept {
    version: PageVersion,
    /// The instant the page was read for: it holds from there to `changes_at`.
    read_for: DateTime<Utc>,
    /// The body after its `as_of`.
    tail: Bytes,
    stored_at: Instant,
    epoch: u64,
}

impl Kept {
    fn weight(&self, key: &PageKey) -> usize {
        self.tail.len() + key.asked.len() + std::mem::size_of::<Self>()
    }
}

#[derive(Debug, Default)]
struct State {
    /// Whether notices are being heard: nothing is kept or served otherwise.
    listening: bool,
    /// Moves whenever what was kept can no longer be trusted.
    epoch: u64,
    /// Where the last notice's batch ended.
    reached: u64,
    /// Each account's newest version heard since the last reset.
    heard: HashMap<Uuid, (i64, i64)>,
    pages: HashMap<PageKey, Kept>,
    bytes: usize,
}

impl State {
    fn reset(&mut self) {
        self.epoch += 1;
        self.heard.clear();
        self.pages.clear();
        self.bytes = 0;
    }

    fn heard_of(&self, account: &Uuid) -> (i64, i64) {
        self.heard.get(account).copied().unwrap_or((0, 0))
    }

    fn forget(&mut self, key: &PageKey) {
        if let Some(kept) = self.pages.remove(key) {
            self.bytes = self.bytes.saturating_sub(kept.weight(key));
        }
    }
}

/// Why the cache forgot everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetCause {
    /// Notices began to be heard (at start, or after a lost connection).
    Listening,
    /// Notices stopped being heard.
    Deaf,
    /// A notice started where the last one had not ended: one was missed.
    Gap,
    /// A batch moved more accounts than a notice names.
    Everything,
    /// Something on the subject was not a notice.
    Malformed,
    /// More accounts moved than are remembered.
    TooManyAccounts,
}

impl ResetCause {
    /// Every cause, for metrics at zero.
    pub const ALL: [Self; 6] = [
        Self::Listening,
        Self::Deaf,
        Self::Gap,
        Self::Everything,
        Self::Malformed,
        Self::TooManyAccounts,
    ];

    /// Its metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Listening => "listening",
            Self::Deaf => "deaf",
            Self::Gap => "gap",
            Self::Everything => "everything",
            Self::Malformed => "malformed",
            Self::TooManyAccounts => "too_many_accounts",
        }
    }
}

/// The pages, their versions and what has been heard of the accounts.
#[derive(Debug)]
pub struct ReadCache {
    settings: CacheSettings,
    state: Mutex<State>,
    metrics: ReadCacheMetrics,
}

impl ReadCache {
    /// A cache holding up to `settings`, counting into `metrics`. It serves nothing
    /// until [`ReadCache::listening`] says notices are heard.
    pub fn new(settings: CacheSettings, metrics: ReadCacheMetrics) -> Self {
        metrics.capacity.set(gauge(settings.max_bytes));
        Self {
            settings,
            state: Mutex::new(State::default()),
            metrics,
        }
    }

    /// Whether it may keep pages at all.
    pub fn enabled(&self) -> bool {
        self.settings.max_bytes > 0 && !self.settings.max_age.is_zero()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind: go on with it.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The kept page `key` for the instant `as_of`, or none (counted as a miss)
    /// when there is none that holds. `None` too when `request` says
    /// `Cache-Control: no-cache` (counted as bypassed).
    pub fn lookup(&self, key: &PageKey, as_of: DateTime<Utc>, request: &HeaderMap) -> Option<Hit> {
        if !self.enabled() {
            return None;
        }
        if asks_for_a_fresh_read(request) {
            self.metrics.counted(CacheOutcome::Bypassed);
            return None;
        }
        let mut state = self.state();
        let held = state.pages.get(key).and_then(|kept| {
            let holds = state.listening
                && kept.epoch == state.epoch
                && kept.stored_at.elapsed() < self.settings.max_age
                && kept.read_for <= as_of
                && as_of < kept.version.changes_at
                && state.heard_of(&key.account) <= kept.version.applied;
            holds.then(|| (kept.version, kept.tail.clone()))
        });
        if held.is_none() {
            state.forget(key);
            self.metrics.bytes.set(gauge(state.bytes));
        }
        drop(state);
        self.metrics.counted(if held.is_some() {
            CacheOutcome::Hit
        } else {
            CacheOutcome::Miss
        });
        // The body is put together outside the lock: the other requests wait
        // only for the lookup.
        held.map(|(version, tail)| Hit {
            version,
            body: with_as_of(as_of, &tail),
        })
    }

    /// A ticket to keep a page about to be read, or none while nothing may be kept.
    pub fn ticket(&self) -> Option<Ticket> {
        if !self.enabled() {
            return None;
        }
        let state = self.state();
        state.listening.then_some(Ticket { epoch: state.epoch })
    }

    /// Keeps `body`, the page `key` at `version` read for `as_of` under `ticket`,
    /// unless a notice heard meanwhile says the account moved past it, or the
    /// notices had a gap since the ticket. A body that does not begin with its
    /// `as_of` is not kept.
    pub fn keep(
        &self,
        ticket: Ticket,
        key: PageKey,
        version: PageVersion,
        as_of: DateTime<Utc>,
        body: &Bytes,
    ) {
        let Some(tail) = tail_after_as_of(as_of, body) else {
            tracing::warn!(page = %key.asked, "a page's body does not begin with its as_of: not kept");
            return;
        };
        let kept = Kept {
            version,
            read_for: as_of,
            tail,
            stored_at: Instant::now(),
            epoch: ticket.epoch,
        };
        let weight = kept.weight(&key);
        // One page may take a sixteenth of the room at most, so one large page
        // never empties the cache of the rest.
        if weight > self.settings.max_bytes / 16 {
            return;
        }
        let mut state = self.state();
        if !state.listening
            || ticket.epoch != state.epoch
            || state.heard_of(&key.account) > version.applied
        {
            return;
        }
        state.forget(&key);
        while state.bytes + weight > self.settings.max_bytes {
            // Any page will do: the hash map's order is as good as random.
            let Some(victim) = state.pages.keys().next().cloned() else {
                break;
            };
            state.forget(&victim);
        }
        state.bytes += weight;
        state.pages.insert(key, kept);
        self.metrics.bytes.set(gauge(state.bytes));
    }

    /// Notices are heard from now on; the last batch applied ended at stream
    /// sequence `reached` (read after subscribing, so no later batch goes unheard).
    pub fn listening(&self, reached: u64) {
        let mut state = self.state();
        state.listening = true;
        state.reached = reached;
        self.metrics.listening.set(1);
        self.start_over(&mut state, ResetCause::Listening);
    }

    /// Notices are not heard any more: nothing is kept or served until
    /// [`ReadCache::listening`] again.
    pub fn deaf(&self) {
        let mut state = self.state();
        state.listening = false;
        self.metrics.listening.set(0);
        self.start_over(&mut state, ResetCause::Deaf);
    }

    /// Something on the notice subject could not be read: what it said is
    /// unknown, so nothing kept is trusted.
    pub fn malformed(&self) {
        self.start_over(&mut self.state(), ResetCause::Malformed);
    }

    /// What a batch's notice says.
    pub fn heard(&self, notice: &AppliedNotice) {
        let mut state = self.state();
        if !state.listening {
            return;
        }
        let gap = notice.after != state.reached;
        state.reached = notice.reached;
        if gap {
            // A batch whose notice went missing, or one that failed after its
            // notice and was applied again: either way, start over.
            return self.start_over(&mut state, ResetCause::Gap);
        }
        if notice.everything {
            return self.start_over(&mut state, ResetCause::Everything);
        }
        for (account, transaction_id, position) in &notice.accounts {
            let heard = state.heard.entry(*account).or_insert((0, 0));
            *heard = (*heard).max((*transaction_id, *position));
        }
        if state.heard.len() > MOST_ACCOUNTS_REMEMBERED {
            self.start_over(&mut state, ResetCause::TooManyAccounts);
        }
    }

    /// Drops every page and what was heard, counting why.
    fn start_over(&self, state: &mut State, cause: ResetCause) {
        state.reset();
        self.metrics.reset(cause);
        self.metrics.bytes.set(gauge(state.bytes));
    }
}

fn gauge(bytes: usize) -> i64 {
    i64::try_from(bytes).unwrap_or(i64::MAX)
}

/// Whether the request asks for an answer read afresh (`Cache-Control: no-cache`
/// or `no-store`, or the older `Pragma: no-cache`).
fn asks_for_a_fresh_read(request: &HeaderMap) -> bool {
    let says = |name: header::HeaderName| {
        request.get_all(name).iter().any(|value| {
            value.to_str().is_ok_and(|value| {
                value.split(',').any(|directive| {
                    let directive = directive.trim();
                    directive.eq_ignore_ascii_case("no-cache")
                        || directive.eq_ignore_ascii_case("no-store")
                })
            })
        })
    };
    says(header::CACHE_CONTROL) || says(header::PRAGMA)
}

/// How a page's JSON body begins: its `as_of`, serialized as the page's own.
fn as_of_prefix(as_of: DateTime<Utc>) -> String {
    // An instant always serializes.
    format!(
        "{{\"as_of\":{}",
        serde_json::to_string(&as_of).unwrap_or_default()
    )
}

/// The body after its `as_of`, if it begins with it.
fn tail_after_as_of(as_of: DateTime<Utc>, body: &Bytes) -> Option<Bytes> {
    let prefix = as_of_prefix(as_of);
    body.starts_with(prefix.as_bytes())
        .then(|| body.slice(prefix.len()..))
}

/// A kept body given the instant `as_of`.
fn with_as_of(as_of: DateTime<Utc>, tail: &Bytes) -> Bytes {
    let prefix = as_of_prefix(as_of);
    let mut body = Vec::with_capacity(prefix.len() + tail.len());
    body.extend_from_slice(prefix.as_bytes());
    body.extend_from_slice(tail);
    body.into()
}

#[cfg(test)]
mod tests;
