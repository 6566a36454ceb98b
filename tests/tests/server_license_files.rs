//! A license server's whole file ("Download all licenses") against the real
//! binary: every live allocation on the host once, each `INCREMENT` exactly as
//! in the allocation's own file, the same bytes for the same state, an ETag and
//! 304, verified offline (a changed `INCREMENT` named), a host of several binding
//! types, the roles that may read it, bad input — and a host of thousands of
//! allocations.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::time::{Duration, Instant};

use chrono::{Days, Utc};
use ledger_tests::{
    download, get_raw, ledger_bin, published_keys, purchase_body, verify_license_file,
    wait_until_projected, Api, Ledger, Role, TestEnv,
};
use reqwest::header::{CONTENT_DISPOSITION, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use reqwest::Method;
use serde_json::{json, Value};

fn server_file(host: &str) -> String {
    format!("/license-servers/{host}/license-file")
}

async fn command(api: &Api, path: &str, body: Value, status: u16) -> Value {
    let answer = api.post(path, body).await.unwrap();
    assert_eq!(answer.status, status, "{path}: {}", answer.body);
    answer.body
}

/// Purchases and activates a license of `body`; returns its id.
async fn activated(api: &Api, body: Value) -> String {
    let code = body["access_code"].clone();
    let bought = command(api, "/licenses", body, 201).await;
    let id = bought["license_id"].as_str().unwrap().to_owned();
    command(
        api,
        &format!("/licenses/{id}/activate"),
        json!({ "access_code": code }),
        200,
    )
    .await;
    id
}

/// Allocates `quantity` of `license` to `host`; returns the allocation id.
async fn allocate(api: &Api, license: &str, host: &str, quantity: u32) -> String {
    let answer = command(
        api,
        &format!("/licenses/{license}/allocations"),
        json!({"host": host, "quantity": quantity}),
        201,
    )
    .await;
    answer["allocation_id"].as_str().unwrap().to_owned()
}

/// Each `INCREMENT` of a file with its continuation lines and `SIGN`, in order.
fn increments(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        if line.starts_with("INCREMENT ") {
            current = Some(String::new());
        }
        if let Some(block) = current.as_mut() {
            block.push_str(line);
            block.push('\n');
            if !line.ends_with('\\') {
                found.push(current.take().unwrap());
            }
        }
    }
    found
}

/// An `INCREMENT` block with its count (the sixth token of its first line) set to
/// `count`.
fn with_count(increment: &str, count: &str) -> String {
    let (first, rest) = increment.split_once('\n').unwrap();
    let mut tokens: Vec<&str> = first.split(' ').collect();
    tokens[5] = count;
    format!("{}\n{rest}", tokens.join(" "))
}

