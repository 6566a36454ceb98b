//! The write side of the ledger: the `License` aggregate, its commands, events and rules.
//!
//! Everything here is pure. No I/O and no clock: every command carries the instant
//! it is decided at (`now`), passed in by the gateway. cqrs-es' async `handle` only
//! delegates to [`decide`], a synchronous function of the current state, the command
//! and `now`, so the rules are testable without a runtime and replayable by auditors.
//!
//! # Layout
//! - [`values`]: validated value types (product code, edition, host id, …).
//! - [`terms`]: what an order line says; [`commands`]: what a caller asks for.
//! - [`events`]: what happened, in the past tense, with explicit persisted names.
//! - [`license`]: the aggregate state and how events change it (`apply`).
//! - [`decide`]: the rules; a command becomes events or a [`LicenseError`].
//! - [`upcast`]: older stored event versions brought to the current shape.
//! - [`errors`]: every broken rule, each carrying the facts a caller needs.
//! - [`bulk`]: which selections of licenses can take an action together.
//! - [`usage`]: the `ServerUsage` aggregate: license servers' daily usage reports.
//! - [`license_file`]: the signed FlexNet-style license file of an allocation.
//! - [`keys`]: Ed25519 keys by id, with rotation: they sign license files, tokens
//!   and checkpoints.
//! - [`transparency`]: the Merkle tree over every event, signed checkpoints and proofs.

pub mod bulk;
pub mod commands;
pub mod decide;
pub mod errors;
pub mod events;
pub mod keys;
pub mod license;
pub mod license_file;
pub mod terms;
pub mod transparency;
pub mod upcast;
pub mod usage;
pub mod values;

pub use commands::{
    Activate, Allocate, LicenseAction, LicenseCommand, ModifyAllocation, Purchase, Renew,
    ReturnAllocation, Upgrade,
};
pub use decide::decide;
pub use errors::LicenseError;
pub use events::{EventDecodeError, LicenseEvent};
pub use license::{Allocation, AllocationStatus, License, LicenseState};
pub use terms::LicenseTerms;
pub use values::{
    AccountId, AllocationId, BindingType, Edition, HostId, LicenseId, LicenseModel, ProductCode,
    ProductVersion, ValueError,
};
