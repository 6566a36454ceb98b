//! How far each role of this process has got, tracked in one place: a [`watch`]
//! per role measures its backlog every second; readiness (through the blockers
//! it sets), `GET /health/status` and `GET /metrics` all read what it found.
//!
//! A role is stalled when events wait for it and it has neither advanced nor
//! been caught up for `stall_after_secs` — counted from when the oldest waiting
//! event arrived, so a backlog that has only just formed is no stall. A standby
//! relay (another holds the lock) is responsible for nothing and never stalls.

pub mod watch;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use ledger_projections::lag::Backlog;
use ledger_projections::supervise::{Failure, LastFailure};

use crate::run::Role;

/// The progress of every role this process runs.
#[derive(Debug, Default)]
pub struct Progress {
    roles: BTreeMap<Role, Arc<RoleProgress>>,
}

impl Progress {
    /// Tracking for `roles`, from now.
    pub fn new<'a>(roles: impl IntoIterator<Item = &'a Role>) -> Self {
        let since = Utc::now();
        Self {
            roles: roles
                .into_iter()
                .map(|role| (*role, Arc::new(RoleProgress::new(*role, since))))
                .collect(),
        }
    }

    /// The tracking of `role`, if this process runs it.
    pub fn role(&self, role: Role) -> Option<&Arc<RoleProgress>> {
        self.roles.get(&role)
    }

    /// What is known of each role now.
    pub fn snapshots(&self, now: DateTime<Utc>) -> Vec<Snapshot> {
        self.roles.values().map(|role| role.snapshot(now)).collect()
    }
}

/// One role's progress, as its watch last measured it.
#[derive(Debug)]
pub struct RoleProgress {
    role: Role,
    /// When tracking began: a role that never advanced has waited since then.
    since: DateTime<Utc>,
    standby: AtomicBool,
    measured: Mutex<Measured>,
    /// The role loop's last failure: the likely cause of a stall.
    pub last_failure: LastFailure,
}

#[derive(Debug, Default)]
struct Measured {
    backlog: Option<Backlog>,
    at: Option<DateTime<Utc>>,
    last_progress: Option<DateTime<Utc>>,
    stalled: Option<String>,
}

/// What is known of a role at one instant.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// The role.
    pub role: Role,
    /// Whether it is doing its job here: false for a standby relay.
    pub active: bool,
    /// Its backlog, once measured (the gateway role has none).
    pub lag: Option<Lag>,
    /// When it last advanced or was found caught up.
    pub last_progress: Option<DateTime<Utc>>,
    /// When its backlog was last measured.
    pub measured_at: Option<DateTime<Utc>>,
    /// Why it counts as stalled, if it does.
    pub stalled: Option<String>,
}

/// How far behind a role is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lag {
    /// Events waiting for it.
    pub events: u64,
    /// How long the oldest of them has waited (0 when none waits).
    pub seconds: f64,
}

/// How a judgement changed what readiness should say about a role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// It is not stalled, and was not.
    Fine,
    /// It has just stalled, for this reason.
    Stalled(String),
    /// It was stalled and still is, for this (updated) reason.
    StillStalled(String),
    /// It was stalled and is not any more.
    Recovered,
}

impl RoleProgress {
    fn new(role: Role, since: DateTime<Utc>) -> Self {
        Self {
            role,
            since,
            standby: AtomicBool::new(false),
            measured: Mutex::default(),
            last_failure: LastFailure::default(),
        }
    }

    /// The role it tracks.
    pub fn role(&self) -> Role {
        self.role
    }

    fn measured(&self) -> MutexGuard<'_, Measured> {
        // A panic while holding the lock leaves a value that is still whole.
        self.measured
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether another process does this role's job (a relay waiting for the lock).
    pub fn set_standby(&self, standby: bool) {
        self.standby.store(standby, Ordering::Relaxed);
    }

    /// Keeps a measured backlog. The role progressed if its position moved or
    /// nothing waits for it.
    pub fn record(&self, backlog: Backlog, at: DateTime<Utc>) {
        let mut measured = self.measured();
        let moved = measured
            .backlog
            .is_some_and(|before| before.position != backlog.position);
        if moved || backlog.events == 0 {
            measured.last_progress = Some(at);
        }
        measured.backlog = Some(backlog);
        measured.at = Some(at);
    }

