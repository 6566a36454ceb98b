//! License files end to end, against the real binary: download (same bytes each
//! time), verify offline with the `verify` subcommand and the published keys,
//! tamper evidence, void files after modify / return / renew, key rotation, and
//! a ledger with no signing key.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use chrono::{Days, Utc};
use ledger_domain::keys::KeyringEntry;
use ledger_domain::license_file::model::{feature_version, flexnet_date};
use ledger_gateway::signing_keys::{compact_entry, parse_compact, PublishedKeys};
use ledger_tests::{
    download, generated_signing_key, get_raw, ledger_bin, published_keys, purchase_body,
    verify_license_file, Api, Ledger, TestEnv,
};
use reqwest::header::{CONTENT_DISPOSITION, CONTENT_TYPE, ETAG, IF_NONE_MATCH, LINK};
use reqwest::Method;
use serde_json::{json, Value};

fn file_path(license: &str, allocation: &str) -> String {
    format!("/licenses/{license}/allocations/{allocation}/license-file")
}

/// Runs `ledger verify license-file` on `text` ([`verify_license_file`]).
async fn verify(env: &TestEnv, text: &str, keys: Option<&Value>) -> std::process::Output {
    verify_license_file(ledger_bin!(), env, text, keys).await
}

/// `text` with token `index` of its INCREMENT line (0 is `INCREMENT`) replaced.
fn with_increment_token(text: &str, index: usize, value: &str) -> String {
    let line = text.lines().find(|l| l.starts_with("INCREMENT ")).unwrap();
    let mut tokens: Vec<&str> = line.split(' ').collect();
    tokens[index] = value;
    text.replacen(line, &tokens.join(" "), 1)
}

/// `text` with the value of `KEY=` replaced.
fn with_field(text: &str, key: &str, value: &str) -> String {
    let start = text.find(&format!(" {key}=")).unwrap() + key.len() + 2;
    let end = start + text[start..].find(' ').unwrap();
    format!("{}{value}{}", &text[..start], &text[end..])
}

async fn command(api: &Api, path: &str, body: Value, status: u16) -> Value {
    let answer = api.post(path, body).await.unwrap();
    assert_eq!(answer.status, status, "{path}: {}", answer.body);
    answer.body
}

