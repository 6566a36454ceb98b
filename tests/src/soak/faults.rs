//! The soak's processes and the faults it injects into them: each role killed
//! with SIGKILL and started again, NATS killed and restarted (or, on a 3-node
//! cluster with R3 streams, one node lost while the ledger goes on), PostgreSQL
//! crashed (`pg_ctl stop -m immediate`) and restarted.

use anyhow::Context as _;

use crate::{Ledger, OwnNats, OwnPostgres, TestEnv};

/// Settings every soak process runs with besides the test's own.
const SETTINGS: [(&str, &str); 2] = [
    // Checkpoints every 5 s, as a production ledger might write them.
    ("LEDGER_CHECKPOINT_INTERVAL_SECS", "5"),
    ("LEDGER_DATABASE_MAX_CONNECTIONS", "16"),
];

/// The NATS the soak runs on: one server, or a 3-node cluster.
pub enum Broker {
    /// One server, restarted as a whole.
    Single(OwnNats),
    /// Nodes clustered with JetStream; the stream has a replica on each.
    Cluster(Vec<OwnNats>),
}

impl Broker {
    /// Starts one server, or a cluster of `nodes`.
    pub async fn start(nodes: usize) -> Self {
        if nodes > 1 {
            Broker::Cluster(OwnNats::start_cluster(nodes).await)
        } else {
            Broker::Single(OwnNats::start().await)
        }
    }

    /// The URL the ledger is given (a cluster's other nodes are discovered).
    pub fn url(&self) -> String {
        match self {
            Broker::Single(server) => server.url(),
            Broker::Cluster(nodes) => nodes[0].url(),
        }
    }

    /// Stream replicas: one on each node.
    pub fn replicas(&self) -> usize {
        match self {
            Broker::Single(_) => 1,
            Broker::Cluster(nodes) => nodes.len(),
        }
    }

    /// The faults this broker can take besides the roles' and PostgreSQL's.
    fn faults(&self) -> Fault {
        match self {
            Broker::Single(_) => Fault::RestartNats,
            Broker::Cluster(_) => Fault::LoseNatsNode,
        }
    }
}

/// One process: its roles, its fixed address (clients keep it across restarts),
/// and the running process.
struct Process {
    roles: &'static str,
    listen: String,
    replicas: String,
    running: Option<Ledger>,
}

impl Process {
    async fn start(&mut self, bin: &str, env: &TestEnv) -> anyhow::Result<()> {
        let mut extra: Vec<(&str, &str)> = SETTINGS.to_vec();
        extra.push(("LEDGER_LISTEN_ADDR", self.listen.as_str()));
        extra.push(("LEDGER_STREAM_REPLICAS", self.replicas.as_str()));
        let ledger = Ledger::start_roles(bin, env, self.roles, &extra)
            .await
            .with_context(|| format!("starting {}", self.roles))?;
        self.running = Some(ledger);
        Ok(())
    }
}

/// The soak's processes: two gateways, two relays (one stands by), a projector.
pub struct Roles {
    bin: String,
    processes: Vec<Process>,
}

const GATEWAYS: [usize; 2] = [0, 1];
const RELAYS: [usize; 2] = [2, 3];
const PROJECTOR: usize = 4;

impl Roles {
    /// Starts them all, with `replicas` stream replicas; the first relay started leads.
    pub async fn start(bin: &str, env: &TestEnv, replicas: usize) -> anyhow::Result<Self> {
        let mut processes = Vec::new();
        for roles in ["gateway", "gateway", "relay", "relay", "projector"] {
            let port = std::net::TcpListener::bind("127.0.0.1:0")?
                .local_addr()?
                .port();
            processes.push(Process {
                roles,
                listen: format!("127.0.0.1:{port}"),
                replicas: replicas.to_string(),
                running: None,
            });
        }
        let mut all = Self {
            bin: bin.to_owned(),
            processes,
        };
        for index in [RELAYS[0], RELAYS[1], PROJECTOR, GATEWAYS[0], GATEWAYS[1]] {
            all.processes[index].start(bin, env).await?;
        }
        Ok(all)
    }

    /// The gateways' base URLs.
    pub fn gateway_urls(&self) -> Vec<String> {
        GATEWAYS
            .iter()
            .map(|&index| format!("http://{}", self.processes[index].listen))
            .collect()
    }

