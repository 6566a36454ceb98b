//! What a process reports about itself, handed together to every part that
//! reports: the blockers readiness names, each role's progress, and the metrics.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::metrics::Metrics;
use crate::progress::Progress;
use crate::readiness::Blockers;
use crate::run::Role;

/// The process's own health, shared by its roles and its HTTP probes.
#[derive(Debug, Clone)]
pub struct Vitals {
    /// What keeps a role from making progress, for readiness.
    pub blockers: Arc<Blockers>,
    /// How far each role has got.
    pub progress: Arc<Progress>,
    /// What `/metrics` serves.
    pub metrics: Arc<Metrics>,
}

/// Those of a process serving only the API, without NATS.
impl Default for Vitals {
    fn default() -> Self {
        Self::new(&BTreeSet::from([Role::Gateway]), false)
    }
}

impl Vitals {
    /// Those of a process running `roles`, connected to NATS or not.
    pub fn new(roles: &BTreeSet<Role>, uses_nats: bool) -> Self {
        Self {
            blockers: Arc::default(),
            progress: Arc::new(Progress::new(roles)),
            metrics: Arc::new(Metrics::new(roles, uses_nats)),
        }
    }
}
