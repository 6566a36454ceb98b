//! The web console in a real browser: the real `ledger` binary (every role,
//! checkpoints signed every second) on a fresh database and stream, an account
//! seeded through the real commands ([`seed`]), and the seeds' story clicked
//! through in Debian's chromium by Playwright (`tests/console/story.mjs`), run
//! by `deploy/console-test.sh`, which installs chromium and `playwright-core`
//! when they are missing. The story asserts on what the page shows and saves a
//! screenshot of each screen.

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
    let started = Instant::now();
    let story = Command::new("bash")
        .arg(script())
        .arg("--story")
        .env("CONSOLE_URL", format!("{}/console", ledger.base_url))
        .env("CONSOLE_PORTAL_TOKEN", &seeded.portal_token)
        .env("CONSOLE_AUDITOR_TOKEN", &seeded.auditor_token)
        .env("CONSOLE_PORTAL_SUBJECT", seed::PORTAL_SUBJECT)
        .env("CONSOLE_SEEDED_AT", seeded.seeded_at.to_rfc3339())
        .env("CONSOLE_USAGE_HOST", seed::USAGE_HOST)
        .env("CONSOLE_USAGE_DAYS", seed::USAGE_PEAKS.len().to_string())
        .env("CONSOLE_SCREENSHOTS", screenshots)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(STORY_LIMIT, story)
        .await
        .context("the console story ran longer than five minutes")?
        .context("running deploy/console-test.sh --story")?;
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
