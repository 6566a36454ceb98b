//! Paging by a text key (order number, host, …): `limit` and an opaque `cursor`
//! holding the last key of the previous page.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use crate::http::error::ApiError;
use crate::http::extract::QueryParams;

/// The cursor continuing after `key`.
pub fn encode(key: &str) -> String {
    URL_SAFE_NO_PAD.encode(key.as_bytes())
}

/// Reads `cursor`, if given.
pub fn after(params: &QueryParams) -> Result<Option<String>, ApiError> {
    params.get("cursor", |raw| {
        URL_SAFE_NO_PAD
            .decode(raw)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .and_then(crate::http::extract::plain_text)
            .ok_or_else(|| "not a cursor from this list's answer".to_owned())
    })
}

/// Reads `limit`: 1 to `max`, default `default`.
pub fn limit(params: &QueryParams, default: u32, max: u32) -> Result<u32, ApiError> {
    Ok(params
        .get("limit", |raw| {
            raw.parse::<u32>()
                .ok()
                .filter(|n| (1..=max).contains(n))
                .ok_or_else(|| format!("a whole number from 1 to {max}"))
        })?
        .unwrap_or(default))
}
