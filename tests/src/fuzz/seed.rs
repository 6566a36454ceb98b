//! The account the fuzz runs against, made as an operator and a portal would: the
//! account and its tokens with `ledger admin`, then licenses, allocations, a moved
//! and a returned allocation, a hidden trial and a license server's usage through
//! the HTTP API.

use anyhow::Context as _;
use chrono::{Days, Utc};
use serde_json::json;
use uuid::Uuid;

use crate::seeding::{
    activate, caught_up, check, checkpointed, create_account, expect, issue_token,
};
use crate::{purchase_body, Api, Ledger, TestEnv};

/// What the fuzz pins its path parameters and tokens to.
#[derive(Debug, Clone)]
pub struct Seeded {
    /// The account, made by `ledger admin create-account`.
    pub account: Uuid,
    /// A term license with a live allocation (and the account's other history).
    pub license: Uuid,
    /// Its live allocation.
    pub allocation: Uuid,
    /// The license server of that allocation, which reported usage today.
    pub host: &'static str,
    /// The day of that report (UTC).
    pub day: chrono::NaiveDate,
    /// A portal token of the account (`ledger admin issue-token`).
    pub portal_token: String,
    /// An admin token (`ledger admin issue-token`).
    pub admin_token: String,
}

const HOST: &str = "srv-a";
/// The access code of [`purchase_body`].
const ACCESS_CODE: &str = "LA-0001234567-12345";

/// Makes the account on the running `ledger`, waits until its read models and a
/// signed checkpoint cover it, and answers what the fuzz needs.
pub async fn account(bin: &str, env: &TestEnv, ledger: &Ledger) -> anyhow::Result<Seeded> {
    let account = create_account(bin, env, "Fuzz Corp").await?;
    let portal_token = issue_token(bin, env, "portal", Some(account), "fuzz-portal").await?;
    let admin_token = issue_token(bin, env, "admin", None, "fuzz-admin").await?;
    let api = Api::new(ledger).with_token(account, &portal_token);

    let today = Utc::now().date_naive();
    let license = Uuid::now_v7();
    let allocation = Uuid::now_v7();
    let mut term = purchase_body(Some(today + Days::new(365)));
    term["license_id"] = json!(license);
    expect(&api, "/licenses", term, 201).await?;
    activate(&api, license, ACCESS_CODE).await?;
    let allocated = json!({"host": HOST, "quantity": 100, "allocation_id": allocation});
    expect(
        &api,
        &format!("/licenses/{license}/allocations"),
        allocated,
        201,
    )
    .await?;
    // A moved allocation leaves a void license file behind (410 with its successor).
    let moved = expect(
        &api,
        &format!("/licenses/{license}/allocations"),
        json!({"host": "srv-b", "quantity": 50}),
        201,
    )
    .await?;
    let moved = moved.body["allocation_id"]
        .as_str()
        .context("no allocation_id")?;
    let to_c = json!({"new_host": "srv-c"});
    expect(
        &api,
        &format!("/licenses/{license}/allocations/{moved}/modify"),
        to_c,
        200,
    )
    .await?;
    let renewal = json!({"maintenance_until": today + Days::new(730)});
    expect(&api, &format!("/licenses/{license}/renew"), renewal, 200).await?;

    // A perpetual license with a returned allocation.
    let perpetual = expect(&api, "/licenses", purchase_body(None), 201).await?;
    let perpetual: Uuid = perpetual.body["license_id"]
        .as_str()
        .context("no license_id")?
        .parse()?;
    activate(&api, perpetual, ACCESS_CODE).await?;
    let returned = expect(
        &api,
        &format!("/licenses/{perpetual}/allocations"),
        json!({"host": HOST, "quantity": 10}),
        201,
    )
    .await?;
    let returned = returned.body["allocation_id"]
        .as_str()
        .context("no allocation_id")?;
    api.post_empty(&format!(
        "/licenses/{perpetual}/allocations/{returned}/return"
    ))
    .await
    .and_then(|answer| check(answer, 200))?;

    // A hidden trial expiring within the month (the landing page's red band).
    let mut trial = purchase_body(Some(today + Days::new(20)));
    trial["trial"] = json!(true);
    trial["order_number"] = json!("ORD-TRIAL");
    let trial = expect(&api, "/licenses", trial, 201).await?;
    let trial = trial.body["license_id"].as_str().context("no license_id")?;
    api.post_empty(&format!("/licenses/{trial}/hide"))
        .await
        .and_then(|answer| check(answer, 200))?;

    let usage = json!({"host": HOST, "day": today, "peaks": [{"feature": "XDT_ENT_UD", "peak_in_use": 120}]});
    let last = expect(&api, "/usage-reports", usage, 201).await?;
    let position = last.body["position"].as_i64().context("no position")?;

    caught_up(&api, license, position).await?;
    checkpointed(&ledger.base_url).await?;
    Ok(Seeded {
        account,
        license,
        allocation,
        host: HOST,
        day: today,
        portal_token,
        admin_token,
    })
}
