//! Group commit against a real PostgreSQL: concurrent commands' events go in one
//! statement and transaction, each command gets its own events' positions, and a
//! command that conflicts fails alone while the others of its group are recorded.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod support;

use ledger_gateway::metrics::CommandMetrics;
use ledger_gateway::write::appender::{AppendError, Appender, NewEvent};
use serde_json::json;
use sqlx::PgPool;
use support::spawn_app;

/// `count` events of stream `id`, from sequence `first`.
fn events(id: &str, first: i64, count: i64) -> Vec<NewEvent> {
    (first..first + count)
        .map(|sequence| NewEvent {
            aggregate_type: "GroupCommitTest",
            aggregate_id: id.to_owned(),
            sequence,
            event_type: "Noted".into(),
            event_version: "1.0".into(),
            payload: json!({"Noted": {"n": sequence}}),
            metadata: json!({"account_id": "test", "n": sequence.to_string()}),
        })
        .collect()
}

/// Where each event of stream `id` is stored: `(global_position, transaction)`.
async fn stored(pool: &PgPool, id: &str) -> Vec<(i64, i64)> {
    sqlx::query_as(
        "SELECT global_position, transaction_id::text::bigint FROM events
          WHERE aggregate_id = $1 ORDER BY sequence",
    )
    .bind(id)
    .fetch_all(pool)
    .await
    .unwrap()
}

/// Hands all of `appends` over before the writer runs (this test's runtime has
/// one thread, and the writer only runs when the test awaits), so they queue up
/// as one group would under load.
async fn append_together(
    appender: &Appender,
    appends: Vec<Vec<NewEvent>>,
) -> Vec<Result<Vec<i64>, AppendError>> {
    let handles: Vec<_> = appends
        .into_iter()
        .map(|events| {
            let appender = appender.clone();
            tokio::spawn(async move { appender.append(events).await })
        })
        .collect();
    let mut outcomes = Vec::new();
    for handle in handles {
        outcomes.push(handle.await.unwrap());
    }
    outcomes
}

#[tokio::test]
async fn concurrent_commands_are_appended_in_one_transaction_each_answered_its_own_positions() {
    // A fresh database; its own gateway's appender is not used here.
    let app = spawn_app().await;
    let pool = app.pool.clone();
    let appender = Appender::start(pool.clone(), CommandMetrics::default());
    let outcomes = append_together(
        &appender,
        vec![events("a", 1, 1), events("b", 1, 3), events("c", 1, 2)],
    )
    .await;
    let mut transactions = Vec::new();
    for (id, outcome) in ["a", "b", "c"].into_iter().zip(outcomes) {
        let positions = outcome.unwrap_or_else(|error| panic!("{id}: {error}"));
        let rows = stored(&pool, id).await;
        let stored_positions: Vec<i64> = rows.iter().map(|(position, _)| *position).collect();
        assert_eq!(
            positions, stored_positions,
            "{id} is answered its own positions"
        );
        transactions.extend(rows.iter().map(|(_, transaction)| *transaction));
    }
    transactions.dedup();
    assert_eq!(transactions.len(), 1, "one transaction for the group");
    // The hash chain links each event to the one before it in its stream, also
    // within one statement.
    let broken: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events e
           LEFT JOIN events p ON p.aggregate_id = e.aggregate_id AND p.sequence = e.sequence - 1
          WHERE e.hash <> event_hash(p.hash, e.aggregate_type, e.aggregate_id, e.sequence,
                e.event_type, e.event_version, e.payload, e.metadata, e.global_position,
                e.recorded_at)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(broken, 0);
    drop(appender);
    app.cleanup().await;
}

#[tokio::test]
async fn a_command_that_conflicts_fails_alone_and_the_rest_of_its_group_is_recorded() {
    // A fresh database; its own gateway's appender is not used here.
    let app = spawn_app().await;
    let pool = app.pool.clone();
    let appender = Appender::start(pool.clone(), CommandMetrics::default());
    // Another writer got to sequence 2 of "taken" first.
    appender.append(events("taken", 1, 2)).await.unwrap();
    let outcomes = append_together(
        &appender,
        vec![
            events("before", 1, 1),
            events("taken", 2, 2),
            events("after", 1, 2),
        ],
    )
    .await;
    assert_eq!(
        outcomes[0].as_ref().unwrap(),
        &[stored(&pool, "before").await[0].0]
    );
    assert!(
        matches!(outcomes[1], Err(AppendError::Conflict)),
        "{:?}",
        outcomes[1]
    );
    let after: Vec<i64> = stored(&pool, "after")
        .await
        .iter()
        .map(|row| row.0)
        .collect();
    assert_eq!(outcomes[2].as_ref().unwrap(), &after);
    assert_eq!(
        stored(&pool, "taken").await.len(),
        2,
        "nothing of the conflicting command"
    );
    drop(appender);
    app.cleanup().await;
}
