//! Commands: what a caller asks the ledger to do with one license.
//!
//! A command is a request that may be refused. Every command names the account it
//! acts for and the instant it is decided at; ids the ledger will record (a new
//! allocation's id) are chosen by the caller so deciding stays deterministic.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::terms::LicenseTerms;
use crate::values::{AccountId, AllocationId, Edition, ProductVersion};

/// A command on one license, as the aggregate receives it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LicenseCommand {
    /// The account acting. A license of another account is treated as absent.
    pub account_id: AccountId,
    /// When the command is decided: "today" for expiry and maintenance rules.
    pub now: DateTime<Utc>,
    /// What is asked.
    pub action: LicenseAction,
}

/// Everything that can be asked of a license.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum LicenseAction {
    /// Record a purchased license line.
    Purchase(Purchase),
    /// Activate a purchased license with its access code.
    Activate(Activate),
    /// Allocate part of the quantity to a license server.
    Allocate(Allocate),
    /// Move a live allocation to another license server.
    ModifyAllocation(ModifyAllocation),
    /// Give an allocation's quantity back to the pool.
    ReturnAllocation(ReturnAllocation),
    /// Remove the license from default views.
    Hide,
    /// Show a hidden license again.
    Unhide,
    /// Extend the expiry and/or maintenance date.
    Renew(Renew),
    /// Move to a higher edition and/or version.
    Upgrade(Upgrade),
}

/// Record a purchased license line: its terms.
pub type Purchase = LicenseTerms;

/// Activate a purchased license.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Activate {
    /// Must equal the license's access code.
    pub access_code: String,
}

/// Allocate part of the unallocated quantity to a license server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Allocate {
    /// The id the new allocation will have.
    pub allocation_id: AllocationId,
    /// The license server's id, checked against the license's binding type.
    pub host: String,
    /// Seats to allocate; at least 1 and at most what is unallocated.
    pub quantity: u32,
}

/// Move a live allocation to another license server: the old file is void.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModifyAllocation {
    /// The allocation to move.
    pub allocation_id: AllocationId,
    /// The id of the allocation that replaces it on the new server.
    pub new_allocation_id: AllocationId,
    /// The new license server's id.
    pub new_host: String,
}

/// Return an allocation's seats to the pool; cannot be undone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReturnAllocation {
    /// The allocation to return.
    pub allocation_id: AllocationId,
}

/// Extend dates; each given date must move forward.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Renew {
    /// New last valid day (term licenses only).
    pub expires_on: Option<NaiveDate>,
    /// New last day of maintenance.
    pub maintenance_until: Option<NaiveDate>,
}

/// Move to a higher edition and/or a newer version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Upgrade {
    /// The higher edition, if the edition changes.
    pub edition: Option<Edition>,
    /// The newer version, if the version changes; needs active maintenance.
    pub version: Option<ProductVersion>,
}