/// The `# allocation:` comments of a file, in order.
fn allocation_comments(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| line.strip_prefix("# allocation: "))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn a_servers_file_holds_each_live_allocation_once_and_verifies_offline() {
    let env = TestEnv::fresh();
    let ledger = Ledger::start(ledger_bin!(), &env, &[]).await.unwrap();
    let api = Api::new(&ledger);
    let today = Utc::now().date_naive();
    let mut platinum = purchase_body(Some(today + Days::new(400)));
    platinum["edition"] = json!("PLT");
    platinum["access_code"] = json!("LA-PLT-1");
    let mut trial = purchase_body(Some(today + Days::new(20)));
    trial["trial"] = json!(true);
    trial["access_code"] = json!("LA-TRIAL-1");
    let enterprise = activated(&api, purchase_body(None)).await;
    let platinum = activated(&api, platinum).await;
    let trial = activated(&api, trial).await;
    let e1 = allocate(&api, &enterprise, "srv-a", 800).await;
    let e2 = allocate(&api, &enterprise, "srv-a", 100).await;
    let p1 = allocate(&api, &platinum, "srv-a", 50).await;
    let t1 = allocate(&api, &trial, "srv-a", 5).await;
    let moving = allocate(&api, &platinum, "srv-a", 7).await;
    let returning = allocate(&api, &enterprise, "srv-a", 3).await;
    let moved = command(
        &api,
        &format!("/licenses/{platinum}/allocations/{moving}/modify"),
        json!({"new_host": "srv-b"}),
        200,
    )
    .await;
    let returned = command(
        &api,
        &format!("/licenses/{enterprise}/allocations/{returning}/return"),
        json!({}),
        200,
    )
    .await;
    // Commands of one client are recorded in order: the return came last.
    let position = &returned["position"];
    let first = download(
        &api,
        &format!("{}?min_position={position}", server_file("srv-a")),
    )
    .await;
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(
        first.header(CONTENT_TYPE).as_deref(),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(
        first.header(CONTENT_DISPOSITION).as_deref(),
        Some("attachment; filename=\"srv-a.lic\"")
    );
    let text = &first.text;
    assert_eq!(
        text.matches("\nSERVER this_host HOSTNAME=srv-a\n").count(),
        1,
        "{text}"
    );
    assert_eq!(text.matches("\nVENDOR CITRIX\n").count(), 1, "{text}");
    assert!(
        text.contains("# license server: srv-a\n# allocations: 4\n"),
        "{text}"
    );

    // The live allocations only, by license id then allocation id, each INCREMENT
    // exactly as in its own file.
    let mut live = vec![
        (enterprise.clone(), e1.clone()),
        (enterprise.clone(), e2.clone()),
        (platinum.clone(), p1.clone()),
        (trial.clone(), t1.clone()),
    ];
    live.sort();
    assert_eq!(
        allocation_comments(text),
        live.iter().map(|(_, a)| a.clone()).collect::<Vec<_>>()
    );
    let mut own_increments = Vec::new();
    for (license, allocation) in &live {
        let own = download(
            &api,
            &format!("/licenses/{license}/allocations/{allocation}/license-file"),
        )
        .await;
        assert_eq!(own.status, 200, "{}", own.text);
        own_increments.extend(increments(&own.text));
    }
    assert_eq!(increments(text), own_increments);
    assert!(text.contains("LT=Eval"), "the trial's INCREMENT: {text}");

    // The same state, the same bytes and ETag; 304 while unchanged.
    let second = download(&api, &server_file("srv-a")).await;
    assert_eq!(&second.text, text);
    let etag = first.header(ETAG).unwrap();
    assert_eq!(second.header(ETAG).unwrap(), etag);
    let unchanged = get_raw(
        api.request(Method::GET, &server_file("srv-a"))
            .header(IF_NONE_MATCH, &etag),
    )
    .await;
    assert_eq!((unchanged.status, unchanged.text.as_str()), (304, ""));

    // The moved allocation is on srv-b's file, alone.
    let srv_b = download(&api, &server_file("srv-b")).await;
    assert_eq!(srv_b.status, 200, "{}", srv_b.text);
    assert_eq!(
        allocation_comments(&srv_b.text),
        [moved["allocation_id"].as_str().unwrap()]
    );

    // Verified offline: every INCREMENT counted; a changed one is named.
    let keys = published_keys(&ledger).await;
    let checked = verify_license_file(ledger_bin!(), &env, text, Some(&keys)).await;
    let stdout = String::from_utf8_lossy(&checked.stdout);
    assert!(
        checked.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&checked.stderr)
    );
    assert!(
        stdout.contains("every INCREMENT line (4) is signed"),
        "{stdout}"
    );
    assert!(stdout.contains("INCREMENT 4 of 4"), "{stdout}");
    let third = &increments(text)[2];
    let tampered = text.replacen(third.as_str(), &with_count(third, "9999"), 1);
    let checked = verify_license_file(ledger_bin!(), &env, &tampered, Some(&keys)).await;
    let stderr = String::from_utf8_lossy(&checked.stderr);
    assert!(!checked.status.success(), "a changed count must not verify");
    assert!(stderr.contains("NOT valid"), "{stderr}");
    assert!(stderr.contains("INCREMENT 3 of 4"), "{stderr}");
    assert!(
        stderr.contains(&live[2].1),
        "names the allocation: {stderr}"
    );

    // A new allocation changes the file and its ETag: the old one is no 304.
    let more = command(
        &api,
        &format!("/licenses/{platinum}/allocations"),
        json!({"host": "srv-a", "quantity": 1}),
        201,
    )
    .await;
    let changed = get_raw(
        api.request(
            Method::GET,
            &format!("{}?min_position={}", server_file("srv-a"), more["position"]),
        )
        .header(IF_NONE_MATCH, &etag),
    )
    .await;
    assert_eq!(changed.status, 200);
    assert_eq!(increments(&changed.text).len(), 5);
    assert_ne!(changed.header(ETAG).unwrap(), etag);

    // Roles: whoever may read license files reads this one, no one else.
    let read_only = download(&api.as_role(Role::ReadOnly, None), &server_file("srv-a")).await;
    assert_eq!(read_only.status, 200);
    for role in [Role::Auditor, Role::LicenseServer] {
        let host = (role == Role::LicenseServer).then_some("srv-a");
        let refused = download(&api.as_role(role, host), &server_file("srv-a")).await;
        assert_eq!(refused.status, 403, "{role:?}: {}", refused.text);
    }
    let stranger = Api::new(&ledger);
    let elsewhere = get_raw(
        stranger
            .with_token(api.account, stranger.token())
            .request(Method::GET, &server_file("srv-a")),
    )
    .await;
    assert_eq!(
        elsewhere.status, 404,
        "another account's token: {}",
        elsewhere.text
    );
    drop(ledger);
    env.cleanup().await;
}

