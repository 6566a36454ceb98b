//! `GET /metrics` of the real binary running every role, with checkpoints on: the
//! numbers move as the ledger works — commands by type and outcome, answers by
//! route template, the relay's published events reaching the events stored, the
//! projector's applied ones the same, lags back to 0, a message set aside — the
//! text passes `promtool check metrics`, and the dashboard and the alert rules in
//! `deploy/monitoring/` name only metrics it serves.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use ledger_tests::health::{scrape, scrape_until, Scrape};
use ledger_tests::monitoring::{metric_names_used, promtool};
use ledger_tests::{
    activated_license, ledger_bin, purchase_body, read_side_moves, Api, Ledger, TestEnv,
};
use serde_json::json;

const LICENSES: &str = "/v1/accounts/{account_id}/licenses";

fn command(scraped: &Scrape, command: &str, outcome: &str) -> Option<f64> {
    scraped.value(&format!(
        "ledger_commands_total{{command=\"{command}\",outcome=\"{outcome}\"}}"
    ))
}

/// Scrapes until everything stored is published and applied, the store not
/// growing meanwhile (a checkpoint may be written at any moment); that scrape.
async fn caught_up(ledger: &Ledger, env: &TestEnv) -> (Scrape, f64) {
    let pool = env.pool().await;
    let stored = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM events")
            .fetch_one(&pool)
            .await
            .unwrap() as f64
    };
    let started = tokio::time::Instant::now();
    loop {
        let before = stored().await;
        let scraped = scrape(ledger).await;
        let after = stored().await;
        let published = scraped.value("ledger_relay_published_events_total");
        let applied = scraped.value("ledger_projector_applied_events_total");
        if before == after && published == Some(after) && applied == Some(after) {
            return (scraped, after);
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(90),
            "{after} stored: {}",
            scraped.text
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_metrics_move_as_the_ledger_works_and_the_monitoring_names_only_metrics_served() {
    let env = TestEnv::fresh().with_checkpoints();
    let ledger = Ledger::start(ledger_bin!(), &env, &[]).await.unwrap();
    let api = Api::new(&ledger);
    let license = activated_license(&api).await;
    for _ in 0..3 {
        let bought = api.post("/licenses", purchase_body(None)).await.unwrap();
        assert_eq!(bought.status, 201, "{}", bought.body);
    }
    let again = api
        .post(
            &format!("/licenses/{license}/activate"),
            json!({"access_code": "LA-0001234567-12345"}),
        )
        .await
        .unwrap();
    assert_eq!(again.status, 422, "{}", again.body);
    read_side_moves(&api).await;

    let (scraped, stored) = caught_up(&ledger, &env).await;
    assert!(stored >= 6.0, "{stored} events");
    assert_eq!(command(&scraped, "purchase", "recorded"), Some(5.0));
    assert_eq!(command(&scraped, "activate", "recorded"), Some(1.0));
    assert_eq!(command(&scraped, "activate", "refused"), Some(1.0));
    let posted = format!(
        "ledger_http_requests_total{{method=\"POST\",route=\"{LICENSES}\",status=\"201\"}}"
    );
    assert_eq!(scraped.value(&posted), Some(5.0), "{}", scraped.text);
    let latency = format!(
        "ledger_http_request_duration_seconds_count{{method=\"POST\",route=\"{LICENSES}\"}}"
    );
    assert_eq!(scraped.value(&latency), Some(5.0));
    let read = format!(
        "ledger_http_requests_total{{method=\"GET\",route=\"{LICENSES}/{{license_id}}\",status=\"200\"}}"
    );
    assert_eq!(scraped.value(&read), Some(1.0), "{}", scraped.text);
    assert!(
        !scraped.text.contains(&api.account.to_string()),
        "a raw path in a label"
    );
    // Every recorded command was appended in some group (a refused one in none).
    let appended = scraped.value("ledger_append_group_commands_sum");
    assert!(appended >= Some(6.0), "{}", scraped.text);
    assert!(scraped.value("ledger_append_group_commands_count") <= appended);
    assert!(scraped.value("ledger_relay_batch_duration_seconds_count") >= Some(1.0));
    assert_eq!(
        scraped.value("ledger_relay_publish_failures_total"),
        Some(0.0)
    );
    assert_eq!(scraped.value("ledger_nats_connected"), Some(1.0));
    assert_eq!(scraped.value("ledger_db_pool_max_connections"), Some(8.0));
    assert!(scraped.value("ledger_db_pool_connections") >= Some(1.0));
    assert_eq!(
        scraped.value("ledger_role_active{role=\"relay\"}"),
        Some(1.0)
    );
    assert_eq!(
        scraped.value("ledger_projector_messages_set_aside{projection=\"licenses\"}"),
        Some(0.0)
    );
    let settled = scrape_until(&ledger, |m| {
        m.value("ledger_role_lag_events{role=\"relay\"}") == Some(0.0)
            && m.value("ledger_role_lag_events{role=\"projector\"}") == Some(0.0)
            && m.value("ledger_integrity_checkpoint_age_seconds").is_some()
    })
    .await;
    for role in ["relay", "projector"] {
        let stalled = format!("ledger_role_stalled{{role=\"{role}\"}}");
        assert_eq!(settled.value(&stalled), Some(0.0));
        let progress = format!("ledger_role_last_progress_timestamp_seconds{{role=\"{role}\"}}");
        assert!(settled.value(&progress) > Some(0.0), "{}", settled.text);
    }

    let (lint_clean, said) = promtool(&["check", "metrics"], &settled.text);
    assert!(lint_clean, "{said}");
    let served = settled.names();
    let unknown: Vec<String> = metric_names_used()
        .into_iter()
        .filter(|name| !served.contains(name))
        .collect();
    assert!(
        unknown.is_empty(),
        "deploy/monitoring uses metrics the ledger does not serve: {unknown:?}"
    );

    // A message the projector cannot read is set aside and counted.
    let js = env.jetstream().await;
    js.publish(format!("{}.junk", env.prefix), "not an event".into())
        .await
        .unwrap()
        .await
        .unwrap();
    scrape_until(&ledger, |m| {
        m.value("ledger_projector_messages_set_aside{projection=\"licenses\"}") == Some(1.0)
    })
    .await;
    env.cleanup().await;
}
