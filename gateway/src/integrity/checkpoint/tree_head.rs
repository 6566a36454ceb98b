//! Version 2 of the checkpoint event: a signed tree head. It states the
//! transparency log's size and root hash at an instant, as a C2SP
//! `tlog-checkpoint` signed note, so transparency-log tools read it as it is:
//!
//! ```text
//! <origin>
//! <tree size>
//! <root hash, base64>
//! time <instant, UTC, YYYY-MM-DDTHH:MM:SS.ffffffZ>
//!
//! — <origin> <base64 of key hash (4 bytes) and Ed25519 signature (64 bytes)>
//! ```
//!
//! The key's name in the signature line is the origin, so its public key alone
//! (with the origin on the note's first line) verifies it. It is a few hundred
//! bytes whatever the store holds. The event also carries the fields parsed, and
//! which configured key signed it; the note is what is signed and what counts.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use ledger_domain::keys::Keyring;
use ledger_domain::transparency::merkle::Hash;
use ledger_domain::transparency::note::{self, SignedNote};
use serde::{Deserialize, Serialize};

/// The checkpoint event's version that holds a tree head.
pub const EVENT_VERSION: &str = "2";
/// The extension line's keyword for the instant.
const TIME: &str = "time ";

/// A signed tree head as stored and published.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TreeHead {
    /// Its number: its sequence in the checkpoint stream (version 1 ones included).
    pub checkpoint: i64,
    /// The log's name, the note's first line.
    pub origin: String,
    /// Leaves in the tree: the first `tree_size` events in commit order.
    pub tree_size: u64,
    /// The tree's root (RFC 9162), base64.
    pub root_hash: String,
    /// When it was signed (microseconds).
    pub at: DateTime<Utc>,
    /// The configured checkpoint key that signed it.
    pub key_id: String,
    /// The signed note, C2SP `tlog-checkpoint` text.
    pub note: String,
}

/// Why a tree head does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeadProblem {
    /// No configured key has its key id.
    UnknownKey,
    /// The note does not parse, its signature does not hold, or the fields do not
    /// say what the note says.
    Mismatch(String),
}

/// The instant as the note writes it.
fn instant_text(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

impl TreeHead {
    /// Signs the head of a tree of `tree_size` leaves with root `root`, with the key
    /// `keyring` picks for `at` (microseconds kept). `None` if no key can sign.
    pub fn sign(
        keyring: &Keyring,
        checkpoint: i64,
        origin: &str,
        tree_size: u64,
        root: Hash,
        at: DateTime<Utc>,
    ) -> Option<Self> {
        let key = keyring.signing_key_for(at)?;
        let body = note::CheckpointBody {
            origin: origin.to_owned(),
            size: tree_size,
            root,
            extensions: vec![format!("{TIME}{}", instant_text(at))],
        };
        let text = body.text();
        let signature = note::sign_note(&text, origin, key).ok()?;
        let signed = SignedNote {
            text,
            signatures: vec![signature],
        };
        Some(Self {
            checkpoint,
            origin: origin.to_owned(),
            tree_size,
            root_hash: BASE64.encode(root),
            at: instant_text(at).parse().ok()?,
            key_id: key.key_id().to_owned(),
            note: signed.format(),
        })
    }

    /// Checks the note's signature with the configured key it names and that the
    /// fields say what the note says; the note's content when it holds.
    pub fn check(&self, keyring: &Keyring) -> Result<note::CheckpointBody, HeadProblem> {
        let key = keyring.find(&self.key_id).ok_or(HeadProblem::UnknownKey)?;
        let mismatch = |why: String| HeadProblem::Mismatch(why);
        let signed = SignedNote::parse(&self.note).map_err(|e| mismatch(e.to_string()))?;
        signed
            .verify(&self.origin, key.public_key_bytes())
            .map_err(|e| mismatch(e.to_string()))?;
        let body =
            note::CheckpointBody::parse(&signed.text).map_err(|e| mismatch(e.to_string()))?;
        let time = format!("{TIME}{}", instant_text(self.at));
        if body.origin != self.origin
            || body.size != self.tree_size
            || BASE64.encode(body.root) != self.root_hash
            || !body.extensions.contains(&time)
        {
            return Err(mismatch(
                "its fields do not say what its signed note says".into(),
            ));
        }
        Ok(body)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use ledger_domain::keys::KeyringEntry;

    fn keyring(id: &str, seed: u8) -> Keyring {
        let key = KeyringEntry::from_seed(id, "2026-01-01T00:00:00Z".parse().unwrap(), &[seed; 32])
            .unwrap();
        Keyring::new(vec![key]).unwrap()
    }

    fn at() -> DateTime<Utc> {
        "2026-12-02T10:11:12.123456789Z".parse().unwrap()
    }

    #[test]
    fn a_tree_head_is_a_tlog_checkpoint_note_that_verifies() {
        let keys = keyring("ck1", 7);
        let head = TreeHead::sign(&keys, 3, "ledger.example/log", 1_000, [9; 32], at()).unwrap();
        let root = BASE64.encode([9u8; 32]);
        let (body, signature) = head.note.split_once("\n\n").unwrap();
        assert_eq!(
            body,
            format!("ledger.example/log\n1000\n{root}\ntime 2026-12-02T10:11:12.123456Z")
        );
        assert!(signature.starts_with("\u{2014} ledger.example/log "));
        assert_eq!(head.at.timestamp_subsec_nanos(), 123_456_000);
        let checked = head.check(&keys).unwrap();
        assert_eq!((checked.size, checked.root), (1_000, [9; 32]));
    }

    #[test]
    fn another_key_or_a_changed_field_does_not_verify() {
        let keys = keyring("ck1", 7);
        let head = TreeHead::sign(&keys, 3, "ledger.example/log", 1_000, [9; 32], at()).unwrap();
        assert!(matches!(
            head.check(&keyring("ck1", 8)),
            Err(HeadProblem::Mismatch(_))
        ));
        assert_eq!(head.check(&keyring("ck2", 7)), Err(HeadProblem::UnknownKey));
        let mut grown = head.clone();
        grown.tree_size = 2_000;
        assert!(matches!(grown.check(&keys), Err(HeadProblem::Mismatch(_))));
        let mut renote = head.clone();
        renote.note = renote.note.replace("1000", "2000");
        assert!(matches!(renote.check(&keys), Err(HeadProblem::Mismatch(_))));
    }

    #[test]
    fn the_event_stays_a_few_hundred_bytes_whatever_the_size() {
        let keys = keyring("ck1", 7);
        let small = TreeHead::sign(&keys, 1, "ledger.example/log", 1_000, [1; 32], at()).unwrap();
        let large =
            TreeHead::sign(&keys, 1, "ledger.example/log", 1_000_000, [1; 32], at()).unwrap();
        let bytes = |head: &TreeHead| serde_json::to_vec(head).unwrap().len();
        assert!(bytes(&large) < 600, "{}", bytes(&large));
        assert_eq!(
            bytes(&large) - bytes(&small),
            6,
            "two size fields, three digits more each"
        );
    }
}
