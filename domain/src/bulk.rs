//! Bulk actions: whether a selection of licenses can take one action together.
//!
//! The portal checks compatibility against the first selected license, the
//! reference: to allocate, every license must have its binding type; to return,
//! every license must be allocated; to hide, every license visible (and hidden to
//! unhide); a renewal with a new expiry needs term licenses only. A selection that
//! fails is refused whole, naming every incompatible license and the attribute
//! that differs, before anything is recorded. The rules of each single command
//! still apply per license afterwards ([`crate::decide`]).

use serde::Serialize;

use crate::license::LicenseState;
use crate::values::LicenseId;

/// The action a selection is to take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BulkAction {
    /// Allocate to one license server.
    Allocate,
    /// Return live allocations, only those on `host` when given.
    Return {
        /// The license server whose allocations go back, or all of them.
        host: Option<String>,
    },
    /// Hide from default views.
    Hide,
    /// Show again.
    Unhide,
    /// Renew; `new_expiry` when the renewal sets an expiry date (term licenses only).
    Renew {
        /// Whether the renewal moves the expiry date.
        new_expiry: bool,
    },
}

/// A selected license that cannot take the action with the others.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Incompatibility {
    /// The license.
    pub license_id: LicenseId,
    /// What differs: `license`, `binding_type`, `allocated`, `hidden` or `term`.
    pub attribute: &'static str,
    /// What the action needs (the reference license's value, for a comparison).
    pub expected: String,
    /// What this license has.
    pub actual: String,
}

/// Every incompatibility in `selection` (in selection order; the first is the
/// reference). A license with no state was never purchased in the account.
pub fn incompatibilities(
    action: &BulkAction,
    selection: &[(LicenseId, Option<&LicenseState>)],
) -> Vec<Incompatibility> {
    let reference = selection.first().and_then(|(_, state)| *state);
    selection
        .iter()
        .filter_map(|&(license_id, state)| {
            let found = |attribute, expected: &str, actual: &str| Incompatibility {
                license_id,
                attribute,
                expected: expected.to_owned(),
                actual: actual.to_owned(),
            };
            let Some(state) = state else {
                return Some(found("license", "in this account", "not found"));
            };
            match action {
                BulkAction::Allocate => {
                    let expected = reference?.terms.binding_type;
                    let actual = state.terms.binding_type;
                    (actual != expected)
                        .then(|| found("binding_type", expected.as_str(), actual.as_str()))
                }
                BulkAction::Return { host } => {
                    let allocated = state
                        .live_allocations()
                        .any(|(_, a)| host.as_deref().is_none_or(|h| a.host.as_str() == h));
                    (!allocated).then(|| match host {
                        Some(host) => found(
                            "allocated",
                            &format!("allocated to {host}"),
                            &format!("not allocated to {host}"),
                        ),
                        None => found("allocated", "allocated", "not allocated"),
                    })
                }
                BulkAction::Hide => state.hidden.then(|| found("hidden", "visible", "hidden")),
                BulkAction::Unhide => (!state.hidden).then(|| found("hidden", "hidden", "visible")),
                BulkAction::Renew { new_expiry: true } => state
                    .terms
                    .expires_on
                    .is_none()
                    .then(|| found("term", "term", "perpetual")),
                BulkAction::Renew { new_expiry: false } => None,
            }
        })
        .collect()
}
