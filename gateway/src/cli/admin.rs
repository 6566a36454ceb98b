//! `ledger admin …`: accounts and bearer tokens from the command line, for the
//! first admin token (no token can ask for one over HTTP before it exists) and
//! for operators' scripts.

use std::process::ExitCode;

use anyhow::{bail, Context as _};
use ledger_domain::usage::ServerHost;
use ledger_domain::AccountId;

use crate::auth::accounts::{self, IssueTokenError};
use crate::auth::token::TokenRequest;
use crate::cli::args::AdminCommand;
use crate::config::Settings;
use crate::http::routes::accounts::MAX_VALID_FOR_HOURS;

/// The actor recorded for what the command line does.
const ACTOR: &str = "ledger-admin-cli";

/// Runs `command` against the configured database.
pub async fn run(command: AdminCommand, settings: &Settings) -> anyhow::Result<ExitCode> {
    let pool = crate::db::connect_and_migrate(&settings.database_url, 2).await?;
    let result = match command {
        AdminCommand::CreateAccount { name } => {
            let name =
                accounts::check_name(&name).map_err(|rule| anyhow::anyhow!("--name: {rule}"))?;
            let account = accounts::create(&pool, name, ACTOR).await?;
            println!("{}", serde_json::to_string(&account)?);
            Ok(ExitCode::SUCCESS)
        }
        AdminCommand::ListAccounts => {
            for account in accounts::list(&pool).await? {
                println!("{}", serde_json::to_string(&account)?);
            }
            Ok(ExitCode::SUCCESS)
        }
        AdminCommand::IssueToken {
            role,
            account,
            subject,
            host,
            valid_for_hours,
        } => {
            if !(1..=MAX_VALID_FOR_HOURS).contains(&valid_for_hours) {
                bail!("--valid-for-hours: 1 to {MAX_VALID_FOR_HOURS}");
            }
            let host = host
                .as_deref()
                .map(ServerHost::parse)
                .transpose()
                .map_err(|error| anyhow::anyhow!("--host: {error}"))?;
            let request = TokenRequest {
                subject,
                role,
                account: account.map(AccountId),
                host,
                valid_for: chrono::Duration::hours(valid_for_hours.into()),
            };
            let issued = accounts::issue_token(&pool, &settings.token_verifier(), &request, ACTOR)
                .await
                .map_err(|error| match error {
                    IssueTokenError::NoSuchAccount => {
                        anyhow::anyhow!(
                            "--account: no such account (see `ledger admin list-accounts`)"
                        )
                    }
                    other => anyhow::Error::new(other),
                })
                .context("issuing the token")?;
            println!("{}", issued.token);
            eprintln!(
                "ledger: {role} token {} for `{}` issued, valid until {}",
                issued.token_id,
                request.subject,
                issued.expires_at.to_rfc3339()
            );
            Ok(ExitCode::SUCCESS)
        }
    };
    pool.close().await;
    result
}
