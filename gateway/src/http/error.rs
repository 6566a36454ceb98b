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
    /// A business rule refused the command; nothing was recorded. `field` names
    /// the request member the rule is about, when it is about one (the
    /// over-allocated `quantity`, the `new_host` an allocation is already on).
    #[error("{error}")]
    Rule {
        /// The rule.
        error: LicenseError,
        /// The member at fault, as the command's body names it.
        field: Option<&'static str>,
    },
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
    /// A license server's file was asked for a host whose allocations are of
    /// several binding types: one file has one host id (`HOSTNAME=`, `ID=`, …), so
    /// the caller must choose one with `binding_type`. Asking again unchanged
    /// cannot succeed.
    #[error("license server `{host}` holds allocations of several binding types ({}): a license file has one host id; choose one with binding_type", binding_types.join(", "))]
    SeveralHostIds {
        /// The host, as asked for.
        host: String,
        /// Its allocations' binding types, sorted.
        binding_types: Vec<String>,
    },
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
    /// A refusal by `error`, naming no field.
    pub fn rule(error: LicenseError) -> Self {
        Self::Rule { error, field: None }
    }

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
        Self::from_command(error, Self::rule)
    }
}

impl From<CommandError<UsageError>> for ApiError {
    fn from(error: CommandError<UsageError>) -> Self {
        Self::from_command(error, |error| Self::UsageRule { error, field: None })
    }
}

