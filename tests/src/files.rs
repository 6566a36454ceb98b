//! License files as a test reads them: raw answers (status, headers and text, for
//! ETags and 304s), the published keys, and `ledger verify license-file` run on a
//! downloaded text.

use reqwest::header::{HeaderMap, HeaderName};
use serde_json::Value;

use crate::*;

/// A raw answer: status, headers and body text.
pub struct Raw {
    /// Status code.
    pub status: u16,
    /// Headers.
    pub headers: HeaderMap,
    /// Body.
    pub text: String,
}

impl Raw {
    /// The body as JSON (`Null` when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }

    /// Header `name`, if sent.
    pub fn header(&self, name: HeaderName) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    }
}

/// Sends `request` and reads its answer whole.
pub async fn get_raw(request: reqwest::RequestBuilder) -> Raw {
    let response = request.send().await.unwrap();
    Raw {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        text: response.text().await.unwrap(),
    }
}

/// GET the account-relative `path` of `api`.
pub async fn download(api: &Api, path: &str) -> Raw {
    get_raw(api.request(reqwest::Method::GET, path)).await
}

/// `GET /v1/license-file-keys`, as JSON.
pub async fn published_keys(ledger: &Ledger) -> Value {
    let keys =
        get_raw(reqwest::Client::new().get(format!("{}/v1/license-file-keys", ledger.base_url)))
            .await;
    assert_eq!(keys.status, 200, "{}", keys.text);
    keys.json()
}

/// Runs `ledger verify license-file` (binary `bin`) on `text`, with `keys` (the
/// published JSON) as `--keys` when given, else the configured keys of `env`.
pub async fn verify_license_file(
    bin: &str,
    env: &TestEnv,
    text: &str,
    keys: Option<&Value>,
) -> std::process::Output {
    let dir = std::env::temp_dir();
    let name = uuid::Uuid::new_v4().simple().to_string();
    let file = dir.join(format!("{name}.lic"));
    std::fs::write(&file, text).unwrap();
    let mut args = vec![
        "verify".to_owned(),
        "license-file".to_owned(),
        file.display().to_string(),
    ];
    if let Some(keys) = keys {
        let keys_file = dir.join(format!("{name}-keys.json"));
        std::fs::write(&keys_file, keys.to_string()).unwrap();
        args.extend(["--keys".to_owned(), keys_file.display().to_string()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run_ledger(bin, env, &args).await
}
