//! What the in-process HTTP tests share: the app over a fresh real PostgreSQL
//! database per test (no NATS), driven with `oneshot`, and a few requests.
//!
//! Requests without an `Authorization` header are sent with a token for the path's
//! account (a portal token; an admin token for the admin routes), so tests about
//! something else need not mint tokens; [`TestApp::send_as_is`] sends exactly what
//! it is given.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design
// Each test file uses the part it needs.
#![allow(dead_code)]

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt as _;
use ledger_domain::keys::{Keyring, KeyringEntry};
use ledger_domain::usage::ServerHost;
use ledger_domain::AccountId;
use ledger_gateway::auth::token::TokenRequest;
use ledger_gateway::auth::{Role, Verifier};
use ledger_gateway::http::app::{app, AppState};
use ledger_gateway::signing_keys::SigningKeys;
use serde_json::{json, Value};
use tower::ServiceExt as _;
use uuid::Uuid;

/// The app and its database.
pub struct TestApp {
    /// The router under test.
    pub router: Router,
    /// Its database.
    pub pool: sqlx::PgPool,
    /// Checks and issues the tokens the app accepts.
    pub tokens: Verifier,
    database: String,
}

/// The key the test app's tokens are signed with.
pub fn token_key() -> KeyringEntry {
    KeyringEntry::from_seed(
        "test-auth",
        "2000-01-01T00:00:00Z".parse().unwrap(),
        &[7; 32],
    )
    .unwrap()
}

/// The settings of every test app.
/// The transparency log's origin in these tests.
pub const LOG_ORIGIN: &str = "ledger.test/log";

pub fn settings() -> ledger_gateway::config::Settings {
    ledger_gateway::config::Settings {
        read_wait_timeout_ms: 200,
        auth_signing_keys: SigningKeys(Keyring::new(vec![token_key()]).unwrap()),
        checkpoint_origin: LOG_ORIGIN.into(),
        ..Default::default()
    }
}

