//! Request extractors that answer bad input with our problem+json shape, naming
//! the field at fault, instead of axum's plain-text rejections.

use std::collections::HashMap;
use std::str::FromStr;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use serde::de::DeserializeOwned;

use crate::http::error::ApiError;
use crate::http::json_body::WholeNumbers;
use crate::write::commands::ExpectedVersion;

/// A JSON body, deserialized with the path of any bad field reported.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        if !is_json(request.headers()) {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::PayloadTooLarge {
                        limit: crate::http::app::BODY_LIMIT_BYTES,
                    }
                } else {
                    ApiError::bad_request("body", rejection.body_text())
                }
            })?;
        let mut deserializer = serde_json::Deserializer::from_slice(&bytes);
        let WholeNumbers(json) = serde_path_to_error::deserialize(&mut deserializer)
            .map_err(|error| bad_json(error.path().to_string(), error.into_inner()))?;
        deserializer
            .end()
            .map_err(|error| ApiError::bad_request("body", error.to_string()))?;
        let value = serde_path_to_error::deserialize(json)
            .map_err(|error| bad_json(error.path().to_string(), error.into_inner()))?;
        Ok(Self(value))
    }
}

/// A body that is not JSON, or not the JSON asked for, at `path`.
fn bad_json(path: String, error: serde_json::Error) -> ApiError {
    // A syntax error is the body's fault, wherever the parser happened to be.
    let field = if path == "." || error.is_syntax() || error.is_eof() {
        "body".to_owned()
    } else {
        path
    };
    ApiError::bad_request(field, error.to_string())
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .map(|mime| {
            let mime = mime.trim();
            mime.eq_ignore_ascii_case("application/json")
                || (mime.starts_with("application/") && mime.ends_with("+json"))
        })
        .unwrap_or(false)
}

/// Query-string parameters, each checked by name; an unknown one is refused.
#[derive(Debug, Default)]
pub struct QueryParams(HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let raw = parts.uri.query().unwrap_or("");
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw)
            .map_err(|error| ApiError::bad_request("query", error.to_string()))?;
        let mut params = HashMap::new();
        for (name, value) in pairs {
            // Nothing a query string carries needs control characters, and PostgreSQL
            // refuses NUL outright.
            if value.chars().any(char::is_control) {
                return Err(ApiError::bad_request(
                    format!("query.{name}"),
                    "control characters are not allowed",
                ));
            }
            if params.insert(name.clone(), value).is_some() {
                return Err(ApiError::bad_request(
                    format!("query.{name}"),
                    "given more than once",
                ));
            }
        }
        Ok(Self(params))
    }
}

impl QueryParams {
    /// Refuses any parameter not in `known`.
    pub fn only(&self, known: &[&str]) -> Result<(), ApiError> {
        match self.0.keys().find(|name| !known.contains(&name.as_str())) {
            Some(name) if known.is_empty() => Err(ApiError::bad_request(
                format!("query.{name}"),
                "unknown parameter; this endpoint takes no query parameters",
            )),
            Some(name) => Err(ApiError::bad_request(
                format!("query.{name}"),
                format!("unknown parameter; expected one of: {}", known.join(", ")),
            )),
            None => Ok(()),
        }
    }

    /// Parses parameter `name` with `parse`, if present.
    pub fn get<T>(
        &self,
        name: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<Option<T>, ApiError> {
        self.0
            .get(name)
            .map(|raw| {
                parse(raw).map_err(|detail| ApiError::bad_request(format!("query.{name}"), detail))
            })
            .transpose()
    }

    /// Parses parameter `name` with `parse`; refused when absent.
    pub fn require<T>(
        &self,
        name: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<T, ApiError> {
        self.get(name, parse)?
            .ok_or_else(|| ApiError::bad_request(format!("query.{name}"), "required"))
    }
}

/// Parses a path segment, naming it on failure.
pub fn path_param<T: FromStr>(name: &str, raw: &str) -> Result<T, ApiError>
where
    T::Err: std::fmt::Display,
{
    raw.parse()
        .map_err(|error: T::Err| ApiError::bad_request(format!("path.{name}"), error.to_string()))
}

/// Parses a `YYYY-MM-DD` date within the years the ledger stores (1970 to 9999).
pub fn date(raw: &str) -> Result<chrono::NaiveDate, String> {
    let date = chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .map_err(|_| "a YYYY-MM-DD date".to_owned())?;
    let earliest = ledger_domain::decide::EARLIEST_DATE;
    let latest = ledger_domain::decide::LATEST_DATE;
    if (earliest..=latest).contains(&date) {
        Ok(date)
    } else {
        Err(format!("a date from {earliest} to {latest}"))
    }
}

/// Refuses text with control characters (NUL above all) coming from a decoded
/// cursor or a path segment.
pub fn plain_text(raw: String) -> Option<String> {
    (!raw.chars().any(char::is_control)).then_some(raw)
}

/// The `If-Match` header of a command: `"N"` (the license's version, as its ETag
/// shows it) or `*` (the license exists). Absent, the command runs on any version.
pub struct IfMatch(pub Option<ExpectedVersion>);

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let Some(raw) = parts.headers.get(header::IF_MATCH) else {
            return Ok(Self(None));
        };
        let value = raw.to_str().unwrap_or("").trim();
        if value == "*" {
            return Ok(Self(Some(ExpectedVersion::Exists)));
        }
        value
            .strip_prefix('"')
            .and_then(|rest| rest.strip_suffix('"'))
            .and_then(|version| version.parse::<i64>().ok())
            .filter(|version| *version >= 0)
            .map(|version| Self(Some(ExpectedVersion::Exactly(version))))
            .ok_or_else(|| {
                ApiError::bad_request(
                    "header.if-match",
                    "a license version as a quoted number (its ETag, e.g. \"3\") or *",
                )
            })
    }
}

/// The strong ETag of a license version.
pub fn version_etag(version: i64) -> header::HeaderValue {
    // Digits and quotes are always a valid header value.
    header::HeaderValue::try_from(format!("\"{version}\""))
        .unwrap_or_else(|_| header::HeaderValue::from_static("\"0\""))
}

/// Whether `If-None-Match` names `etag` (or `*`): the client's copy is current,
/// so the answer is a 304. The comparison is the weak one (RFC 9110, 13.1.2):
/// `W/"x"` and `"x"` match.
pub fn if_none_match_hits(headers: &HeaderMap, etag: &str) -> bool {
    let opaque = |tag: &str| tag.trim().trim_start_matches("W/").to_owned();
    let wanted = opaque(etag);
    headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| {
            tags.split(',')
                .any(|tag| tag.trim() == "*" || opaque(tag) == wanted)
        })
}