    /// Processes that exited on their own (a role must survive every fault).
    pub fn exited(&mut self) -> Vec<&'static str> {
        let mut exited = Vec::new();
        for process in &mut self.processes {
            if process.running.as_mut().is_some_and(|p| !p.is_running()) {
                exited.push(process.roles);
            }
        }
        exited
    }

    /// SIGKILL to process `index`, then a new one in its place.
    async fn kill_and_restart(&mut self, index: usize, env: &TestEnv) -> anyhow::Result<()> {
        let process = &mut self.processes[index];
        if let Some(mut running) = process.running.take() {
            running.kill().await;
        }
        process.start(&self.bin, env).await
    }

    /// The relay process holding the leader's lock now.
    async fn active_relay(&self, env: &TestEnv) -> anyhow::Result<usize> {
        let name: Option<String> = sqlx::query_scalar(
            "SELECT a.application_name FROM pg_locks l
               JOIN pg_stat_activity a ON a.pid = l.pid
              WHERE l.locktype = 'advisory' AND l.granted
                AND a.application_name LIKE 'ledger-relay pid=%'
                AND a.datname = current_database()",
        )
        .fetch_optional(&env.pool().await)
        .await?;
        let pid: Option<u32> = name
            .as_deref()
            .and_then(|name| name.strip_prefix("ledger-relay pid="))
            .and_then(|pid| pid.parse().ok());
        Ok(RELAYS
            .into_iter()
            .find(|&index| {
                let running = self.processes[index].running.as_ref();
                pid.is_some() && running.and_then(Ledger::pid) == pid
            })
            .unwrap_or(RELAYS[0]))
    }
}

/// A fault the soak injects.
#[derive(Debug, Clone, Copy)]
pub enum Fault {
    /// SIGKILL to one gateway, then a new one on its address.
    KillGateway(usize),
    /// SIGKILL to the relay that leads; the standby takes over.
    KillActiveRelay,
    /// SIGKILL to the projector mid-batch.
    KillProjector,
    /// NATS killed with SIGKILL and started again on the same store.
    RestartNats,
    /// One node of the NATS cluster killed; the ledger goes on with the others
    /// (the node rejoins once the ledger is seen working without it).
    LoseNatsNode,
    /// PostgreSQL stopped as a crash would, then started again (crash recovery).
    RestartPostgres,
}

impl Fault {
    /// Every fault `broker` can take, in the order the soak injects them.
    pub fn all(broker: &Broker) -> [Fault; 6] {
        [
            Fault::KillGateway(0),
            Fault::KillActiveRelay,
            Fault::KillProjector,
            broker.faults(),
            Fault::RestartPostgres,
            Fault::KillGateway(1),
        ]
    }

    /// Its name in the report.
    pub fn name(self) -> &'static str {
        match self {
            Fault::KillGateway(0) => "kill -9 gateway 1",
            Fault::KillGateway(_) => "kill -9 gateway 2",
            Fault::KillActiveRelay => "kill -9 the active relay",
            Fault::KillProjector => "kill -9 the projector",
            Fault::RestartNats => "NATS killed and restarted",
            Fault::LoseNatsNode => "a NATS node lost (of 3, R3 stream)",
            Fault::RestartPostgres => "PostgreSQL crashed and restarted",
        }
    }

    /// Injects it; returns once the part that was hit runs again.
    pub async fn inject(
        self,
        roles: &mut Roles,
        broker: &mut Broker,
        postgres: &OwnPostgres,
        env: &TestEnv,
        nth: usize,
    ) -> anyhow::Result<()> {
        match self {
            Fault::KillGateway(n) => roles.kill_and_restart(GATEWAYS[n], env).await,
            Fault::KillActiveRelay => {
                let active = roles.active_relay(env).await?;
                roles.kill_and_restart(active, env).await
            }
            Fault::KillProjector => roles.kill_and_restart(PROJECTOR, env).await,
            Fault::RestartNats => {
                if let Broker::Single(server) = broker {
                    server.kill();
                    server.restart().await;
                }
                Ok(())
            }
            Fault::LoseNatsNode => {
                if let Broker::Cluster(nodes) = broker {
                    let count = nodes.len();
                    nodes[nth % count].kill();
                }
                Ok(())
            }
            Fault::RestartPostgres => {
                postgres.crash()?;
                postgres.start_server().await
            }
        }
    }

    /// Undoes what must not outlast the fault once the ledger was seen working
    /// through it: a lost NATS node rejoins, so the next loss leaves a quorum.
    pub async fn heal(self, broker: &mut Broker, nth: usize) {
        if let (Fault::LoseNatsNode, Broker::Cluster(nodes)) = (self, broker) {
            let count = nodes.len();
            nodes[nth % count].restart().await;
        }
    }
}
