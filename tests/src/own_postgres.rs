//! A PostgreSQL cluster of the test's own, made with `initdb` on a free port, to
//! stop and restart under load — never the machine's shared server.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context as _};
use uuid::Uuid;

/// The unprivileged user that owns the cluster when the tests run as root
/// (`initdb` refuses root); Debian's PostgreSQL packages create it.
const OWNER: &str = "postgres";

/// A running cluster of its own: data directory, socket directory and port.
pub struct OwnPostgres {
    bindir: PathBuf,
    data: PathBuf,
    port: u16,
}

impl OwnPostgres {
    /// `initdb` (trust authentication, user `postgres`) into a new directory, then
    /// start it on a free port of 127.0.0.1.
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_with(&[]).await
    }

    /// The same, with the settings files `settings` added to its
    /// `postgresql.conf` (a directory's every `*.conf`, or one file), in order.
    pub async fn start_with(settings: &[PathBuf]) -> anyhow::Result<Self> {
        let bindir = bindir()?;
        let data = std::env::temp_dir().join(format!("ledger-test-pg-{}", Uuid::new_v4().simple()));
        std::fs::create_dir_all(&data).context("creating the data directory")?;
        let cluster = Self {
            bindir,
            data,
            port: free_port()?,
        };
        cluster.chown()?;
        cluster.run(
            "initdb",
            &[
                "-D",
                &cluster.data_dir(),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
            ],
        )?;
        cluster.include(settings)?;
        cluster.start_server().await?;
        Ok(cluster)
    }

    /// Its server URL (without a database).
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}", self.port)
    }

    /// Stops it at once, as a crash would (`pg_ctl stop -m immediate`: no
    /// checkpoint, crash recovery on the next start).
    pub fn crash(&self) -> anyhow::Result<()> {
        self.run(
            "pg_ctl",
            &["-D", &self.data_dir(), "-m", "immediate", "-w", "stop"],
        )
    }

    /// Starts it again after [`OwnPostgres::crash`], and waits until it answers.
    pub async fn start_server(&self) -> anyhow::Result<()> {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c max_connections=200 -c fsync=on",
            self.port,
            self.data_dir()
        );
        let log = self.data.join("server.log").display().to_string();
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data_dir(),
                "-l",
                &log,
                "-o",
                &options,
                "-w",
                "-t",
                "60",
                "start",
            ],
        )?;
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!(
            "PostgreSQL did not come up on port {}; see {log}",
            self.port
        )
    }

    /// Appends the settings to its `postgresql.conf` — their text, not an
    /// `include` of their path, which the server's user may not be allowed to
    /// read (a checkout under a private temporary directory).
    fn include(&self, settings: &[PathBuf]) -> anyhow::Result<()> {
        use std::io::Write as _;
        let conf = self.data.join("data").join("postgresql.conf");
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&conf)
            .with_context(|| format!("opening {}", conf.display()))?;
        for path in settings {
            let mut files = if path.is_dir() {
                std::fs::read_dir(path)
                    .with_context(|| format!("listing {}", path.display()))?
                    .filter_map(|entry| entry.ok().map(|entry| entry.path()))
                    .filter(|file| file.extension().is_some_and(|ext| ext == "conf"))
                    .collect()
            } else {
                vec![path.clone()]
            };
            files.sort();
            for settings_file in files {
                let text = std::fs::read_to_string(&settings_file)
                    .with_context(|| format!("reading {}", settings_file.display()))?;
                writeln!(file, "\n# from {}\n{text}", settings_file.display())?;
            }
        }
        Ok(())
    }

    fn data_dir(&self) -> String {
        self.data.join("data").display().to_string()
    }

    /// Hands the directory to [`OWNER`] when running as root.
    fn chown(&self) -> anyhow::Result<()> {
        if !running_as_root() {
            return Ok(());
        }
        let status = Command::new("chown")
            .args(["-R", &format!("{OWNER}:"), &self.data.display().to_string()])
            .status()
            .context("running chown")?;
        anyhow::ensure!(status.success(), "chown of {} failed", self.data.display());
        Ok(())
    }

    /// Runs one of PostgreSQL's programs, as [`OWNER`] when running as root.
    fn run(&self, program: &str, args: &[&str]) -> anyhow::Result<()> {
        let path = self.bindir.join(program);
        let mut command = if running_as_root() {
            let mut command = Command::new("runuser");
            command.args(["-u", OWNER, "--"]).arg(&path);
            command
        } else {
            Command::new(&path)
        };
        let output = command
            .args(args)
            .current_dir(std::env::temp_dir())
            .output()
            .with_context(|| format!("running {}", path.display()))?;
        if !output.status.success() {
            bail!(
                "{program} failed: {}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(())
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let _ = self.crash();
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

/// PostgreSQL's programs: `pg_config --bindir`, as Debian installs them.
fn bindir() -> anyhow::Result<PathBuf> {
    let output = Command::new("pg_config")
        .arg("--bindir")
        .output()
        .context("running pg_config (is PostgreSQL installed? deploy/services.sh installs it)")?;
    let dir = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    anyhow::ensure!(
        Path::new(&dir).join("initdb").is_file(),
        "no initdb in {}",
        dir.display()
    );
    Ok(dir)
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|output| String::from_utf8_lossy(&output.stdout).trim() == "0")
        .unwrap_or(false)
}
