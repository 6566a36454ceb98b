//! A checkpoint's content and the exact bytes its signature covers. Pure: no I/O,
//! no clock, so an auditor's own implementation can be checked against these tests.
//!
//! The signed bytes (UTF-8, every line ending in LF; numbers in decimal; digests
//! and hashes in lower-case hex):
//!
//! ```text
//! licensing-ledger-checkpoint/1
//! key <key id>
//! checkpoint <number: its sequence in the checkpoint stream, from 1>
//! position <transaction id> <global position>
//! at <instant, UTC, YYYY-MM-DDTHH:MM:SS.ffffffZ>
//! streams <streams covered, all accounts>
//! accounts <number of accounts> <accounts digest>
//! account <account id> <streams> <account digest>        (one per account)
//! ```
//!
//! Accounts are sorted by their id's bytes. An account's digest is the SHA-256 of
//! one line per stream, `<aggregate type> <aggregate id> <head sequence> <head
//! event hash>` + LF, sorted by aggregate type then id (bytes); the accounts
//! digest is the SHA-256 of the `account …` lines' text after `account `, i.e.
//! `<account id> <streams> <account digest>` + LF each, in the same order.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use ledger_domain::keys::{Keyring, KeyringEntry};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// First line of the signed bytes: the format and its version.
pub const FORMAT: &str = "licensing-ledger-checkpoint/1";
/// The checkpoint event's type and version.
pub const EVENT_TYPE: &str = "Checkpointed";
/// The checkpoint event's version.
pub const EVENT_VERSION: &str = "1";

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// One stream's last event at the cut.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    /// The account the stream's events name (`metadata.account_id`).
    pub account_id: String,
    /// e.g. `License`.
    pub aggregate_type: String,
    /// The stream.
    pub aggregate_id: String,
    /// Its last event's sequence at the cut.
    pub sequence: i64,
    /// Its last event's hash, hex.
    pub hash: String,
}

/// One account's entry in a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AccountDigest {
    /// The account.
    pub account_id: String,
    /// Its streams with an event at or before the cut.
    pub streams: u64,
    /// SHA-256 over its stream heads (hex).
    pub digest: String,
}

/// What a checkpoint states: every stream head at a commit position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointBody {
    /// Its number: its sequence in the checkpoint stream.
    pub checkpoint: i64,
    /// The cut: every event at or before (transaction id, global position).
    pub transaction_id: i64,
    /// The cut's global position.
    pub global_position: i64,
    /// When it was taken (microseconds).
    pub at: DateTime<Utc>,
    /// Streams covered, all accounts.
    pub streams: u64,
    /// SHA-256 over the accounts' entries (hex).
    pub accounts_digest: String,
    /// Every account, sorted by id.
    pub accounts: Vec<AccountDigest>,
}

/// The stored event: the body, its signature, and the heads that moved since the
/// previous checkpoint. The heads are not signed: they are checked through the
/// signed digests, and only serve to name the stream that differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedCheckpoint {
    /// What is signed.
    #[serde(flatten)]
    pub body: CheckpointBody,
    /// The signing key's id.
    pub key_id: String,
    /// Base64 of the 64-byte Ed25519 signature over [`CheckpointBody::canonical`].
    pub signature: String,
    /// Stream heads that moved since the previous checkpoint (all, for the first).
    pub heads: Vec<Head>,
}

/// Per-account digests of `heads` (any order): `(accounts, streams, accounts digest)`.
pub fn summarize(heads: &[Head]) -> (Vec<AccountDigest>, u64, String) {
    let mut by_account: BTreeMap<&str, Vec<&Head>> = BTreeMap::new();
    for head in heads {
        by_account.entry(&head.account_id).or_default().push(head);
    }
    let mut all = Sha256::new();
    let accounts: Vec<AccountDigest> = by_account
        .into_iter()
        .map(|(account_id, mut heads)| {
            heads.sort_by(|a, b| {
                (&a.aggregate_type, &a.aggregate_id).cmp(&(&b.aggregate_type, &b.aggregate_id))
            });
            let mut digest = Sha256::new();
            for head in &heads {
                digest.update(
                    format!(
                        "{} {} {} {}\n",
                        head.aggregate_type, head.aggregate_id, head.sequence, head.hash
                    )
                    .as_bytes(),
                );
            }
            let entry = AccountDigest {
                account_id: account_id.to_owned(),
                streams: heads.len() as u64,
                digest: hex(&digest.finalize()),
            };
            all.update(account_line(&entry).as_bytes());
            entry
        })
        .collect();
    (accounts, heads.len() as u64, hex(&all.finalize()))
}

fn account_line(entry: &AccountDigest) -> String {
    format!("{} {} {}\n", entry.account_id, entry.streams, entry.digest)
}

impl CheckpointBody {
    /// The bytes signed with `key_id` (see the module docs).
    pub fn canonical(&self, key_id: &str) -> Vec<u8> {
        let mut text = format!(
            "{FORMAT}\nkey {key_id}\ncheckpoint {}\nposition {} {}\nat {}\nstreams {}\naccounts {} {}\n",
            self.checkpoint,
            self.transaction_id,
            self.global_position,
            self.at.format("%Y-%m-%dT%H:%M:%S%.6fZ"),
            self.streams,
            self.accounts.len(),
            self.accounts_digest,
        );
        for entry in &self.accounts {
            text.push_str("account ");
            text.push_str(&account_line(entry));
        }
        text.into_bytes()
    }

