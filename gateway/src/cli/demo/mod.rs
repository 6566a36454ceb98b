//! `ledger demo`: a first run with something in it. Creates a new account,
//! issues a portal and an auditor token for it, and loads the account with three
//! years of licenses ([`story`]) and weeks of usage reports ([`usage`]) through
//! the same command services the HTTP API uses: every event is decided by the
//! domain's rules, hash-chained by the store and published by the relay of any
//! ledger serving this database, like any other.
//!
//! Each step is decided at its instant in the story (a purchase three years ago
//! is decided three years ago: its allocations, renewals and usage line up with
//! it), and every event records the demo's portal token as its actor, so the
//! history shows who did it. Running it again loads a fresh account beside the
//! first: nothing is looked up, so nothing can clash.
//!
//! - [`story`]: the licenses' dated steps;
//! - [`usage`]: the usage reports drawn from them.

pub mod story;
pub mod usage;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use ledger_domain::usage::{ReportUsage, ServerHost, UsageStreamId};
use ledger_domain::{
    AccountId, Activate, Allocate, AllocationId, LicenseAction, LicenseCommand, LicenseId,
    ModifyAllocation, ProductVersion, Renew, ReturnAllocation, Upgrade,
};
use uuid::Uuid;

use crate::auth::accounts;
use crate::auth::token::{IssuedToken, TokenRequest};
use crate::auth::Role;
use crate::config::Settings;
use crate::metrics::CommandMetrics;
use crate::write::commands::CommandContext;
use story::{access_code, day_in, Act, Key, Step};

/// Who creates the account and issues its tokens.
const ACTOR: &str = "ledger-demo";
/// How long the printed tokens are valid: 30 days.
const VALID_FOR_HOURS: i64 = 720;

/// What was loaded, and what to open it with.
#[derive(Debug)]
pub struct Loaded {
    /// The new account.
    pub account: AccountId,
    /// Its name.
    pub name: String,
    /// Licenses bought.
    pub licenses: usize,
    /// License commands recorded.
    pub license_events: usize,
    /// Usage reports recorded.
    pub usage_reports: usize,
    /// A portal token of the account.
    pub portal: IssuedToken,
    /// An auditor token of the account.
    pub auditor: IssuedToken,
}

/// Runs `ledger demo` against the configured database and prints what to open.
pub async fn run(settings: &Settings) -> anyhow::Result<ExitCode> {
    let pool = crate::db::connect_and_migrate(&settings.database_url, 4).await?;
    let loaded = load(&pool, settings, Utc::now()).await;
    pool.close().await;
    let loaded = loaded?;
    println!(
        "ledger demo: loaded \"{}\": {} licenses ({} license events) and {} usage reports \
         over three years; a ledger serving this database publishes them",
        loaded.name, loaded.licenses, loaded.license_events, loaded.usage_reports
    );
    println!("account:       {}", loaded.account);
    println!("portal token:  {}", loaded.portal.token);
    println!("auditor token: {}", loaded.auditor.token);
    println!("console:       {}", console_url(settings.listen_addr));
    println!(
        "(the tokens are valid until {}; each run loads a new account)",
        loaded.portal.expires_at.to_rfc3339()
    );
    Ok(ExitCode::SUCCESS)
}

