//! Schemathesis as the harness runs it: found (or installed by `deploy/fuzz.sh`),
//! given the settings of `schemathesis.toml` and the seeded account, and run once
//! per token over the operations that token may call.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{ensure, Context as _};
use tokio::process::Command;

use super::seed::Seeded;

/// The settings every run shares; the seeded ids and tokens fill its variables.
const SETTINGS: &str = include_str!("schemathesis.toml");

/// The operations only an admin token may call; every other one takes the portal's
/// token (or none, and ignores it).
const ADMIN_OPERATIONS: &str = r"^/v1/accounts(/\{account_id\}/tokens)?$";

/// The `schemathesis` command: `SCHEMATHESIS_BIN`, else the one `deploy/fuzz.sh`
/// installs (into a virtualenv of its own, once per machine).
pub async fn command() -> anyhow::Result<PathBuf> {
    if let Some(bin) = std::env::var_os("SCHEMATHESIS_BIN") {
        return Ok(bin.into());
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/fuzz.sh");
    let output = Command::new("bash")
        .arg(&script)
        .arg("--print-schemathesis")
        .stderr(Stdio::inherit())
        .output()
        .await
        .with_context(|| format!("running {}", script.display()))?;
    ensure!(
        output.status.success(),
        "{} --print-schemathesis failed ({})",
        script.display(),
        output.status
    );
    let path = String::from_utf8(output.stdout)?.trim().to_owned();
    ensure!(!path.is_empty(), "{} printed no path", script.display());
    Ok(path.into())
}

/// Whose token a run sends, and so which operations it covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Accounts and their tokens, with the admin token.
    Admin,
    /// Everything else, with the account's portal token.
    Portal,
}

impl Scope {
    /// Its name, in file names and the summary.
    pub fn name(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Portal => "portal",
        }
    }
}

/// One run's command line and where its event log goes.
pub struct Run<'a> {
    /// The `schemathesis` command.
    pub bin: &'a Path,
    /// The ledger's base URL.
    pub base_url: &'a str,
    /// What the run sends.
    pub scope: Scope,
    /// Its time budget.
    pub seconds: u64,
    /// Schemathesis' random seed (printed, so a run can be repeated).
    pub seed: u64,
    /// Where its settings, output and NDJSON event log are written.
    pub dir: &'a Path,
}

impl Run<'_> {
    /// The NDJSON event log the run writes.
    pub fn events(&self) -> PathBuf {
        self.dir.join(format!("{}.ndjson", self.scope.name()))
    }

    /// What schemathesis printed.
    pub fn output(&self) -> PathBuf {
        self.dir.join(format!("{}.txt", self.scope.name()))
    }

    /// Runs schemathesis against the seeded account; answers its exit status
    /// (0: every check held).
    pub async fn execute(&self, seeded: &Seeded) -> anyhow::Result<i32> {
        let settings = self.dir.join("schemathesis.toml");
        std::fs::write(&settings, SETTINGS)?;
        let (filter, token) = match self.scope {
            Scope::Admin => ("--include-path-regex", &seeded.admin_token),
            Scope::Portal => ("--exclude-path-regex", &seeded.portal_token),
        };
        let output = std::fs::File::create(self.output())?;
        let status = Command::new(self.bin)
            .arg("--config-file")
            .arg(&settings)
            .arg("run")
            .arg(format!("{}/openapi.json", self.base_url))
            .args([filter, ADMIN_OPERATIONS])
            .args(["--max-time", &self.seconds.to_string()])
            .args(["--seed", &self.seed.to_string()])
            .args(["--report", "ndjson", "--report-ndjson-path"])
            .arg(self.events())
            .env("FUZZ_TOKEN", token)
            .env("FUZZ_ACCOUNT_ID", seeded.account.to_string())
            .env("FUZZ_LICENSE_ID", seeded.license.to_string())
            .env("FUZZ_ALLOCATION_ID", seeded.allocation.to_string())
            .env("FUZZ_HOST", seeded.host)
            .env("FUZZ_DAY", seeded.day.to_string())
            .env("NO_COLOR", "1")
            .current_dir(self.dir)
            .stdin(Stdio::null())
            .stdout(output.try_clone()?)
            .stderr(output)
            .kill_on_drop(true)
            .status()
            .await
            .with_context(|| format!("running {}", self.bin.display()))?;
        Ok(status.code().unwrap_or(-1))
    }
}
