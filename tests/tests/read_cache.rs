//! The gateway's page cache, end to end through the real binary: a landing page
//! or license list asked again is answered from memory — shown by holding the
//! read model's table locked, which any database read would wait on — until the
//! projector's notice says the account moved; a missed notice, a message that is
//! not a notice, `Cache-Control: no-cache` and `min_position` all read the
//! database; and a change no notice announced is served once the page's age runs
//! out, after which a revalidation keeps the page again.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::time::Duration;

use chrono::{Days, Utc};
use ledger_tests::health::scrape;
use ledger_tests::{buy, ledger_bin, wait_until_projected, Api, Ledger, TestEnv};
use reqwest::Method;
use serde_json::Value;
use sqlx::{PgPool, Postgres, Transaction};

/// How long a request that reads the database is given to show it waits.
const WAITS: Duration = Duration::from_millis(700);

async fn lock_licenses(pool: &PgPool) -> Transaction<'static, Postgres> {
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("LOCK TABLE read_model.licenses IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx
}

/// `path` answered within [`WAITS`] (status and body), or none: it waited.
async fn answered_at_once(request: reqwest::RequestBuilder) -> Option<(u16, Value)> {
    let response = tokio::time::timeout(WAITS, request.send()).await.ok()?;
    let response = response.unwrap();
    let status = response.status().as_u16();
    Some((status, response.json().await.unwrap_or(Value::Null)))
}