#[tokio::test]
async fn a_license_file_is_stable_verifiable_tamper_evident_and_void_once_replaced() {
    let env = TestEnv::fresh();
    let ledger = Ledger::start(ledger_bin!(), &env, &[]).await.unwrap();
    let api = Api::new(&ledger);
    let today = Utc::now().date_naive();
    let expires_on = today + Days::new(400);
    let purchased = command(&api, "/licenses", purchase_body(Some(expires_on)), 201).await;
    let license = purchased["license_id"].as_str().unwrap().to_owned();
    let at = |rest: &str| format!("/licenses/{license}{rest}");
    command(
        &api,
        &at("/activate"),
        json!({"access_code": "LA-0001234567-12345"}),
        200,
    )
    .await;
    let a = command(
        &api,
        &at("/allocations"),
        json!({"host": "CtxSrv01", "quantity": 800}),
        201,
    )
    .await;
    let b = command(
        &api,
        &at("/allocations"),
        json!({"host": "serverB", "quantity": 100}),
        201,
    )
    .await;
    let a_id = a["allocation_id"].as_str().unwrap().to_owned();
    let b_id = b["allocation_id"].as_str().unwrap().to_owned();
    let a_file = file_path(&license, &a_id);

    // Downloaded twice: the same bytes, a stable ETag, and 304 when unchanged.
    let first = download(&api, &format!("{a_file}?min_position={}", b["position"])).await;
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(
        first.header(CONTENT_TYPE).as_deref(),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(
        first.header(CONTENT_DISPOSITION).unwrap(),
        format!("attachment; filename=\"XDT_ENT_UD-{a_id}.lic\"")
    );
    let second = download(&api, &a_file).await;
    assert_eq!(
        second.text, first.text,
        "the same state gives the same bytes"
    );
    let etag = first.header(ETAG).unwrap();
    assert_eq!(second.header(ETAG).unwrap(), etag);
    let unchanged = get_raw(
        api.request(Method::GET, &a_file)
            .header(IF_NONE_MATCH, &etag),
    )
    .await;
    assert_eq!(unchanged.status, 304);

    let maintenance = today + Days::new(365);
    let text = &first.text;
    assert!(
        text.contains("\nSERVER this_host HOSTNAME=CtxSrv01\n"),
        "{text}"
    );
    assert!(text.contains("\nVENDOR CITRIX\nUSE_SERVER\n"), "{text}");
    assert!(
        text.contains(&format!(
            "INCREMENT XDT_ENT_UD CITRIX {} {} 800 \\\n",
            feature_version(maintenance),
            flexnet_date(expires_on)
        )),
        "{text}"
    );
    assert!(text.contains("VENDOR_STRING=;LT=Retail;ODP=10"), "{text}");
    assert!(
        text.contains("NOTICE=\"Order ORD-0001234\" SN=LA-0001234567-12345:1"),
        "{text}"
    );
    assert!(text.contains(&format!("# allocation: {a_id}\n")), "{text}");
    assert!(text.contains("SIGN=\"test-key:"), "{text}");

    // Verified offline, with the published keys and with the configured ones.
    let keys = published_keys(&ledger).await;
    assert_eq!(keys["keys"][0]["key_id"], "test-key");
    assert_eq!(keys["keys"][0]["algorithm"], "Ed25519");
    assert!(!keys.to_string().contains("private"));
    for keys in [Some(&keys), None] {
        let checked = verify(&env, text, keys).await;
        let stdout = String::from_utf8_lossy(&checked.stdout);
        assert!(
            checked.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&checked.stderr)
        );
        for shown in [
            "test-key",
            "HOSTNAME=CtxSrv01",
            "XDT_ENT_UD",
            "800",
            "revision: 3",
        ] {
            assert!(stdout.contains(shown), "{shown}: {stdout}");
        }
    }

    // Any signed field changed: verify fails, saying why.
    let tampered = [
        ("count", with_increment_token(text, 5, "900")),
        ("feature", with_increment_token(text, 1, "XDT_PLT_UD")),
        ("version", with_increment_token(text, 3, "2099.1231")),
        ("expiry", with_increment_token(text, 4, "permanent")),
        (
            "host",
            text.replacen("HOSTNAME=CtxSrv01", "HOSTNAME=ctxsrv01", 1),
        ),
        ("issued", with_field(text, "ISSUED", "01-jan-2020")),
        ("start", with_field(text, "START", "01-jan-2020")),
        ("serial", with_field(text, "SN", "LA-0001234567-99999:1")),
    ];
    for (what, changed) in tampered {
        assert_ne!(&changed, text, "{what}");
        let checked = verify(&env, &changed, Some(&keys)).await;
        assert!(
            !checked.status.success(),
            "a changed {what} must not verify"
        );
        let stderr = String::from_utf8_lossy(&checked.stderr);
        assert!(stderr.contains("NOT valid"), "{what}: {stderr}");
    }

    // Modify: the old file is void and points to the new allocation's file.
    let moved = command(
        &api,
        &at(&format!("/allocations/{b_id}/modify")),
        json!({"new_host": "serverC"}),
        200,
    )
    .await;
    let c_id = moved["allocation_id"].as_str().unwrap().to_owned();
    let c_file = file_path(&license, &c_id);
    let old_b = download(
        &api,
        &format!(
            "{}?min_position={}",
            file_path(&license, &b_id),
            moved["position"]
        ),
    )
    .await;
    assert_eq!(old_b.status, 410, "{}", old_b.text);
    assert_eq!(
        old_b.header(CONTENT_TYPE).as_deref(),
        Some("application/problem+json")
    );
    let problem = old_b.json();
    assert_eq!(problem["allocation_status"], "moved");
    assert_eq!(problem["replaced_by"]["allocation_id"], c_id.as_str());
    let c_url = format!("/v1/accounts/{}{c_file}", api.account);
    assert_eq!(problem["replaced_by"]["href"], c_url.as_str());
    assert_eq!(
        old_b.header(LINK).unwrap(),
        format!("<{c_url}>; rel=\"successor-version\"")
    );
    let new_c = download(&api, &c_file).await;
    assert_eq!(new_c.status, 200, "{}", new_c.text);
    assert!(new_c.text.contains("HOSTNAME=serverC"));

    // Return: void, with nothing to replace it.
    let returned = api
        .post_empty(&at(&format!("/allocations/{c_id}/return")))
        .await
        .unwrap();
    assert_eq!(returned.status, 200, "{}", returned.body);
    let returned = returned.body;
    let gone = download(
        &api,
        &format!("{c_file}?min_position={}", returned["position"]),
    )
    .await;
    assert_eq!(gone.status, 410, "{}", gone.text);
    assert_eq!(gone.json()["replaced_by"], Value::Null);
    assert_eq!(gone.json()["allocation_status"], "returned");
    assert!(gone.header(LINK).is_none());

    // Renew: the live file is re-issued with the new dates; the old revision is void.
    let renewed_expiry = expires_on + Days::new(365);
    let renewed_maintenance = maintenance + Days::new(365);
    let renewed = command(
        &api,
        &at("/renew"),
        json!({"expires_on": renewed_expiry, "maintenance_until": renewed_maintenance}),
        200,
    )
    .await;
    let revision = renewed["version"].as_i64().unwrap();
    let old_a = download(
        &api,
        &format!("{a_file}?revision=3&min_position={}", renewed["position"]),
    )
    .await;
    assert_eq!(old_a.status, 410, "{}", old_a.text);
    let problem = old_a.json();
    assert_eq!(problem["allocation_status"], "live");
    assert_eq!(problem["replaced_by"]["revision"], revision);
    let a_url = format!("/v1/accounts/{}{a_file}", api.account);
    assert_eq!(
        old_a.header(LINK).unwrap(),
        format!("<{a_url}>; rel=\"successor-version\"")
    );
    let current = download(&api, &a_file).await;
    assert_eq!(current.status, 200);
    assert_ne!(current.text, first.text);
    assert!(
        current.text.contains(&format!(
            " {} {} 800 \\\n",
            feature_version(renewed_maintenance),
            flexnet_date(renewed_expiry)
        )),
        "{}",
        current.text
    );
    assert!(current.text.contains(&format!("# revision: {revision}\n")));
    let explicit = download(&api, &format!("{a_file}?revision={revision}")).await;
    assert_eq!(explicit.text, current.text);
    assert!(verify(&env, &current.text, Some(&keys))
        .await
        .status
        .success());

    drop(ledger);
    env.cleanup().await;
}

