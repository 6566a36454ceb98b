//! The account the console's story starts from, made through the real commands:
//! the account and its portal and auditor tokens with `ledger admin`, then
//! purchases through the HTTP API — a new license to allocate, term licenses
//! that expire within 30 and within 90 days (one bound to MAC addresses, for the
//! incompatible bulk selection), a hidden legacy license, and a week of usage
//! reports on a license server that goes into overdraft.

use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, Days, SubsecRound as _, Utc};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::seeding::{
    activate, caught_up, check, checkpointed, create_account, expect, issue_token,
};
use crate::{purchase_body, Api, Ledger, TestEnv};

/// The portal token's holder: every event the story records names them.
pub const PORTAL_SUBJECT: &str = "alice@acme.example";
/// The auditor token's holder.
pub const AUDITOR_SUBJECT: &str = "audit@acme.example";
/// The license server whose week of usage the chart shows.
pub const USAGE_HOST: &str = "SRV-LAB";
/// Its daily peaks, oldest first (the last is today's); 50 seats are installed.
pub const USAGE_PEAKS: [u32; 7] = [30, 45, 52, 48, 60, 40, 55];

/// What the story needs.
#[derive(Debug, Clone)]
pub struct Seeded {
    /// The account.
    pub account: Uuid,
    /// A portal token of it.
    pub portal_token: String,
    /// An auditor token of it.
    pub auditor_token: String,
    /// An instant after every seeded event and before the story's own, whole
    /// seconds (what the as-of picker can enter).
    pub seeded_at: DateTime<Utc>,
}

/// One purchase of the seed: what differs from [`purchase_body`].
struct Line {
    order: &'static str,
    access_code: &'static str,
    edition: &'static str,
    license_model: &'static str,
    binding_type: &'static str,
    quantity: u32,
    /// Days since its purchase.
    bought_days_ago: u64,
    /// Days it has left; none for perpetual.
    expires_in_days: Option<u64>,
}

const LINES: [Line; 4] = [
    // New: the story allocates it, 800 then 200.
    Line {
        order: "ORD-1000",
        access_code: "LA-1000-ACME",
        edition: "ENT",
        license_model: "user_device",
        binding_type: "host_name",
        quantity: 1000,
        bought_days_ago: 0,
        expires_in_days: None,
    },
    // Red on the landing page, and bound to MAC addresses.
    Line {
        order: "ORD-MAC-50",
        access_code: "LA-MAC-50",
        edition: "PLT",
        license_model: "user_device",
        binding_type: "mac_address",
        quantity: 50,
        bought_days_ago: 200,
        expires_in_days: Some(20),
    },
    // Orange, with 50 seats on the lab server that reports usage.
    Line {
        order: "ORD-LAB-100",
        access_code: "LA-LAB-100",
        edition: "ADV",
        license_model: "concurrent_user",
        binding_type: "host_name",
        quantity: 100,
        bought_days_ago: 300,
        expires_in_days: Some(60),
    },
    // A legacy license, hidden.
    Line {
        order: "ORD-LEGACY",
        access_code: "LA-LEGACY",
        edition: "STD",
        license_model: "concurrent_user",
        binding_type: "host_name",
        quantity: 10,
        bought_days_ago: 1100,
        expires_in_days: None,
    },
];

/// Makes the account on the running `ledger` and waits until the read models and
/// a signed checkpoint cover it.
pub async fn account(bin: &str, env: &TestEnv, ledger: &Ledger) -> anyhow::Result<Seeded> {
    let account = create_account(bin, env, "Acme Corp").await?;
    let portal_token = issue_token(bin, env, "portal", Some(account), PORTAL_SUBJECT).await?;
    let auditor_token = issue_token(bin, env, "auditor", Some(account), AUDITOR_SUBJECT).await?;
    let api = Api::new(ledger).with_token(account, &portal_token);
    let now = Utc::now();
    let today = now.date_naive();
    let mut ids = Vec::new();
    for line in &LINES {
        let mut body = purchase_body(line.expires_in_days.map(|days| today + Days::new(days)));
        for (name, value) in [
            ("order_number", json!(line.order)),
            ("access_code", json!(line.access_code)),
            ("edition", json!(line.edition)),
            ("license_model", json!(line.license_model)),
            ("binding_type", json!(line.binding_type)),
            ("quantity", json!(line.quantity)),
            (
                "purchased_at",
                json!(now - chrono::Duration::days(line.bought_days_ago as i64)),
            ),
        ] {
            body[name] = value;
        }
        let bought = expect(&api, "/licenses", body, 201).await?;
        let id: Uuid = id_of(&bought.body, "license_id")?;
        activate(&api, id, line.access_code).await?;
        ids.push(id);
    }
    let [_, _, lab, legacy] = ids[..] else {
        anyhow::bail!("four licenses were bought");
    };
    let installed = json!({"host": USAGE_HOST, "quantity": 50});
    expect(
        &api,
        &format!("/licenses/{lab}/allocations"),
        installed,
        201,
    )
    .await?;
    let hidden = api
        .post_empty(&format!("/licenses/{legacy}/hide"))
        .await
        .and_then(|answer| check(answer, 200))?;
    // A usage report names features the read model must already hold.
    let mut position = hidden.body["position"]
        .as_i64()
        .context("no position in the hide's answer")?;
    caught_up(&api, lab, position).await?;
    for (days_ago, peak) in (0..USAGE_PEAKS.len() as u64).rev().zip(USAGE_PEAKS) {
        let report = json!({
            "host": USAGE_HOST,
            "day": today - Days::new(days_ago),
            "peaks": [{"feature": "XDT_ADV_CCU", "peak_in_use": peak}],
        });
        let recorded = expect(&api, "/usage-reports", report, 201).await?;
        position = recorded.body["position"].as_i64().context("no position")?;
    }
    caught_up(&api, lab, position).await?;
    checkpointed(&ledger.base_url).await?;
    // The as-of picker enters whole seconds: step past the last seeded event's.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    Ok(Seeded {
        account,
        portal_token,
        auditor_token,
        seeded_at: Utc::now().trunc_subsecs(0),
    })
}

fn id_of(body: &Value, name: &str) -> anyhow::Result<Uuid> {
    Ok(body[name]
        .as_str()
        .with_context(|| format!("no {name} in {body}"))?
        .parse()?)
}
