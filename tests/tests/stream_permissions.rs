//! The example NATS configuration `deploy/nats/accounts.conf`, run as it is on a
//! server of the test's own: the ledger logs in as its user and records events of
//! two accounts; the example analytics user, limited to one of them, reads exactly
//! that account's events through a filtered durable consumer (the worked consumer
//! of `ledger_tests::analytics`), and every way around the limit is refused.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::path::Path;
use std::time::Duration;

use async_nats::jetstream::{self, consumer::pull, stream::ConsumerErrorKind};
use async_nats::{Event, ServerError};
use ledger_tests::analytics::{Consumer, Start, Subscription};
use ledger_tests::{
    activated_license, ledger_bin, wait_until_projected, Api, Ledger, OwnNats, TestEnv,
};
use serde_json::json;
use tokio::sync::mpsc;
use uuid::Uuid;

/// The configuration the README points to; the test keeps no copy of its rules.
const CONFIG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/nats/accounts.conf");
/// The ledger account whose events the example's analytics user may read.
const ACME: &str = "0190f4c2-0000-7000-8000-0000000000aa";
/// The example's analytics user, its inbox prefix and its two consumer names.
const ACME_USER: &str = "acme-analytics";
const ACME_INBOX: &str = "_INBOX_acme";
const ACME_CONSUMER: &str = "acme-analytics";
const ACME_BACKFILL: &str = "acme-backfill";
/// The configuration's rules name the default stream and subject prefix.
const STREAM: &str = "LEDGER_EVENTS";
const PREFIX: &str = "ledger.events";
/// The projector's durable consumer, which the analytics user must not touch.
const PROJECTOR: &str = "projector-licenses";

/// The analytics user's connection, and the permission errors the server sent it.
struct Analytics {
    client: async_nats::Client,
    js: jetstream::Context,
    violations: mpsc::UnboundedReceiver<String>,
}

impl Analytics {
    async fn connect(nats: &OwnNats, password: &str) -> Self {
        let (sender, violations) = mpsc::unbounded_channel();
        let client =
            async_nats::ConnectOptions::with_user_and_password(ACME_USER.into(), password.into())
                .custom_inbox_prefix(ACME_INBOX)
                .event_callback(move |event| {
                    let sender = sender.clone();
                    async move {
                        if let Event::ServerError(ServerError::Other(error)) = event {
                            let _ = sender.send(error);
                        }
                    }
                })
                .connect(nats.url())
                .await
                .expect("the analytics user logs in");
        // Short: a refused request is never answered, it only times out.
        let js = jetstream::ContextBuilder::new()
            .timeout(Duration::from_secs(2))
            .build(client.clone());
        Self {
            client,
            js,
            violations,
        }
    }

    /// Waits for the server's `Permissions Violation for <what>`, the next error.
    async fn violation(&mut self, what: &str) {
        let expected = format!("Permissions Violation for {what}");
        let error = tokio::time::timeout(Duration::from_secs(10), self.violations.recv())
            .await
            .unwrap_or_else(|_| panic!("no `{expected}` within 10 s: it was allowed"))
            .expect("the connection is open");
        assert_eq!(error, expected);
    }

    /// Sends a request to `subject` and checks that the server refuses it.
    async fn refused(&mut self, subject: &str) {
        let inbox = self.client.new_inbox();
        self.client
            .publish_with_reply(subject.to_owned(), inbox, "{}".into())
            .await
            .unwrap();
        self.client.flush().await.unwrap();
        self.violation(&format!("Publish to \"{subject}\"")).await;
    }
}

