//! The real `ledger` binary as a test runs it: started with its roles on port 0
//! and waited on until ready, killed, or run to completion as a subcommand.

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _};
use ledger_gateway::auth::Verifier;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::*;

/// `application_name` of a started ledger's database sessions, before its roles.
pub const BACKEND_PREFIX: &str = "ledger ";

/// Path of the `ledger` binary built for this package's tests. A macro, because
/// Cargo tells only integration tests (not this library) where it is.
#[macro_export]
macro_rules! ledger_bin {
    () => {
        env!("CARGO_BIN_EXE_ledger-under-test")
    };
}

/// Starts `command` with its stderr appended to `log_path`, and returns it with
/// the address its first line on stdout announces (`listening on <url>`).
pub async fn spawn_listening(
    mut command: Command,
    log_path: &std::path::Path,
) -> anyhow::Result<(Child, String)> {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path)
        .context("opening the process log")?;
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .context("starting the process")?;
    let stdout = child.stdout.take().context("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let first = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
        .await
        .with_context(|| format!("it did not start; see {}", log_path.display()))??
        .with_context(|| format!("it exited at start; see {}", log_path.display()))?;
    let Some(address) = first.strip_prefix("listening on ") else {
        bail!("unexpected first line `{first}`");
    };
    let address = address.to_owned();
    // Keep draining stdout so the process can never block on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok((child, address))
}

/// A running `ledger` process.
pub struct Ledger {
    child: Child,
    /// e.g. `http://127.0.0.1:41234`.
    pub base_url: String,
    /// Issues tokens it accepts.
    pub tokens: Arc<Verifier>,
}

impl Ledger {
    /// Starts `ledger serve` (binary `bin`, from [`ledger_bin!`]) with all roles and
    /// extra environment, and waits until it is ready.
    pub async fn start(bin: &str, env: &TestEnv, extra: &[(&str, &str)]) -> anyhow::Result<Self> {
        Self::start_roles(bin, env, "gateway,relay,projector", extra).await
    }

    /// Starts `ledger serve --roles <roles>` and waits until it is ready; its
    /// database sessions are named `ledger <roles>` (`application_name`).
    pub async fn start_roles(
        bin: &str,
        env: &TestEnv,
        roles: &str,
        extra: &[(&str, &str)],
    ) -> anyhow::Result<Self> {
        let mut command = Command::new(bin);
        command
            .args(["serve", "--roles", roles])
            .envs(env.vars())
            // Its PostgreSQL sessions carry its roles in pg_stat_activity, so the
            // benchmark can tell whose work a backend's CPU was.
            .env("PGAPPNAME", format!("{BACKEND_PREFIX}{roles}"))
            .envs(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let (child, address) = spawn_listening(command, &env.log_path()).await?;
        let ledger = Self {
            child,
            base_url: address,
            tokens: Arc::new(env.tokens()),
        };
        ledger.wait_ready().await?;
        Ok(ledger)
    }

    async fn wait_ready(&self) -> anyhow::Result<()> {
        let client = reqwest::Client::new();
        for _ in 0..300 {
            let ready = client
                .get(format!("{}/health/ready", self.base_url))
                .send()
                .await
                .map(|r| r.status().is_success())
                .unwrap_or(false);
            if ready {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("ledger never became ready")
    }

    /// The process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Whether the process still runs (it has not exited on its own).
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGKILL: no shutdown code runs.
    pub async fn kill(&mut self) {
        self.child.start_kill().expect("sending SIGKILL");
        let _ = self.child.wait().await;
    }

    /// SIGTERM, as an orchestrator asks a process to stop. Returns once it is sent.
    pub async fn terminate(&self) {
        self.signal("TERM").await;
    }

    /// SIGSTOP: the process runs no more until [`Ledger::resume`], its
    /// connections kept, as if its machine had stalled.
    pub async fn pause(&self) {
        self.signal("STOP").await;
    }

    /// SIGCONT after [`Ledger::pause`].
    pub async fn resume(&self) {
        self.signal("CONT").await;
    }

    /// Sends `name` (`TERM`, `STOP`, …) with `kill`, which needs no dependency on libc.
    async fn signal(&self, name: &str) {
        let pid = self.pid().expect("the ledger is still running");
        let status = Command::new("kill")
            .args([&format!("-{name}"), &pid.to_string()])
            .status()
            .await
            .expect("running kill");
        assert!(status.success(), "kill -{name} {pid} failed");
    }

    /// Waits for the process to exit by itself; its exit status. (Two minutes
    /// only guard against a hang: the longest grace period a test sets is
    /// far shorter.)
    pub async fn exited(&mut self) -> std::process::ExitStatus {
        tokio::time::timeout(Duration::from_secs(120), self.child.wait())
            .await
            .expect("the ledger did not exit")
            .expect("waiting for the ledger")
    }

    /// Whether a new connection to its HTTP port is refused: a stopping
    /// process closes its listener first.
    pub async fn refuses_connections(&self) -> bool {
        let address = self.base_url.trim_start_matches("http://");
        tokio::net::TcpStream::connect(address).await.is_err()
    }
}

/// Runs `ledger <args>` (binary `bin`) against `env` to completion.
pub async fn run_ledger(bin: &str, env: &TestEnv, args: &[&str]) -> std::process::Output {
    Command::new(bin)
        .args(args)
        .envs(env.vars())
        .output()
        .await
        .expect("running the ledger binary")
}

/// A finished command's exit status and everything it printed, stdout then stderr.
pub fn status_and_output(output: &std::process::Output) -> (i32, String) {
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code().unwrap_or(-1), said)
}

/// The `ledger` binary a harness command runs: `given`, or `ledger` next to the
/// harness's own executable (where `cargo build` puts both).
pub fn ledger_bin_beside(given: Option<std::path::PathBuf>) -> anyhow::Result<std::path::PathBuf> {
    bin_beside("ledger", given)
}

/// The binary `name` a harness command runs: `given`, or the one next to the
/// harness's own executable.
pub fn bin_beside(
    name: &str,
    given: Option<std::path::PathBuf>,
) -> anyhow::Result<std::path::PathBuf> {
    let path = match given {
        Some(path) => path,
        None => std::env::current_exe()?.with_file_name(name),
    };
    anyhow::ensure!(path.is_file(), "no {name} binary at {}", path.display());
    Ok(path)
}