    /// Judges whether the role is stalled at `now` (no progress for longer than
    /// `stall_after` while events wait), keeps the verdict for the snapshot, and
    /// says how it changed.
    pub fn judge(&self, now: DateTime<Utc>, stall_after: Duration) -> Verdict {
        let standby = self.standby.load(Ordering::Relaxed);
        let failure = self.last_failure.get();
        let mut measured = self.measured();
        let reason = match measured.backlog {
            Some(backlog) if !standby => stall_reason(
                self.role,
                &backlog,
                measured.last_progress.unwrap_or(self.since),
                failure,
                now,
                stall_after,
            ),
            _ => None,
        };
        let was_stalled = measured.stalled.is_some();
        measured.stalled.clone_from(&reason);
        match (was_stalled, reason) {
            (false, None) => Verdict::Fine,
            (false, Some(reason)) => Verdict::Stalled(reason),
            (true, Some(reason)) => Verdict::StillStalled(reason),
            (true, None) => Verdict::Recovered,
        }
    }

    /// What is known of the role at `now`.
    pub fn snapshot(&self, now: DateTime<Utc>) -> Snapshot {
        let measured = self.measured();
        Snapshot {
            role: self.role,
            active: !self.standby.load(Ordering::Relaxed),
            lag: measured.backlog.map(|backlog| Lag {
                events: backlog.events,
                seconds: waited(&backlog, now).as_secs_f64(),
            }),
            last_progress: measured.last_progress,
            measured_at: measured.at,
            stalled: measured.stalled.clone(),
        }
    }
}

/// How long the oldest waiting event has waited at `now`.
fn waited(backlog: &Backlog, now: DateTime<Utc>) -> Duration {
    match backlog.oldest {
        Some(oldest) if backlog.events > 0 => (now - oldest).to_std().unwrap_or_default(),
        _ => Duration::ZERO,
    }
}

