//! The command mix: each "lifecycle" is what a portal and a license server do to one
//! license — purchase, activate, allocate twice, move one allocation, return the
//! other, renew, and a usage report from the server that holds it — eight commands,
//! each timed, with the global position its answer names (for projection lag).
//! Run closed-loop (N clients as fast as answers come) or open-loop (a fixed rate),
//! against the ledger or the peer (whichever the fleet is aimed at).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{Days, Utc};
use serde_json::{json, Value};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::fleet::{Fleet, Identity};
use super::report::MixFigures;
use super::stats::Samples;

/// The feature a lifecycle's purchase (XDT, ENT, user/device) is licensed as.
const FEATURE: &str = "XDT_ENT_UD";
/// Lifecycles running at once in an open-loop phase before new ones wait.
const OPEN_LOOP_IN_FLIGHT: usize = 1024;

/// What a command phase recorded.
#[derive(Debug, Default)]
pub struct CommandLog {
    /// Latencies by command.
    pub by_command: BTreeMap<&'static str, Samples>,
    /// When each answer arrived and the position it named.
    pub answered: Vec<(Instant, i64)>,
    /// The first unexpected answer, to say why commands failed.
    pub first_failure: Option<String>,
}

impl CommandLog {
    fn merge(&mut self, other: CommandLog) {
        for (command, samples) in other.by_command {
            self.by_command.entry(command).or_default().merge(samples);
        }
        self.answered.extend(other.answered);
        self.first_failure = self.first_failure.take().or(other.first_failure);
    }

    /// What a closed-loop run of `elapsed` found.
    pub fn figures(&self, elapsed: Duration) -> MixFigures {
        MixFigures {
            all: self.all().summary(elapsed),
            by_command: self
                .by_command
                .iter()
                .map(|(name, samples)| ((*name).to_owned(), samples.summary(elapsed)))
                .collect(),
            first_failure: self.first_failure.clone(),
        }
    }

    /// Every command's samples together.
    pub fn all(&self) -> Samples {
        let mut all = Samples::default();
        for samples in self.by_command.values() {
            all.merge(samples.clone());
        }
        all
    }
}

/// `clients` tasks running lifecycles back to back for `duration` (a lifecycle
/// begun in time is finished). Returns the log and the time it took.
pub async fn closed_loop(
    fleet: &Fleet,
    clients: usize,
    duration: Duration,
) -> (CommandLog, Duration) {
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = JoinSet::new();
    for client in 0..clients {
        let fleet = fleet.clone();
        tasks.spawn(async move {
            let identity = fleet.identity(client);
            let mut log = CommandLog::default();
            let mut round = 0;
            while Instant::now() < deadline {
                lifecycle(&fleet, &identity, round, &mut log).await;
                round += 1;
            }
            log
        });
    }
    let log = gather(tasks).await;
    (log, started.elapsed())
}

/// Lifecycles started at `commands_per_second / 8` a second for `duration`, each
/// running its commands one after another. Returns the log and the time it took.
pub async fn open_loop(
    fleet: &Fleet,
    commands_per_second: f64,
    duration: Duration,
) -> (CommandLog, Duration) {
    let lifecycles_per_second = commands_per_second / LIFECYCLE_COMMANDS as f64;
    let period = Duration::from_secs_f64(1.0 / lifecycles_per_second.max(1e-3));
    let identities: Arc<Vec<Identity>> = Arc::new((0..256).map(|n| fleet.identity(n)).collect());
    let in_flight = Arc::new(Semaphore::new(OPEN_LOOP_IN_FLIGHT));
    let started = Instant::now();
    let mut ticks = tokio::time::interval(period);
    let mut tasks = JoinSet::new();
    let mut n = 0;
    while started.elapsed() < duration {
        ticks.tick().await;
        let Ok(permit) = in_flight.clone().acquire_owned().await else {
            break;
        };
        let fleet = fleet.clone();
        let identities = identities.clone();
        tasks.spawn(async move {
            let mut log = CommandLog::default();
            lifecycle(&fleet, &identities[n % identities.len()], n, &mut log).await;
            drop(permit);
            log
        });
        n += 1;
    }
    let log = gather(tasks).await;
    (log, started.elapsed())
}

async fn gather(mut tasks: JoinSet<CommandLog>) -> CommandLog {
    let mut log = CommandLog::default();
    while let Some(done) = tasks.join_next().await {
        if let Ok(part) = done {
            log.merge(part);
        }
    }
    log
}

/// Commands in one lifecycle.
pub const LIFECYCLE_COMMANDS: usize = 8;

