//! The `idempotency_keys` table: claiming a key, answering from it, releasing it.
//!
//! A key is claimed with a lease. The request that holds the lease executes the
//! command and stores its answer; a retry meanwhile is told to wait. If the holder
//! dies, the lease runs out and the next retry takes over — safely, because the
//! command service finds events already recorded under the key (see
//! [`crate::write::commands`]) instead of deciding again.

use std::collections::BTreeMap;
use std::time::Duration;

use sqlx::PgPool;

/// A key and the account it belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyRef<'a> {
    /// The account the request acts on.
    pub scope: &'a str,
    /// The client's key.
    pub key: &'a str,
}

/// A stored answer.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredAnswer {
    /// HTTP status.
    pub status: u16,
    /// The headers worth replaying (content type, location, ETag).
    pub headers: BTreeMap<String, String>,
    /// The body, byte for byte.
    pub body: Vec<u8>,
}

/// What claiming a key found.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// This request holds the key now and must execute.
    Claimed,
    /// The key was answered before: this is the answer.
    Answered(StoredAnswer),
    /// The key was used with another request.
    OtherRequest,
    /// Another request with this key is still running.
    InProgress {
        /// Until when its lease runs.
        retry_after: Duration,
    },
}

#[derive(sqlx::FromRow)]
struct KeyRow {
    fingerprint: Vec<u8>,
    lease_left_ms: Option<f64>,
    response_status: Option<i16>,
    response_headers: Option<sqlx::types::Json<BTreeMap<String, String>>>,
    response_body: Option<Vec<u8>>,
}

/// Claims `key` for a request with `fingerprint`, or says why not.
pub async fn claim(
    pool: &PgPool,
    key: &KeyRef<'_>,
    fingerprint: &[u8],
    lease: Duration,
) -> sqlx::Result<Claim> {
    // A released key can vanish between the insert and the read: go round again.
    for _ in 0..3 {
        if insert_claim(pool, key, fingerprint, lease).await? {
            return Ok(Claim::Claimed);
        }
        let Some(row) = sqlx::query_as::<_, KeyRow>(
            "SELECT fingerprint,
                    EXTRACT(EPOCH FROM locked_until - now())::float8 * 1000 AS lease_left_ms,
                    response_status, response_headers, response_body
               FROM idempotency_keys WHERE scope = $1 AND idempotency_key = $2",
        )
        .bind(key.scope)
        .bind(key.key)
        .fetch_optional(pool)
        .await?
        else {
            continue;
        };
        if row.fingerprint != fingerprint {
            return Ok(Claim::OtherRequest);
        }
        if let Some(status) = row.response_status {
            return Ok(Claim::Answered(StoredAnswer {
                status: u16::try_from(status).unwrap_or(500),
                headers: row.response_headers.map(|json| json.0).unwrap_or_default(),
                body: row.response_body.unwrap_or_default(),
            }));
        }
        match row.lease_left_ms {
            Some(left) if left > 0.0 => {
                return Ok(Claim::InProgress {
                    retry_after: Duration::from_millis(left.ceil() as u64),
                })
            }
            _ => {
                // The holder died: take the lease over, unless another retry just did.
                let taken = sqlx::query(
                    "UPDATE idempotency_keys
                        SET locked_until = now() + $3 * interval '1 millisecond'
                      WHERE scope = $1 AND idempotency_key = $2
                        AND response_status IS NULL AND locked_until <= now()",
                )
                .bind(key.scope)
                .bind(key.key)
                .bind(lease_ms(lease))
                .execute(pool)
                .await?;
                if taken.rows_affected() == 1 {
                    return Ok(Claim::Claimed);
                }
            }
        }
    }
    Ok(Claim::InProgress {
        retry_after: Duration::from_secs(1),
    })
}

/// Claims `key` when no request has used it: `true` when this request holds it
/// now, `false` when the key is known already ([`claim`] tells why).
pub async fn insert_claim(
    pool: &PgPool,
    key: &KeyRef<'_>,
    fingerprint: &[u8],
    lease: Duration,
) -> sqlx::Result<bool> {
    let inserted = sqlx::query(
        "INSERT INTO idempotency_keys (scope, idempotency_key, fingerprint, locked_until)
         VALUES ($1, $2, $3, now() + $4 * interval '1 millisecond')
         ON CONFLICT DO NOTHING",
    )
    .bind(key.scope)
    .bind(key.key)
    .bind(fingerprint)
    .bind(lease_ms(lease))
    .execute(pool)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

/// A claim to make in [`claim_and_answer_all`].
#[derive(Debug, Clone, Copy)]
pub struct NewClaim<'a> {
    /// The key.
    pub key: KeyRef<'a>,
    /// Its request's fingerprint.
    pub fingerprint: &'a [u8],
}