    /// Signs with the key `keyring` picks for the checkpoint's instant.
    pub fn sign(self, keyring: &Keyring, heads: Vec<Head>) -> Option<SignedCheckpoint> {
        let key: &KeyringEntry = keyring.signing_key_for(self.at)?;
        let signature = key.sign_message(&self.canonical(key.key_id()))?;
        Some(SignedCheckpoint {
            key_id: key.key_id().to_owned(),
            signature: BASE64.encode(signature),
            body: self,
            heads,
        })
    }
}

/// Why a checkpoint's signature does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureProblem {
    /// No configured key has this id.
    UnknownKey,
    /// The signature is not base64 of 64 bytes, or not over these bytes by that key.
    Mismatch,
}

impl SignedCheckpoint {
    /// Checks the signature against `keyring`'s public keys.
    pub fn check_signature(&self, keyring: &Keyring) -> Result<(), SignatureProblem> {
        let key = keyring
            .find(&self.key_id)
            .ok_or(SignatureProblem::UnknownKey)?;
        let signature = BASE64
            .decode(&self.signature)
            .ok()
            .and_then(|bytes| <[u8; 64]>::try_from(bytes).ok())
            .ok_or(SignatureProblem::Mismatch)?;
        if key.verifies_message(&self.body.canonical(&self.key_id), &signature) {
            Ok(())
        } else {
            Err(SignatureProblem::Mismatch)
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use chrono::TimeZone as _;

    fn head(account: &str, id: &str, sequence: i64) -> Head {
        Head {
            account_id: account.into(),
            aggregate_type: "License".into(),
            aggregate_id: id.into(),
            sequence,
            hash: "ab".repeat(32),
        }
    }

    fn sha(text: &str) -> String {
        hex(&Sha256::digest(text.as_bytes()))
    }

    fn body(heads: &[Head]) -> CheckpointBody {
        let (accounts, streams, accounts_digest) = summarize(heads);
        CheckpointBody {
            checkpoint: 2,
            transaction_id: 900,
            global_position: 42,
            at: Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap()
                + chrono::Duration::microseconds(5),
            streams,
            accounts_digest,
            accounts,
        }
    }

    #[test]
    fn digests_are_over_sorted_lines_whatever_the_order_given() {
        let heads = [
            head("b", "l-2", 3),
            head("a", "l-9", 1),
            head("b", "l-1", 7),
        ];
        let (accounts, streams, all) = summarize(&heads);
        let hash = "ab".repeat(32);
        let b = sha(&format!("License l-1 7 {hash}\nLicense l-2 3 {hash}\n"));
        let a = sha(&format!("License l-9 1 {hash}\n"));
        assert_eq!(streams, 3);
        assert_eq!(
            accounts,
            [
                AccountDigest {
                    account_id: "a".into(),
                    streams: 1,
                    digest: a.clone()
                },
                AccountDigest {
                    account_id: "b".into(),
                    streams: 2,
                    digest: b.clone()
                }
            ]
        );
        assert_eq!(all, sha(&format!("a 1 {a}\nb 2 {b}\n")));
        let mut reversed = heads.to_vec();
        reversed.reverse();
        assert_eq!(summarize(&reversed).2, all);
    }

    #[test]
    fn the_canonical_bytes_are_exactly_as_documented() {
        let checkpoint = body(&[head("a", "l-1", 4)]);
        let text = String::from_utf8(checkpoint.canonical("ck1")).unwrap();
        let account = &checkpoint.accounts[0];
        assert_eq!(
            text,
            format!(
                "licensing-ledger-checkpoint/1\nkey ck1\ncheckpoint 2\nposition 900 42\n\
                 at 2026-11-23T09:00:00.000005Z\nstreams 1\naccounts 1 {}\naccount a 1 {}\n",
                checkpoint.accounts_digest, account.digest
            )
        );
    }

    #[test]
    fn a_signed_checkpoint_verifies_and_any_change_or_unknown_key_does_not() {
        let key =
            crate::signing_keys::generate("ck1", "2026-01-01T00:00:00Z".parse().unwrap()).unwrap();
        let keyring = Keyring::new(vec![key.clone()]).unwrap();
        let heads = vec![head("a", "l-1", 4)];
        let signed = body(&heads).sign(&keyring, heads).unwrap();
        assert_eq!(signed.check_signature(&keyring), Ok(()));
        let json = serde_json::to_string(&signed).unwrap();
        assert_eq!(
            serde_json::from_str::<SignedCheckpoint>(&json).unwrap(),
            signed
        );

        let mut moved = signed.clone();
        moved.body.global_position += 1;
        assert_eq!(
            moved.check_signature(&keyring),
            Err(SignatureProblem::Mismatch)
        );
        let mut renamed = signed.clone();
        renamed.key_id = "ck2".into();
        assert_eq!(
            renamed.check_signature(&keyring),
            Err(SignatureProblem::UnknownKey)
        );
        let public_only =
            KeyringEntry::verify_only("ck1", key.active_from(), &key.public_key_base64()).unwrap();
        let verify_only = Keyring::new(vec![public_only]).unwrap();
        assert_eq!(signed.check_signature(&verify_only), Ok(()));
        assert!(body(&[]).sign(&verify_only, Vec::new()).is_none());
    }
}