#[tokio::test]
async fn bad_or_unknown_license_file_requests_are_refused_naming_the_field() {
    let env = TestEnv::fresh();
    let ledger = Ledger::start(ledger_bin!(), &env, &[]).await.unwrap();
    let api = Api::new(&ledger);
    let purchased = command(&api, "/licenses", purchase_body(None), 201).await;
    let license = purchased["license_id"].as_str().unwrap().to_owned();
    command(
        &api,
        &format!("/licenses/{license}/activate"),
        json!({"access_code": "LA-0001234567-12345"}),
        200,
    )
    .await;
    let allocated = command(
        &api,
        &format!("/licenses/{license}/allocations"),
        json!({"host": "srv1", "quantity": 1}),
        201,
    )
    .await;
    let allocation = allocated["allocation_id"].as_str().unwrap();
    let file = file_path(&license, allocation);
    let ready = download(
        &api,
        &format!("{file}?min_position={}", allocated["position"]),
    )
    .await;
    assert_eq!(ready.status, 200, "{}", ready.text);

    let cases = [
        (file_path("not-a-uuid", allocation), "path.license_id"),
        (file_path(&license, "nope"), "path.allocation_id"),
        (format!("{file}?revision=0"), "query.revision"),
        (format!("{file}?revision=two"), "query.revision"),
        (format!("{file}?min_position=-1"), "query.min_position"),
        (format!("{file}?format=zip"), "query.format"),
    ];
    for (path, field) in cases {
        let answer = api.get(&path).await.unwrap();
        assert_eq!(answer.status, 400, "{path}: {}", answer.body);
        assert_eq!(answer.body["field"], field, "{path}");
    }
    let bad_account = get_raw(
        reqwest::Client::new()
            .get(format!(
                "{}/v1/accounts/x/licenses/{license}/allocations/{allocation}/license-file",
                ledger.base_url
            ))
            .bearer_auth(api.token()),
    )
    .await;
    assert_eq!(bad_account.json()["field"], "path.account_id");

    let unknown = uuid::Uuid::now_v7().to_string();
    let other_account = Api::new(&ledger);
    for (client, path) in [
        (&api, file_path(&license, &unknown)),
        (&api, file_path(&unknown, allocation)),
        // Revision 2 is the activation: no file was ever issued at it.
        (&api, format!("{file}?revision=2")),
        (&api, format!("{file}?revision=99")),
        (&other_account, file.clone()),
    ] {
        let answer = client.get(&path).await.unwrap();
        assert_eq!(answer.status, 404, "{path}: {}", answer.body);
        assert_eq!(answer.body["status"], 404);
    }
    drop(ledger);
    env.cleanup().await;
}

