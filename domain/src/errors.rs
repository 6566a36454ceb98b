//! Every rule a command can break. Business rules only: storage and transport
//! failures belong to the layers that do I/O.

use chrono::NaiveDate;

use crate::license::AllocationStatus;
use crate::values::{AllocationId, BindingType, Edition, ProductVersion};

/// Why a command was refused. Nothing was recorded when one of these is returned.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, thiserror::Error)]
pub enum LicenseError {
    /// The license does not exist in the caller's account (or at all: the two are
    /// indistinguishable on purpose). Callers answer "not found".
    #[error("no such license")]
    LicenseNotFound,
    /// A purchase for a license id that is already taken. Use a new id.
    #[error("the license has already been purchased")]
    AlreadyPurchased,
    /// A quantity of zero was asked for; purchases and allocations need at least 1.
    #[error("quantity must be at least 1, was {quantity}")]
    QuantityMustBePositive {
        /// The quantity given.
        quantity: u32,
    },
    /// More seats than one license line may hold.
    #[error("quantity must be at most {max}, was {quantity}")]
    QuantityTooLarge {
        /// The quantity given.
        quantity: u32,
        /// The most a line may hold.
        max: u32,
    },
    /// A date outside the years a license can plausibly carry.
    #[error("{field} must be between {earliest} and {latest}, was {date}")]
    DateOutOfRange {
        /// The field.
        field: &'static str,
        /// The date given.
        date: NaiveDate,
        /// Earliest accepted.
        earliest: NaiveDate,
        /// Latest accepted.
        latest: NaiveDate,
    },
    /// A term license whose expiry is not after its purchase date.
    #[error(
        "a term license must expire after its purchase date {purchased_on}, not on {expires_on}"
    )]
    ExpiryNotAfterPurchase {
        /// The purchase date.
        purchased_on: NaiveDate,
        /// The expiry given.
        expires_on: NaiveDate,
    },
    /// A trial without an expiry date: trials are term licenses that stop at their date.
    #[error("a trial license needs an expiry date")]
    TrialNeedsExpiry,
    /// Order number or access code missing or too long.
    #[error("{field} must be 1 to 64 printable characters")]
    InvalidReference {
        /// `order_number` or `access_code`.
        field: &'static str,
    },
    /// The license is already activated; activation happens once.
    #[error("the license is already activated")]
    AlreadyActivated,
    /// The access code given does not match the license's.
    #[error("the access code does not match this license")]
    AccessCodeMismatch,
    /// Allocation needs an activated license. Activate it first.
    #[error("the license is not activated yet")]
    NotActivated,
    /// The license's term has ended; it cannot be allocated, moved or upgraded.
    #[error("the license expired on {expired_on}")]
    LicenseExpired {
        /// Its last valid day.
        expired_on: NaiveDate,
    },
    /// More seats were asked for than are unallocated.
    #[error("cannot allocate {requested}: only {available} unallocated")]
    AllocationExceedsAvailable {
        /// Seats asked for.
        requested: u32,
        /// Seats unallocated.
        available: u32,
    },
    /// The product does not allow splitting: allocate the whole quantity at once.
    #[error("this product must be allocated whole: {quantity}, not {requested}")]
    PartialAllocationNotAllowed {
        /// Seats asked for.
        requested: u32,
        /// The license's whole quantity.
        quantity: u32,
    },
    /// The host id does not fit the license's binding type.
    #[error("`{host}` is not a valid {binding_type:?} for this license")]
    InvalidHostId {
        /// The binding type of the license.
        binding_type: BindingType,
        /// The id given.
        host: String,
    },
    /// The new allocation id is already used on this license.
    #[error("allocation {allocation_id} already exists")]
    DuplicateAllocationId {
        /// The id given.
        allocation_id: AllocationId,
    },
    /// No allocation with this id on this license.
    #[error("no allocation {allocation_id} on this license")]
    AllocationNotFound {
        /// The id given.
        allocation_id: AllocationId,
    },
    /// The allocation was already returned or moved; its file is void.
    #[error("allocation {allocation_id} is {status:?}, not live")]
    AllocationNotLive {
        /// The id given.
        allocation_id: AllocationId,
        /// What happened to it.
        status: AllocationStatus,
    },
    /// Moving an allocation to the server it is already on.
    #[error("the allocation is already on `{host}`")]
    SameHost {
        /// The current host.
        host: String,
    },
    /// Hide on a hidden license.
    #[error("the license is already hidden")]
    AlreadyHidden,
    /// Unhide on a visible license.
    #[error("the license is not hidden")]
    NotHidden,
    /// A renewal naming no date.
    #[error("a renewal needs a new expiry date or a new maintenance date")]
    NothingToRenew,
    /// A perpetual license has no expiry to renew; renew its maintenance instead.
    #[error("a perpetual license has no expiry date to renew")]
    PerpetualHasNoExpiry,
    /// Dates only move forward.
    #[error("{field} must move forward from {current}, not to {requested}")]
    DateMustMoveForward {
        /// `expires_on` or `maintenance_until`.
        field: &'static str,
        /// The date now.
        current: NaiveDate,
        /// The date given.
        requested: NaiveDate,
    },
    /// An upgrade naming neither edition nor version.
    #[error("an upgrade needs a new edition or a new version")]
    NothingToUpgrade,
    /// Upgrade paths only go forward.
    #[error("edition {requested} is not above {current}")]
    EditionNotHigher {
        /// The edition now.
        current: Edition,
        /// The edition given.
        requested: Edition,
    },
    /// Upgrade paths only go forward.
    #[error("version {requested} is not above {current}")]
    VersionNotHigher {
        /// The version now.
        current: ProductVersion,
        /// The version given.
        requested: ProductVersion,
    },
    /// Version upgrades are a maintenance benefit; renew maintenance first.
    #[error("maintenance ended on {maintenance_until}: renew it before a version upgrade")]
    MaintenanceLapsed {
        /// Last day of maintenance.
        maintenance_until: NaiveDate,
    },
}

