//! What the projector says of each batch it applies, on a plain NATS subject of
//! its own (not the stream): which accounts' pages moved, to which version, and
//! which stretch of the stream the batch covered. Gateways keep pages in memory
//! and drop an account's as soon as they hear it moved (`gateway::http::read_cache`).
//!
//! Core NATS delivers at most once, so a notice can be lost (a reconnect, a
//! projector killed between its commit and its notice). Each notice names the
//! stream sequence its batch started after (`after`) and reached (`reached`);
//! batches of one projection are applied one after another under the checkpoint's
//! lock, so each starts where the last one ended, and a listener that sees a
//! notice start anywhere else knows it missed one.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Most accounts one notice names. A batch that moved more says `everything`
/// instead: a notice must stay far below the broker's `max_payload` (1 MiB by
/// default) whatever the batch size, and at about 70 bytes an account this is
/// 300 KiB at most.
pub const MOST_ACCOUNTS_NAMED: usize = 4_096;

/// Largest notice a listener reads; anything larger is not one of ours.
pub const NOTICE_MAX_BYTES: usize = 512 * 1024;

/// The subject the projection `projection` announces its batches on, beside the
/// stream's `<prefix>.>` and outside it (a stream capturing its own notices would
/// grow with every batch).
pub fn notice_subject(subject_prefix: &str, projection: &str) -> String {
    format!("{subject_prefix}-applied.{projection}")
}

/// One batch of the projection, applied (or about to commit: see the projector).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppliedNotice {
    /// The stream sequence the batch started after (the checkpoint it found).
    pub after: u64,
    /// The stream sequence it reached.
    pub reached: u64,
    /// Each account whose license rows it changed, with the account's newest
    /// license event applied, `[account, transaction_id, global_position]`.
    pub accounts: Vec<(Uuid, i64, i64)>,
    /// The batch changed more accounts than a notice names: every account may
    /// have moved.
    pub everything: bool,
}

