//! `Idempotency-Key` on commands: the same key with the same request answers what
//! the first request answered, without recording anything again — across retries,
//! gateway restarts and gateway instances, because the answers live in PostgreSQL.
//! The same key with another request is refused (422); while the first request
//! runs, a retry is told to wait (409 with `Retry-After`).
//!
//! A middleware on the command routes claims the key ([`store::claim`]), lets the
//! handler run with an [`IdempotencyKey`] in the request's extensions, and stores
//! the answer. Concurrent requests' claims and answers are written together
//! ([`keeper`]), as their events are. Transient failures (5xx, conflicts that won every retry, a lagging
//! read model) are not stored: a retry executes again. Handlers derive the ids they
//! would otherwise generate (license, allocation) from the key
//! ([`IdempotencyKey::derive_id`], which the write side owns: it needs the ids, not
//! this layer), so a retry after a crash targets the same license and allocation,
//! and the command service returns the events already recorded under the key
//! instead of deciding again.

pub mod keeper;
pub mod store;

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context as _;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::auth::Caller;
use crate::http::app::{AppState, BODY_LIMIT_BYTES};
use crate::http::error::{ApiError, Transient};
use crate::metrics::KeyOutcome;
use crate::write::commands::IdempotencyKey;
use store::{Claim, KeyRef, StoredAnswer};

/// The request header.
pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
/// Set on an answer replayed from the store.
pub const REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");
/// Longest key accepted.
pub const MAX_KEY_LENGTH: usize = 255;
/// How long the first request holds its key before a retry may take over: longer
/// than any request may run.
pub(crate) const LEASE: Duration = Duration::from_secs(60);
/// Largest answer stored (a bulk answer for the largest batch fits well within it).
const ANSWER_LIMIT_BYTES: usize = 4 * 1024 * 1024;
/// The answer headers a replay repeats.
const REPLAYED_HEADERS: [HeaderName; 3] = [header::CONTENT_TYPE, header::LOCATION, header::ETAG];
/// The middleware: see the module docs.
pub async fn middleware(State(state): State<AppState>, request: Request, next: Next) -> Response {
    match run(&state, request, next).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

async fn run(state: &AppState, request: Request, next: Next) -> Result<Response, ApiError> {
    let Some(raw_key) = request.headers().get(&IDEMPOTENCY_KEY) else {
        return Ok(next.run(request).await);
    };
    if request.method() != Method::POST {
        // Queries are idempotent already; only commands keep answers.
        return Ok(next.run(request).await);
    }
    let key = parse_key(raw_key)?;
    // Keys are the caller's account's; the gate has already checked that account is
    // the path's. Admin routes belong to no account and keep no answers.
    let Some(scope) = request
        .extensions()
        .get::<Caller>()
        .and_then(|caller| caller.account)
        .map(|account| account.to_string())
    else {
        return Ok(next.run(request).await);
    };
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, BODY_LIMIT_BYTES)
        .await
        .map_err(|_| ApiError::PayloadTooLarge {
            limit: BODY_LIMIT_BYTES,
        })?;
    let path = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path(), |p| p.as_str());
    let fingerprint = fingerprint(&parts.method, path, &body);
    let key_ref = KeyRef {
        scope: &scope,
        key: &key,
    };
    let claimed = state
        .idempotency
        .try_claim(&key_ref, &fingerprint)
        .await
        .context("claiming the Idempotency-Key")?;
    let claim = if claimed {
        Claim::Claimed
    } else {
        store::claim(&state.pool, &key_ref, &fingerprint, LEASE)
            .await
            .context("claiming the Idempotency-Key")?
    };
    let counted = &state.vitals.metrics.idempotency;
    match claim {
        Claim::Claimed => counted.keyed(KeyOutcome::Executed),
        Claim::Answered(answer) => {
            counted.keyed(KeyOutcome::Replayed);
            return Ok(replay(answer));
        }
        Claim::OtherRequest => {
            counted.keyed(KeyOutcome::Reused);
            return Err(ApiError::IdempotencyKeyReused);
        }
        Claim::InProgress { retry_after } => {
            counted.keyed(KeyOutcome::InProgress);
            return Err(ApiError::IdempotencyKeyInUse {
                retry_after_s: retry_after.as_secs().max(1),
            });
        }
    }
    let mut request = Request::from_parts(parts, Body::from(body));
    request.extensions_mut().insert(IdempotencyKey {
        scope: scope.clone(),
        key: key.clone(),
    });
    let response = next.run(request).await;
    let (parts, body) = response.into_parts();
    let body = match axum::body::to_bytes(body, ANSWER_LIMIT_BYTES).await {
        Ok(body) => body,
        Err(error) => {
            release(state, &key_ref).await;
            return Err(ApiError::Internal(anyhow::anyhow!(
                "reading the answer to keep it: {error}"
            )));
        }
    };
    if parts.status.is_server_error() || parts.extensions.get::<Transient>().is_some() {
        release(state, &key_ref).await;
    } else {
        let answer = StoredAnswer {
            status: parts.status.as_u16(),
            headers: kept_headers(&parts.headers),
            body: body.to_vec(),
        };
        // The command is recorded either way; if the answer cannot be kept, the lease
        // runs out and a retry rebuilds it from the events recorded under the key.
        if let Err(error) = state.idempotency.answer(&key_ref, answer).await {
            tracing::warn!(%error, "storing an idempotent answer failed");
        }
    }
    Ok(Response::from_parts(parts, Body::from(body)))
}