impl LicenseError {
    /// A stable, machine-readable name for the rule, used in problem+json `type`s.
    pub fn code(&self) -> &'static str {
        match self {
            Self::LicenseNotFound => "license-not-found",
            Self::AlreadyPurchased => "already-purchased",
            Self::QuantityMustBePositive { .. } => "quantity-must-be-positive",
            Self::QuantityTooLarge { .. } => "quantity-too-large",
            Self::DateOutOfRange { .. } => "date-out-of-range",
            Self::ExpiryNotAfterPurchase { .. } => "expiry-not-after-purchase",
            Self::TrialNeedsExpiry => "trial-needs-expiry",
            Self::InvalidReference { .. } => "invalid-reference",
            Self::AlreadyActivated => "already-activated",
            Self::AccessCodeMismatch => "access-code-mismatch",
            Self::NotActivated => "not-activated",
            Self::LicenseExpired { .. } => "license-expired",
            Self::AllocationExceedsAvailable { .. } => "allocation-exceeds-available",
            Self::PartialAllocationNotAllowed { .. } => "partial-allocation-not-allowed",
            Self::InvalidHostId { .. } => "invalid-host-id",
            Self::DuplicateAllocationId { .. } => "duplicate-allocation-id",
            Self::AllocationNotFound { .. } => "allocation-not-found",
            Self::AllocationNotLive { .. } => "allocation-not-live",
            Self::SameHost { .. } => "same-host",
            Self::AlreadyHidden => "already-hidden",
            Self::NotHidden => "not-hidden",
            Self::NothingToRenew => "nothing-to-renew",
            Self::PerpetualHasNoExpiry => "perpetual-has-no-expiry",
            Self::DateMustMoveForward { .. } => "date-must-move-forward",
            Self::NothingToUpgrade => "nothing-to-upgrade",
            Self::EditionNotHigher { .. } => "edition-not-higher",
            Self::VersionNotHigher { .. } => "version-not-higher",
            Self::MaintenanceLapsed { .. } => "maintenance-lapsed",
        }
    }
}
