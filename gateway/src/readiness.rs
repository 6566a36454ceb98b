//! What keeps this process from doing its job, as `/health/ready` reports it: each
//! part (the relay, …) sets a reason while it cannot make progress and clears it
//! when it can again. A reason names the cause, so an operator reading readiness
//! knows what to fix.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

/// The reasons, by the part that set them.
#[derive(Debug, Default)]
pub struct Blockers {
    reasons: Mutex<BTreeMap<&'static str, String>>,
}

impl Blockers {
    fn reasons(&self) -> MutexGuard<'_, BTreeMap<&'static str, String>> {
        // A panic while holding the lock leaves a map that is still whole.
        self.reasons
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// `part` cannot make progress, because of `reason`.
    pub fn set(&self, part: &'static str, reason: impl Into<String>) {
        self.reasons().insert(part, reason.into());
    }

    /// `part` makes progress again.
    pub fn clear(&self, part: &'static str) {
        self.reasons().remove(part);
    }

    /// Every reason, as `<part>: <reason>`.
    pub fn all(&self) -> Vec<String> {
        self.reasons()
            .iter()
            .map(|(part, reason)| format!("{part}: {reason}"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reason_stays_until_its_part_clears_it() {
        let blockers = Blockers::default();
        assert!(blockers.all().is_empty());
        blockers.set("relay", "event too large");
        blockers.set("projector", "stalled");
        blockers.set("relay", "still too large");
        assert_eq!(
            blockers.all(),
            ["projector: stalled", "relay: still too large"]
        );
        blockers.clear("relay");
        assert_eq!(blockers.all(), ["projector: stalled"]);
    }
}
