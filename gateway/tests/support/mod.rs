//! What the in-process HTTP tests share: the app over a fresh real PostgreSQL
//! database per test (no NATS), driven with `oneshot`, and a few requests.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design
// Each test file uses the part it needs.
#![allow(dead_code)]

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt as _;
use ledger_gateway::app::{app, AppState};
use serde_json::{json, Value};
use tower::ServiceExt as _;
use uuid::Uuid;

/// The app and its database.
pub struct TestApp {
    /// The router under test.
    pub router: Router,
    /// Its database.
    pub pool: sqlx::PgPool,
    database: String,
}

fn settings() -> ledger_gateway::config::Settings {
    ledger_gateway::config::Settings {
        read_wait_timeout_ms: 200,
        // Enough that concurrent commands on one license always get through.
        command_conflict_retries: 100,
        ..Default::default()
    }
}

/// The app over a fresh database.
pub async fn spawn_app() -> TestApp {
    let server = std::env::var("TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let database = format!("ledger_api_{}", Uuid::new_v4().simple());
    let pool = ledger_gateway::db::connect_and_migrate(&format!("{server}/{database}"), 8)
        .await
        .expect("fresh database");
    let state = AppState::new(pool.clone(), &settings(), None);
    TestApp {
        router: app(state),
        pool,
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

    /// Sends a prepared request.
    pub async fn send(&self, request: Request<Body>) -> (StatusCode, Value, String) {
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
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            content_type,
        )
    }

    /// Events in the store.
    pub async fn event_count(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM events")
            .fetch_one(&self.pool)
            .await
            .unwrap()
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
            router: app(AppState::new(self.pool.clone(), &settings(), None)),
            pool: self.pool.clone(),
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
        let response = self
            .router
            .clone()
            .oneshot(request.body(body).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        Reply {
            status,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            headers,
        }
    }
}
