//! The one error type of the HTTP API. Every failure becomes an RFC 9457
//! `application/problem+json` answer: 400 bad input (naming the field), 401 with a
//! `WWW-Authenticate` challenge, 403, 404, 409, 410 (with a successor link), 413,
//! 415, 422 (naming the broken rule, with its facts), 429 and 503 with
//! `Retry-After`, and an opaque 500 whose
//! cause is logged once, here, and never sent to the caller.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use ledger_domain::bulk::Incompatibility;
use ledger_domain::usage::UsageError;
use ledger_domain::{LicenseError, LicenseId};
use serde_json::{json, Value};

use crate::auth::token::TokenError;
use crate::write::commands::CommandError;

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
    /// The command would record an event whose stream message is over the limit.
    #[error("the event this command records would make a {bytes}-byte stream message, over the limit of {limit} bytes; nothing was recorded")]
    EventTooLarge {
        /// The message's size.
        bytes: usize,
        /// The limit in bytes (`event_max_bytes`).
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
    /// A bulk selection that cannot take the action together; nothing was recorded.
    #[error("{} selected license(s) are incompatible with the action or with the first one", incompatible.len())]
    IncompatibleSelection {
        /// The first selected license, which the others are compared with.
        reference: LicenseId,
        /// Every incompatible license and what differs.
        incompatible: Vec<Incompatibility>,
    },
    /// `If-Match` named another version than the license's.
    #[error("the license is at version {current}; If-Match asked for {expected}")]
    PreconditionFailed {
        /// What `If-Match` asked for.
        expected: String,
        /// The license's version.
        current: i64,
    },
    /// The `Idempotency-Key` was used before with another request.
    #[error("this Idempotency-Key was used with another request (method, path or body)")]
    IdempotencyKeyReused,
    /// The first request with this `Idempotency-Key` is still running.
    #[error("a request with this Idempotency-Key is still running; retry after {retry_after_s} s")]
    IdempotencyKeyInUse {
        /// Seconds until its lease runs out at the latest.
        retry_after_s: u64,
    },
    /// The request took longer than the gateway allows; a command may or may not
    /// have been recorded (retry it under the same `Idempotency-Key`).
    #[error("the request took longer than {seconds} s")]
    TimedOut {
        /// The limit.
        seconds: u64,
    },
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
    /// Tokens cannot be issued here: no token signing key with a private part is
    /// configured (setting `auth_signing_keys`).
    #[error("no token signing key is configured (setting `auth_signing_keys`)")]
    TokenSigningUnavailable,
    /// No valid bearer token. The reason never quotes the token.
    #[error("{0}")]
    Unauthenticated(TokenError),
    /// The token's role may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// The token sent more requests than its rate limit allows.
    #[error("this token's rate limit is spent; retry after {retry_after_s} s")]
    RateLimited {
        /// Seconds until a request is let through again.
        retry_after_s: u64,
    },
    /// Anything else. Logged; the caller sees only that it happened.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// Marks an error answer as transient (retrying may succeed), so an idempotent
/// request does not keep it as its answer.
#[derive(Debug, Clone, Copy)]
pub struct Transient;

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
            CommandError::VersionMismatch { expected, current } => {
                Self::PreconditionFailed { expected, current }
            }
            CommandError::TooLarge { bytes, limit } => Self::EventTooLarge { bytes, limit },
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

/// An error as the API states it.
#[derive(Debug, Clone)]
pub struct Problem {
    /// The HTTP status.
    pub status: StatusCode,
    /// The problem+json body.
    pub body: Value,
    /// Seconds for a `Retry-After` header, when retrying later makes sense.
    pub retry_after: Option<u64>,
    /// Whether retrying may succeed (not kept as an idempotent answer).
    pub transient: bool,
    /// Headers the answer carries besides those above: a void license file's
    /// successor `Link`, a 401's `WWW-Authenticate` challenge.
    pub headers: Vec<(header::HeaderName, HeaderValue)>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let problem = self.into_problem();
        let mut response = (problem.status, axum::Json(problem.body)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(seconds) = problem.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if problem.transient {
            response.extensions_mut().insert(Transient);
        }
        for (name, value) in problem.headers {
            response.headers_mut().insert(name, value);
        }
        response
    }
}

impl ApiError {
    /// The status and problem+json body of this error. A 500's cause is logged
    /// here, once, and never put in the body.
    pub fn into_problem(self) -> Problem {
        let detail = self.to_string();
        let transient = matches!(
            self,
            Self::Conflict(_)
                | Self::NotCaughtUp(_)
                | Self::Internal(_)
                | Self::TimedOut { .. }
                | Self::RateLimited { .. }
        );
        let mut retry_after = None;
        let mut headers = Vec::new();
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
            Self::EventTooLarge { .. } => (
                StatusCode::PAYLOAD_TOO_LARGE,
                problem(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "event-too-large",
                    "Event too large for the stream",
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
            Self::IncompatibleSelection {
                reference,
                incompatible,
            } => {
                let mut body = problem(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "incompatible-selection",
                    "Incompatible selection",
                    detail,
                );
                body["field"] = "license_ids".into();
                body["reference_license_id"] = reference.to_string().into();
                body["incompatible"] = serde_json::to_value(incompatible).unwrap_or_default();
                (StatusCode::UNPROCESSABLE_ENTITY, body)
            }
            Self::PreconditionFailed { expected, current } => {
                let mut body = problem(
                    StatusCode::PRECONDITION_FAILED,
                    "version-mismatch",
                    "Precondition failed",
                    detail,
                );
                body["field"] = "header.if-match".into();
                body["facts"] = json!({ "expected": expected, "current": current });
                (StatusCode::PRECONDITION_FAILED, body)
            }
            Self::IdempotencyKeyReused => {
                let mut body = problem(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "idempotency-key-reused",
                    "Idempotency key reused",
                    detail,
                );
                body["field"] = "header.idempotency-key".into();
                (StatusCode::UNPROCESSABLE_ENTITY, body)
            }
            Self::IdempotencyKeyInUse { retry_after_s } => {
                retry_after = Some(retry_after_s);
                let mut body = problem(
                    StatusCode::CONFLICT,
                    "idempotency-key-in-use",
                    "Request in progress",
                    detail,
                );
                body["field"] = "header.idempotency-key".into();
                (StatusCode::CONFLICT, body)
            }
            Self::TimedOut { .. } => (
                StatusCode::REQUEST_TIMEOUT,
                problem(
                    StatusCode::REQUEST_TIMEOUT,
                    "timed-out",
                    "Request timed out",
                    detail,
                ),
            ),
            Self::NotCaughtUp(_) => {
                retry_after = Some(1);
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    problem(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "read-model-lagging",
                        "Read model not caught up",
                        detail,
                    ),
                )
            }
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
                if let Some(link) = successor.and_then(|url| {
                    HeaderValue::try_from(format!("<{url}>; rel=\"successor-version\"")).ok()
                }) {
                    headers.push((header::LINK, link));
                }
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
            Self::TokenSigningUnavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                problem(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "token-signing-unconfigured",
                    "Tokens cannot be issued",
                    detail,
                ),
            ),
            Self::Unauthenticated(reason) => {
                // RFC 6750: no error code when no token came, `invalid_token` otherwise.
                let challenge = if reason == TokenError::Missing {
                    "Bearer realm=\"licensing-ledger\""
                } else {
                    "Bearer realm=\"licensing-ledger\", error=\"invalid_token\""
                };
                headers.push((
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(challenge),
                ));
                let mut body = problem(
                    StatusCode::UNAUTHORIZED,
                    "unauthenticated",
                    "Not authenticated",
                    detail,
                );
                body["field"] = "header.authorization".into();
                (StatusCode::UNAUTHORIZED, body)
            }
            Self::Forbidden(_) => (
                StatusCode::FORBIDDEN,
                problem(StatusCode::FORBIDDEN, "forbidden", "Forbidden", detail),
            ),
            Self::RateLimited { retry_after_s } => {
                retry_after = Some(retry_after_s);
                (
                    StatusCode::TOO_MANY_REQUESTS,
                    problem(
                        StatusCode::TOO_MANY_REQUESTS,
                        "rate-limited",
                        "Too many requests",
                        detail,
                    ),
                )
            }
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
        Problem {
            status,
            body,
            retry_after,
            transient,
            headers,
        }
    }
}