/// [`insert_claim`] for every one of `claims` and [`answer`] for every one of
/// `answers`, in one statement and so one transaction: all of it is written or
/// none of it. Answers which of `claims` this statement inserted, as
/// `(scope, key)`; the others were known already. `claims` must name each key
/// once.
pub async fn claim_and_answer_all(
    pool: &PgPool,
    claims: &[NewClaim<'_>],
    answers: &[(KeyRef<'_>, &StoredAnswer)],
    lease: Duration,
) -> sqlx::Result<Vec<(String, String)>> {
    // The claims are inserted in key order, so two gateways claiming the same keys
    // at once wait for each other in one order and never deadlock. The answers'
    // rows are each held by one request, so their order does not matter. A
    // data-modifying WITH runs whether or not the statement reads it.
    sqlx::query_as(
        "WITH answered AS (
             UPDATE idempotency_keys AS k
                SET response_status = a.status, response_headers = a.headers::jsonb,
                    response_body = a.body, locked_until = NULL
               FROM unnest($4::text[], $5::text[], $6::int2[], $7::text[], $8::bytea[])
                    AS a(scope, idempotency_key, status, headers, body)
              WHERE k.scope = a.scope AND k.idempotency_key = a.idempotency_key
             RETURNING 1
         )
         INSERT INTO idempotency_keys (scope, idempotency_key, fingerprint, locked_until)
         SELECT scope, idempotency_key, fingerprint, now() + $9 * interval '1 millisecond'
           FROM unnest($1::text[], $2::text[], $3::bytea[])
                AS c(scope, idempotency_key, fingerprint)
          ORDER BY scope, idempotency_key
         ON CONFLICT DO NOTHING
         RETURNING scope, idempotency_key",
    )
    .bind(claims.iter().map(|c| c.key.scope).collect::<Vec<_>>())
    .bind(claims.iter().map(|c| c.key.key).collect::<Vec<_>>())
    .bind(claims.iter().map(|c| c.fingerprint).collect::<Vec<_>>())
    .bind(answers.iter().map(|(key, _)| key.scope).collect::<Vec<_>>())
    .bind(answers.iter().map(|(key, _)| key.key).collect::<Vec<_>>())
    .bind(
        answers
            .iter()
            .map(|(_, answer)| stored_status(answer))
            .collect::<Vec<_>>(),
    )
    .bind(
        answers
            .iter()
            .map(|(_, answer)| serde_json::to_string(&answer.headers).unwrap_or_default())
            .collect::<Vec<_>>(),
    )
    .bind(
        answers
            .iter()
            .map(|(_, answer)| answer.body.as_slice())
            .collect::<Vec<_>>(),
    )
    .bind(lease_ms(lease))
    .fetch_all(pool)
    .await
}

fn lease_ms(lease: Duration) -> i64 {
    i64::try_from(lease.as_millis()).unwrap_or(i64::MAX)
}

fn stored_status(answer: &StoredAnswer) -> i16 {
    i16::try_from(answer.status).unwrap_or(500)
}

/// Stores the answer to a claimed key.
pub async fn answer(pool: &PgPool, key: &KeyRef<'_>, answer: &StoredAnswer) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE idempotency_keys
            SET response_status = $3, response_headers = $4, response_body = $5,
                locked_until = NULL
          WHERE scope = $1 AND idempotency_key = $2",
    )
    .bind(key.scope)
    .bind(key.key)
    .bind(stored_status(answer))
    .bind(sqlx::types::Json(&answer.headers))
    .bind(&answer.body)
    .execute(pool)
    .await?;
    Ok(())
}

/// Gives a claimed key up without an answer (the outcome was transient: a retry
/// should execute again).
pub async fn release(pool: &PgPool, key: &KeyRef<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "DELETE FROM idempotency_keys
          WHERE scope = $1 AND idempotency_key = $2 AND response_status IS NULL",
    )
    .bind(key.scope)
    .bind(key.key)
    .execute(pool)
    .await?;
    Ok(())
}

/// Forgets keys older than `retention`; returns how many.
pub async fn purge(pool: &PgPool, retention: Duration) -> sqlx::Result<u64> {
    let retention_s = i64::try_from(retention.as_secs()).unwrap_or(i64::MAX);
    let purged = sqlx::query(
        "DELETE FROM idempotency_keys
          WHERE created_at < now() - $1 * interval '1 second' AND response_status IS NOT NULL",
    )
    .bind(retention_s)
    .execute(pool)
    .await?;
    Ok(purged.rows_affected())
}