/// The console's address on a ledger listening on `listen`: a wildcard address
/// is reached on this machine's loopback.
pub fn console_url(listen: SocketAddr) -> String {
    let mut address = listen;
    if address.ip().is_unspecified() {
        address.set_ip(match address {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    format!("http://{address}/console")
}

/// Creates the demo account as of `now`, its tokens, and its history.
pub async fn load(
    pool: &sqlx::PgPool,
    settings: &Settings,
    now: DateTime<Utc>,
) -> anyhow::Result<Loaded> {
    let today = now.date_naive();
    let steps = story::steps(today);
    let reports = usage::reports(&steps, today);
    let name = format!(
        "Example Corp (demo, loaded {})",
        now.format("%Y-%m-%d %H:%M UTC")
    );
    let account = accounts::create(pool, &name, ACTOR)
        .await
        .context("creating the demo account")?;
    let account = AccountId(account.account_id);
    let verifier = settings.token_verifier();
    let mut issued = Vec::new();
    for (role, subject) in [
        (Role::Portal, "demo-portal"),
        (Role::Auditor, "demo-auditor"),
    ] {
        let request = TokenRequest {
            subject: subject.to_owned(),
            role,
            account: Some(account),
            host: None,
            valid_for: chrono::Duration::hours(VALID_FOR_HOURS),
        };
        let token = accounts::issue_token(pool, &verifier, &request, ACTOR)
            .await
            .with_context(|| format!("issuing the demo's {role} token"))?;
        issued.push(token);
    }
    let [portal, auditor] = <[IssuedToken; 2]>::try_from(issued)
        .map_err(|_| anyhow::anyhow!("two tokens were issued"))?;
    let context = CommandContext {
        actor: "demo-portal".to_owned(),
        actor_role: Role::Portal.as_str(),
        token_id: portal.token_id.to_string(),
        ..CommandContext::default()
    };
    let license_events = record_steps(pool, settings, account, today, &steps, &context).await?;
    let held = usage::held_features(&steps);
    let (_, service) = crate::write::command_services(pool, settings, &CommandMetrics::default());
    for (n, report) in reports.iter().enumerate() {
        let (stream, command) = usage_command(report, account, &held)?;
        let context = CommandContext {
            request_id: format!("demo-usage-{n}"),
            ..context.clone()
        };
        service
            .execute(&stream.to_string(), command, &context, None)
            .await
            .with_context(|| format!("usage report of {} for {}", report.host, report.day))?;
    }
    Ok(Loaded {
        account,
        name,
        licenses: steps
            .iter()
            .filter(|step| matches!(step.act, Act::Purchase(_)))
            .count(),
        license_events,
        usage_reports: reports.len(),
        portal,
        auditor,
    })
}

/// Records every step as its license command; returns how many.
async fn record_steps(
    pool: &sqlx::PgPool,
    settings: &Settings,
    account: AccountId,
    today: chrono::NaiveDate,
    steps: &[Step],
    context: &CommandContext,
) -> anyhow::Result<usize> {
    let (service, _) = crate::write::command_services(pool, settings, &CommandMetrics::default());
    let mut ids = Ids::default();
    for (n, step) in steps.iter().enumerate() {
        let (license, command) = command(step, account, today, &mut ids)?;
        let context = CommandContext {
            request_id: format!("demo-{n}"),
            ..context.clone()
        };
        service
            .execute(&license.to_string(), command, &context, None)
            .await
            .with_context(|| {
                format!(
                    "{} on {}: {:?}",
                    step.license,
                    step.at.date_naive(),
                    step.act
                )
            })?;
    }
    Ok(steps.len())
}

/// The ids the story's names stand for: new for each load.
#[derive(Debug, Default)]
pub struct Ids {
    licenses: HashMap<Key, LicenseId>,
    allocations: HashMap<(Key, &'static str), AllocationId>,
}

impl Ids {
    fn license(&mut self, key: Key) -> LicenseId {
        *self
            .licenses
            .entry(key)
            .or_insert_with(|| LicenseId(Uuid::now_v7()))
    }

    fn allocation(&mut self, key: Key, name: &'static str) -> AllocationId {
        *self
            .allocations
            .entry((key, name))
            .or_insert_with(|| AllocationId(Uuid::now_v7()))
    }
}

/// `step` as the command the HTTP API would send for it, decided at its instant;
/// with the license it is for.
pub fn command(
    step: &Step,
    account: AccountId,
    today: chrono::NaiveDate,
    ids: &mut Ids,
) -> anyhow::Result<(LicenseId, LicenseCommand)> {
    let key = step.license;
    let action = match &step.act {
        Act::Purchase(line) => LicenseAction::Purchase(line.terms(key, today, step.at)?),
        Act::Activate => LicenseAction::Activate(Activate {
            access_code: access_code(key),
        }),
        Act::Allocate {
            allocation,
            host,
            quantity,
        } => LicenseAction::Allocate(Allocate {
            allocation_id: ids.allocation(key, allocation),
            host: (*host).to_owned(),
            quantity: *quantity,
        }),
        Act::Move {
            allocation,
            to_allocation,
            host,
        } => LicenseAction::ModifyAllocation(ModifyAllocation {
            allocation_id: ids.allocation(key, allocation),
            new_allocation_id: ids.allocation(key, to_allocation),
            new_host: (*host).to_owned(),
        }),
        Act::Return { allocation } => LicenseAction::ReturnAllocation(ReturnAllocation {
            allocation_id: ids.allocation(key, allocation),
        }),
        Act::Hide => LicenseAction::Hide,
        Act::Unhide => LicenseAction::Unhide,
        Act::Renew {
            expires_in,
            maintenance_in,
        } => LicenseAction::Renew(Renew {
            expires_on: expires_in.map(|days| day_in(today, days)),
            maintenance_until: maintenance_in.map(|days| day_in(today, days)),
        }),
        Act::UpgradeEdition(edition) => LicenseAction::Upgrade(Upgrade {
            edition: Some(*edition),
            version: None,
        }),
        Act::UpgradeVersion(version) => LicenseAction::Upgrade(Upgrade {
            edition: None,
            version: Some(ProductVersion::parse(version)?),
        }),
    };
    let command = LicenseCommand {
        account_id: account,
        now: step.at,
        action,
    };
    Ok((ids.license(key), command))
}

/// A usage report as the command the HTTP API would send for it, and the usage
/// stream it goes to.
pub fn usage_command(
    report: &usage::Report,
    account: AccountId,
    held: &std::collections::BTreeSet<String>,
) -> anyhow::Result<(UsageStreamId, ReportUsage)> {
    let host = ServerHost::parse(report.host)?;
    let stream = UsageStreamId::of(account, &host, report.day);
    let command = ReportUsage {
        account_id: account,
        now: report.at,
        host,
        day: report.day,
        peaks: report.peaks.clone(),
        known_features: held.clone(),
    };
    Ok((stream, command))
}

#[cfg(test)]
mod tests;
