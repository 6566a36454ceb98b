//! Authentication and authorization over every operation of the OpenAPI document:
//! no token, a malformed, expired, premature, forged, wrong-issuer or
//! wrong-audience token → 401; each role the operation does not allow → 403;
//! another account's token → 404, as for a missing resource; the right token → the
//! operation's success. Then the per-token rate limit (429), a license server
//! reporting for another host (403), and secrets kept out of answers.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod support;

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use chrono::{Duration, Utc};
use ledger_domain::keys::{Keyring, KeyringEntry};
use ledger_domain::AccountId;
use ledger_gateway::auth::token::TokenRequest;
use ledger_gateway::auth::{Role, Verifier};
use serde_json::{json, Value};
use support::{activated_license, purchase, spawn_app, spawn_app_with, Reply, TestApp};
use uuid::Uuid;

const HOST: &str = "srv-a.example.com";
const ALL_ROLES: [Role; 5] = [
    Role::Portal,
    Role::ReadOnly,
    Role::Auditor,
    Role::LicenseServer,
    Role::Admin,
];

/// The roles that may call `method path`, stated here independently of the
/// gateway's policy (the test also checks the document says the same).
fn allowed(method: &Method, path: &str) -> Vec<Role> {
    let history = path.contains("/history")
        || path.ends_with("/state")
        || path.ends_with("/events.ndjson")
        || path.ends_with("/integrity")
        || path.contains("/inclusion-proof");
    if path == "/v1/accounts" || path.ends_with("/tokens") {
        vec![Role::Admin]
    } else if method == Method::POST && path.contains("/usage-reports") {
        vec![Role::Portal, Role::LicenseServer]
    } else if method == Method::POST {
        vec![Role::Portal]
    } else if history {
        vec![Role::Portal, Role::ReadOnly, Role::Auditor]
    } else {
        vec![Role::Portal, Role::ReadOnly]
    }
}

/// One account's data, enough for every operation to succeed once.
struct Fixture {
    account: Uuid,
    /// Activated, with an allocation on [`HOST`].
    license: String,
    allocation: String,
    /// Purchased, not activated.
    purchased: String,
    /// Activated and hidden.
    hidden: String,
    feature: String,
    day: String,
    /// The global position of one of its events, in the signed log.
    position: i64,
    /// The checkpoint signed over it.
    checkpoint: ledger_gateway::integrity::checkpoint::tree_head::TreeHead,
}

