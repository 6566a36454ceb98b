//! Making an account through the real commands, as an operator and a portal
//! would: `ledger admin` for the account and its tokens, the HTTP API for the
//! rest, and waits until the read models and a signed checkpoint cover it.
//! Shared by the contract fuzz and the console's browser story.

use std::time::Duration;

use anyhow::{ensure, Context as _};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::{run_ledger, status_and_output, Answer, Api, TestEnv};

/// `ledger admin <args>`'s output, trimmed; an error when it fails.
pub async fn admin(bin: &str, env: &TestEnv, args: &[&str]) -> anyhow::Result<String> {
    let mut all = vec!["admin"];
    all.extend_from_slice(args);
    let output = run_ledger(bin, env, &all).await;
    let (status, said) = status_and_output(&output);
    ensure!(status == 0, "ledger {all:?} exited {status}: {said}");
    Ok(String::from_utf8(output.stdout)?.trim().to_owned())
}

/// A new account named `name`, made with `ledger admin create-account`.
pub async fn create_account(bin: &str, env: &TestEnv, name: &str) -> anyhow::Result<Uuid> {
    let created: Value =
        serde_json::from_str(&admin(bin, env, &["create-account", "--name", name]).await?)
            .context("create-account printed no JSON")?;
    Ok(created["account_id"]
        .as_str()
        .context("create-account printed no account_id")?
        .parse()?)
}

/// A token of `role` in `account` (none for an admin) held by `subject`, made
/// with `ledger admin issue-token`.
pub async fn issue_token(
    bin: &str,
    env: &TestEnv,
    role: &str,
    account: Option<Uuid>,
    subject: &str,
) -> anyhow::Result<String> {
    let account = account.map(|id| id.to_string());
    let mut args = vec!["issue-token", "--role", role, "--subject", subject];
    if let Some(account) = &account {
        args.extend(["--account", account.as_str()]);
    }
    admin(bin, env, &args).await
}

/// Activates `license` with its access `code`.
pub async fn activate(api: &Api, license: Uuid, code: &str) -> anyhow::Result<()> {
    let code = json!({ "access_code": code });
    expect(api, &format!("/licenses/{license}/activate"), code, 200).await?;
    Ok(())
}

/// POSTs `body` to `path` and requires `status`.
pub async fn expect(api: &Api, path: &str, body: Value, status: u16) -> anyhow::Result<Answer> {
    let answer = api.post(path, body).await?;
    check(answer, status).with_context(|| format!("POST {path}"))
}

/// `answer`, when its status is `status`.
pub fn check(answer: Answer, status: u16) -> anyhow::Result<Answer> {
    ensure!(
        answer.status == status,
        "answered {} instead of {status}: {}",
        answer.status,
        answer.body
    );
    Ok(answer)
}

/// Waits until the read models have applied `position`.
pub async fn caught_up(api: &Api, license: Uuid, position: i64) -> anyhow::Result<()> {
    caught_up_within(api, license, position, Duration::from_secs(10)).await
}

/// Waits up to `limit` until the read models have applied `position` (after
/// tens of thousands of commands the projector may be that far behind).
pub async fn caught_up_within(
    api: &Api,
    license: Uuid,
    position: i64,
    limit: Duration,
) -> anyhow::Result<()> {
    let give_up = std::time::Instant::now() + limit;
    while std::time::Instant::now() < give_up {
        let read = api
            .get(&format!("/licenses/{license}?min_position={position}"))
            .await?;
        if read.status == 200 {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("the read models did not apply position {position} within {limit:?}")
}

/// Waits for the first signed checkpoint, which the proofs' `tree_size` needs.
pub async fn checkpointed(base_url: &str) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    for _ in 0..300 {
        let status = client
            .get(format!("{base_url}/v1/log/checkpoint"))
            .send()
            .await?
            .status();
        if status.is_success() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("no checkpoint was signed within 30 s")
}
