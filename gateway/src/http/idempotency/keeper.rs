//! Group commit for idempotency keys: the claims and answers of concurrent
//! requests written by one statement, so they share one round trip and one flush
//! of the write-ahead log instead of paying two each per command.
//!
//! Requests hand their claim (before the command) and their answer (after it) to
//! a single writer task and wait for it, as commands' events wait for the
//! [`crate::write::appender`]. The writer takes whatever has queued while its
//! previous statement ran (up to [`MAX_GROUP`]) and writes all of it with
//! [`store::claim_and_answer_all`]. A claim only inserts: a key that is known
//! already is left to [`store::claim`], which finds out why (answered, in
//! progress, another request) one key at a time, as it is rare.
//!
//! One request's failure must not fail the others: if the group's statement
//! fails, each of its claims and answers is written again on its own and gets
//! its own outcome.

use std::collections::HashSet;
use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::{mpsc, oneshot};

use super::store::{self, KeyRef, NewClaim, StoredAnswer};

/// Most claims and answers written together.
pub const MAX_GROUP: usize = 256;
/// Jobs waiting for the writer before new ones wait to hand over.
const QUEUE: usize = 4 * MAX_GROUP;

/// A key and its account, owned while it waits for the writer.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct OwnedKey {
    scope: String,
    key: String,
}

impl OwnedKey {
    fn of(key: &KeyRef<'_>) -> Self {
        Self {
            scope: key.scope.to_owned(),
            key: key.key.to_owned(),
        }
    }

    fn borrowed(&self) -> KeyRef<'_> {
        KeyRef {
            scope: &self.scope,
            key: &self.key,
        }
    }
}

struct ClaimJob {
    key: OwnedKey,
    fingerprint: Vec<u8>,
    claimed: oneshot::Sender<sqlx::Result<bool>>,
}

struct AnswerJob {
    key: OwnedKey,
    answer: StoredAnswer,
    stored: oneshot::Sender<sqlx::Result<()>>,
}

enum Job {
    Claim(ClaimJob),
    Answer(AnswerJob),
}

/// Why the keeper could not write.
#[derive(Debug, thiserror::Error)]
pub enum KeepError {
    /// The database refused or failed.
    #[error(transparent)]
    Store(#[from] sqlx::Error),
    /// The writer task is gone.
    #[error("the idempotency keys' writer has stopped")]
    Stopped,
}

/// Hands claims and answers to the writer task; cheap to clone. The writer stops
/// when the last handle is dropped.
#[derive(Clone)]
pub struct Keeper {
    jobs: mpsc::Sender<Job>,
}

impl Keeper {
    /// Starts the writer on `pool`; claims hold their key for `lease`.
    pub fn start(pool: PgPool, lease: Duration) -> Self {
        let (jobs, queue) = mpsc::channel(QUEUE);
        tokio::spawn(write_groups(pool, queue, lease));
        Self { jobs }
    }

    /// Claims `key` for a request with `fingerprint` if no request has used it:
    /// `true` when this request holds it now, `false` when it is known already.
    pub async fn try_claim(&self, key: &KeyRef<'_>, fingerprint: &[u8]) -> Result<bool, KeepError> {
        let (claimed, answer) = oneshot::channel();
        let job = ClaimJob {
            key: OwnedKey::of(key),
            fingerprint: fingerprint.to_vec(),
            claimed,
        };
        self.hand_over(Job::Claim(job), answer).await
    }

    /// Stores the answer to a key this request claimed.
    pub async fn answer(&self, key: &KeyRef<'_>, answer: StoredAnswer) -> Result<(), KeepError> {
        let (stored, outcome) = oneshot::channel();
        let job = AnswerJob {
            key: OwnedKey::of(key),
            answer,
            stored,
        };
        self.hand_over(Job::Answer(job), outcome).await
    }

    async fn hand_over<T>(
        &self,
        job: Job,
        outcome: oneshot::Receiver<sqlx::Result<T>>,
    ) -> Result<T, KeepError> {
        self.jobs.send(job).await.map_err(|_| KeepError::Stopped)?;
        Ok(outcome.await.map_err(|_| KeepError::Stopped)??)
    }
}

async fn write_groups(pool: PgPool, mut queue: mpsc::Receiver<Job>, lease: Duration) {
    let mut group = Vec::with_capacity(MAX_GROUP);
    while queue.recv_many(&mut group, MAX_GROUP).await > 0 {
        write_group(&pool, std::mem::take(&mut group), lease).await;
    }
}

async fn write_group(pool: &PgPool, jobs: Vec<Job>, lease: Duration) {
    let mut claims = Vec::new();
    let mut answers = Vec::new();
    let mut keys = HashSet::new();
    for job in jobs {
        match job {
            // A key claimed twice in one group: the first claim is tried, the
            // repeat is told the key is known and finds out why on its own.
            Job::Claim(claim) if !keys.insert(claim.key.clone()) => {
                let _ = claim.claimed.send(Ok(false));
            }
            Job::Claim(claim) => claims.push(claim),
            Job::Answer(answer) => answers.push(answer),
        }
    }
    let outcome = {
        let new_claims: Vec<NewClaim<'_>> = claims
            .iter()
            .map(|claim| NewClaim {
                key: claim.key.borrowed(),
                fingerprint: &claim.fingerprint,
            })
            .collect();
        let stored: Vec<(KeyRef<'_>, &StoredAnswer)> = answers
            .iter()
            .map(|answer| (answer.key.borrowed(), &answer.answer))
            .collect();
        store::claim_and_answer_all(pool, &new_claims, &stored, lease).await
    };
    match outcome {
        Ok(inserted) => {
            let inserted: HashSet<OwnedKey> = inserted
                .into_iter()
                .map(|(scope, key)| OwnedKey { scope, key })
                .collect();
            for claim in claims {
                let _ = claim.claimed.send(Ok(inserted.contains(&claim.key)));
            }
            for answer in answers {
                let _ = answer.stored.send(Ok(()));
            }
        }
        Err(error) => {
            tracing::debug!(%error, claims = claims.len(), answers = answers.len(),
                "writing idempotency keys together failed; writing them one at a time");
            for claim in claims {
                let outcome =
                    store::insert_claim(pool, &claim.key.borrowed(), &claim.fingerprint, lease)
                        .await;
                let _ = claim.claimed.send(outcome);
            }
            for answer in answers {
                let outcome = store::answer(pool, &answer.key.borrowed(), &answer.answer).await;
                let _ = answer.stored.send(outcome);
            }
        }
    }
}