async fn fixture(app: &TestApp) -> Fixture {
    let (status, created, _) = app
        .call(Method::POST, "/v1/accounts", Some(json!({"name": "Acme"})))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let account: Uuid = created["account_id"].as_str().unwrap().parse().unwrap();
    let base = format!("/v1/accounts/{account}/licenses");
    let license = activated_license(app, account, 100).await;
    let (status, allocated, _) = app
        .call(
            Method::POST,
            &format!("{base}/{license}/allocations"),
            Some(json!({"host": HOST, "quantity": 10})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{allocated}");
    let allocation = allocated["allocation_id"].as_str().unwrap().to_owned();
    let (_, purchased, _) = app.call(Method::POST, &base, Some(purchase(5))).await;
    let position = purchased["position"].as_i64().unwrap();
    let purchased = purchased["license_id"].as_str().unwrap().to_owned();
    let hidden = activated_license(app, account, 5).await;
    let (status, _, _) = app
        .call(Method::POST, &format!("{base}/{hidden}/hide"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    app.project().await;
    let (_, read, _) = app
        .call(Method::GET, &format!("{base}/{license}"), None)
        .await;
    let feature = read["feature"].as_str().expect("a feature").to_owned();
    let day = (Utc::now().date_naive() - Duration::days(1)).to_string();
    let fixture = Fixture {
        account,
        license,
        allocation,
        purchased,
        hidden,
        feature,
        day,
        position,
        // The transparency log's routes prove against a signed head.
        checkpoint: app
            .checkpoint(&checkpoint_keys())
            .await
            .expect("a checkpoint")
            .head,
    };
    let (status, body, _) = app
        .call(
            Method::POST,
            &format!("/v1/accounts/{account}/usage-reports"),
            Some(fixture.report()),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // The transparency log's routes prove against a signed head.
    app.checkpoint(&checkpoint_keys())
        .await
        .expect("a checkpoint");
    fixture
}

const WITNESS: &str = "witness.test/w1";

fn witness_key() -> KeyringEntry {
    KeyringEntry::from_seed("w1", "2000-01-01T00:00:00Z".parse().unwrap(), &[7; 32]).unwrap()
}

fn checkpoint_keys() -> Keyring {
    let key = KeyringEntry::from_seed(
        "test-log",
        "2000-01-01T00:00:00Z".parse().unwrap(),
        &[6; 32],
    )
    .unwrap();
    Keyring::new(vec![key]).unwrap()
}

impl Fixture {
    fn report(&self) -> Value {
        json!({"host": HOST, "day": self.day, "peaks": [{"feature": self.feature, "peak_in_use": 3}]})
    }

    /// `template` with this fixture's ids; the license is the one `operation` can act on.
    fn path(&self, operation: &str, template: &str) -> String {
        let license = match operation {
            "activate_license" => &self.purchased,
            "unhide_license" => &self.hidden,
            _ => &self.license,
        };
        template
            .replace("{account_id}", &self.account.to_string())
            .replace("{license_id}", license)
            .replace("{allocation_id}", &self.allocation)
            .replace("{host}", HOST)
            .replace("{day}", &self.day)
    }

    /// A body `operation` accepts.
    fn body(&self, operation: &str) -> Option<Value> {
        let ids = json!([self.license]);
        Some(match operation {
            "create_account" => json!({"name": "Another"}),
            "add_cosignature" => {
                use ledger_domain::transparency::note::{cosign, SignedNote};
                let text = SignedNote::parse(&self.checkpoint.note).unwrap().text;
                let line = cosign(&text, WITNESS, &witness_key(), 1_800_000_000)
                    .unwrap()
                    .line();
                json!({"tree_size": self.checkpoint.tree_size, "cosignature": line})
            }
            "issue_token" => json!({"role": "read_only", "subject": "reader"}),
            "purchase_license" => purchase(10),
            "activate_license" => json!({"access_code": "LA-9"}),
            "allocate" => json!({"host": "srv-b.example.com", "quantity": 1}),
            "modify_allocation" => json!({"new_host": "srv-c.example.com"}),
            "renew_license" => json!({"maintenance_until": "2031-01-31"}),
            "upgrade_license" => json!({"version": "8.0"}),
            "bulk_allocate" => {
                json!({"license_ids": ids, "host": "srv-b.example.com", "quantity": 1})
            }
            "bulk_renew" => json!({"license_ids": ids, "maintenance_until": "2031-01-31"}),
            "bulk_return" | "bulk_hide" => json!({"license_ids": ids}),
            "bulk_unhide" => json!({"license_ids": [self.hidden]}),
            "report_usage" => self.report(),
            "report_usage_batch" => json!({"reports": [self.report()]}),
            _ => return None,
        })
    }
}

/// Values for the query parameters an operation requires (or, for an inclusion
/// proof, needs one of).
fn required_query(spec: &Value, fixture: &Fixture) -> String {
    let day = &fixture.day;
    let operation = spec["operationId"].as_str().unwrap_or_default();
    let mut pairs = Vec::new();
    if operation == "get_inclusion_proof" {
        pairs.push(format!("global_position={}", fixture.position));
    }
    for parameter in spec["parameters"].as_array().into_iter().flatten() {
        if parameter["in"] != "query" || parameter["required"] != true {
            continue;
        }
        let name = parameter["name"].as_str().unwrap();
        let value = match name {
            "as_of" => Utc::now().to_rfc3339().replace('+', "%2B"),
            "from" | "to" if operation == "get_consistency_proof" => "1".to_owned(),
            "from" | "to" => day.to_owned(),
            other => panic!("no value for required query parameter {other}"),
        };
        pairs.push(format!("{name}={value}"));
    }
    if pairs.is_empty() {
        String::new()
    } else {
        format!("?{}", pairs.join("&"))
    }
}

/// A request with `token` (none when `None`) and `body`.
fn request(method: &Method, uri: &str, token: Option<&str>, body: Option<&Value>) -> Request<Body> {
    let mut builder = Request::builder().method(method.clone()).uri(uri);
    if let Some(token) = token {
        builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    match body {
        Some(body) => builder
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap(),
        None => builder.body(Body::empty()).unwrap(),
    }
}

/// A token of `role` for `account` (license servers: for [`HOST`]) from `tokens`,
/// issued at `at`.
fn token_from(tokens: &Verifier, role: Role, account: Uuid, at: chrono::DateTime<Utc>) -> String {
    let request = TokenRequest {
        subject: format!("t-{role}"),
        role,
        account: (role != Role::Admin).then_some(AccountId(account)),
        host: (role == Role::LicenseServer)
            .then(|| ledger_domain::usage::ServerHost::parse(HOST).unwrap()),
        valid_for: Duration::hours(1),
    };
    tokens.issue(&request, at).unwrap().token
}

/// Tokens that must all be refused with 401, by name.
fn bad_tokens(app: &TestApp, account: Uuid) -> BTreeMap<&'static str, String> {
    let now = Utc::now();
    let other = |change: &dyn Fn(&mut Verifier)| {
        let mut verifier = app.tokens.clone();
        change(&mut verifier);
        token_from(&verifier, Role::Portal, account, now)
    };
    let forger = KeyringEntry::from_seed(
        "test-auth",
        app.tokens.keys.keys()[0].active_from(),
        &[9; 32],
    )
    .unwrap();
    BTreeMap::from([
        ("malformed", "not-a-jwt".to_owned()),
        (
            "expired",
            token_from(&app.tokens, Role::Portal, account, now - Duration::hours(3)),
        ),
        (
            "not yet valid",
            token_from(&app.tokens, Role::Portal, account, now + Duration::hours(3)),
        ),
        (
            "forged",
            other(&|v| v.keys = Keyring::new(vec![forger.clone()]).unwrap()),
        ),
        ("wrong issuer", other(&|v| v.issuer = "someone-else".into())),
        (
            "wrong audience",
            other(&|v| v.audience = "another-api".into()),
        ),
    ])
}

async fn send(app: &TestApp, request: Request<Body>) -> Reply {
    app.send_as_is(request).await
}

fn assert_unauthenticated(reply: &Reply, token: Option<&str>, what: &str) {
    assert_eq!(
        reply.status,
        StatusCode::UNAUTHORIZED,
        "{what}: {}",
        reply.body
    );
    assert_eq!(
        reply.body["type"],
        "urn:licensing-ledger:problem:unauthenticated"
    );
    assert_eq!(reply.body["field"], "header.authorization");
    let challenge = reply.headers[header::WWW_AUTHENTICATE].to_str().unwrap();
    assert!(
        challenge.starts_with("Bearer realm="),
        "{what}: {challenge}"
    );
    if let Some(token) = token {
        assert!(
            !reply.body.to_string().contains(token),
            "{what}: token echoed"
        );
    }
}

#[tokio::test]
async fn every_operation_admits_exactly_its_roles_in_its_own_account() {
    let file_key = KeyringEntry::from_seed(
        "test-files",
        "2000-01-01T00:00:00Z".parse().unwrap(),
        &[5; 32],
    )
    .unwrap();
    let app = spawn_app_with(|settings| {
        settings.license_signing_keys =
            ledger_gateway::signing_keys::SigningKeys(Keyring::new(vec![file_key]).unwrap());
        settings.checkpoint_signing_keys =
            ledger_gateway::signing_keys::SigningKeys(checkpoint_keys());
        settings.checkpoint_witness_keys = ledger_gateway::integrity::witness::WitnessKeys(vec![
            ledger_domain::transparency::note::VerifierKey::cosignature_v1(
                WITNESS,
                witness_key().public_key_bytes(),
            )
            .unwrap(),
        ]);
    })
    .await;
    let (_, document, _) = app.call(Method::GET, "/openapi.json", None).await;
    let paths = document["paths"].as_object().unwrap();
    let mut checked = 0;
    for (template, item) in paths {
        for method in [Method::GET, Method::POST] {
            let spec = &item[method.as_str().to_lowercase()];
            if !spec.is_object() {
                continue;
            }
            let operation = spec["operationId"].as_str().unwrap().to_owned();
            let name = format!("{method} {template} ({operation})");
            let fixture = fixture(&app).await;
            let uri = format!(
                "{}{}",
                fixture.path(&operation, template),
                required_query(spec, &fixture)
            );
            let body = fixture.body(&operation);
            let security = &spec["security"];
            if security == &json!([{}]) {
                let reply = send(&app, request(&method, &uri, None, body.as_ref())).await;
                assert!(reply.status.is_success(), "{name}: {}", reply.status);
                checked += 1;
                continue;
            }
            let roles = allowed(&method, template);
            let documented: Vec<&str> = security[0]["bearer"]
                .as_array()
                .unwrap_or_else(|| panic!("{name}: no bearer requirement"))
                .iter()
                .map(|role| role.as_str().unwrap())
                .collect();
            let expected: Vec<&str> = roles.iter().map(|role| role.as_str()).collect();
            assert_eq!(documented, expected, "{name}: documented roles");

            let reply = send(&app, request(&method, &uri, None, body.as_ref())).await;
            assert_unauthenticated(&reply, None, &format!("{name} without a token"));
            for (what, token) in bad_tokens(&app, fixture.account) {
                let reply = send(&app, request(&method, &uri, Some(&token), body.as_ref())).await;
                assert_unauthenticated(&reply, Some(&token), &format!("{name} {what}"));
            }
            for role in ALL_ROLES.into_iter().filter(|role| !roles.contains(role)) {
                let token = token_from(&app.tokens, role, fixture.account, Utc::now());
                let reply = send(&app, request(&method, &uri, Some(&token), body.as_ref())).await;
                assert_eq!(
                    reply.status,
                    StatusCode::FORBIDDEN,
                    "{name} as {role}: {}",
                    reply.body
                );
                assert_eq!(reply.body["type"], "urn:licensing-ledger:problem:forbidden");
            }
            let role = roles[0];
            if role != Role::Admin {
                let stranger = token_from(&app.tokens, role, Uuid::now_v7(), Utc::now());
                let reply =
                    send(&app, request(&method, &uri, Some(&stranger), body.as_ref())).await;
                assert_eq!(
                    reply.status,
                    StatusCode::NOT_FOUND,
                    "{name} from another account"
                );
                assert_eq!(reply.body["type"], "urn:licensing-ledger:problem:not-found");
            }
            let events_before = app.event_count().await;
            for role in &roles {
                let token = token_from(&app.tokens, *role, fixture.account, Utc::now());
                let reply = send(&app, request(&method, &uri, Some(&token), body.as_ref())).await;
                assert!(
                    reply.status.is_success(),
                    "{name} as {role}: {} {}",
                    reply.status,
                    reply.body
                );
                if method == Method::POST {
                    break; // once is the test; a second command may break a rule
                }
            }
            if method == Method::GET {
                assert_eq!(app.event_count().await, events_before, "{name} recorded");
            }
            checked += 1;
        }
    }
    assert!(checked >= 40, "{checked} operations");
    app.cleanup().await;
}

#[tokio::test]
async fn refused_tokens_change_nothing() {
    let app = spawn_app().await;
    let account = Uuid::now_v7();
    let uri = format!("/v1/accounts/{account}/licenses");
    for (what, token) in bad_tokens(&app, account) {
        let reply = send(
            &app,
            request(&Method::POST, &uri, Some(&token), Some(&purchase(5))),
        )
        .await;
        assert_unauthenticated(&reply, Some(&token), what);
    }
    let reader = app.token(Role::ReadOnly, Some(account), None);
    let reply = send(
        &app,
        request(&Method::POST, &uri, Some(&reader), Some(&purchase(5))),
    )
    .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(app.event_count().await, 0);
    app.cleanup().await;
}

#[tokio::test]
async fn each_token_has_its_own_rate_limit() {
    let app = spawn_app_with(|settings| {
        settings.rate_limit_per_second = 1;
        settings.rate_limit_burst = 2;
    })
    .await;
    let account = Uuid::now_v7();
    let uri = format!("/v1/accounts/{account}/landing-page");
    let first = app.token(Role::ReadOnly, Some(account), None);
    for _ in 0..2 {
        let reply = send(&app, request(&Method::GET, &uri, Some(&first), None)).await;
        assert_eq!(reply.status, StatusCode::OK);
    }
    let limited = send(&app, request(&Method::GET, &uri, Some(&first), None)).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        limited.body["type"],
        "urn:licensing-ledger:problem:rate-limited"
    );
    assert_eq!(limited.headers[header::RETRY_AFTER], "1");
    let second = app.token(Role::ReadOnly, Some(account), None);
    let reply = send(&app, request(&Method::GET, &uri, Some(&second), None)).await;
    assert_eq!(reply.status, StatusCode::OK, "another token is not limited");
    // Refused tokens spend nothing: they are refused before the limit.
    let reply = send(&app, request(&Method::GET, &uri, Some("garbage"), None)).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    app.cleanup().await;
}

#[tokio::test]
async fn a_license_server_reports_for_its_own_host_only() {
    let app = spawn_app().await;
    let fixture = fixture(&app).await;
    let uri = format!("/v1/accounts/{}/usage-reports", fixture.account);
    let server = app.token(Role::LicenseServer, Some(fixture.account), Some(HOST));
    let reply = send(
        &app,
        request(&Method::POST, &uri, Some(&server), Some(&fixture.report())),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let mut other_host = fixture.report();
    other_host["host"] = "srv-z.example.com".into();
    let before = app.event_count().await;
    let reply = send(
        &app,
        request(&Method::POST, &uri, Some(&server), Some(&other_host)),
    )
    .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.body);
    let batch = json!({"reports": [fixture.report(), other_host]});
    let reply = send(
        &app,
        request(
            &Method::POST,
            &format!("{uri}/batch"),
            Some(&server),
            Some(&batch),
        ),
    )
    .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.body);
    assert!(reply.body["detail"]
        .as_str()
        .unwrap()
        .starts_with("reports[1].host"));
    assert_eq!(app.event_count().await, before, "nothing recorded");
    // Its token reads nothing, not even its own server's allocations.
    let reply = send(
        &app,
        request(
            &Method::GET,
            &format!("/v1/accounts/{}/license-servers/{HOST}", fixture.account),
            Some(&server),
            None,
        ),
    )
    .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    app.cleanup().await;
}

#[tokio::test]
async fn the_actor_of_every_event_is_its_tokens_subject_and_role() {
    let app = spawn_app().await;
    let fixture = fixture(&app).await;
    // Every event but the log's checkpoint, which the relay signs.
    let metadata: Vec<Value> = sqlx::query_scalar(
        "SELECT metadata FROM events WHERE aggregate_type <> 'IntegrityCheckpoint'
          ORDER BY global_position",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert!(!metadata.is_empty());
    for event in metadata {
        assert_eq!(event["actor"], "test-portal", "{event}");
        assert_eq!(event["actor_role"], "portal", "{event}");
        assert!(Uuid::parse_str(event["token_id"].as_str().unwrap()).is_ok());
        assert_eq!(event["account_id"], fixture.account.to_string());
    }
    app.cleanup().await;
}

#[tokio::test]
async fn admins_issue_tokens_that_work_and_are_recorded_without_the_secret() {
    let app = spawn_app().await;
    let (status, created, _) = app
        .call(
            Method::POST,
            "/v1/accounts",
            Some(json!({"name": "  Beta GmbH "})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(created["name"], "Beta GmbH");
    let account = created["account_id"].as_str().unwrap().to_owned();
    let tokens = format!("/v1/accounts/{account}/tokens");
    let (status, issued, _) = app
        .call(
            Method::POST,
            &tokens,
            Some(json!({"role": "license_server", "subject": "lm-01", "host": HOST, "valid_for_hours": 2})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{issued}");
    let token = issued["token"].as_str().unwrap();
    let caller = app.tokens.verify(token, Utc::now()).unwrap();
    assert_eq!(caller.role, Role::LicenseServer);
    assert_eq!(caller.account.unwrap().0.to_string(), account);
    let (subject, expires): (String, chrono::DateTime<Utc>) =
        sqlx::query_as("SELECT subject, expires_at FROM issued_tokens WHERE token_id = $1")
            .bind(Uuid::parse_str(issued["token_id"].as_str().unwrap()).unwrap())
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(subject, "lm-01");
    assert_eq!(expires.to_rfc3339(), caller.expires_at.to_rfc3339());
    let stored: String = sqlx::query_scalar("SELECT row_to_json(t)::text FROM issued_tokens t")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(
        !stored.contains(token.split('.').nth(2).unwrap()),
        "the signature is not kept"
    );

    let (_, listed, _) = app.call(Method::GET, "/v1/accounts", None).await;
    assert_eq!(listed["accounts"][0]["account_id"], account.as_str());

    let bad = [
        (json!({"name": " "}), "/v1/accounts", "name"),
        (
            json!({"role": "admin", "subject": "x"}),
            tokens.as_str(),
            "role",
        ),
        (
            json!({"role": "license_server", "subject": "x"}),
            tokens.as_str(),
            "host",
        ),
        (
            json!({"role": "portal", "subject": "x", "host": HOST}),
            tokens.as_str(),
            "host",
        ),
        (
            json!({"role": "portal", "subject": "has space"}),
            tokens.as_str(),
            "subject",
        ),
        (
            json!({"role": "portal", "subject": "x", "valid_for_hours": 0}),
            tokens.as_str(),
            "valid_for_hours",
        ),
        (
            json!({"role": "owner", "subject": "x"}),
            tokens.as_str(),
            "role",
        ),
    ];
    for (body, uri, field) in bad {
        let (status, problem, _) = app.call(Method::POST, uri, Some(body.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {problem}");
        assert_eq!(problem["field"], field, "{body}");
    }
    let missing = format!("/v1/accounts/{}/tokens", Uuid::now_v7());
    let (status, _, _) = app
        .call(
            Method::POST,
            &missing,
            Some(json!({"role": "portal", "subject": "x"})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.cleanup().await;
}
