//! Witnesses (DESIGN.md decision 8): a witness keeps the last checkpoint it
//! accepted and cosigns a newer one only when it extends that one — same log, not
//! smaller, the same root at the same size, a consistency proof that holds
//! between them. Once a witness has cosigned, the ledger cannot show one history
//! to one auditor and another to a second without some witness refusing, and an
//! auditor who asks for a witness's cosignature beside the log's signature holds
//! the ledger to the history every witness saw.
//!
//! This module is the witness's decision (pure: [`Witness::check`]), its state
//! file, and the witness keys the ledger accepts cosignatures from
//! (`checkpoint_witness_keys`). `ledger witness` ([`super::witness_run`]) runs it
//! against a ledger over HTTP.

use std::path::Path;

use anyhow::Context as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ledger_domain::transparency::merkle::{self, Hash};
use ledger_domain::transparency::note::{CheckpointBody, SignedNote, VerifierKey};
use serde::{Deserialize, Serialize};

/// What the witness keeps: the last checkpoint it accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WitnessState {
    /// The log's origin.
    pub origin: String,
    /// The size it accepted.
    pub tree_size: u64,
    /// That log's root, base64.
    pub root_hash: String,
    /// The signed note it accepted, as it was.
    pub note: String,
}

impl WitnessState {
    /// Reads the state file; `None` when there is none yet (a new witness).
    pub fn load(path: &Path) -> anyhow::Result<Option<Self>> {
        match std::fs::read_to_string(path) {
            Ok(text) => Ok(Some(serde_json::from_str(&text).with_context(|| {
                format!("witness state {} is not a witness state", path.display())
            })?)),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => {
                Err(error).with_context(|| format!("reading witness state {}", path.display()))
            }
        }
    }

    /// Writes the state file whole or not at all (a new file renamed over it).
    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        let temporary = path.with_extension("tmp");
        std::fs::write(&temporary, serde_json::to_vec_pretty(self)?)
            .with_context(|| format!("writing {}", temporary.display()))?;
        std::fs::rename(&temporary, path)
            .with_context(|| format!("replacing witness state {}", path.display()))
    }
}

/// Why a witness will not cosign.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The checkpoint is not signed by the log's key, or is not a checkpoint.
    #[error("the checkpoint is not the log's: {0}")]
    NotSigned(String),
    /// The log's size went down.
    #[error("the log shrank from {accepted} to {offered} events")]
    Shrank {
        /// The size accepted before.
        accepted: u64,
        /// The size offered now.
        offered: u64,
    },
    /// Another root at the size accepted: two histories shown (a split view).
    #[error("a split view: another log of {size} events than the one accepted")]
    SplitView {
        /// The size.
        size: u64,
    },
    /// No proof, or one that does not join the accepted log to the offered one:
    /// the newer log rewrote the older (a split view after the fact).
    #[error("the log of {offered} events does not extend the one of {accepted} accepted: {why}")]
    Inconsistent {
        /// The size accepted before.
        accepted: u64,
        /// The size offered now.
        offered: u64,
        /// What failed.
        why: String,
    },
}

/// A witness of one log.
#[derive(Debug, Clone)]
pub struct Witness {
    /// The log's key (its name is the log's origin).
    pub log_key: VerifierKey,
}