/// The app over a fresh database.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// The app over a fresh database, with settings changed by `configure`.
pub async fn spawn_app_with(
    configure: impl FnOnce(&mut ledger_gateway::config::Settings),
) -> TestApp {
    let server = std::env::var("TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let database = format!("ledger_api_{}", Uuid::new_v4().simple());
    let pool = ledger_gateway::db::connect_and_migrate(&format!("{server}/{database}"), 8)
        .await
        .expect("fresh database");
    let mut settings = settings();
    configure(&mut settings);
    let state = AppState::new(pool.clone(), &settings, None, Default::default());
    TestApp {
        router: app(state),
        pool,
        tokens: settings.token_verifier(),
        database,
    }
}

impl TestApp {
    /// Sends `body` as JSON; answers status, JSON body and content type.
    pub async fn call(
        &self,
        method: Method,
        uri: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value, String) {
        let mut request = Request::builder().method(method).uri(uri);
        let body = match body {
            Some(json) => {
                request = request.header("content-type", "application/json");
                Body::from(json.to_string())
            }
            None => Body::empty(),
        };
        self.send(request.body(body).unwrap()).await
    }

    /// GETs `uri` without a token; answers status, body as text and content type.
    pub async fn text(&self, uri: &str) -> (StatusCode, String, String) {
        let request = Request::get(uri).body(Body::empty()).unwrap();
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            String::from_utf8(bytes.to_vec()).unwrap(),
            content_type,
        )
    }

    /// A token of `role` for `account` (a license server's for `host`), valid an hour.
    pub fn token(&self, role: Role, account: Option<Uuid>, host: Option<&str>) -> String {
        self.token_of(&format!("test-{role}"), role, account, host)
    }

    /// [`Self::token`] held by `subject`.
    pub fn token_of(
        &self,
        subject: &str,
        role: Role,
        account: Option<Uuid>,
        host: Option<&str>,
    ) -> String {
        let request = TokenRequest {
            subject: subject.to_owned(),
            role,
            account: account.map(AccountId),
            host: host.map(|host| ServerHost::parse(host).unwrap()),
            valid_for: chrono::Duration::hours(1),
        };
        self.tokens
            .issue(&request, chrono::Utc::now())
            .unwrap()
            .token
    }

    /// `request` with the default token when it carries none.
    pub fn with_default_token(&self, mut request: Request<Body>) -> Request<Body> {
        if request.headers().contains_key(header::AUTHORIZATION) {
            return request;
        }
        let mut segments = request.uri().path().trim_start_matches('/').split('/');
        let token = match (segments.next(), segments.next(), segments.next()) {
            (Some("v1"), Some("accounts"), Some(account)) if segments.next() != Some("tokens") => {
                match Uuid::parse_str(account) {
                    Ok(account) => Some(self.token(Role::Portal, Some(account), None)),
                    Err(_) => Some(self.token(Role::Portal, Some(Uuid::nil()), None)),
                }
            }
            (Some("v1"), Some("accounts"), _) => Some(self.token(Role::Admin, None, None)),
            _ => None,
        };
        if let Some(token) = token {
            request.headers_mut().insert(
                header::AUTHORIZATION,
                format!("Bearer {token}").parse().unwrap(),
            );
        }
        request
    }

    /// Sends a prepared request (with the default token when it has none).
    pub async fn send(&self, request: Request<Body>) -> (StatusCode, Value, String) {
        let reply = self.send_as_is(self.with_default_token(request)).await;
        let content_type = reply
            .headers
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (reply.status, reply.body, content_type)
    }

    /// Sends exactly `request`: no token is added.
    pub async fn send_as_is(&self, request: Request<Body>) -> Reply {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        Reply {
            status,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            headers,
        }
    }

    /// Applies every event not yet applied to the read models, as the projector
    /// would (these tests run no NATS, so nothing else does).
    pub async fn project(&self) {
        use ledger_gateway::write::event_store::{events_after, CommitPosition, Horizon};
        use ledger_projections::consumer::{
            project_stored, Target, LICENSES_PROJECTION, LIVE_SCHEMA,
        };
        let mut tx = self.pool.begin().await.unwrap();
        ledger_projections::writer::use_schema(&mut tx, LIVE_SCHEMA)
            .await
            .unwrap();
        let checkpoint = ledger_projections::writer::lock_checkpoint(&mut tx, LICENSES_PROJECTION)
            .await
            .unwrap();
        let after = CommitPosition {
            transaction_id: checkpoint.transaction_id,
            global_position: checkpoint.global_position,
        };
        // Visible, not Settled: nothing else writes to this database meanwhile, and a
        // parallel test's transaction (xmin is cluster-wide) must not hold this back.
        let batch = events_after(&mut tx, after, 100_000, Horizon::Visible, None, None)
            .await
            .unwrap();
        let target = Target {
            schema: LIVE_SCHEMA,
            projection: LICENSES_PROJECTION,
        };
        project_stored(&mut tx, target, &batch.events)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }

    /// Grows the transparency log over every event, as the active relay does,
    /// once no transaction anywhere in the cluster (other tests run beside) still
    /// holds the settled horizon back from the last event.
    pub async fn grow_log(&self) {
        loop {
            let settled: bool = sqlx::query_scalar(
                "SELECT max(transaction_id) < pg_snapshot_xmin(pg_current_snapshot()) FROM events",
            )
            .fetch_one(&self.pool)
            .await
            .unwrap();
            if settled {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        let mut grower = ledger_gateway::integrity::tree::grow::Grower::resume(&self.pool)
            .await
            .unwrap();
        while grower.step(&self.pool, 1_000).await.unwrap() > 0 {}
    }

    /// Grows the log and signs its head with `keys`, as the relay's schedule does.
    pub async fn checkpoint(
        &self,
        keys: &ledger_domain::keys::Keyring,
    ) -> Option<ledger_gateway::integrity::checkpoint::Written> {
        self.grow_log().await;
        ledger_gateway::integrity::checkpoint::write_checkpoint(
            &self.pool,
            keys,
            LOG_ORIGIN,
            chrono::Utc::now(),
        )
        .await
        .unwrap()
    }

    /// Makes the key look as if its first request died after recording its events
    /// but before its answer was kept, with its lease run out (or still running).
    pub async fn forget_answer(&self, key: &str, lease_left_s: i64) {
        let updated = sqlx::query(
            "UPDATE idempotency_keys
                SET response_status = NULL, response_headers = NULL, response_body = NULL,
                    locked_until = now() + $2 * interval '1 second'
              WHERE idempotency_key = $1",
        )
        .bind(key)
        .bind(lease_left_s)
        .execute(&self.pool)
        .await
        .unwrap();
        assert_eq!(updated.rows_affected(), 1);
    }

    /// Events in the store.
    pub async fn event_count(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM events")
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    /// Runs `sql` (binding `$1` to `bind`) on the events with the append-only rule
    /// lifted, as an attacker with the database's keys could.
    pub async fn tamper(&self, sql: &str, bind: &str) {
        let mut tx = self.pool.begin().await.unwrap();
        sqlx::query("ALTER TABLE events DISABLE TRIGGER events_append_only_rows")
            .execute(&mut *tx)
            .await
            .unwrap();
        sqlx::query(sql).bind(bind).execute(&mut *tx).await.unwrap();
        sqlx::query("ALTER TABLE events ENABLE TRIGGER events_append_only_rows")
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }

    /// Drops the database.
    pub async fn cleanup(self) {
        self.pool.close().await;
        let server = std::env::var("TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
        let admin = sqlx::PgPool::connect(&format!("{server}/postgres"))
            .await
            .unwrap();
        sqlx::query(&format!(
            "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
            self.database
        ))
        .execute(&admin)
        .await
        .unwrap();
    }
}

/// A purchase body of `quantity` host-bound seats.
pub fn purchase(quantity: i64) -> Value {
    json!({
        "product": "XDT", "edition": "ADV", "version": "7.15",
        "license_model": "concurrent_user", "binding_type": "host_name",
        "quantity": quantity, "maintenance_until": "2030-01-31",
        "order_number": "ORD-9", "access_code": "LA-9",
    })
}

/// A purchased and activated license; its id.
pub async fn activated_license(app: &TestApp, account: Uuid, quantity: i64) -> String {
    let (status, body, _) = app
        .call(
            Method::POST,
            &format!("/v1/accounts/{account}/licenses"),
            Some(purchase(quantity)),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["license_id"].as_str().unwrap().to_owned();
    let (status, _, _) = app
        .call(
            Method::POST,
            &format!("/v1/accounts/{account}/licenses/{id}/activate"),
            Some(json!({"access_code": "LA-9"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    id
}

/// An answer with its headers.
pub struct Reply {
    /// Status.
    pub status: StatusCode,
    /// The JSON body (`Null` when not JSON).
    pub body: Value,
    /// The headers.
    pub headers: axum::http::HeaderMap,
}

impl TestApp {
    /// Another gateway over the same database, as a second instance or a restart
    /// would be. (Only the original cleans up.)
    pub fn another_instance(&self) -> TestApp {
        TestApp {
            router: app(AppState::new(
                self.pool.clone(),
                &settings(),
                None,
                Default::default(),
            )),
            pool: self.pool.clone(),
            tokens: settings().token_verifier(),
            database: self.database.clone(),
        }
    }

    /// Sends `body` as JSON with extra `headers`.
    pub async fn call_with(
        &self,
        method: Method,
        uri: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut request = Request::builder().method(method).uri(uri);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let body = match body {
            Some(json) => {
                request = request.header("content-type", "application/json");
                Body::from(json.to_string())
            }
            None => Body::empty(),
        };
        self.send_as_is(self.with_default_token(request.body(body).unwrap()))
            .await
    }
}

/// Hides `license`, which must succeed.
pub async fn hide(app: &TestApp, account: Uuid, license: &str) {
    let reply = app
        .call_with(
            Method::POST,
            &format!("/v1/accounts/{account}/licenses/{license}/hide"),
            None,
            &[],
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
}
