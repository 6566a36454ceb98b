//! The one error type of the HTTP API. Every failure becomes an RFC 9457
//! `application/problem+json` answer: 400 bad input (naming the field), 404, 409,
//! 410 (with a successor link), 415, 422 (naming the broken rule, with its facts),
//! 503, and an opaque 500 whose
//! cause is logged once, here, and never sent to the caller.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use ledger_domain::usage::UsageError;
use ledger_domain::LicenseError;
use serde_json::{json, Value};

use crate::commands::CommandError;

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Input that does not parse or is out of range; `field` names where.
    #[error("{field}: {detail}")]
    BadRequest {
        /// Path of the offending field (`quantity`, `query.as_of`, …).
        field: String,
        /// What is wrong with it.
        detail: String,
    },
    /// The body is not JSON.
    #[error("expected an application/json body")]
    UnsupportedMediaType,
    /// The body is larger than the limit.
    #[error("the body is larger than {limit} bytes")]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The route exists, not with this method.
    #[error("this method is not allowed here")]
    MethodNotAllowed,
    /// No such resource in this account.
    #[error("{0}")]
    NotFound(String),
    /// A business rule refused the command; nothing was recorded.
    #[error(transparent)]
    Rule(LicenseError),
    /// A usage report broke a rule; `field` names the report in a batch.
    #[error("{error}")]
    UsageRule {
        /// The rule.
        error: UsageError,
        /// `reports[i]` in a batch.
        field: Option<String>,
    },
    /// Concurrent changes won every retry; nothing was recorded.
    #[error("{0}")]
    Conflict(String),
    /// The read model has not caught up with the requested position yet.
    #[error("{0}")]
    NotCaughtUp(String),
    /// The resource existed and is void now (e.g. a license file replaced by a newer
    /// one); the caller should follow `successor` when there is one.
    #[error("{detail}")]
    Gone {
        /// The problem type, e.g. `license-file-void`.
        code: &'static str,
        /// What happened to it.
        detail: String,
        /// Extra problem members, e.g. `replaced_by`.
        members: serde_json::Map<String, Value>,
        /// Its replacement, sent as `Link: <…>; rel="successor-version"`.
        successor: Option<String>,
    },
    /// License files cannot be signed here: no signing key is configured. Retrying
    /// does not help until an operator configures `license_signing_keys`.
    #[error("no license-file signing key is configured (setting `license_signing_keys`)")]
    SigningUnavailable,
    /// Anything else. Logged; the caller sees only that it happened.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    /// A 400 for `field`.
    pub fn bad_request(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::BadRequest {
            field: field.into(),
            detail: detail.into(),
        }
    }
}

impl From<CommandError<LicenseError>> for ApiError {
    fn from(error: CommandError<LicenseError>) -> Self {
        match error {
            CommandError::Rule(rule) => Self::Rule(rule),
            other => Self::from_failure(other),
        }
    }
}

impl From<CommandError<UsageError>> for ApiError {
    fn from(error: CommandError<UsageError>) -> Self {
        match error {
            CommandError::Rule(error) => Self::UsageRule { error, field: None },
            other => Self::from_failure(other),
        }
    }
}

impl ApiError {
    /// A conflict or a store failure (not a rule).
    fn from_failure<R: std::error::Error>(error: CommandError<R>) -> Self {
        match error {
            CommandError::Conflict { .. } => Self::Conflict(error.to_string()),
            CommandError::Store(detail) => Self::Internal(anyhow::anyhow!(detail)),
            CommandError::Rule(rule) => Self::Internal(anyhow::anyhow!(rule.to_string())),
        }
    }
}

/// The rule's facts: the fields of its variant, when it has any.
fn facts<T: serde::Serialize>(rule: &T) -> Option<Value> {
    match serde_json::to_value(rule) {
        Ok(Value::Object(tagged)) => tagged
            .into_iter()
            .next()
            .map(|(_, facts)| facts)
            .filter(Value::is_object),
        _ => None,
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        Self::Internal(error.into())
    }
}

