//! The ledger's processes as a benchmark sees them: peak memory from /proc, the
//! rebuild run as a command while its memory is watched, backlogs waited out.

use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use tokio::process::Command;

use super::report::Throughput;
use crate::TestEnv;

/// Peak resident memory (VmHWM) of a running process, MiB; 0 when unreadable.
pub fn peak_rss_mib(pid: Option<u32>) -> f64 {
    let Some(pid) = pid else {
        return 0.0;
    };
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status.lines().find_map(|line| {
                let kib = line.strip_prefix("VmHWM:")?.trim().strip_suffix("kB")?;
                kib.trim().parse::<f64>().ok()
            })
        })
        .map(|kib| kib / 1024.0)
        .unwrap_or(0.0)
}

/// What one `ledger rebuild` did, as it printed it, and its peak memory.
#[derive(Debug, Clone)]
pub struct Rebuilt {
    /// Messages replayed over the time to replay and index them.
    pub replay: Throughput,
    /// The part of that time spent building indexes and vacuuming.
    pub indexing_seconds: f64,
    /// Peak resident memory, MiB, read while it ran.
    pub peak_mib: f64,
}

/// Runs `ledger rebuild` (`bin`), its log appended to the run's log file.
pub async fn rebuild(bin: &str, env: &TestEnv) -> anyhow::Result<Rebuilt> {
    let mut child = Command::new(bin)
        .arg("rebuild")
        .envs(env.vars())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("starting ledger rebuild")?;
    let pid = child.id();
    let mut peak: f64 = 0.0;
    let status = loop {
        peak = peak.max(peak_rss_mib(pid));
        if let Some(status) = child.try_wait()? {
            break status;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let output = child.wait_with_output().await?;
    keep_log(env, &output.stderr);
    let printed = String::from_utf8_lossy(&output.stdout);
    if !status.success() {
        bail!(
            "ledger rebuild failed: {printed}{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let (replay, indexing_seconds) = rebuild_figures(&printed)
        .with_context(|| format!("unexpected rebuild output: {printed}"))?;
    Ok(Rebuilt {
        replay,
        indexing_seconds,
        peak_mib: peak,
    })
}

/// Appends a finished process's log to the run's log file, where the long-running
/// roles write theirs. Best effort: the figures do not depend on it.
fn keep_log(env: &TestEnv, log: &[u8]) {
    use std::io::Write as _;
    if let Ok(mut file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(env.log_path())
    {
        let _ = file.write_all(log);
    }
}

/// `rebuilt from N messages in S s (R messages/s; indexing I s) and swapped in`.
fn rebuild_figures(printed: &str) -> Option<(Throughput, f64)> {
    let rest = printed.trim().strip_prefix("rebuilt from ")?;
    let mut words = rest.split_whitespace();
    let messages = words.next()?.parse().ok()?;
    let seconds = words.nth(2)?.parse().ok()?;
    let indexing = rest
        .split_once("indexing ")?
        .1
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some((Throughput::new(messages, seconds), indexing))
}

/// How far the projector has applied the stream: the licenses projection's
/// checkpoint (every message passes through it, in order).
pub async fn projected(pool: &sqlx::PgPool) -> anyhow::Result<u64> {
    let applied: Option<i64> = sqlx::query_scalar(
        "SELECT stream_sequence FROM read_model.checkpoints WHERE projection = 'licenses'",
    )
    .fetch_optional(pool)
    .await?;
    Ok(applied.unwrap_or(0).max(0) as u64)
}

/// Polls `progress` (what has been worked through) until it reaches `total`;
/// the rate is taken from the first sample showing progress to the end, so that
/// process start-up is not counted.
pub async fn backlog<F, Fut>(
    total: u64,
    timeout: Duration,
    mut progress: F,
) -> anyhow::Result<Throughput>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<u64>>,
{
    let started = Instant::now();
    let mut first: Option<(Instant, u64)> = None;
    loop {
        let done = progress().await?;
        let now = Instant::now();
        if done > 0 && first.is_none() {
            first = Some((now, done));
        }
        if done >= total {
            let (since, from) = first.unwrap_or((started, 0));
            // Progress seen in one sample: count it from the start instead.
            let (since, from) = if from >= total {
                (started, 0)
            } else {
                (since, from)
            };
            return Ok(Throughput::new(total - from, (now - since).as_secs_f64()));
        }
        if started.elapsed() > timeout {
            bail!("backlog not worked through in {timeout:?}: {done} of {total}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::rebuild_figures;

    #[test]
    fn reads_the_rebuild_line() {
        let (figures, indexing) = rebuild_figures(
            "rebuilt from 1000 messages in 2.00 s (500 messages/s; indexing 0.25 s) and swapped in\n",
        )
        .expect("figures");
        assert_eq!(figures.events, 1000);
        assert!((figures.seconds - 2.0).abs() < 1e-9);
        assert!((figures.per_second - 500.0).abs() < 1e-9);
        assert!((indexing - 0.25).abs() < 1e-9);
    }
}
