//! Asset components: a license's details, grouped by order number or by license
//! access code, one page of groups at a time.

use std::collections::BTreeMap;

use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

use super::LicenseDetails;
use crate::license_view::{AllocationRow, LicenseRow};

/// What licenses are grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    /// The order a license came on.
    OrderNumber,
    /// The license access code.
    AccessCode,
}

impl GroupBy {
    fn column(self) -> &'static str {
        match self {
            Self::OrderNumber => "order_number",
            Self::AccessCode => "access_code",
        }
    }
}

/// One group: its key and its licenses with their allocations.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Group {
    /// The order number or access code.
    pub key: String,
    /// Total seats purchased in the group.
    pub quantity: i64,
    /// Total seats on live allocations in the group.
    pub allocated: i64,
    /// The licenses, oldest purchase first.
    pub licenses: Vec<LicenseDetails>,
}

/// Groups of one account's licenses, by key order: the group of `key` only, or
/// up to `limit` groups after `after`. Hidden licenses only with `include_hidden`.
pub async fn asset_components(
    pool: &PgPool,
    account_id: Uuid,
    group_by: GroupBy,
    key: Option<&str>,
    after: Option<&str>,
    limit: u32,
    include_hidden: bool,
) -> sqlx::Result<Vec<Group>> {
    let column = group_by.column();
    let keys: Vec<String> = match key {
        Some(key) => vec![key.to_owned()],
        None => {
            sqlx::query_scalar(&format!(
                "SELECT DISTINCT {column} FROM read_model.licenses
                  WHERE account_id = $1 AND ($2 OR NOT hidden) AND ($3::text IS NULL OR {column} > $3)
                  ORDER BY {column} LIMIT $4"
            ))
            .bind(account_id)
            .bind(include_hidden)
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?
        }
    };
    let licenses: Vec<LicenseRow> = sqlx::query_as(&format!(
        "SELECT * FROM read_model.licenses
          WHERE account_id = $1 AND ($2 OR NOT hidden) AND {column} = ANY($3)
          ORDER BY {column}, purchased_at, license_id"
    ))
    .bind(account_id)
    .bind(include_hidden)
    .bind(&keys)
    .fetch_all(pool)
    .await?;
    let ids: Vec<Uuid> = licenses.iter().map(|l| l.license_id).collect();
    let allocations: Vec<AllocationRow> = sqlx::query_as(
        "SELECT * FROM read_model.license_allocations
          WHERE account_id = $1 AND license_id = ANY($2) ORDER BY allocated_at, allocation_id",
    )
    .bind(account_id)
    .bind(&ids)
    .fetch_all(pool)
    .await?;
    let mut by_license: BTreeMap<Uuid, Vec<AllocationRow>> = BTreeMap::new();
    for allocation in allocations {
        by_license
            .entry(allocation.license_id)
            .or_default()
            .push(allocation);
    }
    let mut groups: Vec<Group> = Vec::new();
    for license in licenses {
        let group_key = match group_by {
            GroupBy::OrderNumber => license.order_number.clone(),
            GroupBy::AccessCode => license.access_code.clone(),
        };
        if groups.last().map(|g| &g.key) != Some(&group_key) {
            groups.push(Group {
                key: group_key,
                quantity: 0,
                allocated: 0,
                licenses: Vec::new(),
            });
        }
        if let Some(group) = groups.last_mut() {
            group.quantity += i64::from(license.quantity);
            group.allocated += i64::from(license.allocated);
            let allocations = by_license.remove(&license.license_id).unwrap_or_default();
            group.licenses.push(LicenseDetails {
                license,
                allocations,
            });
        }
    }
    Ok(groups)
}
