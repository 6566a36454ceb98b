//! Loading a large store quickly: `Purchased` events made with the domain's own
//! types and written straight into the event store, as postgres-es writes them
//! (the store's triggers hash and chain them like any other). The relay and the
//! projector then meet them as a backlog, which is what the catch-up and rebuild
//! figures measure, and the queries run over them.

use std::collections::HashMap;

use anyhow::Context as _;
use chrono::{DateTime, Days, Duration as TimeSpan, NaiveDate, Utc};
use ledger_domain::events::Purchased;
use ledger_domain::{AccountId, LicenseEvent, LicenseTerms};
use ledger_projections::contract::metadata;
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

/// Rows per INSERT statement (and per transaction).
const CHUNK: usize = 5_000;

/// What was loaded: the accounts, and some license ids of each for lookups.
#[derive(Debug, Clone)]
pub struct Seeded {
    /// Every account that owns seeded licenses.
    pub accounts: Vec<Uuid>,
    /// Up to [`SAMPLED_PER_ACCOUNT`] license ids of each account, in the order of `accounts`.
    pub sample_licenses: Vec<Vec<Uuid>>,
    /// Events written.
    pub events: u64,
}

/// License ids kept per account for "license by id" queries.
pub const SAMPLED_PER_ACCOUNT: usize = 200;

/// Writes `licenses` purchases spread evenly over `accounts` new accounts.
pub async fn purchases(pool: &PgPool, accounts: usize, licenses: usize) -> anyhow::Result<Seeded> {
    let account_ids: Vec<Uuid> = (0..accounts).map(|_| Uuid::new_v4()).collect();
    purchases_of(pool, &account_ids, licenses).await
}

/// Writes `licenses` purchases dealt in turn to `account_ids`, so the accounts'
/// events interleave in the store. An account listed `k` times gets `k` shares
/// (and `k` entries in [`Seeded::accounts`], each with its sample).
pub async fn purchases_of(
    pool: &PgPool,
    account_ids: &[Uuid],
    licenses: usize,
) -> anyhow::Result<Seeded> {
    anyhow::ensure!(!account_ids.is_empty(), "purchases of no account");
    let accounts = account_ids.len();
    let mut sample_licenses = vec![Vec::new(); accounts];
    let now = Utc::now();
    let mut written = 0;
    while written < licenses {
        let end = (written + CHUNK).min(licenses);
        let mut ids = Vec::with_capacity(end - written);
        let mut payloads = Vec::with_capacity(end - written);
        let mut metadata = Vec::with_capacity(end - written);
        for n in written..end {
            let account = n % accounts;
            let license = Uuid::now_v7();
            if sample_licenses[account].len() < SAMPLED_PER_ACCOUNT {
                sample_licenses[account].push(license);
            }
            let event = LicenseEvent::Purchased(Purchased::new(
                AccountId(account_ids[account]),
                terms(n, accounts, now)?,
            ));
            ids.push(license.to_string());
            payloads.push(serde_json::to_string(&event)?);
            metadata.push(serde_json::to_string(&metadata_of(
                account_ids[account],
                now,
            ))?);
        }
        sqlx::query(
            "INSERT INTO events
                 (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
             SELECT 'License', id, 1, 'Purchased', $4, payload::json, metadata::json
               FROM unnest($1::text[], $2::text[], $3::text[]) AS t(id, payload, metadata)",
        )
        .bind(&ids)
        .bind(&payloads)
        .bind(&metadata)
        .bind(LicenseEvent::version_of("Purchased"))
        .execute(pool)
        .await
        .context("writing seeded events")?;
        written = end;
    }
    Ok(Seeded {
        accounts: account_ids.to_vec(),
        sample_licenses,
        events: licenses as u64,
    })
}

/// Varied terms for the `n`th license of `accounts` accounts: purchases over the last three years, term
/// licenses (most of them) expiring from a year ago to three years ahead.
fn terms(n: usize, accounts: usize, now: DateTime<Utc>) -> anyhow::Result<LicenseTerms> {
    let spread = |modulus: usize| (n.wrapping_mul(2_654_435_761) >> 7) % modulus;
    let purchased_at = now - TimeSpan::minutes(spread(3 * 365 * 24 * 60) as i64);
    let today = now.date_naive();
    let expires_on: Option<NaiveDate> = (n % 5 != 0).then(|| {
        let offset = spread(4 * 365) as i64 - 365;
        today + TimeSpan::days(offset)
    });
    let editions = ["STD", "ADV", "ENT", "PLT"];
    // By the license's rank within its account, so that every account holds every
    // edition and model (the load's usage reports name one of its features).
    let rank = n / accounts;
    let body = json!({
        "product": "XDT",
        "edition": editions[rank % editions.len()],
        "version": "7.15",
        "license_model": if rank % 3 == 0 { "concurrent_user" } else { "user_device" },
        "binding_type": "host_name",
        "quantity": 1 + spread(1000),
        "expires_on": expires_on,
        "maintenance_until": today + Days::new(365),
        "order_number": format!("ORD-{:07}", n / 3),
        "access_code": format!("LA-{:010}-{:05}", n, n % 100_000),
        "trial": n % 50 == 0,
        "partial_allocation": true,
        "purchased_at": purchased_at,
    });
    serde_json::from_value(body).context("seeded terms the domain refuses")
}

fn metadata_of(account: Uuid, now: DateTime<Utc>) -> HashMap<&'static str, String> {
    HashMap::from([
        (metadata::ACCOUNT_ID, account.to_string()),
        (metadata::ACTOR, "bench-seed".to_owned()),
        (metadata::ACTOR_ROLE, "portal".to_owned()),
        (metadata::TOKEN_ID, "bench-seed".to_owned()),
        (metadata::OCCURRED_AT, now.to_rfc3339()),
        (metadata::REQUEST_ID, Uuid::new_v4().to_string()),
    ])
}