impl ApiError {
    /// A command's failure; a refusal by a rule is answered as `rule` says (each
    /// kind of command has its own rules and its own way of naming them).
    fn from_command<R: std::error::Error + Send + Sync + 'static>(
        error: CommandError<R>,
        rule: impl FnOnce(R) -> Self,
    ) -> Self {
        match error {
            CommandError::Rule(refused) => rule(refused),
            CommandError::Conflict { .. } => Self::Conflict(error.to_string()),
            CommandError::VersionMismatch { expected, current } => {
                Self::PreconditionFailed { expected, current }
            }
            CommandError::TooLarge { bytes, limit } => Self::EventTooLarge { bytes, limit },
            // The whole error, its source included: the 500's log line shows the chain.
            error @ CommandError::Store { .. } => Self::Internal(error.into()),
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

/// Whether `error` comes from the database being unreachable: no connection
/// (refused, reset, timed out waiting for one) or the server shutting down or in
/// crash recovery (SQLSTATE classes 08 and 57P). Any other store failure is a 500.
fn store_unreachable(error: &anyhow::Error) -> bool {
    error
        .chain()
        .any(|cause| match cause.downcast_ref::<sqlx::Error>() {
            Some(sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed) => true,
            Some(sqlx::Error::Database(database)) => database
                .code()
                .is_some_and(|code| code.starts_with("08") || code.starts_with("57P")),
            _ => false,
        })
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
fn rule_problem(
    status: StatusCode,
    code: &str,
    facts: Option<Value>,
    detail: String,
    field: Option<String>,
) -> Value {
    let mut body = problem(status, code, "Rule broken", detail);
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
    /// The HTTP status of this error: the one place each variant's status is set.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::PayloadTooLarge { .. } | Self::EventTooLarge { .. } => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            Self::NotFound(_)
            | Self::Rule {
                error: LicenseError::LicenseNotFound | LicenseError::AllocationNotFound { .. },
                ..
            } => StatusCode::NOT_FOUND,
            Self::Rule {
                error: LicenseError::AlreadyPurchased,
                ..
            }
            | Self::Conflict(_)
            | Self::SeveralHostIds { .. }
            | Self::IdempotencyKeyInUse { .. } => StatusCode::CONFLICT,
            Self::Rule { .. }
            | Self::UsageRule { .. }
            | Self::IncompatibleSelection { .. }
            | Self::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            Self::PreconditionFailed { .. } => StatusCode::PRECONDITION_FAILED,
            Self::TimedOut { .. } => StatusCode::REQUEST_TIMEOUT,
            Self::NotCaughtUp(_) | Self::SigningUnavailable | Self::TokenSigningUnavailable => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::Gone { .. } => StatusCode::GONE,
            Self::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Internal(cause) if store_unreachable(cause) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The status and problem+json body of this error. A 500's cause is logged
    /// here, once, and never put in the body.
    pub fn into_problem(self) -> Problem {
        let detail = self.to_string();
        let status = self.status();
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
        let body = match self {
            Self::BadRequest { field, .. } => {
                let mut body = problem(status, "bad-request", "Invalid input", detail);
                body["field"] = field.into();
                body
            }
            Self::UnsupportedMediaType => problem(
                status,
                "unsupported-media-type",
                "Unsupported media type",
                detail,
            ),
            Self::MethodNotAllowed => {
                problem(status, "method-not-allowed", "Method not allowed", detail)
            }
            Self::PayloadTooLarge { .. } => {
                problem(status, "payload-too-large", "Payload too large", detail)
            }
            Self::EventTooLarge { .. } => problem(
                status,
                "event-too-large",
                "Event too large for the stream",
                detail,
            ),
            Self::NotFound(_)
            | Self::Rule {
                error: LicenseError::LicenseNotFound,
                ..
            } => problem(status, "not-found", "Not found", detail),
            Self::Rule {
                error: LicenseError::AllocationNotFound { .. },
                ..
            } => problem(status, "allocation-not-found", "Not found", detail),
            Self::Rule {
                error: LicenseError::AlreadyPurchased,
                ..
            } => problem(status, "already-purchased", "Conflict", detail),
            Self::Rule { error, field } => rule_problem(
                status,
                error.code(),
                facts(&error),
                detail,
                field.map(str::to_owned),
            ),
            Self::UsageRule { error, field } => {
                rule_problem(status, error.code(), facts(&error), detail, field)
            }
            Self::Conflict(_) => problem(status, "conflict", "Conflict", detail),
            Self::SeveralHostIds { binding_types, .. } => {
                let mut body = problem(status, "several-host-ids", "Several host ids", detail);
                body["field"] = "query.binding_type".into();
                body["facts"] = json!({ "binding_types": binding_types });
                body
            }
            Self::IncompatibleSelection {
                reference,
                incompatible,
            } => {
                let mut body = problem(
                    status,
                    "incompatible-selection",
                    "Incompatible selection",
                    detail,
                );
                body["field"] = "license_ids".into();
                body["reference_license_id"] = reference.to_string().into();
                body["incompatible"] = serde_json::to_value(incompatible).unwrap_or_default();
                body
            }
            Self::PreconditionFailed { expected, current } => {
                let mut body = problem(status, "version-mismatch", "Precondition failed", detail);
                body["field"] = "header.if-match".into();
                body["facts"] = json!({ "expected": expected, "current": current });
                body
            }
            Self::IdempotencyKeyReused => {
                let mut body = problem(
                    status,
                    "idempotency-key-reused",
                    "Idempotency key reused",
                    detail,
                );
                body["field"] = "header.idempotency-key".into();
                body
            }
            Self::IdempotencyKeyInUse { retry_after_s } => {
                retry_after = Some(retry_after_s);
                let mut body = problem(
                    status,
                    "idempotency-key-in-use",
                    "Request in progress",
                    detail,
                );
                body["field"] = "header.idempotency-key".into();
                body
            }
            Self::TimedOut { .. } => problem(status, "timed-out", "Request timed out", detail),
            Self::NotCaughtUp(_) => {
                retry_after = Some(1);
                problem(
                    status,
                    "read-model-lagging",
                    "Read model not caught up",
                    detail,
                )
            }
            Self::Gone {
                code,
                members,
                successor,
                ..
            } => {
                let mut body = problem(status, code, "Gone", detail);
                if let Value::Object(fields) = &mut body {
                    fields.extend(members);
                }
                if let Some(link) = successor.and_then(|url| {
                    HeaderValue::try_from(format!("<{url}>; rel=\"successor-version\"")).ok()
                }) {
                    headers.push((header::LINK, link));
                }
                body
            }
            Self::SigningUnavailable => problem(
                status,
                "license-signing-unconfigured",
                "License files cannot be signed",
                detail,
            ),
            Self::TokenSigningUnavailable => problem(
                status,
                "token-signing-unconfigured",
                "Tokens cannot be issued",
                detail,
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
                let mut body = problem(status, "unauthenticated", "Not authenticated", detail);
                body["field"] = "header.authorization".into();
                body
            }
            Self::Forbidden(_) => problem(status, "forbidden", "Forbidden", detail),
            Self::RateLimited { retry_after_s } => {
                retry_after = Some(retry_after_s);
                problem(status, "rate-limited", "Too many requests", detail)
            }
            Self::Internal(error) if store_unreachable(&error) => {
                // The database restarting or unreachable: a client's retry is the cure,
                // so it is told when to retry rather than that the ledger failed.
                tracing::warn!(error = format!("{error:#}"), "the database is unreachable");
                retry_after = Some(1);
                problem(
                    status,
                    "store-unavailable",
                    "Store unavailable",
                    "the database cannot be reached right now; retry after Retry-After (a \
                     command sent again with its Idempotency-Key is answered from what was \
                     recorded, never recorded twice)"
                        .into(),
                )
            }
            Self::Internal(error) => {
                tracing::error!(error = format!("{error:#}"), "internal error");
                problem(
                    status,
                    "internal",
                    "Internal error",
                    "the ledger failed; the error was logged".into(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use ledger_domain::{AllocationId, LicenseId};
    use uuid::Uuid;

    /// Every answer's status, problem type, `Retry-After` and transience, pinned so
    /// that deriving the status in one place changes none of them.
    #[test]
    fn every_error_keeps_its_status_type_and_retry() {
        let nil = Uuid::nil();
        let cases: Vec<(ApiError, u16, &str, Option<u64>, bool)> = vec![
            (
                ApiError::bad_request("q", "bad"),
                400,
                "bad-request",
                None,
                false,
            ),
            (
                ApiError::UnsupportedMediaType,
                415,
                "unsupported-media-type",
                None,
                false,
            ),
            (
                ApiError::MethodNotAllowed,
                405,
                "method-not-allowed",
                None,
                false,
            ),
            (
                ApiError::PayloadTooLarge { limit: 1 },
                413,
                "payload-too-large",
                None,
                false,
            ),
            (
                ApiError::EventTooLarge { bytes: 2, limit: 1 },
                413,
                "event-too-large",
                None,
                false,
            ),
            (
                ApiError::NotFound("x".into()),
                404,
                "not-found",
                None,
                false,
            ),
            (
                ApiError::rule(LicenseError::LicenseNotFound),
                404,
                "not-found",
                None,
                false,
            ),
            (
                ApiError::rule(LicenseError::AllocationNotFound {
                    allocation_id: AllocationId(nil),
                }),
                404,
                "allocation-not-found",
                None,
                false,
            ),
            (
                ApiError::rule(LicenseError::AlreadyPurchased),
                409,
                "already-purchased",
                None,
                false,
            ),
            (
                ApiError::rule(LicenseError::AlreadyHidden),
                422,
                "already-hidden",
                None,
                false,
            ),
            (
                ApiError::UsageRule {
                    error: UsageError::NothingReported,
                    field: None,
                },
                422,
                UsageError::NothingReported.code(),
                None,
                false,
            ),
            (ApiError::Conflict("x".into()), 409, "conflict", None, true),
            (
                ApiError::SeveralHostIds {
                    host: "h".into(),
                    binding_types: vec!["host_name".into(), "other_id".into()],
                },
                409,
                "several-host-ids",
                None,
                false,
            ),
            (
                ApiError::IncompatibleSelection {
                    reference: LicenseId(nil),
                    incompatible: Vec::new(),
                },
                422,
                "incompatible-selection",
                None,
                false,
            ),
            (
                ApiError::PreconditionFailed {
                    expected: "\"1\"".into(),
                    current: 2,
                },
                412,
                "version-mismatch",
                None,
                false,
            ),
            (
                ApiError::IdempotencyKeyReused,
                422,
                "idempotency-key-reused",
                None,
                false,
            ),
            (
                ApiError::IdempotencyKeyInUse { retry_after_s: 7 },
                409,
                "idempotency-key-in-use",
                Some(7),
                false,
            ),
            (
                ApiError::TimedOut { seconds: 30 },
                408,
                "timed-out",
                None,
                true,
            ),
            (
                ApiError::NotCaughtUp("x".into()),
                503,
                "read-model-lagging",
                Some(1),
                true,
            ),
            (
                ApiError::Gone {
                    code: "license-file-void",
                    detail: "x".into(),
                    members: serde_json::Map::new(),
                    successor: None,
                },
                410,
                "license-file-void",
                None,
                false,
            ),
            (
                ApiError::SigningUnavailable,
                503,
                "license-signing-unconfigured",
                None,
                false,
            ),
            (
                ApiError::TokenSigningUnavailable,
                503,
                "token-signing-unconfigured",
                None,
                false,
            ),
            (
                ApiError::Unauthenticated(TokenError::Missing),
                401,
                "unauthenticated",
                None,
                false,
            ),
            (
                ApiError::Forbidden("x".into()),
                403,
                "forbidden",
                None,
                false,
            ),
            (
                ApiError::RateLimited { retry_after_s: 3 },
                429,
                "rate-limited",
                Some(3),
                true,
            ),
            (
                ApiError::Internal(anyhow::anyhow!("x")),
                500,
                "internal",
                None,
                true,
            ),
            (
                ApiError::Internal(sqlx::Error::PoolTimedOut.into()),
                503,
                "store-unavailable",
                Some(1),
                true,
            ),
        ];
        for (error, status, code, retry_after, transient) in cases {
            let name = format!("{error:?}");
            let problem = error.into_problem();
            assert_eq!(problem.status.as_u16(), status, "{name}");
            assert_eq!(problem.body["status"], status, "{name}");
            assert_eq!(
                problem.body["type"],
                format!("urn:licensing-ledger:problem:{code}"),
                "{name}"
            );
            assert_eq!(problem.retry_after, retry_after, "{name}");
            assert_eq!(problem.transient, transient, "{name}");
        }
    }

    /// A store failure keeps its cause: the one log line of the 500 names the step
    /// and the store's own error, while the caller still sees only that it failed.
    #[test]
    fn a_store_failure_is_a_500_whose_log_keeps_the_chain() {
        let error: ApiError = CommandError::<LicenseError>::Store {
            step: "appending the events",
            source: Box::new(std::io::Error::other("connection reset by peer")),
        }
        .into();
        let ApiError::Internal(cause) = &error else {
            panic!("not a 500: {error:?}");
        };
        assert_eq!(
            format!("{cause:#}"),
            "event store failure: appending the events: connection reset by peer"
        );
        let problem = error.into_problem();
        assert_eq!(problem.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            problem.body["detail"],
            "the ledger failed; the error was logged"
        );
    }

    /// A command whose connection the database dropped is told to retry (503 with
    /// `Retry-After`), not that the ledger failed: the store restarting is not a
    /// fault of the ledger's, and a retry is the cure.
    #[test]
    fn a_lost_database_connection_is_a_503_to_retry() {
        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        let error: ApiError = CommandError::<LicenseError>::Store {
            step: "appending the events",
            source: Box::new(sqlx::Error::Io(reset)),
        }
        .into();
        let problem = error.into_problem();
        assert_eq!(problem.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            problem.body["type"],
            "urn:licensing-ledger:problem:store-unavailable"
        );
        assert_eq!(problem.retry_after, Some(1));
        assert!(problem.transient);
        // A failure that is not about reaching the database stays a 500.
        let decoding: ApiError = CommandError::<LicenseError>::Store {
            step: "loading",
            source: Box::new(sqlx::Error::RowNotFound),
        }
        .into();
        assert_eq!(decoding.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    /// How a command's failure is answered, for licenses and usage alike.
    #[test]
    fn command_failures_keep_their_answers() {
        let answers = |error: ApiError| {
            let problem = error.into_problem();
            (problem.status.as_u16(), problem.body["type"].clone())
        };
        let cases: Vec<(ApiError, u16, &str)> = vec![
            (
                CommandError::<LicenseError>::Rule(LicenseError::AlreadyHidden).into(),
                422,
                "already-hidden",
            ),
            (
                CommandError::<UsageError>::Rule(UsageError::NothingReported).into(),
                422,
                UsageError::NothingReported.code(),
            ),
            (
                CommandError::<LicenseError>::Conflict { attempts: 3 }.into(),
                409,
                "conflict",
            ),
            (
                CommandError::<UsageError>::VersionMismatch {
                    expected: "\"1\"".into(),
                    current: 2,
                }
                .into(),
                412,
                "version-mismatch",
            ),
            (
                CommandError::<LicenseError>::TooLarge { bytes: 2, limit: 1 }.into(),
                413,
                "event-too-large",
            ),
        ];
        for (error, status, code) in cases {
            let name = format!("{error:?}");
            let (got_status, got_type) = answers(error);
            assert_eq!(got_status, status, "{name}");
            assert_eq!(
                got_type,
                format!("urn:licensing-ledger:problem:{code}"),
                "{name}"
            );
        }
    }
}