fn new_ids(page: &Value) -> Vec<String> {
    page["new_licenses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|line| line["license_id"].as_str().unwrap().to_owned())
        .collect()
}

async fn landing_page_etag(api: &Api) -> String {
    let answer = api
        .request(Method::GET, "/landing-page")
        .send()
        .await
        .unwrap();
    answer.headers()["etag"].to_str().unwrap().to_owned()
}

async fn counted(ledger: &Ledger, what: &str) -> f64 {
    scrape(ledger).await.value(what).unwrap_or(0.0)
}

/// Asks for `path` until `done` holds of its answer (or `within` has passed).
async fn until(api: &Api, path: &str, within: Duration, done: impl Fn(&Value) -> bool) -> Value {
    let started = tokio::time::Instant::now();
    loop {
        let page = api.get(path).await.unwrap();
        assert_eq!(page.status, 200, "{}", page.body);
        if done(&page.body) {
            return page.body;
        }
        assert!(
            started.elapsed() < within,
            "{path} did not change within {within:?}: {}",
            page.body
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A ledger with every role whose pages live at most `max_age_ms`, an account
/// of three licenses bought today and projected (their ids), and its database.
async fn started(max_age_ms: &str) -> (TestEnv, Ledger, Api, Vec<String>, PgPool) {
    let env = TestEnv::fresh();
    let ledger = Ledger::start(
        ledger_bin!(),
        &env,
        &[("LEDGER_READ_CACHE_MAX_AGE_MS", max_age_ms)],
    )
    .await
    .unwrap();
    let api = Api::new(&ledger);
    let ids = seeded(&api, &env).await;
    let pool = env.pool().await;
    (env, ledger, api, ids, pool)
}

/// A license of a fresh account bought (order `order`) and projected.
async fn another_account_moves(ledger: &Ledger, env: &TestEnv, order: &str) {
    let other = Api::new(ledger);
    buy(
        &other,
        order,
        Utc::now() - chrono::Duration::minutes(1),
        None,
    )
    .await;
    wait_until_projected(env, Duration::from_secs(30))
        .await
        .unwrap();
}

/// Three licenses bought today, projected; their ids.
async fn seeded(api: &Api, env: &TestEnv) -> Vec<String> {
    let now = Utc::now();
    let mut ids = Vec::new();
    for n in 0..3 {
        let at = now - chrono::Duration::minutes(10 + n);
        let expires = Some(now.date_naive() + Days::new(20 + n as u64));
        ids.push(buy(api, &format!("ORD-{n}"), at, expires).await);
    }
    wait_until_projected(env, Duration::from_secs(30))
        .await
        .unwrap();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kept_pages_are_answered_without_the_database_until_their_account_moves() {
    // A long age: whatever is read again below is read because of a notice.
    let (env, ledger, api, ids, pool) = started("60000").await;
    let list = "/licenses?filter=expiring&sort=expires_on&order=asc&limit=50";

    let first = api.get("/landing-page").await.unwrap();
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(new_ids(&first.body).len(), 3);
    let listed = api.get(list).await.unwrap();
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 3);
    let hits_before = counted(&ledger, "ledger_read_cache_requests_total{outcome=\"hit\"}").await;

    // The table locked, only an answer from memory can come at once.
    let lock = lock_licenses(&pool).await;
    let kept = answered_at_once(api.request(Method::GET, "/landing-page"))
        .await
        .expect("a kept landing page is answered without the database");
    assert_eq!(kept.0, 200);
    assert_eq!(new_ids(&kept.1), new_ids(&first.body));
    assert_ne!(
        kept.1["as_of"], first.body["as_of"],
        "stamped with its own instant"
    );
    let kept_list = answered_at_once(api.request(Method::GET, list))
        .await
        .expect("a kept license list is answered without the database");
    assert_eq!(kept_list.1["items"], listed.body["items"]);
    // Revalidation from memory too.
    let etag = landing_page_etag(&api).await;
    let revalidated = answered_at_once(
        api.request(Method::GET, "/landing-page")
            .header("if-none-match", &etag),
    )
    .await
    .expect("a revalidation of a kept page needs no database");
    assert_eq!(revalidated.0, 304);
    // What must read the database waits on the lock.
    assert!(
        answered_at_once(
            api.request(Method::GET, "/landing-page")
                .header("cache-control", "no-cache")
        )
        .await
        .is_none(),
        "no-cache reads the database"
    );
    assert!(
        answered_at_once(api.request(Method::GET, "/landing-page?min_position=1"))
            .await
            .is_none(),
        "min_position reads the database"
    );
    let as_of_yesterday = format!(
        "/landing-page?as_of={}",
        Utc::now().date_naive() - Days::new(1)
    );
    assert!(
        answered_at_once(api.request(Method::GET, &as_of_yesterday))
            .await
            .is_none(),
        "an instant before the kept page's reads the database"
    );
    lock.rollback().await.unwrap();
    let hits = counted(&ledger, "ledger_read_cache_requests_total{outcome=\"hit\"}").await;
    assert!(hits >= hits_before + 4.0, "{hits_before} → {hits}");
    assert!(
        counted(
            &ledger,
            "ledger_read_cache_requests_total{outcome=\"bypassed\"}"
        )
        .await
            >= 1.0
    );

    // Another account's move leaves this one's page kept.
    another_account_moves(&ledger, &env, "OTHER-1").await;
    api.get("/landing-page").await.unwrap();
    let lock = lock_licenses(&pool).await;
    assert!(
        answered_at_once(api.request(Method::GET, "/landing-page"))
            .await
            .is_some(),
        "another account moved, not this one"
    );
    lock.rollback().await.unwrap();

    // This account moves: the next answers show it, without min_position, well
    // before the page's age of a minute.
    let hidden = api
        .post_empty(&format!("/licenses/{}/hide", ids[0]))
        .await
        .unwrap();
    assert_eq!(hidden.status, 200, "{}", hidden.body);
    let moved = until(&api, "/landing-page", Duration::from_secs(10), |page| {
        !new_ids(page).contains(&ids[0])
    })
    .await;
    assert_eq!(new_ids(&moved).len(), 2);
    until(&api, list, Duration::from_secs(10), |page| {
        page["items"].as_array().unwrap().len() == 2
    })
    .await;
    drop(ledger);
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missed_notice_or_one_that_is_not_a_notice_drops_every_kept_page() {
    let (env, ledger, api, _, pool) = started("60000").await;
    let nats = async_nats::connect(&env.nats_url).await.unwrap();
    let subject = ledger_projections::applied::notice_subject(&env.prefix, "licenses");

    for (cause, forged) in [
        // A batch that starts far past where the last one ended.
        (
            "gap",
            br#"{"after":999999,"reached":1000000,"accounts":[],"everything":false}"#.to_vec(),
        ),
        ("malformed", b"{\"after\":".to_vec()),
        ("malformed", vec![b'x'; 600 * 1024]),
    ] {
        api.get("/landing-page").await.unwrap();
        let metric = format!("ledger_read_cache_resets_total{{cause=\"{cause}\"}}");
        let before = counted(&ledger, &metric).await;
        let lock = lock_licenses(&pool).await;
        assert!(
            answered_at_once(api.request(Method::GET, "/landing-page"))
                .await
                .is_some(),
            "kept before the forged notice"
        );
        nats.publish(subject.clone(), forged.into()).await.unwrap();
        nats.flush().await.unwrap();
        // Heard within moments: from then on the page is read from the database.
        let started = tokio::time::Instant::now();
        while counted(&ledger, &metric).await <= before {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "{cause} never counted"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(
            answered_at_once(api.request(Method::GET, "/landing-page"))
                .await
                .is_none(),
            "after a {cause} notice the page is read again"
        );
        lock.rollback().await.unwrap();
    }
    // The projector's next notice starts where the forged gap said nothing
    // about: the cache starts over and keeps pages again.
    another_account_moves(&ledger, &env, "AFTER").await;
    let started = tokio::time::Instant::now();
    loop {
        api.get("/landing-page").await.unwrap();
        let lock = lock_licenses(&pool).await;
        let kept = answered_at_once(api.request(Method::GET, "/landing-page"))
            .await
            .is_some();
        lock.rollback().await.unwrap();
        if kept {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "pages never kept again"
        );
    }
    drop(ledger);
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_no_notice_announced_is_served_once_the_page_is_old_enough() {
    let (env, ledger, api, ids, pool) = started("300").await;
    let page = api.get("/landing-page").await.unwrap();
    assert_eq!(new_ids(&page.body).len(), 3);
    // Changed behind the projector's back, as a notice lost with no other to
    // follow it would leave things.
    sqlx::query("UPDATE read_model.licenses SET hidden = true WHERE license_id = $1::uuid")
        .bind(&ids[1])
        .execute(&pool)
        .await
        .unwrap();
    until(&api, "/landing-page", Duration::from_secs(5), |page| {
        !new_ids(page).contains(&ids[1])
    })
    .await;

    // A client that only revalidates refills a page whose age ran out: its
    // next revalidation is answered from memory.
    let etag = landing_page_etag(&api).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let revalidate = || {
        api.request(Method::GET, "/landing-page")
            .header("if-none-match", &etag)
    };
    assert_eq!(revalidate().send().await.unwrap().status(), 304);
    let lock = lock_licenses(&pool).await;
    let kept = answered_at_once(revalidate())
        .await
        .expect("the revalidation after the age ran out kept the page again");
    assert_eq!(kept.0, 304);
    lock.rollback().await.unwrap();
    drop(ledger);
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_alone_keeps_pages_from_its_own_nats_connection_and_serves_without_one() {
    let env = TestEnv::fresh();
    let pipeline = Ledger::start_roles(ledger_bin!(), &env, "relay,projector", &[])
        .await
        .unwrap();
    let gateway = Ledger::start_roles(
        ledger_bin!(),
        &env,
        "gateway",
        &[("LEDGER_READ_CACHE_MAX_AGE_MS", "60000")],
    )
    .await
    .unwrap();
    let api = Api::new(&gateway);
    let ids = seeded(&api, &env).await;
    let started = tokio::time::Instant::now();
    while counted(&gateway, "ledger_read_cache_listening").await < 1.0 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "never listening"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    api.get("/landing-page").await.unwrap();
    let hidden = api
        .post_empty(&format!("/licenses/{}/hide", ids[2]))
        .await
        .unwrap();
    assert_eq!(hidden.status, 200);
    until(&api, "/landing-page", Duration::from_secs(10), |page| {
        !new_ids(page).contains(&ids[2])
    })
    .await;
    drop(gateway);

    // A gateway whose NATS is unreachable still answers, from the database.
    let unreachable = TestEnv {
        nats_url: "nats://127.0.0.1:1".into(),
        ..env.clone()
    };
    let alone = Ledger::start_roles(ledger_bin!(), &unreachable, "gateway", &[])
        .await
        .unwrap();
    let api = api.at(&alone);
    let page = api.get("/landing-page").await.unwrap();
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(new_ids(&page.body).len(), 2);
    assert_eq!(counted(&alone, "ledger_read_cache_listening").await, 0.0);
    drop(alone);
    drop(pipeline);
    env.cleanup().await;
}
