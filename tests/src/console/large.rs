//! A large account for the console's scale run: [`LICENSES`] licenses made through
//! the real commands over HTTP, many at once (the gateway commits concurrent
//! commands' events together), as a big customer's account looks after years:
//! term and perpetual licenses of four editions over three years, a few bought in
//! the last month, some expiring within 30 and within 90 days, some bound to MAC
//! addresses, orders of ten licenses and access codes of 25, allocations on
//! several license servers (bulk allocate, 500 licenses a call), hidden legacy
//! licenses (bulk hide), and a month of usage reports on one server. Only the
//! licenses allocated and the new ones are activated: each activation is a
//! command as costly as a purchase, and the seeding must stay within a CI run.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context as _};
use chrono::{DateTime, Days, SubsecRound as _, Utc};
use futures::{StreamExt as _, TryStreamExt as _};
use serde_json::{json, Value};
use uuid::Uuid;

use super::seed::{AUDITOR_SUBJECT, PORTAL_SUBJECT};
use crate::seeding::{caught_up_within, check, checkpointed, create_account, expect, issue_token};
use crate::{Api, Ledger, TestEnv};

/// Licenses in the account.
pub const LICENSES: usize = 25_000;
/// Commands in flight at once.
const CONCURRENCY: usize = 32;
/// Licenses per bulk action (the API's most).
const BULK: usize = 500;
/// Every `HIDDEN_EVERY`th license is a hidden legacy one.
const HIDDEN_EVERY: usize = 25;
/// Licenses ten per order.
const PER_ORDER: usize = 10;
/// Licenses per access code.
const PER_ACCESS_CODE: usize = 25;
/// The license servers that hold allocations, each of [`ALLOCATED_PER_SERVER`] licenses.
pub const SERVERS: [&str; 4] = ["CTXLIC-HQ01", "CTXLIC-DR02", "CTXLIC-EU01", "CTXLIC-LAB"];
/// Licenses allocated on each server, one seat each.
pub const ALLOCATED_PER_SERVER: usize = 1_000;
/// The server whose usage the chart shows, and the feature it reports.
pub const USAGE_HOST: &str = "CTXLIC-LAB";
/// How long the read models may take to apply the seeding's commands (they keep
/// up within a second or two on an idle machine; CI runs other tests beside).
const CATCH_UP: Duration = Duration::from_secs(120);
/// Days of usage reported, today included.
pub const USAGE_DAYS: u64 = 30;

/// What the scale run needs to know of the account.
#[derive(Debug, Clone)]
pub struct Large {
    /// The account.
    pub account: Uuid,
    /// A portal token of it.
    pub portal_token: String,
    /// An auditor token of it.
    pub auditor_token: String,
    /// Licenses in all.
    pub licenses: usize,
    /// Of which hidden.
    pub hidden: usize,
    /// Of which bought in the last 30 days.
    pub new: usize,
    /// Of which term licenses expiring within 90 days (30 included).
    pub expiring: usize,
    /// An instant after every seeded event, whole seconds.
    pub seeded_at: DateTime<Utc>,
    /// How long seeding took.
    pub took: Duration,
}

/// What license `n` is: its purchase body.
fn purchase(n: usize, now: DateTime<Utc>) -> Value {
    let today = now.date_naive();
    let editions = ["STD", "ADV", "ENT", "PLT"];
    // A few bought in the last month (new), the rest over three years.
    let bought_days_ago = if is_new(n) {
        (n % 25) as i64
    } else {
        40 + (n * 7919 % 1050) as i64
    };
    // Every third a perpetual license; of the term ones, about 1 in 50 expires
    // within 90 days (a third of those within 30), the rest in 100 to 1,000 days.
    let expires_on = match n % 3 {
        0 => None,
        _ if n % 50 == 1 => Some(today + Days::new((5 + n * 13 % 85) as u64)),
        _ => Some(today + Days::new((100 + n * 31 % 900) as u64)),
    };
    let mac = n % 40 == 7;
    json!({
        "product": "XDT",
        "edition": editions[n % editions.len()],
        "version": "7.15",
        "license_model": if n % 2 == 0 { "user_device" } else { "concurrent_user" },
        "binding_type": if mac { "mac_address" } else { "host_name" },
        "quantity": 10 + n % 90,
        "expires_on": expires_on,
        "maintenance_until": today + Days::new(365),
        "order_number": format!("ORD-{:06}", n / PER_ORDER),
        "access_code": access_code(n),
        "purchased_at": now - chrono::Duration::days(bought_days_ago),
    })
}

/// Whether license `n` was bought in the last 30 days.
fn is_new(n: usize) -> bool {
    n % 1000 < 3
}

fn access_code(n: usize) -> String {
    format!("LA-{:05}-SCALE", n / PER_ACCESS_CODE)
}

