//! The projector against real NATS JetStream and PostgreSQL, each test with its own
//! stream, subject prefix and database: what arrives on the stream — well-formed,
//! duplicated, out of order or garbage — reaches the read model exactly once, and
//! what cannot be read is set aside with its reason.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::time::Duration;

use async_nats::jetstream::{self, consumer::pull, consumer::DeliverPolicy};
use futures::StreamExt as _;
use ledger_projections::consumer::{self, project_batch, ProjectorSettings, Target};
use ledger_projections::contract::{ensure_stream, StoredEvent, StreamConfig};
use serde_json::json;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

struct Fixture {
    pool: PgPool,
    database: String,
    jetstream: jetstream::Context,
    stream: StreamConfig,
}

fn server() -> String {
    std::env::var("TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

async fn fixture() -> Fixture {
    let id = Uuid::new_v4().simple().to_string();
    let database = format!("ledger_projection_{id}");
    let admin = PgPool::connect(&format!("{}/postgres", server()))
        .await
        .unwrap();
    sqlx::query(&format!("CREATE DATABASE \"{database}\""))
        .execute(&admin)
        .await
        .unwrap();
    let pool = PgPool::connect(&format!("{}/{database}", server()))
        .await
        .unwrap();
    MIGRATOR.run(&pool).await.unwrap();
    let nats = std::env::var("TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into());
    let jetstream = jetstream::new(async_nats::connect(nats).await.unwrap());
    let stream = StreamConfig {
        name: format!("PROJECTION_TEST_{id}"),
        subject_prefix: format!("p{id}.events"),
        replicas: 1,
    };
    ensure_stream(&jetstream, &stream).await.unwrap();
    Fixture {
        pool,
        database,
        jetstream,
        stream,
    }
}

impl Fixture {
    async fn publish(&self, event: &StoredEvent) {
        let message = event.to_message(&self.stream.subject_prefix).unwrap();
        self.jetstream
            .publish_with_headers(message.subject, message.headers, message.payload)
            .await
            .unwrap()
            .await
            .unwrap();
    }

    async fn publish_garbage(&self) {
        self.jetstream
            .publish(
                format!("{}.junk", self.stream.subject_prefix),
                "not an event".into(),
            )
            .await
            .unwrap()
            .await
            .unwrap();
    }

    /// Runs the projector until it has applied `last` stream sequence, then stops it.
    /// It counts every message it applied once, redeliveries included or not.
    async fn drain(&self, last: i64) {
        let shutdown = CancellationToken::new();
        let before = self.checkpoint().await;
        let applied = prometheus_client::metrics::counter::Counter::default();
        let settings = ProjectorSettings {
            trace_hook: None,
            stream: self.stream.clone(),
            projection: "licenses".into(),
            batch_size: 2,
            applied: applied.clone(),
            last_failure: Default::default(),
            announcer: None,
        };
        let task = tokio::spawn(consumer::run(
            self.pool.clone(),
            self.jetstream.clone(),
            settings,
            shutdown.clone(),
        ));
        for _ in 0..400 {
            if self.checkpoint().await >= last {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        shutdown.cancel();
        task.await.unwrap().unwrap();
        assert_eq!(
            self.checkpoint().await,
            last,
            "the projector drained the stream"
        );
        assert_eq!(applied.get(), (last - before) as u64, "messages counted");
    }

    async fn checkpoint(&self) -> i64 {
        sqlx::query_scalar(
            "SELECT stream_sequence FROM read_model.checkpoints WHERE projection = 'licenses'",
        )
        .fetch_optional(&self.pool)
        .await
        .unwrap()
        .unwrap_or(0)
    }

    async fn cleanup(self) {
        self.jetstream
            .delete_stream(&self.stream.name)
            .await
            .unwrap();
        self.pool.close().await;
        let admin = PgPool::connect(&format!("{}/postgres", server()))
            .await
            .unwrap();
        sqlx::query(&format!("DROP DATABASE \"{}\" WITH (FORCE)", self.database))
            .execute(&admin)
            .await
            .unwrap();
    }
}

const ACCOUNT: &str = "0190f4c2-0000-7000-8000-0000000000aa";

fn stored(license: Uuid, sequence: i64, event_type: &str, body: serde_json::Value) -> StoredEvent {
    StoredEvent {
        aggregate_type: "License".into(),
        aggregate_id: license.to_string(),
        sequence,
        event_type: event_type.into(),
        event_version: "1".into(),
        payload: json!({ event_type: body }),
        metadata: json!({"account_id": ACCOUNT, "occurred_at": "2026-11-22T10:00:00Z", "actor": "test"}),
        global_position: sequence,
        transaction_id: 1000 + sequence,
        recorded_at: "2026-11-22T10:00:01Z".parse().unwrap(),
    }
}

fn history(license: Uuid) -> Vec<StoredEvent> {
    vec![
        stored(
            license,
            1,
            "Purchased",
            json!({
            "account_id": ACCOUNT, "product": "XDT", "edition": "ENT", "version": "7.15",
            "license_model": "user_device", "binding_type": "host_name", "quantity": 100,
            "expires_on": null, "maintenance_until": "2027-11-22", "order_number": "ORD-1",
            "access_code": "LA-1", "trial": false, "partial_allocation": true,
            "purchased_at": "2026-11-22T09:00:00Z"}),
        ),
        stored(
            license,
            2,
            "Activated",
            json!({"activated_at": "2026-11-22T09:30:00Z"}),
        ),
        stored(
            license,
            3,
            "Allocated",
            json!({
            "allocation_id": Uuid::from_u128(7), "host": "serverA", "quantity": 60}),
        ),
        stored(license, 4, "Hidden", json!({})),
    ]
}

async fn license_row(pool: &PgPool, license: Uuid) -> (i32, bool, i64) {
    sqlx::query_as(
        "SELECT allocated, hidden, last_sequence FROM read_model.licenses WHERE license_id = $1",
    )
    .bind(license)
    .fetch_one(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn garbage_is_set_aside_and_a_late_duplicate_changes_nothing() {
    let fixture = fixture().await;
    let license = Uuid::now_v7();
    let events = history(license);
    fixture.publish(&events[0]).await;
    fixture.publish_garbage().await;
    fixture.publish(&events[1]).await;
    fixture.publish(&events[2]).await;
    fixture.publish(&events[3]).await;
    // The same event again under another message id: as if republished after
    // JetStream's de-duplication window.
    let mut late_duplicate = events[2].clone();
    late_duplicate.aggregate_id = license.to_string();
    let mut message = late_duplicate
        .to_message(&fixture.stream.subject_prefix)
        .unwrap();
    message.headers.insert("Nats-Msg-Id", "another-id");
    fixture
        .jetstream
        .publish_with_headers(message.subject, message.headers, message.payload)
        .await
        .unwrap()
        .await
        .unwrap();

    fixture.drain(6).await;

    assert_eq!(license_row(&fixture.pool, license).await, (60, true, 4));
    let pair: (i64, i64) = sqlx::query_as(
        "SELECT transaction_id::text::bigint, global_position FROM read_model.checkpoints",
    )
    .fetch_one(&fixture.pool)
    .await
    .unwrap();
    assert_eq!(
        pair,
        (1004, 4),
        "the late duplicate did not move read-your-writes back"
    );
    let rejected: Vec<(i64, String)> =
        sqlx::query_as("SELECT stream_sequence, reason FROM read_model.rejected_messages")
            .fetch_all(&fixture.pool)
            .await
            .unwrap();
    assert_eq!(rejected.len(), 1, "{rejected:?}");
    assert_eq!(rejected[0].0, 2);
    assert!(
        rejected[0].1.contains("missing header"),
        "{}",
        rejected[0].1
    );
    fixture.cleanup().await;
}

#[tokio::test]
async fn a_batch_that_starts_past_the_checkpoint_fills_the_gap_from_the_stream() {
    let fixture = fixture().await;
    let license = Uuid::now_v7();
    for event in history(license) {
        fixture.publish(&event).await;
    }
    // A consumer that delivers only the last message, as a redelivery race could.
    let stream = fixture
        .jetstream
        .get_stream(&fixture.stream.name)
        .await
        .unwrap();
    let consumer = stream
        .create_consumer(pull::Config {
            deliver_policy: DeliverPolicy::ByStartSequence { start_sequence: 4 },
            ..Default::default()
        })
        .await
        .unwrap();
    let mut messages = consumer.fetch().max_messages(1).messages().await.unwrap();
    let last = messages.next().await.unwrap().unwrap();
    assert_eq!(last.info().unwrap().stream_sequence, 4);

    let target = Target {
        schema: "read_model",
        projection: "licenses",
    };
    let projected = project_batch(&fixture.pool, &stream, target, &[last], None)
        .await
        .unwrap();
    let checkpoint = projected.checkpoint;

    assert_eq!(projected.messages, 4, "one delivered, three filled in");
    assert_eq!(checkpoint.stream_sequence, 4);
    assert_eq!(checkpoint.global_position, 4);
    assert_eq!(license_row(&fixture.pool, license).await, (60, true, 4));
    fixture.cleanup().await;
}
