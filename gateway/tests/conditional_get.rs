//! Conditional GETs of an account's pages (the landing page, the license list,
//! the expiry list): their weak ETag names the account's applied license events
//! and the next instant time alone changes the page, so `If-None-Match` answers
//! 304 exactly while the page is unchanged.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod support;

use axum::http::{Method, StatusCode};
use serde_json::json;
use support::{activated_license, hide, purchase, spawn_app, Reply, TestApp};
use uuid::Uuid;

async fn landing(app: &TestApp, account: Uuid, query: &str, etag: Option<&str>) -> Reply {
    get(app, account, &format!("/landing-page{query}"), etag).await
}

async fn get(app: &TestApp, account: Uuid, path: &str, etag: Option<&str>) -> Reply {
    let headers: Vec<(&str, &str)> = etag.map(|tag| ("if-none-match", tag)).into_iter().collect();
    app.call_with(
        Method::GET,
        &format!("/v1/accounts/{account}{path}"),
        None,
        &headers,
    )
    .await
}

fn etag_of(reply: &Reply) -> String {
    reply.headers["etag"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn an_unchanged_page_is_answered_304_and_any_change_by_events_or_by_time_answers_200() {
    let app = spawn_app().await;
    let account = Uuid::new_v4();
    let license = activated_license(&app, account, 10).await;
    app.project().await;

    let first = landing(&app, account, "", None).await;
    assert_eq!(first.status, StatusCode::OK);
    let etag = etag_of(&first);
    assert!(etag.starts_with("W/\""), "a weak ETag: {etag}");
    assert_eq!(first.body["new_licenses"].as_array().unwrap().len(), 1);

    let again = landing(&app, account, "", Some(&etag)).await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    assert_eq!(etag_of(&again), etag, "a 304 names the page it stands for");
    assert_eq!(again.body, serde_json::Value::Null, "and has no body");
    // Weak comparison: the same tag without W/ matches too, and so does `*`.
    let strong = etag.trim_start_matches("W/");
    assert_eq!(
        landing(&app, account, "", Some(strong)).await.status,
        StatusCode::NOT_MODIFIED
    );
    let listed = format!("\"other\", {etag}");
    assert_eq!(
        landing(&app, account, "", Some(&listed)).await.status,
        StatusCode::NOT_MODIFIED
    );

    // An event applied to one of the account's licenses changes the page's tag.
    let reply = app
        .call_with(
            Method::POST,
            &format!("/v1/accounts/{account}/licenses/{license}/allocations"),
            Some(json!({"host": "SRV-1", "quantity": 4})),
            &[],
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    // Recorded but not yet applied: the read model, and so the page, is unchanged.
    assert_eq!(
        landing(&app, account, "", Some(&etag)).await.status,
        StatusCode::NOT_MODIFIED
    );
    app.project().await;
    let changed = landing(&app, account, "", Some(&etag)).await;
    assert_eq!(changed.status, StatusCode::OK);
    assert_eq!(changed.body["new_licenses"][0]["allocated"], 4);
    let etag = etag_of(&changed);

    // Another account's events leave this page's tag alone.
    activated_license(&app, Uuid::new_v4(), 3).await;
    app.project().await;
    assert_eq!(
        landing(&app, account, "", Some(&etag)).await.status,
        StatusCode::NOT_MODIFIED
    );

    // Time: the next day is another page (days left and the windows move with the
    // date), so the tag of today's page does not hold for it.
    let tomorrow = (chrono::Utc::now() + chrono::Days::new(1)).date_naive();
    let next_day = landing(&app, account, &format!("?as_of={tomorrow}"), Some(&etag)).await;
    assert_eq!(next_day.status, StatusCode::OK);
    assert_ne!(etag_of(&next_day), etag);

    // A purchase dated later the same day (of an earlier date: purchases are never
    // dated in the future) joins the page once as_of passes it:
    // the tag of the earlier instant must not hold past it.
    let day = "2026-06-10";
    let mut later = purchase(2);
    later["purchased_at"] = json!(format!("{day}T15:00:00Z"));
    let reply = app
        .call_with(
            Method::POST,
            &format!("/v1/accounts/{account}/licenses"),
            Some(later),
            &[],
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    app.project().await;
    let morning = landing(&app, account, &format!("?as_of={day}T09:00:00Z"), None).await;
    let morning_tag = etag_of(&morning);
    let noon = landing(
        &app,
        account,
        &format!("?as_of={day}T12:00:00Z"),
        Some(&morning_tag),
    )
    .await;
    assert_eq!(
        noon.status,
        StatusCode::NOT_MODIFIED,
        "nothing joined between 09:00 and 12:00"
    );
    let evening = landing(
        &app,
        account,
        &format!("?as_of={day}T18:00:00Z"),
        Some(&morning_tag),
    )
    .await;
    assert_eq!(evening.status, StatusCode::OK, "the 15:00 purchase joined");
    let orders: Vec<&str> = evening.body["new_licenses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|line| line["purchased_at"].as_str().unwrap())
        .collect();
    assert!(orders.iter().any(|at| at.starts_with(day)), "{orders:?}");
    app.cleanup().await;
}

#[tokio::test]
async fn a_bad_query_is_refused_before_any_conditional_answer() {
    let app = spawn_app().await;
    let account = Uuid::new_v4();
    let reply = landing(&app, account, "?as_of=yesterday", Some("*")).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.body["field"], "query.as_of");
    // An account with nothing yet has a page too, and its tag works.
    let empty = landing(&app, account, "", None).await;
    assert_eq!(empty.status, StatusCode::OK);
    assert_eq!(
        landing(&app, account, "", Some(&etag_of(&empty)))
            .await
            .status,
        StatusCode::NOT_MODIFIED
    );
    app.cleanup().await;
}

#[tokio::test]
async fn a_page_of_licenses_is_answered_304_while_unchanged_and_each_query_has_its_own_tag() {
    let app = spawn_app().await;
    let account = Uuid::new_v4();
    let mut term = purchase(5);
    term["expires_on"] = json!((chrono::Utc::now() + chrono::Days::new(20)).date_naive());
    let reply = app
        .call_with(
            Method::POST,
            &format!("/v1/accounts/{account}/licenses"),
            Some(term),
            &[],
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let license = activated_license(&app, account, 3).await;
    app.project().await;

    for path in [
        "/licenses?limit=10",
        "/licenses?filter=expiring",
        "/expiry?within_days=30",
    ] {
        let first = get(&app, account, path, None).await;
        assert_eq!(first.status, StatusCode::OK, "{path}: {}", first.body);
        assert!(
            !first.body["items"].as_array().unwrap().is_empty(),
            "{path}"
        );
        let etag = etag_of(&first);
        assert!(etag.starts_with("W/\"ls-"), "{path}: {etag}");
        let again = get(&app, account, path, Some(&etag)).await;
        assert_eq!(again.status, StatusCode::NOT_MODIFIED, "{path}");
        assert_eq!(etag_of(&again), etag);
    }
    // Each page's tag is its own, though the account's version is the same.
    let page = etag_of(&landing(&app, account, "", None).await);
    let list = etag_of(&get(&app, account, "/licenses?limit=10", None).await);
    let other = etag_of(&get(&app, account, "/licenses?limit=1", None).await);
    assert!(page != list && list != other, "{page} {list} {other}");
    let crossed = get(&app, account, "/licenses?limit=10", Some(&page)).await;
    assert_eq!(
        crossed.status,
        StatusCode::OK,
        "a landing page's tag is not a list's"
    );
    let crossed = get(&app, account, "/licenses?limit=10", Some(&other)).await;
    assert_eq!(crossed.status, StatusCode::OK, "nor one query's another's");
    // An instant given explicitly is covered by the version, not the query: a
    // moment later the same day, with nothing bought since, is the same page.
    let later = chrono::Utc::now() + chrono::Duration::seconds(2);
    if later.date_naive() == chrono::Utc::now().date_naive() {
        let at = later.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let path = format!("/licenses?limit=10&as_of={at}");
        let same = get(&app, account, &path, Some(&list)).await;
        assert_eq!(same.status, StatusCode::NOT_MODIFIED, "{}", same.body);
    }

    // A hide changes the list.
    hide(&app, account, &license).await;
    app.project().await;
    let after = get(&app, account, "/licenses?limit=10", Some(&list)).await;
    assert_eq!(after.status, StatusCode::OK);
    assert_eq!(
        after.body["items"].as_array().unwrap().len(),
        1,
        "the hidden one left"
    );
    app.cleanup().await;
}