/// Forgets answers older than `retention`, every few minutes, until `shutdown`.
/// Every gateway runs it; the deletes are idempotent.
pub async fn purge_expired(
    pool: sqlx::PgPool,
    retention: Duration,
    shutdown: tokio_util::sync::CancellationToken,
) -> anyhow::Result<()> {
    const EVERY: Duration = Duration::from_secs(300);
    loop {
        match store::purge(&pool, retention).await {
            Ok(0) => {}
            Ok(purged) => tracing::info!(purged, "forgot expired idempotency keys"),
            // A database hiccup only delays the purge.
            Err(error) => tracing::warn!(%error, "purging idempotency keys failed"),
        }
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            () = tokio::time::sleep(EVERY) => {}
        }
    }
}

async fn release(state: &AppState, key: &KeyRef<'_>) {
    if let Err(error) = store::release(&state.pool, key).await {
        // Harmless: the lease runs out and a retry takes the key over.
        tracing::warn!(%error, "releasing an idempotency key failed");
    }
}

fn parse_key(raw: &HeaderValue) -> Result<String, ApiError> {
    raw.to_str()
        .ok()
        .filter(|key| {
            (1..=MAX_KEY_LENGTH).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic())
        })
        .map(str::to_owned)
        .ok_or_else(|| {
            ApiError::bad_request(
                "header.idempotency-key",
                format!("1 to {MAX_KEY_LENGTH} printable ASCII characters"),
            )
        })
}

/// SHA-256 over method, path and body; a JSON body is taken in canonical form
/// (keys sorted, no whitespace), so re-serialising the same request matches.
fn fingerprint(method: &Method, path: &str, body: &Bytes) -> Vec<u8> {
    let canonical = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|value| serde_json::to_vec(&value).ok());
    let mut hash = Sha256::new();
    hash.update(method.as_str().as_bytes());
    hash.update(b"\n");
    hash.update(path.as_bytes());
    hash.update(b"\n");
    hash.update(canonical.as_deref().unwrap_or(body));
    hash.finalize().to_vec()
}

fn kept_headers(headers: &HeaderMap) -> BTreeMap<String, String> {
    REPLAYED_HEADERS
        .iter()
        .filter_map(|name| {
            let value = headers.get(name)?.to_str().ok()?;
            Some((name.as_str().to_owned(), value.to_owned()))
        })
        .collect()
}

fn replay(answer: StoredAnswer) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    let mut response = (status, answer.body).into_response();
    let headers = response.headers_mut();
    for (name, value) in &answer.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::try_from(name.as_str()),
            HeaderValue::try_from(value.as_str()),
        ) {
            headers.insert(name, value);
        }
    }
    headers.insert(REPLAYED, HeaderValue::from_static("true"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_printable_ascii_of_bounded_length() {
        assert!(parse_key(&HeaderValue::from_static("order-42/retry")).is_ok());
        assert!(parse_key(&HeaderValue::from_static("")).is_err());
        assert!(parse_key(&HeaderValue::from_static("has space")).is_err());
        let long = HeaderValue::try_from("k".repeat(MAX_KEY_LENGTH + 1)).unwrap();
        assert!(parse_key(&long).is_err());
    }

    #[test]
    fn the_fingerprint_ignores_json_formatting_but_not_content() {
        let post = Method::POST;
        let a = fingerprint(&post, "/p", &Bytes::from_static(br#"{"a":1,"b":2}"#));
        let b = fingerprint(&post, "/p", &Bytes::from_static(b"{ \"b\": 2, \"a\": 1 }"));
        let c = fingerprint(&post, "/p", &Bytes::from_static(br#"{"a":1,"b":3}"#));
        let d = fingerprint(&post, "/q", &Bytes::from_static(br#"{"a":1,"b":2}"#));
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, d);
    }
}