#[tokio::test]
async fn a_host_of_several_binding_types_no_allocations_or_bad_input_is_refused_by_name() {
    let env = TestEnv::fresh();
    let ledger = Ledger::start(ledger_bin!(), &env, &[]).await.unwrap();
    let api = Api::new(&ledger);
    let by_name = activated(&api, purchase_body(None)).await;
    let mut other = purchase_body(None);
    other["binding_type"] = json!("other_id");
    other["access_code"] = json!("LA-ID-1");
    let by_id = activated(&api, other).await;
    allocate(&api, &by_name, "shared", 10).await;
    allocate(&api, &by_id, "shared", 20).await;
    wait_until_projected(&env, Duration::from_secs(30))
        .await
        .unwrap();

    let both = download(&api, &server_file("shared")).await;
    let problem = both.json();
    assert_eq!(both.status, 409, "{}", both.text);
    assert_eq!(
        problem["type"],
        "urn:licensing-ledger:problem:several-host-ids"
    );
    assert_eq!(problem["field"], "query.binding_type");
    assert_eq!(
        problem["facts"]["binding_types"],
        json!(["host_name", "other_id"])
    );
    for (binding, token, count) in [
        ("host_name", "HOSTNAME=shared", " 10 \\"),
        ("other_id", "ID=shared", " 20 \\"),
    ] {
        let one = download(
            &api,
            &format!("{}?binding_type={binding}", server_file("shared")),
        )
        .await;
        assert_eq!(one.status, 200, "{binding}: {}", one.text);
        assert!(
            one.text.contains(&format!("SERVER this_host {token}\n")),
            "{}",
            one.text
        );
        assert_eq!(increments(&one.text).len(), 1);
        assert!(increments(&one.text)[0].contains(count), "{}", one.text);
    }

    let unknown = download(&api, &server_file("nowhere")).await;
    assert_eq!(unknown.status, 404, "{}", unknown.text);
    assert!(
        unknown.json()["detail"]
            .as_str()
            .unwrap()
            .contains("`nowhere`"),
        "{}",
        unknown.text
    );
    let none_of_that_kind = download(
        &api,
        &format!("{}?binding_type=mac_address", server_file("shared")),
    )
    .await;
    assert_eq!(none_of_that_kind.status, 404, "{}", none_of_that_kind.text);
    let long = "h".repeat(254);
    for (path, field) in [
        (server_file(&long), "path.host"),
        (
            format!("{}?binding_type=ip", server_file("shared")),
            "query.binding_type",
        ),
        (
            format!("{}?revision=1", server_file("shared")),
            "query.revision",
        ),
        (
            format!("{}?min_position=0", server_file("shared")),
            "query.min_position",
        ),
    ] {
        let refused = download(&api, &path).await;
        assert_eq!(
            (refused.status, refused.json()["field"].as_str()),
            (400, Some(field)),
            "{path}: {}",
            refused.text
        );
    }
    drop(ledger);
    env.cleanup().await;
}

/// Licenses and allocations per license of the production-size host.
const LICENSES: usize = 400;
const ALLOCATIONS_EACH: usize = 8;

#[tokio::test]
async fn a_host_of_thousands_of_allocations_downloads_in_one_file_that_verifies() {
    let env = TestEnv::fresh();
    let ledger = Ledger::start(ledger_bin!(), &env, &[]).await.unwrap();
    let api = Api::new(&ledger);
    let mut ids = Vec::new();
    for chunk in 0..LICENSES / 40 {
        let bought = futures::future::join_all((0..40).map(|i| {
            let mut body = purchase_body(None);
            body["order_number"] = json!(format!("ORD-{chunk:02}-{i:02}"));
            activated(&api, body)
        }))
        .await;
        ids.extend(bought);
    }
    // Bulk allocations of 40 licenses each, ten at a time: commands on different
    // licenses commit side by side.
    for _ in 0..ALLOCATIONS_EACH {
        let answers = futures::future::join_all(ids.chunks(40).map(|chunk| {
            api.post(
                "/bulk/allocate",
                json!({"license_ids": chunk, "host": "big-host", "quantity": 1}),
            )
        }))
        .await;
        for answer in answers {
            let answer = answer.unwrap();
            assert_eq!(answer.status, 200, "{}", answer.body);
            assert_eq!(answer.body["outcome"], "success", "{}", answer.body);
        }
    }
    wait_until_projected(&env, Duration::from_secs(60))
        .await
        .unwrap();
    let total = LICENSES * ALLOCATIONS_EACH;
    let path = server_file("big-host");
    let started = Instant::now();
    let first = download(&api, &path).await;
    let took = started.elapsed();
    assert_eq!(
        first.status,
        200,
        "{}",
        &first.text[..first.text.len().min(500)]
    );
    assert_eq!(increments(&first.text).len(), total);
    assert!(first.text.contains(&format!("# allocations: {total}\n")));
    println!(
        "a license server's file of {total} allocations: {} bytes in {:.0} ms",
        first.text.len(),
        took.as_secs_f64() * 1000.0
    );
    // Well inside the request timeout (30 s), even in a debug build on 2 cores.
    assert!(took < Duration::from_secs(15), "{took:?}");
    let again = download(&api, &server_file("big-host")).await;
    assert!(
        again.text == first.text,
        "the same allocations give the same bytes"
    );
    let checked = verify_license_file(ledger_bin!(), &env, &first.text, None).await;
    assert!(
        checked.status.success(),
        "{}",
        String::from_utf8_lossy(&checked.stderr)
    );
    let stdout = String::from_utf8_lossy(&checked.stdout);
    assert!(stdout.contains(&format!("every INCREMENT line ({total}) is signed")));
    drop(ledger);
    env.cleanup().await;
}