fn filtered(name: &str, filter: &str) -> pull::Config {
    pull::Config {
        durable_name: Some(name.to_owned()),
        filter_subject: filter.to_owned(),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_analytics_user_reads_its_account_and_nothing_else() {
    let ledger_password = Uuid::new_v4().simple().to_string();
    let acme_password = Uuid::new_v4().simple().to_string();
    // Quoted, as the configuration asks: the server parses the value.
    let quoted = |password: &str| format!("\"{password}\"");
    let nats = OwnNats::start_with_config(
        Some(Path::new(CONFIG)),
        &[
            ("LEDGER_NATS_PASSWORD", &quoted(&ledger_password)),
            ("ACME_ANALYTICS_NATS_PASSWORD", &quoted(&acme_password)),
        ],
    )
    .await;
    let env = TestEnv {
        stream: STREAM.into(),
        prefix: PREFIX.into(),
        ..TestEnv::fresh().on_nats(&nats.url_as("ledger", &ledger_password))
    };
    let ledger = Ledger::start(ledger_bin!(), &env, &[]).await.unwrap();
    let acme = Api::new(&ledger).for_account(ACME.parse().unwrap());
    let other = Api::new(&ledger);
    let mut acme_licenses = Vec::new();
    for _ in 0..2 {
        acme_licenses.push(activated_license(&acme).await);
        activated_license(&other).await;
    }
    wait_until_projected(&env, Duration::from_secs(30))
        .await
        .unwrap();
    let log = std::fs::read_to_string(env.log_path()).unwrap();
    assert!(
        !log.contains(&ledger_password),
        "the ledger logged its NATS password"
    );

    let mut analytics = Analytics::connect(&nats, &acme_password).await;
    let ours = format!("{PREFIX}.{ACME}.>");
    let theirs = format!("{PREFIX}.{}.>", other.account);

    // Allowed: a durable consumer on its account, read to the end, acked.
    let mut reader = Consumer::default();
    let subscription = Subscription {
        stream: STREAM.into(),
        name: ACME_CONSUMER.into(),
        subject: ours.clone(),
        start: Start::Beginning,
    };
    reader
        .run(&analytics.js, &subscription, 4, false)
        .await
        .unwrap();
    assert!(reader
        .applied
        .iter()
        .all(|seen| acme_licenses.contains(&seen.aggregate_id)));
    let mut consumer = analytics
        .js
        .get_consumer_from_stream::<pull::Config, _, _>(ACME_CONSUMER, STREAM)
        .await
        .unwrap();
    let info = consumer.info().await.unwrap();
    assert_eq!(
        (info.num_pending, info.num_ack_pending),
        (0, 0),
        "its four events were all there is, all acked"
    );
    // A narrower filter inside its account is fine too.
    let activations = format!("{PREFIX}.{ACME}.license.*.Activated");
    let mut narrow = Consumer::default();
    let backfill = Subscription {
        name: ACME_BACKFILL.into(),
        subject: activations.clone(),
        ..subscription
    };
    narrow
        .run(&analytics.js, &backfill, 2, false)
        .await
        .unwrap();
    assert!(narrow.applied.iter().all(|s| s.event_type == "Activated"));

    // Refused: a consumer on another account, on every account, or unfiltered. The
    // client gets no answer (its request times out); the server says why.
    let error = analytics
        .js
        .create_consumer_on_stream(filtered(ACME_BACKFILL, &theirs), STREAM)
        .await
        .expect_err("a consumer of another account's events");
    assert_eq!(error.kind(), ConsumerErrorKind::TimedOut);
    let create = format!("$JS.API.CONSUMER.CREATE.{STREAM}.{ACME_BACKFILL}");
    analytics
        .violation(&format!("Publish to \"{create}.{theirs}\""))
        .await;
    for subject in [
        format!("{create}.{PREFIX}.*.>"),
        create.clone(),
        format!("$JS.API.CONSUMER.CREATE.{STREAM}"),
        format!("$JS.API.CONSUMER.DURABLE.CREATE.{STREAM}.{ACME_BACKFILL}"),
    ] {
        analytics.refused(&subject).await;
    }

    // An allowed subject with a forged body: the server holds the body to the
    // subject (nats-server 2.15: errors 10131, 10137, 10017, and a `name` in the
    // body is ignored for the subject's).
    for config in [
        json!({"durable_name": ACME_BACKFILL, "filter_subject": theirs}),
        json!({"durable_name": ACME_BACKFILL, "filter_subjects": [theirs]}),
        json!({"durable_name": ACME_BACKFILL, "filter_subject": ours, "filter_subjects": [theirs]}),
        json!({"durable_name": PROJECTOR, "filter_subject": ours}),
        json!({"name": PROJECTOR, "filter_subject": ours, "ack_policy": "all"}),
    ] {
        let request = json!({"stream_name": STREAM, "config": config});
        let answer = analytics
            .client
            .request(
                format!("{create}.{ours}"),
                serde_json::to_vec(&request).unwrap().into(),
            )
            .await
            .unwrap();
        let answer: serde_json::Value = serde_json::from_slice(&answer.payload).unwrap();
        assert!(answer["error"].is_object(), "{config} was taken: {answer}");
    }
    let js = env.jetstream().await;
    for (name, filter) in [(PROJECTOR, ""), (ACME_BACKFILL, activations.as_str())] {
        let mut consumer = js
            .get_consumer_from_stream::<pull::Config, _, _>(name, STREAM)
            .await
            .unwrap();
        let info = consumer.info().await.unwrap();
        assert_eq!(info.config.filter_subject, filter, "{name} is unchanged");
    }

    let forged = format!("{PREFIX}.{ACME}.license.{}.Hidden", acme_licenses[0]);
    for subject in [
        // Someone else's consumer (here the projector's): read, re-created, acked,
        // or the list of them all.
        format!("$JS.API.CONSUMER.MSG.NEXT.{STREAM}.{PROJECTOR}"),
        format!("$JS.API.CONSUMER.CREATE.{STREAM}.{PROJECTOR}.{ours}"),
        format!("$JS.ACK.{STREAM}.{PROJECTOR}.1.1.1.0.0"),
        format!("$JS.API.CONSUMER.LIST.{STREAM}"),
        // The stream itself: its subjects, its messages, deleting it.
        format!("$JS.API.STREAM.INFO.{STREAM}"),
        format!("$JS.API.STREAM.MSG.GET.{STREAM}"),
        format!("$JS.API.DIRECT.GET.{STREAM}"),
        format!("$JS.API.STREAM.DELETE.{STREAM}"),
        // Writing into the stream, even on its own account's subjects.
        forged,
    ] {
        analytics.refused(&subject).await;
    }

    // Refused: listening to the ledger's inbox (where the projector's pulls come)
    // or to the relay's publishes.
    for subject in ["_INBOX.>", "ledger.events.>"] {
        let _subscription = analytics.client.subscribe(subject).await.unwrap();
        analytics.client.flush().await.unwrap();
        analytics
            .violation(&format!("Subscription to \"{subject}\""))
            .await;
    }

    // The ledger's view: the stream is whole, with nothing added.
    let mut stream = js.get_stream(STREAM).await.unwrap();
    assert_eq!(stream.info().await.unwrap().state.messages, 8);
    drop(ledger);
    env.cleanup().await;
}
