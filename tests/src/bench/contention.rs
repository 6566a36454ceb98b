//! Contention on one license: many clients allocating seats on the same license
//! at once through one gateway, where commands wait their turn in-process. Each
//! round buys a license with a seat for every allocation the round makes, so a
//! stream stays as short as a real license's; the round's clients then allocate
//! one seat at a time on it together. Every answer should be a 201: a 409 would
//! mean two commands of one gateway raced.

use std::time::{Duration, Instant};

use chrono::{Days, Utc};
use serde_json::{json, Value};
use tokio::task::JoinSet;

use super::fleet::Fleet;
use super::report::ContentionFigures;
use super::stats::Samples;

/// Allocations each client makes on a round's license.
const ALLOCATIONS_PER_CLIENT: usize = 10;

/// One client's allocations.
#[derive(Debug, Default)]
struct Outcomes {
    samples: Samples,
    conflicts: u64,
    refusals: u64,
    first_failure: Option<String>,
}

impl Outcomes {
    fn merge(&mut self, other: Outcomes) {
        self.samples.merge(other.samples);
        self.conflicts += other.conflicts;
        self.refusals += other.refusals;
        self.first_failure = self.first_failure.take().or(other.first_failure);
    }
}

/// Rounds of `clients` allocating together on one license each, until
/// `duration` has passed (a round begun in time is finished).
pub async fn on_one_license(
    fleet: &Fleet,
    clients: usize,
    duration: Duration,
) -> anyhow::Result<ContentionFigures> {
    let identity = fleet.identity(0);
    let mut outcomes = Outcomes::default();
    let mut contended = Duration::ZERO;
    let mut round = 0;
    while contended < duration {
        let license = activated_license(fleet, identity.account, &identity.portal, clients).await?;
        let url = fleet.account_url(
            identity.account,
            &format!("/licenses/{license}/allocations"),
        );
        let started = Instant::now();
        let mut tasks = JoinSet::new();
        for client in 0..clients {
            let (fleet, url, token) = (fleet.clone(), url.clone(), identity.portal.clone());
            tasks.spawn(async move {
                let mut outcomes = Outcomes::default();
                for n in 0..ALLOCATIONS_PER_CLIENT {
                    let host = format!("contention-{round}-{client}-{n}");
                    allocate(&fleet, &url, &token, &host, &mut outcomes).await;
                }
                outcomes
            });
        }
        while let Some(done) = tasks.join_next().await {
            outcomes.merge(done?);
        }
        contended += started.elapsed();
        round += 1;
    }
    Ok(ContentionFigures {
        clients,
        allocations: outcomes.samples.summary(contended),
        conflicts: outcomes.conflicts,
        refusals: outcomes.refusals,
        first_failure: outcomes.first_failure,
    })
}

/// Buys and activates a license with a seat for each allocation of a round.
async fn activated_license(
    fleet: &Fleet,
    account: uuid::Uuid,
    token: &str,
    clients: usize,
) -> anyhow::Result<String> {
    let today = Utc::now().date_naive();
    let purchase = json!({
        "product": "XDT", "edition": "ENT", "version": "7.15",
        "license_model": "user_device", "binding_type": "host_name",
        "quantity": clients * ALLOCATIONS_PER_CLIENT,
        "expires_on": today + Days::new(365),
        "maintenance_until": today + Days::new(365),
        "order_number": "BENCH-CONTENTION",
        "access_code": "LA-0001234567-12345",
    });
    let bought: Value = fleet
        .command(&fleet.account_url(account, "/licenses"), token)
        .json(&purchase)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let license = bought["license_id"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("a purchase answered without a license id: {bought}"))?
        .to_owned();
    fleet
        .command(
            &fleet.account_url(account, &format!("/licenses/{license}/activate")),
            token,
        )
        .json(&json!({"access_code": "LA-0001234567-12345"}))
        .send()
        .await?
        .error_for_status()?;
    Ok(license)
}

/// One allocation of a seat on `host`, timed until its answer is read, and
/// sorted by its status.
async fn allocate(fleet: &Fleet, url: &str, token: &str, host: &str, outcomes: &mut Outcomes) {
    let started = Instant::now();
    let sent = fleet
        .command(url, token)
        .json(&json!({"host": host, "quantity": 1}))
        .send()
        .await;
    let failure = match sent {
        Ok(response) => {
            let status = response.status().as_u16();
            let body = response.text().await.unwrap_or_default();
            match status {
                201 => {
                    outcomes.samples.record(started.elapsed());
                    return;
                }
                409 => outcomes.conflicts += 1,
                422 => outcomes.refusals += 1,
                _ => {}
            }
            format!("{status}: {body}")
        }
        Err(error) => error.to_string(),
    };
    outcomes.samples.record_error();
    outcomes
        .first_failure
        .get_or_insert(format!("allocate: {failure}"));
}
