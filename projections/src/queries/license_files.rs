//! What a license file is rendered from: one live allocation with the terms of
//! its license. A file is never stored (a function of this and the keys), so a
//! license server's whole file is every such source on its host, read at once.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use crate::license_view::{AllocationRow, LicenseRow};

/// An allocation and the license terms its file states.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct FileSource {
    /// The license.
    pub license_id: Uuid,
    /// The allocation.
    pub allocation_id: Uuid,
    /// The license server's id, exactly as allocated.
    pub host: String,
    /// Seats: the file's count.
    pub quantity: i32,
    /// The license version its current file was issued at.
    pub file_revision: i64,
    /// When that file was issued.
    pub file_issued_at: DateTime<Utc>,
    /// Binding type wire name: the `SERVER` line's host id keyword.
    pub binding_type: String,
    /// Feature name.
    pub feature: String,
    /// Last day of maintenance: the feature's version.
    pub maintenance_until: NaiveDate,
    /// Last valid day; `None` for perpetual.
    pub expires_on: Option<NaiveDate>,
    /// Trial license.
    pub trial: bool,
    /// Order number.
    pub order_number: String,
    /// License access code.
    pub access_code: String,
}

impl FileSource {
    /// The source of `allocation`'s file, of `license`.
    pub fn of(license: &LicenseRow, allocation: &AllocationRow) -> Self {
        Self {
            license_id: license.license_id,
            allocation_id: allocation.allocation_id,
            host: allocation.host.clone(),
            quantity: allocation.quantity,
            file_revision: allocation.file_revision,
            file_issued_at: allocation.file_issued_at,
            binding_type: license.binding_type.clone(),
            feature: license.feature.clone(),
            maintenance_until: license.maintenance_until,
            expires_on: license.expires_on,
            trial: license.trial,
            order_number: license.order_number.clone(),
            access_code: license.access_code.clone(),
        }
    }
}

/// Every live allocation on `host` in the account (of `binding_type` only, when
/// given), by license id then allocation id: one read, along the index of live
/// allocations by host, however many there are.
pub async fn server_file_sources(
    pool: &PgPool,
    account_id: Uuid,
    host: &str,
    binding_type: Option<&str>,
) -> sqlx::Result<Vec<FileSource>> {
    sqlx::query_as(
        "SELECT a.license_id, a.allocation_id, a.host, a.quantity, a.file_revision,
                a.file_issued_at, l.binding_type, l.feature, l.maintenance_until, l.expires_on,
                l.trial, l.order_number, l.access_code
           FROM read_model.license_allocations a
           JOIN read_model.licenses l ON l.license_id = a.license_id
          WHERE a.account_id = $1 AND a.host = $2 AND a.status = 'live'
            AND ($3::text IS NULL OR l.binding_type = $3)
          ORDER BY a.license_id, a.allocation_id",
    )
    .bind(account_id)
    .bind(host)
    .bind(binding_type)
    .fetch_all(pool)
    .await
}
