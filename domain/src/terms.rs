//! The terms of a purchased license line: what the order says. A purchase carries
//! them, the `Purchased` event records them, the license state starts from them.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::values::{BindingType, Edition, LicenseModel, ProductCode, ProductVersion};

/// One order line's terms. Edition, version, expiry and maintenance change later
/// (upgrade, renew); the rest never does.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LicenseTerms {
    /// Product code, e.g. `XDT`.
    pub product: ProductCode,
    /// Edition.
    pub edition: Edition,
    /// Product version.
    pub version: ProductVersion,
    /// How seats are counted.
    pub license_model: LicenseModel,
    /// What allocations bind to.
    pub binding_type: BindingType,
    /// Seats purchased; at least 1.
    pub quantity: u32,
    /// `None` for a perpetual license; otherwise the last day it is valid.
    pub expires_on: Option<NaiveDate>,
    /// Last day of maintenance (the license file's feature version).
    pub maintenance_until: NaiveDate,
    /// The order this line came on.
    pub order_number: String,
    /// The license access code printed on the order confirmation.
    pub access_code: String,
    /// Trial licenses are term licenses that simply stop at their date.
    pub trial: bool,
    /// Whether the quantity may be split across servers; some products forbid it.
    pub partial_allocation: bool,
    /// When it was purchased; the order system may report it after the fact.
    pub purchased_at: DateTime<Utc>,
}

impl LicenseTerms {
    /// The feature name in license files, e.g. `XDT_ENT_UD`.
    pub fn feature(&self) -> String {
        format!(
            "{}_{}_{}",
            self.product,
            self.edition.code(),
            self.license_model.feature_suffix()
        )
    }
}
