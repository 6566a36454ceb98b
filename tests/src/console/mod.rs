//! The web console in a real browser: the real `ledger` binary (every role,
//! checkpoints signed every second) on a fresh database and stream, an account
//! seeded through the real commands ([`seed`]), and the seeds' story clicked
//! through in Debian's chromium by Playwright (`tests/console/story.mjs`), run
//! by `deploy/console-test.sh`, which installs chromium and `playwright-core`
//! when they are missing. The story asserts on what the page shows and saves a
//! screenshot of each screen. [`run_large`] does the same on one account of
//! [`large::LICENSES`] licenses with `tests/console/scale.mjs`.

pub mod large;
pub mod seed;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context as _};
use tokio::process::Command;

use crate::{Ledger, TestEnv};

/// Longest the story may run once the browser is installed (it takes well under
/// a minute; this only stops a hang).
const STORY_LIMIT: Duration = Duration::from_secs(300);

/// What a run of the story left.
#[derive(Debug)]
pub struct Story {
    /// Whether every step held.
    pub passed: bool,
    /// Everything the story printed.
    pub output: String,
    /// Where its screenshots are.
    pub screenshots: PathBuf,
    /// How long the story ran (the browser's start included, installs not).
    pub elapsed: Duration,
    /// The ledger's log.
    pub ledger_log: PathBuf,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/console-test.sh")
}

/// Installs what the story needs when it is missing (`deploy/console-test.sh --prepare`).
pub async fn prepare() -> anyhow::Result<()> {
    let status = Command::new("bash")
        .arg(script())
        .arg("--prepare")
        .stdin(Stdio::null())
        .status()
        .await
        .context("running deploy/console-test.sh --prepare")?;
    ensure!(
        status.success(),
        "deploy/console-test.sh --prepare failed ({status})"
    );
    Ok(())
}

/// Starts the ledger (binary `bin`) on a fresh database and stream, seeds an
/// account and runs the story against it, saving screenshots into `screenshots`.
/// The database and the stream are removed afterwards.
pub async fn run(bin: &str, screenshots: &Path) -> anyhow::Result<Story> {
    prepare().await?;
    std::fs::create_dir_all(screenshots)
        .with_context(|| format!("creating {}", screenshots.display()))?;
    let env = TestEnv::fresh().with_checkpoints();
    let result = run_in(bin, &env, screenshots).await;
    env.cleanup().await;
    result
}

async fn run_in(bin: &str, env: &TestEnv, screenshots: &Path) -> anyhow::Result<Story> {
    let ledger = Ledger::start(bin, env, &[]).await?;
    let seeded = seed::account(bin, env, &ledger).await?;
    let vars = [
        ("CONSOLE_URL", format!("{}/console", ledger.base_url)),
        ("CONSOLE_PORTAL_TOKEN", seeded.portal_token),
        ("CONSOLE_AUDITOR_TOKEN", seeded.auditor_token),
        ("CONSOLE_PORTAL_SUBJECT", seed::PORTAL_SUBJECT.to_owned()),
        ("CONSOLE_SEEDED_AT", seeded.seeded_at.to_rfc3339()),
        ("CONSOLE_USAGE_HOST", seed::USAGE_HOST.to_owned()),
        ("CONSOLE_USAGE_DAYS", seed::USAGE_PEAKS.len().to_string()),
    ];
    browse("--story", &vars, env, screenshots).await
}

/// Starts the ledger (binary `bin`) on a fresh database and stream, seeds an
/// account of [`large::LICENSES`] licenses ([`large`]) and runs the scale run
/// (`tests/console/scale.mjs`) against it. Answers the run and what was seeded.
pub async fn run_large(bin: &str, screenshots: &Path) -> anyhow::Result<(Story, large::Large)> {
    prepare().await?;
    std::fs::create_dir_all(screenshots)
        .with_context(|| format!("creating {}", screenshots.display()))?;
    let env = TestEnv::fresh().with_checkpoints();
    let result = run_large_in(bin, &env, screenshots).await;
    env.cleanup().await;
    result
}

async fn run_large_in(
    bin: &str,
    env: &TestEnv,
    screenshots: &Path,
) -> anyhow::Result<(Story, large::Large)> {
    let ledger = Ledger::start(bin, env, &[]).await?;
    let seeded = large::account(bin, env, &ledger).await?;
    let vars = [
        ("CONSOLE_URL", format!("{}/console", ledger.base_url)),
        ("CONSOLE_PORTAL_TOKEN", seeded.portal_token.clone()),
        ("CONSOLE_AUDITOR_TOKEN", seeded.auditor_token.clone()),
        ("CONSOLE_SEEDED_AT", seeded.seeded_at.to_rfc3339()),
        ("CONSOLE_LICENSES", seeded.licenses.to_string()),
        ("CONSOLE_HIDDEN", seeded.hidden.to_string()),
        ("CONSOLE_NEW", seeded.new.to_string()),
        ("CONSOLE_EXPIRING", seeded.expiring.to_string()),
        ("CONSOLE_USAGE_HOST", large::USAGE_HOST.to_owned()),
        ("CONSOLE_USAGE_DAYS", large::USAGE_DAYS.to_string()),
        (
            "CONSOLE_LEDGER_PID",
            ledger.pid().context("the ledger exited")?.to_string(),
        ),
    ];
    let story = browse("--scale", &vars, env, screenshots).await?;
    Ok((story, seeded))
}

/// Runs `deploy/console-test.sh <mode>` with `vars` and the screenshots' directory.
async fn browse(
    mode: &str,
    vars: &[(&str, String)],
    env: &TestEnv,
    screenshots: &Path,
) -> anyhow::Result<Story> {
    let started = Instant::now();
    let story = Command::new("bash")
        .arg(script())
        .arg(mode)
        .envs(vars.iter().map(|(name, value)| (*name, value.as_str())))
        .env("CONSOLE_SCREENSHOTS", screenshots)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(STORY_LIMIT, story)
        .await
        .context("the console story ran longer than five minutes")?
        .with_context(|| format!("running deploy/console-test.sh {mode}"))?;
    Ok(Story {
        passed: output.status.success(),
        output: format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
        screenshots: screenshots.to_owned(),
        elapsed: started.elapsed(),
        ledger_log: env.log_path(),
    })
}