/// One license's lifecycle; stops at the first command that fails (recorded).
async fn lifecycle(fleet: &Fleet, identity: &Identity, round: usize, log: &mut CommandLog) {
    let today = Utc::now().date_naive();
    let portal = identity.portal.as_str();
    let account = identity.account;
    let (first_host, _) = &identity.servers[round % identity.servers.len()];
    let (second_host, _) = &identity.servers[(round + 1) % identity.servers.len()];
    let (third_host, third_token) = &identity.servers[(round + 2) % identity.servers.len()];
    let url = |path: &str| fleet.account_url(account, path);

    let purchase = json!({
        "product": "XDT", "edition": "ENT", "version": "7.15",
        "license_model": "user_device", "binding_type": "host_name",
        "quantity": 100,
        "expires_on": today + Days::new(30 + (round as u64 % 700)),
        "maintenance_until": today + Days::new(365),
        "order_number": format!("BENCH-{round:07}"),
        "access_code": "LA-0001234567-12345",
    });
    let Some(bought) = send(
        fleet,
        log,
        "purchase",
        url("/licenses"),
        portal,
        purchase,
        201,
    )
    .await
    else {
        return;
    };
    let Some(license) = text(&bought, "license_id") else {
        return;
    };
    let license_url = |path: &str| url(&format!("/licenses/{license}{path}"));
    let activate = json!({"access_code": "LA-0001234567-12345"});
    if send(
        fleet,
        log,
        "activate",
        license_url("/activate"),
        portal,
        activate,
        200,
    )
    .await
    .is_none()
    {
        return;
    }
    let allocate = |host: &str, quantity: u32| json!({"host": host, "quantity": quantity});
    let Some(first) = send(
        fleet,
        log,
        "allocate",
        license_url("/allocations"),
        portal,
        allocate(first_host, 10),
        201,
    )
    .await
    else {
        return;
    };
    let Some(second) = send(
        fleet,
        log,
        "allocate",
        license_url("/allocations"),
        portal,
        allocate(second_host, 5),
        201,
    )
    .await
    else {
        return;
    };
    let (Some(first), Some(second)) = (
        text(&first, "allocation_id"),
        text(&second, "allocation_id"),
    ) else {
        return;
    };
    let rest = [
        (
            "modify",
            license_url(&format!("/allocations/{first}/modify")),
            json!({"new_host": third_host}),
            portal,
        ),
        (
            "return",
            license_url(&format!("/allocations/{second}/return")),
            Value::Null,
            portal,
        ),
        (
            "renew",
            license_url("/renew"),
            json!({"expires_on": today + Days::new(800)}),
            portal,
        ),
        (
            "usage_report",
            url("/usage-reports"),
            json!({"host": third_host, "day": today,
                   "peaks": [{"feature": FEATURE, "peak_in_use": 1 + round % 12}]}),
            third_token.as_str(),
        ),
    ];
    for (command, target, body, token) in rest {
        let expected = if command == "usage_report" { 201 } else { 200 };
        if send(fleet, log, command, target, token, body, expected)
            .await
            .is_none()
        {
            return;
        }
    }
}

fn text(body: &Value, member: &str) -> Option<String> {
    body[member].as_str().map(str::to_owned)
}

/// Sends one command (no body when `body` is null), records its latency or its
/// failure, and returns the answer's body when the status was `expected`.
async fn send(
    fleet: &Fleet,
    log: &mut CommandLog,
    command: &'static str,
    url: String,
    token: &str,
    body: Value,
    expected: u16,
) -> Option<Value> {
    let samples = log.by_command.entry(command).or_default();
    let mut request = fleet.command(&url, token);
    if !body.is_null() {
        request = request.json(&body);
    }
    let started = Instant::now();
    let answer = match request.send().await {
        Ok(response) if response.status().as_u16() == expected => {
            response.json::<Value>().await.map_err(|e| e.to_string())
        }
        Ok(response) => {
            let status = response.status();
            Err(format!(
                "{status}: {}",
                response.text().await.unwrap_or_default()
            ))
        }
        Err(error) => Err(error.to_string()),
    };
    let answer = match answer {
        Ok(answer) => answer,
        Err(failure) => {
            samples.record_error();
            log.first_failure
                .get_or_insert(format!("{command}: {failure}"));
            return None;
        }
    };
    let answered = Instant::now();
    samples.record(answered - started);
    if let Some(position) = answer["position"].as_i64() {
        log.answered.push((answered, position));
    }
    Some(answer)
}