/// Why a message on the notice subject is not a notice.
#[derive(Debug, thiserror::Error)]
pub enum NoticeError {
    /// Larger than any notice.
    #[error("{0} bytes, more than a notice's {NOTICE_MAX_BYTES}")]
    TooLarge(usize),
    /// Not the notice's JSON.
    #[error("not an applied notice: {0}")]
    Malformed(#[from] serde_json::Error),
    /// Its numbers contradict each other.
    #[error("not an applied notice: {0}")]
    Inconsistent(&'static str),
}

impl AppliedNotice {
    /// The notice of a batch from `after` to `reached` that moved `accounts`
    /// (account, newest `(transaction_id, global_position)`).
    pub fn of_batch(after: u64, reached: u64, accounts: &[(Uuid, (i64, i64))]) -> Self {
        let everything = accounts.len() > MOST_ACCOUNTS_NAMED;
        Self {
            after,
            reached,
            accounts: if everything {
                Vec::new()
            } else {
                accounts
                    .iter()
                    .map(|(account, (transaction_id, position))| {
                        (*account, *transaction_id, *position)
                    })
                    .collect()
            },
            everything,
        }
    }

    /// The notice as sent.
    pub fn encode(&self) -> Vec<u8> {
        // A struct of numbers, UUIDs and a bool always serializes.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// A received message read as a notice, checked.
    pub fn decode(payload: &[u8]) -> Result<Self, NoticeError> {
        if payload.len() > NOTICE_MAX_BYTES {
            return Err(NoticeError::TooLarge(payload.len()));
        }
        let notice: Self = serde_json::from_slice(payload)?;
        if notice.reached < notice.after {
            return Err(NoticeError::Inconsistent("reached is before after"));
        }
        if notice.accounts.len() > MOST_ACCOUNTS_NAMED {
            return Err(NoticeError::Inconsistent(
                "names more accounts than a notice may",
            ));
        }
        if notice
            .accounts
            .iter()
            .any(|(_, transaction_id, position)| *transaction_id < 0 || *position < 0)
        {
            return Err(NoticeError::Inconsistent("a negative version"));
        }
        Ok(notice)
    }
}

/// Sends a projection's notices.
#[derive(Debug, Clone)]
pub struct Announcer {
    client: async_nats::Client,
    subject: String,
}

impl Announcer {
    /// Announces `projection`'s batches through `client`, beside the stream of
    /// `subject_prefix`.
    pub fn new(client: async_nats::Client, subject_prefix: &str, projection: &str) -> Self {
        Self {
            client,
            subject: notice_subject(subject_prefix, projection),
        }
    }

    /// Sends `notice` without waiting for it to leave: a notice lost is found
    /// missing by its listeners at the next one (see the module docs).
    pub async fn announce(&self, notice: &AppliedNotice) {
        if let Err(error) = self
            .client
            .publish(self.subject.clone(), notice.encode().into())
            .await
        {
            tracing::warn!(%error, subject = %self.subject, "an applied notice was not sent");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accounts(count: usize) -> Vec<(Uuid, (i64, i64))> {
        (0..count)
            .map(|n| (Uuid::new_v4(), (i64::MAX - 1, i64::try_from(n).unwrap())))
            .collect()
    }

    #[test]
    fn a_notice_reads_back_as_sent() {
        let notice = AppliedNotice::of_batch(7, 12, &accounts(3));
        assert_eq!(notice.accounts.len(), 3);
        assert!(!notice.everything);
        assert_eq!(AppliedNotice::decode(&notice.encode()).unwrap(), notice);
    }

    #[test]
    fn a_batch_of_more_accounts_than_a_notice_names_says_everything_and_stays_small() {
        let at_limit = AppliedNotice::of_batch(0, 1, &accounts(MOST_ACCOUNTS_NAMED));
        assert!(!at_limit.everything);
        let encoded = at_limit.encode();
        assert!(encoded.len() < NOTICE_MAX_BYTES, "{} bytes", encoded.len());
        assert!(encoded.len() < 1024 * 1024 / 2);
        assert_eq!(AppliedNotice::decode(&encoded).unwrap(), at_limit);

        let beyond = AppliedNotice::of_batch(0, 1, &accounts(MOST_ACCOUNTS_NAMED + 1));
        assert!(beyond.everything);
        assert!(beyond.accounts.is_empty());
        assert!(beyond.encode().len() < 100);
    }

    #[test]
    fn what_is_not_a_notice_is_refused() {
        let too_large = vec![b' '; NOTICE_MAX_BYTES + 1];
        assert!(matches!(
            AppliedNotice::decode(&too_large),
            Err(NoticeError::TooLarge(_))
        ));
        for bad in [
            &b"not json"[..],
            br#"{"after":1,"reached":2,"accounts":[]}"#,
            br#"{"after":1,"reached":2,"accounts":[],"everything":false,"extra":1}"#,
            br#"{"after":-1,"reached":2,"accounts":[],"everything":false}"#,
            br#"{"after":1,"reached":2,"accounts":[["not-a-uuid",1,2]],"everything":false}"#,
        ] {
            assert!(
                matches!(AppliedNotice::decode(bad), Err(NoticeError::Malformed(_))),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        let backwards = br#"{"after":5,"reached":4,"accounts":[],"everything":false}"#;
        assert!(matches!(
            AppliedNotice::decode(backwards),
            Err(NoticeError::Inconsistent(_))
        ));
        let negative = format!(
            r#"{{"after":1,"reached":2,"accounts":[["{}",-1,2]],"everything":false}}"#,
            Uuid::new_v4()
        );
        assert!(matches!(
            AppliedNotice::decode(negative.as_bytes()),
            Err(NoticeError::Inconsistent(_))
        ));
    }

    #[test]
    fn notices_travel_outside_the_stream() {
        let subject = notice_subject("ledger", "licenses");
        assert_eq!(subject, "ledger-applied.licenses");
        assert!(!subject.starts_with("ledger."));
    }
}
