//! `ledger demo` against a fresh database with the real ledger running: what it
//! loads is seen through the HTTP API with the tokens it prints — new and
//! expiring licenses on the landing page, hidden legacy licenses, allocations on
//! several servers, a server's license file, usage in overdraft, an auditor's
//! history — every event streamed exactly once, the chains and checkpoint
//! verified, `ledger audit` clean; and a second run loads a second account.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{Days, Utc};
use ledger_tests::{
    assert_exactly_once_everywhere, download, ledger_bin, run_ledger, status_and_output,
    verify_license_file, wait_until_projected, Api, Ledger, TestEnv,
};
use serde_json::Value;
use uuid::Uuid;

/// What `ledger demo` printed.
#[derive(Debug)]
struct Printed {
    account: Uuid,
    portal: String,
    auditor: String,
    console: String,
}

/// Runs `ledger demo` for `env`, its ledger listening where `ledger` does.
async fn demo(env: &TestEnv, ledger: &Ledger) -> Printed {
    let listen = ledger.base_url.trim_start_matches("http://");
    let output = tokio::process::Command::new(ledger_bin!())
        .arg("demo")
        .envs(env.vars())
        .env("LEDGER_LISTEN_ADDR", listen)
        .output()
        .await
        .unwrap();
    let (status, said) = status_and_output(&output);
    assert_eq!(status, 0, "{said}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let value = |label: &str| {
        stdout
            .lines()
            .find_map(|line| line.strip_prefix(label))
            .map(|rest| rest.trim().to_owned())
            .unwrap_or_else(|| panic!("no `{label}` in {stdout}"))
    };
    Printed {
        account: value("account:").parse().unwrap(),
        portal: value("portal token:"),
        auditor: value("auditor token:"),
        console: value("console:"),
    }
}

async fn ok(api: &Api, path: &str) -> Value {
    let answer = api.get(path).await.unwrap();
    assert_eq!(answer.status, 200, "{path}: {}", answer.body);
    answer.body
}

#[tokio::test]
async fn the_demo_loads_an_account_the_portal_and_auditors_can_explore_through_the_api() {
    let env = TestEnv::fresh().with_checkpoints();
    let ledger = Ledger::start(ledger_bin!(), &env, &[]).await.unwrap();
    let printed = demo(&env, &ledger).await;
    assert_eq!(printed.console, format!("{}/console", ledger.base_url));
    wait_until_projected(&env, Duration::from_secs(60))
        .await
        .unwrap();
    let portal = Api::new(&ledger).with_token(printed.account, &printed.portal);
    let auditor = portal.with_token(printed.account, &printed.auditor);

    // The landing page: new licenses, and expiring ones in both bands.
    let landing = ok(&portal, "/landing-page").await;
    let new = landing["new_licenses"].as_array().unwrap();
    assert!(new.len() >= 3, "{landing}");
    let bands: BTreeSet<&str> = landing["expiring_licenses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|line| line["band"].as_str().unwrap())
        .collect();
    assert_eq!(bands, BTreeSet::from(["orange", "red"]), "{landing}");

    // Hidden legacy licenses, expired; trials and perpetual ones among the rest.
    let hidden = ok(&portal, "/licenses?filter=hidden").await;
    let hidden = hidden["items"].as_array().unwrap();
    assert!(hidden.len() >= 3, "{hidden:?}");
    assert!(hidden.iter().all(|l| l["expiry_band"] == "expired"));
    let active = ok(&portal, "/licenses?filter=active&limit=500").await;
    let active = active["items"].as_array().unwrap();
    assert!(active.iter().any(|l| l["trial"] == true));
    assert!(active.iter().any(|l| l["expires_on"].is_null()));

    // Allocations on several servers, one server's file verifying offline.
    let servers = ok(&portal, "/license-servers").await;
    let servers = servers["servers"].as_array().unwrap();
    assert!(servers.len() >= 3, "{servers:?}");
    let file = download(&portal, "/license-servers/CTXLIC-EU01/license-file").await;
    assert_eq!(file.status, 200, "{}", file.text);
    let checked = verify_license_file(ledger_bin!(), &env, &file.text, None).await;
    assert!(
        checked.status.success(),
        "{}",
        status_and_output(&checked).1
    );

    // Usage with overdraft on some days, past the allowance on some.
    let today = Utc::now().date_naive();
    let from = today - Days::new(46);
    let totals = ok(
        &portal,
        &format!("/usage/daily-totals?from={from}&to={today}"),
    )
    .await;
    let days = totals["days"].as_array().unwrap();
    let over = days
        .iter()
        .filter(|d| d["overdraft"].as_i64() > Some(0))
        .count();
    assert!(
        over >= 1 && over < days.len(),
        "{over} of {} days",
        days.len()
    );
    assert!(days
        .iter()
        .any(|d| d["lines_exceeding_allowance"].as_i64() > Some(0)));

    // The auditor's token reads history (every event with its actor and its
    // instant in the story), not the read models.
    let upgraded = ok(&portal, "/licenses?find_by=order_number&q=ORD-200140").await;
    let license = upgraded["items"][0]["license_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let history = ok(&auditor, &format!("/licenses/{license}/history")).await;
    let events = history["events"].as_array().unwrap();
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    for expected in ["Purchased", "Allocated", "Renewed", "Returned", "Upgraded"] {
        assert!(types.contains(&expected), "{types:?}");
    }
    assert!(events
        .iter()
        .all(|e| e["metadata"]["actor"] == "demo-portal"));
    let purchased_at = events[0]["metadata"]["occurred_at"].as_str().unwrap();
    assert!(purchased_at < (today - Days::new(365)).to_string().as_str());
    let refused = auditor.get("/licenses").await.unwrap();
    assert_eq!(refused.status, 403, "an auditor's token reads history only");
    let integrity = ok(&auditor, "/integrity").await;
    assert_eq!(integrity["intact"], true, "{integrity}");

    // Another account sees none of it; a second run loads another account.
    let stranger = Api::new(&ledger).with_token(Uuid::now_v7(), &printed.portal);
    assert_eq!(stranger.get("/licenses").await.unwrap().status, 404);
    let again = demo(&env, &ledger).await;
    assert_ne!(again.account, printed.account);
    wait_until_projected(&env, Duration::from_secs(60))
        .await
        .unwrap();
    let second = Api::new(&ledger).with_token(again.account, &again.portal);
    assert_eq!(
        ok(&second, "/license-servers").await["servers"],
        Value::Array(servers.clone())
    );

    // Every event streamed once and projected; chains, checkpoint and read
    // models all agree with the store.
    assert_exactly_once_everywhere(&env).await;
    let audit = run_ledger(ledger_bin!(), &env, &["audit"]).await;
    let (status, said) = status_and_output(&audit);
    assert_eq!(status, 0, "{said}");
    assert!(said.contains("the read models agree"), "{said}");
    let mut verified = (0, String::new());
    for _ in 0..100 {
        verified =
            status_and_output(&run_ledger(ledger_bin!(), &env, &["verify", "history"]).await);
        if verified.0 != 3 {
            break;
        }
        // No checkpoint signed yet: the relay signs one within a second or two.
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(verified.0, 0, "{}", verified.1);
    drop(ledger);
    env.cleanup().await;
}
