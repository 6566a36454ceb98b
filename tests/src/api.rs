//! A client of one account's HTTP API, and the license purchases most tests start
//! from.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use ledger_gateway::auth::{Role, Verifier};
use serde_json::Value;
use uuid::Uuid;

use crate::*;

/// A client for one account's part of the API, with a portal token of it.
#[derive(Clone)]
pub struct Api {
    client: reqwest::Client,
    base: String,
    tokens: Arc<Verifier>,
    token: String,
    /// The account every call acts for.
    pub account: Uuid,
}

/// An HTTP answer: status and JSON body (`Null` when the body is not JSON).
#[derive(Debug, Clone)]
pub struct Answer {
    /// Status code.
    pub status: u16,
    /// Body.
    pub body: Value,
}

impl Api {
    /// A client for a fresh account.
    pub fn new(ledger: &Ledger) -> Self {
        let account = Uuid::now_v7();
        Self {
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("building the HTTP client"),
            base: ledger.base_url.clone(),
            token: mint(&ledger.tokens, Role::Portal, Some(account), None),
            tokens: ledger.tokens.clone(),
            account,
        }
    }

    /// The same client acting for `account` (with a portal token of it).
    pub fn for_account(self, account: Uuid) -> Self {
        Self {
            token: mint(&self.tokens, Role::Portal, Some(account), None),
            account,
            ..self
        }
    }

    /// The same account with a token of `role` (a license server's for `host`).
    pub fn as_role(&self, role: Role, host: Option<&str>) -> Self {
        Self {
            token: mint(&self.tokens, role, Some(self.account), host),
            ..self.clone()
        }
    }

    /// The same client acting for `account` with `token` (e.g. one `ledger admin
    /// issue-token` printed).
    pub fn with_token(&self, account: Uuid, token: &str) -> Self {
        Self {
            account,
            token: token.to_owned(),
            ..self.clone()
        }
    }

    /// GET `path` as text (CSV, NDJSON): status and body.
    pub async fn text(&self, path: &str) -> anyhow::Result<(u16, String)> {
        let response = self.request(reqwest::Method::GET, path).send().await?;
        Ok((response.status().as_u16(), response.text().await?))
    }

    /// The bearer token it sends.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The same account, talking to another (e.g. restarted) process.
    pub fn at(&self, ledger: &Ledger) -> Self {
        Self {
            base: ledger.base_url.clone(),
            ..self.clone()
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/v1/accounts/{}{path}", self.base, self.account)
    }

    /// POST a JSON body to `path` (relative to the account).
    pub async fn post(&self, path: &str, body: Value) -> anyhow::Result<Answer> {
        let response = self
            .request(reqwest::Method::POST, path)
            .json(&body)
            .send()
            .await?;
        answer(response).await
    }

    /// POST with no body.
    pub async fn post_empty(&self, path: &str) -> anyhow::Result<Answer> {
        let response = self.request(reqwest::Method::POST, path).send().await?;
        answer(response).await
    }

    /// GET `path` (relative to the account).
    pub async fn get(&self, path: &str) -> anyhow::Result<Answer> {
        let response = self.request(reqwest::Method::GET, path).send().await?;
        answer(response).await
    }

    /// A request builder for the account-relative `path`, with the token.
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, self.url(path))
            .bearer_auth(&self.token)
    }
}

/// Reads status and JSON body.
pub async fn answer(response: reqwest::Response) -> anyhow::Result<Answer> {
    let status = response.status().as_u16();
    let bytes = response.bytes().await?;
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Ok(Answer { status, body })
}

/// A valid purchase body: 1,000 user/device seats of XDT Enterprise.
pub fn purchase_body(expires_on: Option<chrono::NaiveDate>) -> Value {
    serde_json::json!({
        "product": "XDT",
        "edition": "ENT",
        "version": "7.15",
        "license_model": "user_device",
        "binding_type": "host_name",
        "quantity": 1000,
        "expires_on": expires_on,
        "maintenance_until": (chrono::Utc::now().date_naive() + chrono::Days::new(365)),
        "order_number": "ORD-0001234",
        "access_code": "LA-0001234567-12345",
    })
}

