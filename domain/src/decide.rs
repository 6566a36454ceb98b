//! The rules: given a license and a command, the events to record or the rule broken.
//!
//! A synchronous, pure function: no I/O, no clock (the command carries `now`). If
//! it returns an error, nothing is recorded.

use chrono::NaiveDate;

use crate::commands::{
    Activate, Allocate, LicenseAction, LicenseCommand, ModifyAllocation, Purchase, Renew,
    ReturnAllocation, Upgrade,
};
use crate::errors::LicenseError;
use crate::events::{
    Activated, Allocated, Hidden, LicenseEvent, Modified, Purchased, Renewed, Returned, Unhidden,
    Upgraded,
};
use crate::license::{AllocationStatus, License, LicenseState};
use crate::values::HostId;

/// Decides what `command` records on `license`.
pub fn decide(
    license: &License,
    command: &LicenseCommand,
) -> Result<Vec<LicenseEvent>, LicenseError> {
    let state = match (&command.action, license.state()) {
        (LicenseAction::Purchase(purchase), None) => return purchased(command, purchase),
        (LicenseAction::Purchase(_), Some(_)) => return Err(LicenseError::AlreadyPurchased),
        (_, Some(state)) if state.account_id == command.account_id => state,
        // Another account's license is reported exactly like a missing one.
        (_, _) => return Err(LicenseError::LicenseNotFound),
    };
    let today = command.now.date_naive();
    let event = match &command.action {
        LicenseAction::Purchase(_) => return Err(LicenseError::AlreadyPurchased),
        LicenseAction::Activate(activate) => activated(state, command, activate)?,
        LicenseAction::Allocate(allocate) => allocated(state, today, allocate)?,
        LicenseAction::ModifyAllocation(modify) => modified(state, today, modify)?,
        LicenseAction::ReturnAllocation(ret) => returned(state, ret)?,
        LicenseAction::Hide if state.hidden => return Err(LicenseError::AlreadyHidden),
        LicenseAction::Hide => LicenseEvent::Hidden(Hidden {}),
        LicenseAction::Unhide if !state.hidden => return Err(LicenseError::NotHidden),
        LicenseAction::Unhide => LicenseEvent::Unhidden(Unhidden {}),
        LicenseAction::Renew(renew) => renewed(state, renew)?,
        LicenseAction::Upgrade(upgrade) => upgraded(state, today, upgrade)?,
    };
    Ok(vec![event])
}

/// The most seats one license line may hold: far above any real order, and small
/// enough that sums of quantities never overflow downstream.
pub const MAX_QUANTITY: u32 = 100_000_000;

/// Dates a license can carry: stored, compared and printed without surprises.
pub const EARLIEST_DATE: NaiveDate = match NaiveDate::from_ymd_opt(1970, 1, 1) {
    Some(date) => date,
    None => NaiveDate::MIN,
};
/// See [`EARLIEST_DATE`].
pub const LATEST_DATE: NaiveDate = match NaiveDate::from_ymd_opt(9999, 12, 31) {
    Some(date) => date,
    None => NaiveDate::MAX,
};

fn check_date(field: &'static str, date: NaiveDate) -> Result<(), LicenseError> {
    if (EARLIEST_DATE..=LATEST_DATE).contains(&date) {
        Ok(())
    } else {
        Err(LicenseError::DateOutOfRange {
            field,
            date,
            earliest: EARLIEST_DATE,
            latest: LATEST_DATE,
        })
    }
}

fn purchased(command: &LicenseCommand, p: &Purchase) -> Result<Vec<LicenseEvent>, LicenseError> {
    if p.quantity == 0 {
        return Err(LicenseError::QuantityMustBePositive { quantity: 0 });
    }
    if p.quantity > MAX_QUANTITY {
        return Err(LicenseError::QuantityTooLarge {
            quantity: p.quantity,
            max: MAX_QUANTITY,
        });
    }
    check_date("purchased_at", p.purchased_at.date_naive())?;
    check_date("maintenance_until", p.maintenance_until)?;
    if let Some(expires_on) = p.expires_on {
        check_date("expires_on", expires_on)?;
    }
    if p.trial && p.expires_on.is_none() {
        return Err(LicenseError::TrialNeedsExpiry);
    }
    check_reference("order_number", &p.order_number)?;
    check_reference("access_code", &p.access_code)?;
    let purchased_on = p.purchased_at.date_naive();
    if let Some(expires_on) = p.expires_on {
        if expires_on <= purchased_on {
            return Err(LicenseError::ExpiryNotAfterPurchase {
                purchased_on,
                expires_on,
            });
        }
    }
    Ok(vec![LicenseEvent::Purchased(Purchased::new(
        command.account_id,
        p.clone(),
    ))])
}

/// Order numbers and access codes end up in license files and CSV exports.
fn check_reference(field: &'static str, value: &str) -> Result<(), LicenseError> {
    let ok = (1..=64).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_graphic());
    if ok {
        Ok(())
    } else {
        Err(LicenseError::InvalidReference { field })
    }
}

fn activated(
    state: &LicenseState,
    command: &LicenseCommand,
    activate: &Activate,
) -> Result<LicenseEvent, LicenseError> {
    if state.activated_at.is_some() {
        return Err(LicenseError::AlreadyActivated);
    }
    if activate.access_code != state.terms.access_code {
        return Err(LicenseError::AccessCodeMismatch);
    }
    Ok(LicenseEvent::Activated(Activated {
        activated_at: command.now,
    }))
}

fn not_expired(state: &LicenseState, today: chrono::NaiveDate) -> Result<(), LicenseError> {
    match state.expired_on(today) {
        Some(expired_on) => Err(LicenseError::LicenseExpired { expired_on }),
        None => Ok(()),
    }
}