fn problem(status: StatusCode, code: &str, title: &str, detail: String) -> Value {
    json!({
        "type": format!("urn:licensing-ledger:problem:{code}"),
        "title": title,
        "status": status.as_u16(),
        "detail": detail,
    })
}

/// A 422 naming the rule, with its facts and, in a batch, the item at fault.
fn rule_problem(code: &str, facts: Option<Value>, detail: String, field: Option<String>) -> Value {
    let mut body = problem(
        StatusCode::UNPROCESSABLE_ENTITY,
        code,
        "Rule broken",
        detail,
    );
    body["rule"] = code.into();
    if let Some(facts) = facts {
        body["facts"] = facts;
    }
    if let Some(field) = field {
        body["field"] = field.into();
    }
    body
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let detail = self.to_string();
        let retry_soon = matches!(self, Self::NotCaughtUp(_));
        let mut link = None;
        let (status, body) = match self {
            Self::BadRequest { field, .. } => {
                let mut body = problem(
                    StatusCode::BAD_REQUEST,
                    "bad-request",
                    "Invalid input",
                    detail,
                );
                body["field"] = field.into();
                (StatusCode::BAD_REQUEST, body)
            }
            Self::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                problem(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported-media-type",
                    "Unsupported media type",
                    detail,
                ),
            ),
            Self::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                problem(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "method-not-allowed",
                    "Method not allowed",
                    detail,
                ),
            ),
            Self::PayloadTooLarge { .. } => (
                StatusCode::PAYLOAD_TOO_LARGE,
                problem(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload-too-large",
                    "Payload too large",
                    detail,
                ),
            ),
            Self::NotFound(_) | Self::Rule(LicenseError::LicenseNotFound) => (
                StatusCode::NOT_FOUND,
                problem(StatusCode::NOT_FOUND, "not-found", "Not found", detail),
            ),
            Self::Rule(LicenseError::AllocationNotFound { .. }) => (
                StatusCode::NOT_FOUND,
                problem(
                    StatusCode::NOT_FOUND,
                    "allocation-not-found",
                    "Not found",
                    detail,
                ),
            ),
            Self::Rule(LicenseError::AlreadyPurchased) => (
                StatusCode::CONFLICT,
                problem(
                    StatusCode::CONFLICT,
                    "already-purchased",
                    "Conflict",
                    detail,
                ),
            ),
            Self::Rule(rule) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                rule_problem(rule.code(), facts(&rule), detail, None),
            ),
            Self::UsageRule { error, field } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                rule_problem(error.code(), facts(&error), detail, field),
            ),
            Self::Conflict(_) => (
                StatusCode::CONFLICT,
                problem(StatusCode::CONFLICT, "conflict", "Conflict", detail),
            ),
            Self::NotCaughtUp(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                problem(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "read-model-lagging",
                    "Read model not caught up",
                    detail,
                ),
            ),
            Self::Gone {
                code,
                members,
                successor,
                ..
            } => {
                let mut body = problem(StatusCode::GONE, code, "Gone", detail);
                if let Value::Object(fields) = &mut body {
                    fields.extend(members);
                }
                link = successor.and_then(|url| {
                    HeaderValue::try_from(format!("<{url}>; rel=\"successor-version\"")).ok()
                });
                (StatusCode::GONE, body)
            }
            Self::SigningUnavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                problem(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "license-signing-unconfigured",
                    "License files cannot be signed",
                    detail,
                ),
            ),
            Self::Internal(error) => {
                tracing::error!(error = format!("{error:#}"), "internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    problem(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "internal",
                        "Internal error",
                        "the ledger failed; the error was logged".into(),
                    ),
                )
            }
        };
        let mut response = (status, axum::Json(body)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if retry_soon {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if let Some(link) = link {
            response.headers_mut().insert(header::LINK, link);
        }
        response
    }
}