/// A purchase made now is read back through the read model (`min_position`):
/// the relay and the projector both still move.
pub async fn read_side_moves(api: &Api) {
    let bought = api
        .post("/licenses", purchase_body(None))
        .await
        .expect("purchasing");
    assert_eq!(bought.status, 201, "{}", bought.body);
    let id = bought.body["license_id"].as_str().expect("a license id");
    let position = &bought.body["position"];
    let read = api
        .get(&format!("/licenses/{id}?min_position={position}"))
        .await
        .expect("reading it back");
    assert_eq!(read.status, 200, "{}", read.body);
}

/// A [`purchase_body`] license of `api`'s account, purchased and activated: two
/// events. Returns its id.
pub async fn activated_license(api: &Api) -> String {
    let purchased = api
        .post("/licenses", purchase_body(None))
        .await
        .expect("purchasing");
    assert_eq!(purchased.status, 201, "{}", purchased.body);
    let id = purchased.body["license_id"]
        .as_str()
        .expect("a license id")
        .to_owned();
    let code = serde_json::json!({"access_code": "LA-0001234567-12345"});
    let activated = api
        .post(&format!("/licenses/{id}/activate"), code)
        .await
        .expect("activating");
    assert_eq!(activated.status, 200, "{}", activated.body);
    id
}

/// Noon (UTC) on `date`: a purchase placed there is half a day from either midnight.
pub fn noon(date: chrono::NaiveDate) -> chrono::DateTime<chrono::Utc> {
    date.and_time(chrono::NaiveTime::from_hms_opt(12, 0, 0).expect("noon is a time"))
        .and_utc()
}

/// Purchases a [`purchase_body`] license with its own order number, purchase
/// instant and expiry; returns its id.
pub async fn buy(
    api: &Api,
    order: &str,
    purchased_at: chrono::DateTime<chrono::Utc>,
    expires_on: Option<chrono::NaiveDate>,
) -> String {
    let mut body = purchase_body(expires_on);
    body["order_number"] = serde_json::json!(order);
    body["purchased_at"] = serde_json::json!(purchased_at);
    let answer = api.post("/licenses", body).await.expect("purchasing");
    assert_eq!(answer.status, 201, "{order}: {}", answer.body);
    answer.body["license_id"]
        .as_str()
        .expect("a license id")
        .to_owned()
}

/// One license on each side of every boundary of the portal's time rules, as of
/// `today` (a past day, so that `as_of` alone decides): purchased 30 (`NEW-30`)
/// and 31 (`OLD-31`) days before; expiring in 0, 30, 31, 90 and 91 days
/// (`EXP-<days>`); expired yesterday (`EXPIRED-1`). Keys are the order numbers,
/// values the license ids.
pub async fn buy_boundary_licenses(
    api: &Api,
    today: chrono::NaiveDate,
) -> BTreeMap<&'static str, String> {
    let days_ago = |n: u64| noon(today - chrono::Days::new(n));
    let mut ids = BTreeMap::new();
    ids.insert("NEW-30", buy(api, "NEW-30", days_ago(30), None).await);
    ids.insert("OLD-31", buy(api, "OLD-31", days_ago(31), None).await);
    for (order, days_left) in [
        ("EXP-0", 0),
        ("EXP-30", 30),
        ("EXP-31", 31),
        ("EXP-90", 90),
        ("EXP-91", 91),
    ] {
        let expires_on = today + chrono::Days::new(days_left);
        let id = buy(api, order, days_ago(200 + days_left), Some(expires_on)).await;
        ids.insert(order, id);
    }
    let yesterday = today - chrono::Days::new(1);
    let expired = buy(api, "EXPIRED-1", days_ago(300), Some(yesterday)).await;
    ids.insert("EXPIRED-1", expired);
    ids
}
