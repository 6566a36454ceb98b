//! The License aggregate: its state, and how each event changes it.
//!
//! `apply` never fails and never decides: it only folds facts that were already
//! accepted. Folding the same events always gives the same state, which is what
//! lets auditors rebuild a license as of any instant.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};

use crate::commands::LicenseCommand;
use crate::decide::decide;
use crate::errors::LicenseError;
use crate::events::LicenseEvent;
use crate::terms::LicenseTerms;
use crate::values::{AccountId, AllocationId, HostId};

/// One license line; `None` until it is purchased.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct License {
    state: Option<LicenseState>,
}

/// A purchased license.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LicenseState {
    /// The owning account.
    pub account_id: AccountId,
    /// Its terms, as purchased and since renewed or upgraded.
    pub terms: LicenseTerms,
    /// When it was activated, once it is.
    pub activated_at: Option<DateTime<Utc>>,
    /// Hidden from default views.
    pub hidden: bool,
    /// Every allocation ever made, live or not, by id.
    pub allocations: BTreeMap<AllocationId, Allocation>,
}

/// Seats allocated to one license server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Allocation {
    /// The server.
    pub host: HostId,
    /// Seats.
    pub quantity: u32,
    /// Whether its file is still valid.
    pub status: AllocationStatus,
}

/// What became of an allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AllocationStatus {
    /// On its server; its license file is valid.
    Live,
    /// Moved to another server by a modification; its file is void.
    Moved,
    /// Given back to the pool; its file is void.
    Returned,
}

impl License {
    /// The purchased state, or `None` if nothing was purchased under this id.
    pub fn state(&self) -> Option<&LicenseState> {
        self.state.as_ref()
    }

    /// Folds events from the start into a license.
    pub fn replay<'a>(events: impl IntoIterator<Item = &'a LicenseEvent>) -> Self {
        let mut license = Self::default();
        for event in events {
            license.apply_event(event);
        }
        license
    }

    fn apply_event(&mut self, event: &LicenseEvent) {
        if let LicenseEvent::Purchased(p) = event {
            self.state = Some(LicenseState {
                account_id: p.account_id,
                terms: p.terms.clone(),
                activated_at: None,
                hidden: false,
                allocations: BTreeMap::new(),
            });
            return;
        }
        // Every other event follows a purchase; the store guarantees the order.
        let Some(state) = self.state.as_mut() else {
            return;
        };
        match event {
            LicenseEvent::Purchased(_) => {}
            LicenseEvent::Activated(a) => state.activated_at = Some(a.activated_at),
            LicenseEvent::Allocated(a) => {
                state.allocations.insert(
                    a.allocation_id,
                    Allocation {
                        host: a.host.clone(),
                        quantity: a.quantity,
                        status: AllocationStatus::Live,
                    },
                );
            }
            LicenseEvent::Modified(m) => {
                if let Some(old) = state.allocations.get_mut(&m.allocation_id) {
                    old.status = AllocationStatus::Moved;
                }
                state.allocations.insert(
                    m.new_allocation_id,
                    Allocation {
                        host: m.to_host.clone(),
                        quantity: m.quantity,
                        status: AllocationStatus::Live,
                    },
                );
            }
            LicenseEvent::Returned(r) => {
                if let Some(old) = state.allocations.get_mut(&r.allocation_id) {
                    old.status = AllocationStatus::Returned;
                }
            }
            LicenseEvent::Hidden(_) => state.hidden = true,
            LicenseEvent::Unhidden(_) => state.hidden = false,
            LicenseEvent::Renewed(r) => {
                if let Some(expires_on) = r.expires_on {
                    state.terms.expires_on = Some(expires_on);
                }
                if let Some(maintenance_until) = r.maintenance_until {
                    state.terms.maintenance_until = maintenance_until;
                }
            }
            LicenseEvent::Upgraded(u) => {
                if let Some(edition) = u.to_edition {
                    state.terms.edition = edition;
                }
                if let Some(version) = &u.to_version {
                    state.terms.version = version.clone();
                }
            }
        }
    }
}

impl LicenseState {
    /// Seats on live allocations.
    pub fn allocated(&self) -> u32 {
        self.live_allocations().map(|(_, a)| a.quantity).sum()
    }

    /// Seats that can still be allocated.
    pub fn unallocated(&self) -> u32 {
        self.terms.quantity.saturating_sub(self.allocated())
    }

    /// Allocations whose files are valid.
    pub fn live_allocations(&self) -> impl Iterator<Item = (&AllocationId, &Allocation)> {
        self.allocations
            .iter()
            .filter(|(_, a)| a.status == AllocationStatus::Live)
    }

    /// A term license is valid through its expiry day and expired from the next day.
    pub fn expired_on(&self, today: NaiveDate) -> Option<NaiveDate> {
        self.terms
            .expires_on
            .filter(|expires_on| today > *expires_on)
    }
}

impl Aggregate for License {
    const TYPE: &'static str = "License";
    type Command = LicenseCommand;
    type Event = LicenseEvent;
    type Error = LicenseError;
    type Services = ();

    async fn handle(
        &mut self,
        command: LicenseCommand,
        _services: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), LicenseError> {
        for event in decide(self, &command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: LicenseEvent) {
        self.apply_event(&event);
    }
}