impl Witness {
    /// Whether to cosign `note` (the log's newest checkpoint) after `accepted`,
    /// with `proof` from the accepted size to the offered one (needed only when
    /// the log grew). The checkpoint's content when it extends what was accepted.
    pub fn check(
        &self,
        accepted: Option<&WitnessState>,
        note: &str,
        proof: Option<&[Hash]>,
    ) -> Result<CheckpointBody, Refusal> {
        let not_signed = |why: String| Refusal::NotSigned(why);
        let signed = SignedNote::parse(note).map_err(|e| not_signed(e.to_string()))?;
        signed
            .verify(self.log_key.name(), self.log_key.public_key())
            .map_err(|e| not_signed(e.to_string()))?;
        let body = signed.checkpoint().map_err(|e| not_signed(e.to_string()))?;
        if body.origin != self.log_key.name() {
            return Err(not_signed(format!("it is of log `{}`", body.origin)));
        }
        let Some(accepted) = accepted else {
            return Ok(body);
        };
        let accepted_root = BASE64
            .decode(&accepted.root_hash)
            .ok()
            .and_then(|bytes| Hash::try_from(bytes.as_slice()).ok())
            .ok_or_else(|| not_signed("the witness's own state holds no root".into()))?;
        if body.size < accepted.tree_size {
            return Err(Refusal::Shrank {
                accepted: accepted.tree_size,
                offered: body.size,
            });
        }
        if body.size == accepted.tree_size {
            return if body.root == accepted_root {
                Ok(body)
            } else {
                Err(Refusal::SplitView { size: body.size })
            };
        }
        let inconsistent = |why: String| Refusal::Inconsistent {
            accepted: accepted.tree_size,
            offered: body.size,
            why,
        };
        let proof = proof.ok_or_else(|| inconsistent("no consistency proof".into()))?;
        merkle::verify_consistency(
            accepted.tree_size,
            body.size,
            &accepted_root,
            &body.root,
            proof,
        )
        .map_err(|e| inconsistent(e.to_string()))?;
        Ok(body)
    }
}

/// The witnesses whose cosignatures the ledger keeps and serves
/// (`checkpoint_witness_keys`): their `cosignature/v1` vkeys, comma-separated in
/// one string or a TOML array.
#[derive(Debug, Clone, Default)]
pub struct WitnessKeys(pub Vec<VerifierKey>);