fn host_for(state: &LicenseState, raw: &str) -> Result<HostId, LicenseError> {
    HostId::parse(state.terms.binding_type, raw).map_err(|_| LicenseError::InvalidHostId {
        binding_type: state.terms.binding_type,
        host: raw.to_owned(),
    })
}

fn allocated(
    state: &LicenseState,
    today: chrono::NaiveDate,
    allocate: &Allocate,
) -> Result<LicenseEvent, LicenseError> {
    if state.activated_at.is_none() {
        return Err(LicenseError::NotActivated);
    }
    not_expired(state, today)?;
    if allocate.quantity == 0 {
        return Err(LicenseError::QuantityMustBePositive { quantity: 0 });
    }
    let available = state.unallocated();
    if allocate.quantity > available {
        return Err(LicenseError::AllocationExceedsAvailable {
            requested: allocate.quantity,
            available,
        });
    }
    if !state.terms.partial_allocation && allocate.quantity != state.terms.quantity {
        return Err(LicenseError::PartialAllocationNotAllowed {
            requested: allocate.quantity,
            quantity: state.terms.quantity,
        });
    }
    let host = host_for(state, &allocate.host)?;
    if state.allocations.contains_key(&allocate.allocation_id) {
        return Err(LicenseError::DuplicateAllocationId {
            allocation_id: allocate.allocation_id,
        });
    }
    Ok(LicenseEvent::Allocated(Allocated {
        allocation_id: allocate.allocation_id,
        host,
        quantity: allocate.quantity,
    }))
}

fn live_allocation(
    state: &LicenseState,
    allocation_id: crate::values::AllocationId,
) -> Result<&crate::license::Allocation, LicenseError> {
    let allocation = state
        .allocations
        .get(&allocation_id)
        .ok_or(LicenseError::AllocationNotFound { allocation_id })?;
    if allocation.status != AllocationStatus::Live {
        return Err(LicenseError::AllocationNotLive {
            allocation_id,
            status: allocation.status,
        });
    }
    Ok(allocation)
}

fn modified(
    state: &LicenseState,
    today: chrono::NaiveDate,
    modify: &ModifyAllocation,
) -> Result<LicenseEvent, LicenseError> {
    let allocation = live_allocation(state, modify.allocation_id)?;
    not_expired(state, today)?;
    let to_host = host_for(state, &modify.new_host)?;
    if to_host == allocation.host {
        return Err(LicenseError::SameHost {
            host: to_host.to_string(),
        });
    }
    if state.allocations.contains_key(&modify.new_allocation_id) {
        return Err(LicenseError::DuplicateAllocationId {
            allocation_id: modify.new_allocation_id,
        });
    }
    Ok(LicenseEvent::Modified(Modified {
        allocation_id: modify.allocation_id,
        new_allocation_id: modify.new_allocation_id,
        from_host: allocation.host.clone(),
        to_host,
        quantity: allocation.quantity,
    }))
}

fn returned(state: &LicenseState, ret: &ReturnAllocation) -> Result<LicenseEvent, LicenseError> {
    let allocation = live_allocation(state, ret.allocation_id)?;
    Ok(LicenseEvent::Returned(Returned {
        allocation_id: ret.allocation_id,
        host: allocation.host.clone(),
        quantity: allocation.quantity,
    }))
}

fn renewed(state: &LicenseState, renew: &Renew) -> Result<LicenseEvent, LicenseError> {
    if renew.expires_on.is_none() && renew.maintenance_until.is_none() {
        return Err(LicenseError::NothingToRenew);
    }
    if let Some(expires_on) = renew.expires_on {
        check_date("expires_on", expires_on)?;
    }
    if let Some(maintenance_until) = renew.maintenance_until {
        check_date("maintenance_until", maintenance_until)?;
    }
    if let Some(requested) = renew.expires_on {
        let current = state
            .terms
            .expires_on
            .ok_or(LicenseError::PerpetualHasNoExpiry)?;
        if requested <= current {
            return Err(LicenseError::DateMustMoveForward {
                field: "expires_on",
                current,
                requested,
            });
        }
    }
    if let Some(requested) = renew.maintenance_until {
        if requested <= state.terms.maintenance_until {
            return Err(LicenseError::DateMustMoveForward {
                field: "maintenance_until",
                current: state.terms.maintenance_until,
                requested,
            });
        }
    }
    Ok(LicenseEvent::Renewed(Renewed {
        expires_on: renew.expires_on,
        maintenance_until: renew.maintenance_until,
    }))
}

fn upgraded(
    state: &LicenseState,
    today: chrono::NaiveDate,
    upgrade: &Upgrade,
) -> Result<LicenseEvent, LicenseError> {
    if upgrade.edition.is_none() && upgrade.version.is_none() {
        return Err(LicenseError::NothingToUpgrade);
    }
    not_expired(state, today)?;
    if let Some(requested) = upgrade.edition {
        if requested <= state.terms.edition {
            return Err(LicenseError::EditionNotHigher {
                current: state.terms.edition,
                requested,
            });
        }
    }
    if let Some(requested) = &upgrade.version {
        // By release number: `7.15.0` is not an upgrade of `7.15`, though it sorts after it.
        if requested.cmp_release(&state.terms.version).is_le() {
            return Err(LicenseError::VersionNotHigher {
                current: state.terms.version.clone(),
                requested: requested.clone(),
            });
        }
        if state.terms.maintenance_until < today {
            return Err(LicenseError::MaintenanceLapsed {
                maintenance_until: state.terms.maintenance_until,
            });
        }
    }
    Ok(LicenseEvent::Upgraded(Upgraded {
        to_edition: upgrade.edition,
        to_version: upgrade.version.clone(),
        reissued_allocations: state.live_allocations().map(|(id, _)| *id).collect(),
    }))
}
