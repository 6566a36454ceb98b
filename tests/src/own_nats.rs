//! A NATS server of the test's own, to kill, restart or configure.

use std::process::Stdio;
use std::time::Duration;

use uuid::Uuid;

/// A NATS server of the test's own, on a free port with its own store, that the
/// test may kill and restart. The binary is `NATS_SERVER_BIN` (deploy/test.sh sets
/// it), else `nats-server` on PATH.
pub struct OwnNats {
    child: Option<std::process::Child>,
    port: u16,
    store: std::path::PathBuf,
    /// A configuration file from `deploy/nats/`, run as it is: port, monitoring and
    /// store come from the command line and `NATS_STORE_DIR`, which win over it.
    config: Option<std::path::PathBuf>,
    /// Environment for the server, e.g. the passwords the configuration reads.
    vars: Vec<(String, String)>,
    /// Arguments that make it a node of a cluster ([`OwnNats::start_cluster`]).
    cluster: Vec<String>,
}

impl OwnNats {
    /// Starts a server with JetStream and no authentication.
    pub async fn start() -> Self {
        Self::start_with_config(None, &[]).await
    }

    /// Starts a server from `config` (or none), with `vars` in its environment.
    pub async fn start_with_config(
        config: Option<&std::path::Path>,
        vars: &[(&str, &str)],
    ) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("finding a free port")
            .port();
        let store =
            std::env::temp_dir().join(format!("ledger-test-nats-{}", Uuid::new_v4().simple()));
        let mut nats = Self {
            child: None,
            port,
            store,
            config: config.map(std::path::Path::to_path_buf),
            vars: vars
                .iter()
                .map(|(name, value)| (name.to_string(), value.to_string()))
                .collect(),
            cluster: Vec::new(),
        };
        nats.restart().await;
        nats
    }

    /// `size` servers with JetStream clustered together (each a node with its own
    /// store, routes to the others), all started; a stream may then have
    /// `size` replicas.
    pub async fn start_cluster(size: usize) -> Vec<Self> {
        let free = || {
            std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|listener| listener.local_addr())
                .expect("finding a free port")
                .port()
        };
        let routes: Vec<u16> = (0..size).map(|_| free()).collect();
        let id = Uuid::new_v4().simple().to_string();
        let mut nodes = Vec::new();
        for (n, route) in routes.iter().enumerate() {
            let others: Vec<String> = routes
                .iter()
                .filter(|other| *other != route)
                .map(|other| format!("nats://127.0.0.1:{other}"))
                .collect();
            nodes.push(Self {
                child: None,
                port: free(),
                store: std::env::temp_dir().join(format!("ledger-test-nats-{id}-{n}")),
                config: None,
                vars: Vec::new(),
                cluster: vec![
                    "-n".into(),
                    format!("node-{n}"),
                    "--cluster_name".into(),
                    format!("ledger-test-{id}"),
                    "--cluster".into(),
                    format!("nats://127.0.0.1:{route}"),
                    "--routes".into(),
                    others.join(","),
                ],
            });
        }
        // Started together: JetStream waits for a quorum of its peers.
        futures::future::join_all(nodes.iter_mut().map(Self::restart)).await;
        nodes
    }

    /// Its URL.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Its URL with a user's credentials in it, as `nats_url` takes them.
    pub fn url_as(&self, user: &str, password: &str) -> String {
        format!("nats://{user}:{password}@127.0.0.1:{}", self.port)
    }

    /// SIGKILL: the server stops at once, mid-write if it was writing.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port and store, and waits until it listens.
    pub async fn restart(&mut self) {
        let binary = std::env::var("NATS_SERVER_BIN").unwrap_or_else(|_| "nats-server".into());
        let mut command = std::process::Command::new(&binary);
        match &self.config {
            // The file names its store as `$NATS_STORE_DIR`: a `-sd` beside it
            // would be a second `store_dir`, which stops the server.
            Some(config) => command.arg("-c").arg(config),
            None => command.args(["-js", "-sd"]).arg(&self.store),
        };
        command.args(&self.cluster);
        let log_path = self.store.with_extension("log");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .expect("opening the nats-server log");
        // `-m 0`: no monitoring port, which a configuration may set and the
        // machine's own server may already hold.
        command
            .args(["-a", "127.0.0.1", "-p", &self.port.to_string(), "-m", "0"])
            .env("NATS_STORE_DIR", &self.store)
            .envs(self.vars.iter().map(|(name, value)| (name, value)))
            .stdout(Stdio::null())
            .stderr(log);
        let child = command.spawn().unwrap_or_else(|e| {
            panic!("starting {binary} (set NATS_SERVER_BIN, or run deploy/test.sh): {e}")
        });
        self.child = Some(child);
        // A TCP connection, not a NATS one: a server that requires a login would
        // refuse an anonymous client. It listens only once JetStream is up.
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "nats-server did not come up on port {}; see {}",
            self.port,
            log_path.display()
        );
    }
}

impl Drop for OwnNats {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.store);
        // The server's log is kept only when the test failed.
        if !std::thread::panicking() {
            let _ = std::fs::remove_file(self.store.with_extension("log"));
        }
    }
}