/// Makes the account on the running `ledger`, waits until the read models and a
/// signed checkpoint cover it.
pub async fn account(bin: &str, env: &TestEnv, ledger: &Ledger) -> anyhow::Result<Large> {
    let started = Instant::now();
    let account = create_account(bin, env, "Big Corp").await?;
    let portal_token = issue_token(bin, env, "portal", Some(account), PORTAL_SUBJECT).await?;
    let auditor_token = issue_token(bin, env, "auditor", Some(account), AUDITOR_SUBJECT).await?;
    let api = Api::new(ledger).with_token(account, &portal_token);
    let now = Utc::now();
    let bodies: Vec<Value> = (0..LICENSES).map(|n| purchase(n, now)).collect();
    let ids: Vec<Uuid> = futures::stream::iter(bodies.iter().cloned())
        .map(|body| {
            let api = api.clone();
            async move {
                let bought = expect(&api, "/licenses", body, 201).await?;
                let id: Uuid = bought.body["license_id"]
                    .as_str()
                    .context("no license_id")?
                    .parse()?;
                Ok::<_, anyhow::Error>(id)
            }
        })
        .buffered(CONCURRENCY)
        .try_collect()
        .await?;
    println!(
        "large account: {LICENSES} purchases in {:.0?}",
        started.elapsed()
    );
    // Allocations: host-bound licenses that are not hidden, dealt to the servers.
    let allocatable: Vec<usize> = (0..LICENSES)
        .filter(|n| n % 40 != 7 && n % HIDDEN_EVERY != 0)
        .take(SERVERS.len() * ALLOCATED_PER_SERVER)
        .collect();
    // Activated: those, and the new ones (an activation is as costly as a
    // purchase; the rest stay "not activated", which the list shows as such).
    let activated: BTreeSet<usize> = allocatable
        .iter()
        .copied()
        .chain((0..LICENSES).filter(|n| is_new(*n)))
        .collect();
    futures::stream::iter(activated.iter().map(|n| (*n, ids[*n])))
        .map(|(n, id)| {
            let api = api.clone();
            async move {
                let code = json!({ "access_code": access_code(n) });
                expect(&api, &format!("/licenses/{id}/activate"), code, 200).await?;
                Ok::<_, anyhow::Error>(())
            }
        })
        .buffer_unordered(CONCURRENCY)
        .try_collect::<()>()
        .await?;
    println!(
        "large account: {} activated in {:.0?}",
        activated.len(),
        started.elapsed()
    );
    let allocatable: Vec<Uuid> = allocatable.into_iter().map(|n| ids[n]).collect();
    for (server, licenses) in SERVERS.iter().zip(allocatable.chunks(ALLOCATED_PER_SERVER)) {
        for batch in licenses.chunks(BULK) {
            let body = json!({"license_ids": batch, "host": server, "quantity": 1});
            let done = expect(&api, "/bulk/allocate", body, 200).await?;
            ensure!(
                done.body["outcome"] == "success",
                "bulk allocate: {}",
                done.body
            );
        }
    }
    let hidden: Vec<Uuid> = ids.iter().step_by(HIDDEN_EVERY).copied().collect();
    let mut position = 0;
    for batch in hidden.chunks(BULK) {
        let done = expect(&api, "/bulk/hide", json!({"license_ids": batch}), 200).await?;
        ensure!(
            done.body["outcome"] == "success",
            "bulk hide: {}",
            done.body
        );
        position = done.body["position"].as_i64().context("no position")?;
    }
    // A usage report names features the read model must already hold.
    caught_up_within(&api, ids[0], position, CATCH_UP).await?;
    let today = now.date_naive();
    // Licenses 4k+1 are ADV concurrent-user ones, some allocated on the lab server.
    let lab_feature = "XDT_ADV_CCU";
    let reports: Vec<Value> = (0..USAGE_DAYS)
        .rev()
        .map(|days_ago| {
            json!({
                "host": USAGE_HOST,
                "day": today - Days::new(days_ago),
                "peaks": [{"feature": lab_feature, "peak_in_use": 100 + days_ago * 7 % 60}],
            })
        })
        .collect();
    let recorded = api
        .post("/usage-reports/batch", json!({ "reports": reports }))
        .await
        .and_then(|answer| check(answer, 201))?;
    position = recorded.body["position"].as_i64().context("no position")?;
    caught_up_within(&api, ids[0], position, CATCH_UP).await?;
    checkpointed(&ledger.base_url).await?;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let new = (0..LICENSES).filter(|n| is_new(*n)).count();
    let expiring = bodies
        .iter()
        .filter(|b| {
            b["expires_on"]
                .as_str()
                .and_then(|day| day.parse::<chrono::NaiveDate>().ok())
                .is_some_and(|day| (day - today).num_days() <= 90)
        })
        .count();
    Ok(Large {
        account,
        portal_token,
        auditor_token,
        licenses: LICENSES,
        hidden: hidden.len(),
        new,
        expiring,
        seeded_at: Utc::now().trunc_subsecs(0),
        took: started.elapsed(),
    })
}