#[tokio::test]
async fn rotating_keys_changes_no_issued_file_and_retired_keys_still_verify() {
    let env = TestEnv::fresh();
    let old_key = env.license_signing_keys.clone();
    let ledger = Ledger::start(ledger_bin!(), &env, &[]).await.unwrap();
    let api = Api::new(&ledger);
    let purchased = command(&api, "/licenses", purchase_body(None), 201).await;
    let license = purchased["license_id"].as_str().unwrap().to_owned();
    command(
        &api,
        &format!("/licenses/{license}/activate"),
        json!({"access_code": "LA-0001234567-12345"}),
        200,
    )
    .await;
    let allocated = command(
        &api,
        &format!("/licenses/{license}/allocations"),
        json!({"host": "srv1", "quantity": 5}),
        201,
    )
    .await;
    let file = file_path(&license, allocated["allocation_id"].as_str().unwrap());
    let original = download(
        &api,
        &format!("{file}?min_position={}", allocated["position"]),
    )
    .await;
    assert_eq!(original.status, 200, "{}", original.text);
    drop(ledger);

    // A rotation: a second key, active from the next whole second (key entries
    // are written to the second, so "now" could precede the file's issue instant
    // within the same second). The issued file keeps its bytes.
    let next_second = Utc::now() + chrono::Duration::seconds(1);
    let new_key = generated_signing_key("k2", &next_second.to_rfc3339());
    let both = format!("{old_key},{new_key}");
    let ledger = Ledger::start(
        ledger_bin!(),
        &env,
        &[("LEDGER_LICENSE_SIGNING_KEYS", &both)],
    )
    .await
    .unwrap();
    let api = api.at(&ledger);
    assert_eq!(download(&api, &file).await.text, original.text);
    drop(ledger);

    // The old private key retired, its public key kept: the old file still
    // verifies, and the ledger now signs with the remaining key.
    let configured = parse_compact(&both).unwrap();
    let old = configured.find("test-key").unwrap();
    let old_public =
        KeyringEntry::verify_only(old.key_id(), old.active_from(), &old.public_key_base64());
    let retired = format!("{new_key},{}", compact_entry(&old_public.unwrap()));
    let ledger = Ledger::start(
        ledger_bin!(),
        &env,
        &[("LEDGER_LICENSE_SIGNING_KEYS", &retired)],
    )
    .await
    .unwrap();
    let api = api.at(&ledger);
    let published = published_keys(&ledger).await;
    assert_eq!(
        published,
        serde_json::to_value(PublishedKeys::of(&configured)).unwrap(),
        "the same public keys are published"
    );
    let checked = verify(&env, &original.text, Some(&published)).await;
    assert!(
        checked.status.success(),
        "{}",
        String::from_utf8_lossy(&checked.stderr)
    );
    assert!(String::from_utf8_lossy(&checked.stdout).contains("test-key"));
    let resigned = download(&api, &file).await;
    assert!(resigned.text.contains("SIGN=\"k2:"), "{}", resigned.text);
    assert!(verify(&env, &resigned.text, Some(&published))
        .await
        .status
        .success());
    drop(ledger);
    env.cleanup().await;
}

#[tokio::test]
async fn without_a_signing_key_downloads_answer_503_and_the_rest_still_works() {
    let env = TestEnv::fresh();
    let ledger = Ledger::start(ledger_bin!(), &env, &[("LEDGER_LICENSE_SIGNING_KEYS", "")])
        .await
        .unwrap();
    let api = Api::new(&ledger);
    let purchased = command(&api, "/licenses", purchase_body(None), 201).await;
    let license = purchased["license_id"].as_str().unwrap().to_owned();
    command(
        &api,
        &format!("/licenses/{license}/activate"),
        json!({"access_code": "LA-0001234567-12345"}),
        200,
    )
    .await;
    let allocated = command(
        &api,
        &format!("/licenses/{license}/allocations"),
        json!({"host": "srv1", "quantity": 5}),
        201,
    )
    .await;
    let file = file_path(&license, allocated["allocation_id"].as_str().unwrap());
    let answer = api
        .get(&format!("{file}?min_position={}", allocated["position"]))
        .await
        .unwrap();
    assert_eq!(answer.status, 503, "{}", answer.body);
    assert_eq!(
        answer.body["type"],
        "urn:licensing-ledger:problem:license-signing-unconfigured"
    );
    assert_eq!(published_keys(&ledger).await, json!({"keys": []}));
    assert_eq!(
        api.get(&format!("/licenses/{license}"))
            .await
            .unwrap()
            .status,
        200
    );
    drop(ledger);
    env.cleanup().await;
}