impl<'de> Deserialize<'de> for WitnessKeys {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Given {
            One(String),
            Many(Vec<String>),
        }
        let given = match Given::deserialize(deserializer)? {
            Given::One(text) => text
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            Given::Many(list) => list,
        };
        given
            .iter()
            .map(|vkey| {
                let key = VerifierKey::parse(vkey).map_err(|error| {
                    serde::de::Error::custom(format!("a witness vkey `{vkey}`: {error}"))
                })?;
                if key.algorithm() != ledger_domain::transparency::note::ALG_COSIGNATURE_V1 {
                    return Err(serde::de::Error::custom(format!(
                        "`{vkey}` is not a cosignature/v1 witness key"
                    )));
                }
                Ok(key)
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use ledger_domain::keys::KeyringEntry;
    use ledger_domain::transparency::note::sign_note;

    const ORIGIN: &str = "ledger.test/witnessed";

    fn log_key() -> KeyringEntry {
        KeyringEntry::from_seed("ck1", "2026-01-01T00:00:00Z".parse().unwrap(), &[3; 32]).unwrap()
    }

    /// The log's checkpoint over `leaves` leaves of `[n; 32]`, signed by `key`.
    fn checkpoint(leaves: &[Hash], key: &KeyringEntry) -> String {
        let body = CheckpointBody {
            origin: ORIGIN.into(),
            size: leaves.len() as u64,
            root: merkle::root_from_leaves(leaves),
            extensions: Vec::new(),
        };
        let text = body.text();
        let signature = sign_note(&text, ORIGIN, key).unwrap();
        SignedNote {
            text,
            signatures: vec![signature],
        }
        .format()
    }

    fn leaves(count: u8, salt: u8) -> Vec<Hash> {
        (0..count).map(|n| merkle::leaf_hash(&[n, salt])).collect()
    }

    fn witness() -> Witness {
        Witness {
            log_key: VerifierKey::ed25519(ORIGIN, log_key().public_key_bytes()).unwrap(),
        }
    }

    fn state(note: &str) -> WitnessState {
        let body = SignedNote::parse(note).unwrap().checkpoint().unwrap();
        WitnessState {
            origin: body.origin,
            tree_size: body.size,
            root_hash: BASE64.encode(body.root),
            note: note.into(),
        }
    }

    /// The consistency proof between the first `old` and all of `leaves`.
    fn proof(leaves: &[Hash], old: u64) -> Vec<Hash> {
        let mut frontier = merkle::Frontier::new();
        let mut nodes = std::collections::HashMap::new();
        for leaf in leaves {
            nodes.extend(frontier.append(*leaf));
        }
        let parts = merkle::consistency_parts(old, leaves.len() as u64).unwrap();
        merkle::assemble(&parts, |id| nodes.get(&id).copied()).unwrap()
    }

    #[test]
    fn a_new_witness_accepts_the_logs_checkpoint_and_then_only_one_that_extends_it() {
        let witness = witness();
        let log = leaves(7, 0);
        let first = checkpoint(&log[..5], &log_key());
        assert_eq!(witness.check(None, &first, None).unwrap().size, 5);
        let accepted = state(&first);
        let grown = checkpoint(&log, &log_key());
        let body = witness
            .check(Some(&accepted), &grown, Some(&proof(&log, 5)))
            .unwrap();
        assert_eq!(body.size, 7);
        // The same checkpoint again is fine.
        assert!(witness.check(Some(&accepted), &first, None).is_ok());
        assert!(matches!(
            witness.check(Some(&accepted), &grown, None),
            Err(Refusal::Inconsistent { .. })
        ));
    }

    #[test]
    fn a_split_view_another_tree_at_the_same_or_a_later_size_is_refused() {
        let witness = witness();
        let ours = leaves(5, 0);
        let accepted = state(&checkpoint(&ours, &log_key()));
        // The same key signing another history of the same size.
        let theirs = leaves(5, 1);
        assert_eq!(
            witness.check(Some(&accepted), &checkpoint(&theirs, &log_key()), None),
            Err(Refusal::SplitView { size: 5 })
        );
        // A larger log that does not start with what was accepted: its own honest
        // consistency proof does not join it to the accepted root.
        let rewritten = leaves(9, 1);
        let refused = witness.check(
            Some(&accepted),
            &checkpoint(&rewritten, &log_key()),
            Some(&proof(&rewritten, 5)),
        );
        assert!(
            matches!(
                refused,
                Err(Refusal::Inconsistent {
                    accepted: 5,
                    offered: 9,
                    ..
                })
            ),
            "{refused:?}"
        );
        // And a smaller one.
        assert_eq!(
            witness.check(Some(&accepted), &checkpoint(&ours[..3], &log_key()), None),
            Err(Refusal::Shrank {
                accepted: 5,
                offered: 3
            })
        );
    }

    #[test]
    fn a_checkpoint_not_signed_by_the_logs_key_is_refused() {
        let stranger =
            KeyringEntry::from_seed("ck1", "2026-01-01T00:00:00Z".parse().unwrap(), &[4; 32])
                .unwrap();
        assert!(matches!(
            witness().check(None, &checkpoint(&leaves(3, 0), &stranger), None),
            Err(Refusal::NotSigned(_))
        ));
        assert!(matches!(
            witness().check(None, "not a note", None),
            Err(Refusal::NotSigned(_))
        ));
    }

    #[test]
    fn witness_keys_are_cosignature_vkeys_in_a_list_or_a_string() {
        let public = log_key().public_key_bytes();
        let key = VerifierKey::cosignature_v1("w1.example", public)
            .unwrap()
            .format();
        let other = VerifierKey::cosignature_v1("w2.example", public)
            .unwrap()
            .format();
        let parsed: WitnessKeys =
            serde_json::from_value(serde_json::json!(format!("{key}, {other}"))).unwrap();
        assert_eq!(parsed.0.len(), 2);
        let listed: WitnessKeys = serde_json::from_value(serde_json::json!([key])).unwrap();
        assert_eq!(listed.0[0].name(), "w1.example");
        let log = VerifierKey::ed25519("log.example", public)
            .unwrap()
            .format();
        assert!(serde_json::from_value::<WitnessKeys>(serde_json::json!(log)).is_err());
        assert!(serde_json::from_value::<WitnessKeys>(serde_json::json!("nonsense")).is_err());
    }
}
