//! What each soak client does, over and over: a license's whole life — purchase,
//! activate, allocate twice, move one allocation, return the other, hide and
//! unhide, renew, upgrade, a usage report from its license server, and a bulk
//! allocation over it and the client's previous license — with an auditor's
//! history, as-of and export queries alongside.

use chrono::{Days, Utc};
use serde_json::json;
use uuid::Uuid;

use super::client::Client;
use crate::{mint, Role, Verifier};

/// One client's account, tokens and license server.
pub struct Identity {
    account: Uuid,
    portal: String,
    auditor: String,
    host: String,
    server: String,
}

impl Identity {
    /// Client `n`'s identity in `account`.
    pub fn new(tokens: &Verifier, account: Uuid, n: usize) -> Self {
        let host = format!("soak-{n}");
        Self {
            account,
            portal: mint(tokens, Role::Portal, Some(account), None),
            auditor: mint(tokens, Role::Auditor, Some(account), None),
            server: mint(tokens, Role::LicenseServer, Some(account), Some(&host)),
            host,
        }
    }
}

/// Runs lifecycles until `stop` says so.
pub async fn client_loop(client: Client, identity: Identity, n: usize, stop: impl Fn() -> bool) {
    let mut previous: Option<String> = None;
    let mut round = 0usize;
    while !stop() {
        if let Some(license) = lifecycle(&client, &identity, n, round, previous.as_deref()).await {
            previous = Some(license);
        }
        round += 1;
    }
}

impl Identity {
    /// A purchase, then a read of it that waits for the read model to reach it
    /// (`min_position`): the whole path — gateway, store, relay, stream, projector
    /// — works again. When it did, or `None` if it did not within two minutes.
    pub async fn round_trip(&self, client: &Client) -> Option<std::time::Instant> {
        let base = format!("/v1/accounts/{}", self.account);
        let today = Utc::now().date_naive();
        let bought = client
            .command(
                "probe",
                &format!("{base}/licenses"),
                &self.portal,
                Some(json!({
                    "product": "XDT", "edition": "STD", "version": "7.15",
                    "license_model": "user_device", "binding_type": "host_name",
                    "quantity": 1, "maintenance_until": today + Days::new(365),
                    "order_number": "PROBE", "access_code": "LA-PROBE",
                })),
                201,
            )
            .await?;
        let (license, position) = (bought["license_id"].as_str()?, bought["position"].as_i64()?);
        let started = std::time::Instant::now();
        while started.elapsed() < std::time::Duration::from_secs(120) {
            let read = format!("{base}/licenses/{license}?min_position={position}");
            if client.query(0, &read, &self.portal).await {
                return Some(std::time::Instant::now());
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        None
    }
}

/// One license's life; its id once bought (whatever came after).
async fn lifecycle(
    client: &Client,
    who: &Identity,
    n: usize,
    round: usize,
    previous: Option<&str>,
) -> Option<String> {
    let today = Utc::now().date_naive();
    let base = format!("/v1/accounts/{}", who.account);
    let portal = who.portal.as_str();
    let bought = client
        .command(
            "purchase",
            &format!("{base}/licenses"),
            portal,
            Some(json!({
                "product": "XDT", "edition": "STD", "version": "7.15",
                "license_model": "user_device", "binding_type": "host_name",
                "quantity": 100,
                "expires_on": today + Days::new(30 + (round as u64 % 700)),
                "maintenance_until": today + Days::new(365),
                "order_number": format!("SOAK-{n}-{round}"),
                "access_code": "LA-0001234567-12345",
            })),
            201,
        )
        .await?;
    let license = bought["license_id"].as_str()?.to_owned();
    let at = |path: &str| format!("{base}/licenses/{license}{path}");
    let command = |name, path: String, body, expected| async move {
        client.command(name, &path, portal, body, expected).await
    };
    command(
        "activate",
        at("/activate"),
        Some(json!({"access_code": "LA-0001234567-12345"})),
        200,
    )
    .await?;
    let allocate = |quantity: u32| Some(json!({"host": who.host, "quantity": quantity}));
    let first = command("allocate", at("/allocations"), allocate(10), 201).await?;
    let second = command("allocate", at("/allocations"), allocate(5), 201).await?;
    let (first, second) = (
        first["allocation_id"].as_str()?.to_owned(),
        second["allocation_id"].as_str()?.to_owned(),
    );
    command(
        "modify",
        at(&format!("/allocations/{first}/modify")),
        Some(json!({"new_host": format!("{}-b", who.host)})),
        200,
    )
    .await?;
    command(
        "return",
        at(&format!("/allocations/{second}/return")),
        None,
        200,
    )
    .await?;
    command("hide", at("/hide"), None, 200).await?;
    command("unhide", at("/unhide"), None, 200).await?;
    command(
        "renew",
        at("/renew"),
        Some(json!({"expires_on": today + Days::new(800)})),
        200,
    )
    .await?;
    let upgraded = command(
        "upgrade",
        at("/upgrade"),
        Some(json!({"edition": "ADV"})),
        200,
    )
    .await?;
    // A usage report is checked against the read model: a license server reports a
    // feature once its license shows it (read-your-writes), as a portal would.
    let position = upgraded["position"].as_i64()?;
    client
        .read(&at(&format!("?min_position={position}")), portal)
        .await?;
    client
        .command(
            "usage_report",
            &format!("{base}/usage-reports"),
            &who.server,
            Some(json!({"host": who.host, "day": today,
                        "peaks": [{"feature": "XDT_ADV_UD", "peak_in_use": 1 + round % 9}]})),
            201,
        )
        .await?;
    if let Some(previous) = previous {
        command(
            "bulk_allocate",
            format!("{base}/bulk/allocate"),
            Some(json!({"license_ids": [license, previous], "host": format!("{}-c", who.host), "quantity": 1})),
            200,
        )
        .await?;
    }
    audit_alongside(client, who, &base, &license, round).await;
    Some(license)
}

/// An auditor's reads, as they run beside the load in production.
async fn audit_alongside(client: &Client, who: &Identity, base: &str, license: &str, round: usize) {
    let auditor = who.auditor.as_str();
    client
        .query(
            round,
            &format!("{base}/licenses/{license}/history"),
            auditor,
        )
        .await;
    let an_hour_ago = (Utc::now() - chrono::Duration::hours(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    // Each replays the account's whole history: a few, as an auditor would.
    if round % 50 == 0 {
        client
            .query(
                round,
                &format!("{base}/history/landing-page?as_of={an_hour_ago}"),
                auditor,
            )
            .await;
    }
    if round % 5 == 0 {
        let since = (Utc::now() - chrono::Duration::seconds(5))
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        client
            .query(
                round,
                &format!("{base}/events.ndjson?from_time={since}"),
                auditor,
            )
            .await;
    }
}