/// Why `role` is stalled at `now`, or `None` when it is not: events wait, and
/// since the later of its last progress and the oldest event's arrival more than
/// `stall_after` has passed. A failure since its last progress is named as the
/// likely cause.
fn stall_reason(
    role: Role,
    backlog: &Backlog,
    last_progress: DateTime<Utc>,
    failure: Option<Failure>,
    now: DateTime<Utc>,
    stall_after: Duration,
) -> Option<String> {
    if backlog.events == 0 {
        return None;
    }
    let waiting_since = backlog
        .oldest
        .map_or(last_progress, |oldest| oldest.max(last_progress));
    let stalled_for = (now - waiting_since).to_std().unwrap_or_default();
    if stalled_for <= stall_after {
        return None;
    }
    let (waiting, idle) = match role {
        Role::Relay => (
            "committed events not yet on the stream",
            "nothing published",
        ),
        Role::Projector => ("stream messages not yet applied", "nothing applied"),
        // Nothing waits for a gateway: it answers what it is asked.
        Role::Gateway => return None,
    };
    let mut reason = format!(
        "{} {waiting}, the oldest waiting {} s; {idle} for {} s (stall_after_secs = {})",
        backlog.events,
        waited(backlog, now).as_secs(),
        stalled_for.as_secs(),
        stall_after.as_secs(),
    );
    if let Some(failure) = failure.filter(|failure| failure.at > last_progress) {
        let ago = (now - failure.at).to_std().unwrap_or_default().as_secs();
        reason.push_str(&format!("; last failure {ago} s ago: {}", failure.error));
    }
    Some(reason)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const STALL_AFTER: Duration = Duration::from_secs(30);

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap()
    }

    fn backlog(position: u64, events: u64, oldest: Option<i64>) -> Backlog {
        Backlog {
            position,
            events,
            oldest: oldest.map(at),
        }
    }

    #[test]
    fn a_role_with_nothing_waiting_is_never_stalled() {
        let relay = RoleProgress::new(Role::Relay, at(0));
        relay.record(backlog(5, 0, None), at(100));
        assert_eq!(relay.judge(at(1_000), STALL_AFTER), Verdict::Fine);
        assert_eq!(relay.snapshot(at(1_000)).last_progress, Some(at(100)));
    }

    #[test]
    fn a_backlog_that_has_only_just_formed_is_no_stall_however_long_the_role_was_idle() {
        let relay = RoleProgress::new(Role::Relay, at(0));
        relay.record(backlog(5, 0, None), at(10));
        // Idle for a long time, then an event arrives a moment ago.
        relay.record(backlog(5, 1, Some(999)), at(1_000));
        assert_eq!(relay.judge(at(1_000), STALL_AFTER), Verdict::Fine);
    }

    #[test]
    fn a_backlog_that_does_not_move_for_longer_than_the_setting_is_a_stall_naming_its_numbers() {
        let relay = RoleProgress::new(Role::Relay, at(0));
        relay.record(backlog(5, 0, None), at(10));
        relay.record(backlog(5, 7, Some(20)), at(20));
        relay.record(backlog(5, 9, Some(20)), at(50));
        assert_eq!(relay.judge(at(50), STALL_AFTER), Verdict::Fine);
        relay.record(backlog(5, 9, Some(20)), at(51));
        let Verdict::Stalled(reason) = relay.judge(at(51), STALL_AFTER) else {
            panic!("not stalled");
        };
        assert_eq!(
            reason,
            "9 committed events not yet on the stream, the oldest waiting 31 s; \
             nothing published for 31 s (stall_after_secs = 30)"
        );
        let snapshot = relay.snapshot(at(51));
        assert_eq!(snapshot.stalled, Some(reason));
        assert_eq!(
            snapshot.lag,
            Some(Lag {
                events: 9,
                seconds: 31.0
            })
        );
        assert!(matches!(
            relay.judge(at(52), STALL_AFTER),
            Verdict::StillStalled(_)
        ));
    }

    #[test]
    fn a_role_that_advances_through_a_long_backlog_is_not_stalled_and_recovers_when_it_moves() {
        let projector = RoleProgress::new(Role::Projector, at(0));
        projector.record(backlog(100, 50, Some(0)), at(60));
        assert!(matches!(
            projector.judge(at(60), STALL_AFTER),
            Verdict::Stalled(_)
        ));
        // It moved: the oldest message is older than the setting, yet it is working.
        projector.record(backlog(120, 30, Some(1)), at(61));
        assert_eq!(projector.judge(at(61), STALL_AFTER), Verdict::Recovered);
        assert_eq!(projector.judge(at(90), STALL_AFTER), Verdict::Fine);
        let Verdict::Stalled(reason) = projector.judge(at(92), STALL_AFTER) else {
            panic!("not stalled again");
        };
        assert!(
            reason.starts_with("30 stream messages not yet applied, the oldest waiting 91 s; nothing applied for 31 s"),
            "{reason}"
        );
    }

    #[test]
    fn a_role_that_never_advanced_since_tracking_began_stalls_and_names_its_last_failure() {
        let relay = RoleProgress::new(Role::Relay, at(0));
        relay
            .last_failure
            .record(at(5), &anyhow::anyhow!("publishing to JetStream: closed"));
        relay.record(backlog(0, 3, None), at(31));
        let Verdict::Stalled(reason) = relay.judge(at(31), STALL_AFTER) else {
            panic!("not stalled");
        };
        assert!(
            reason.ends_with("; last failure 26 s ago: publishing to JetStream: closed"),
            "{reason}"
        );
    }

    #[test]
    fn a_standby_relay_is_never_stalled_and_says_it_is_not_active() {
        let relay = RoleProgress::new(Role::Relay, at(0));
        relay.set_standby(true);
        relay.record(backlog(0, 3, Some(0)), at(100));
        assert_eq!(relay.judge(at(100), STALL_AFTER), Verdict::Fine);
        assert!(!relay.snapshot(at(100)).active);
    }

    #[test]
    fn a_failure_before_the_last_progress_is_not_named_as_the_cause() {
        let relay = RoleProgress::new(Role::Relay, at(0));
        relay
            .last_failure
            .record(at(1), &anyhow::anyhow!("old trouble"));
        relay.record(backlog(1, 0, None), at(2));
        relay.record(backlog(1, 4, Some(3)), at(40));
        let Verdict::Stalled(reason) = relay.judge(at(40), STALL_AFTER) else {
            panic!("not stalled");
        };
        assert!(!reason.contains("old trouble"), "{reason}");
    }
}
