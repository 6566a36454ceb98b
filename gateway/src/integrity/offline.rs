//! `ledger verify checkpoint|inclusion|consistency`: an auditor's checks of the
//! transparency log with only the log's public key — no database, no ledger
//! running. Each takes files as the HTTP API answers them (`GET /v1/log/checkpoint`,
//! `…/inclusion-proofs.ndjson`, `…/events.ndjson`, `GET /v1/log/consistency-proof`)
//! and says what it checked. Exit 0: it holds; 1: it does not (the first reason is
//! printed); 2: the inputs could not be read.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{bail, Context as _};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use ledger_domain::transparency::merkle::{self, Hash};
use ledger_domain::transparency::note::{CheckpointBody, SignedNote, VerifierKey};
use serde::Deserialize;

use super::chain::{event_hash, ChainedEvent};

/// A check's outcome: what to print and whether it held.
#[derive(Debug)]
pub struct Verdict {
    /// Whether everything checked holds.
    pub holds: bool,
    /// What was checked, or why it does not hold.
    pub report: String,
}

impl Verdict {
    fn holds(report: String) -> Self {
        Self {
            holds: true,
            report,
        }
    }

    fn fails(report: String) -> Self {
        Self {
            holds: false,
            report,
        }
    }
}

fn read(path: &Path, what: &str) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {what} {}", path.display()))
}

/// The log's key: a vkey (`<name>+<key id>+<key>`, as `GET /v1/log/keys` lists),
/// given as text or as a file holding it.
pub fn log_key(key: &str) -> anyhow::Result<VerifierKey> {
    let text = if Path::new(key).is_file() {
        read(Path::new(key), "key file")?
    } else {
        key.to_owned()
    };
    let key = VerifierKey::parse(text.trim()).context(
        "--key must be the log's vkey `<origin>+<key id>+<base64 key>` (see GET /v1/log/keys)",
    )?;
    Ok(key)
}

/// A checkpoint file checked against `key`: its content, or why not.
fn signed_checkpoint(
    path: &Path,
    key: &VerifierKey,
) -> anyhow::Result<Result<CheckpointBody, String>> {
    let text = read(path, "checkpoint")?;
    let note = SignedNote::parse(&text)
        .with_context(|| format!("checkpoint {} is not a signed note", path.display()))?;
    let body = note
        .checkpoint()
        .with_context(|| format!("checkpoint {} is not a tlog checkpoint", path.display()))?;
    if body.origin != key.name() {
        return Ok(Err(format!(
            "checkpoint {} is of log `{}`, the key is of `{}`",
            path.display(),
            body.origin,
            key.name()
        )));
    }
    Ok(match note.verify(key.name(), key.public_key()) {
        Ok(()) => Ok(body),
        Err(error) => Err(format!(
            "checkpoint {} is NOT signed by the key: {error}",
            path.display()
        )),
    })
}

/// `ledger verify checkpoint`: the note's signature.
pub fn checkpoint(path: &Path, key: &VerifierKey) -> anyhow::Result<Verdict> {
    Ok(match signed_checkpoint(path, key)? {
        Ok(body) => Verdict::holds(format!(
            "checkpoint {} is signed by {}: log {}, {} events, root {}{}\n",
            path.display(),
            key.format(),
            body.origin,
            body.size,
            BASE64.encode(body.root),
            body.extensions
                .iter()
                .map(|line| format!(", {line}"))
                .collect::<String>()
        )),
        Err(why) => Verdict::fails(format!("{why}\n")),
    })
}

/// One line of `inclusion-proofs.ndjson`.
#[derive(Debug, Deserialize)]
struct InclusionLine {
    global_position: i64,
    aggregate_type: String,
    aggregate_id: String,
    sequence: i64,
    event_hash: String,
    leaf_index: u64,
    tree_size: u64,
    hashes: Vec<String>,
}

/// One line of `events.ndjson`: the event and the stored bytes its hash covers.
#[derive(Debug, Deserialize)]
struct EventLine {
    global_position: i64,
    aggregate_type: String,
    aggregate_id: String,
    sequence: i64,
    #[serde(rename = "type")]
    event_type: String,
    version: String,
    recorded_at: DateTime<Utc>,
    hash: String,
    previous_hash: Option<String>,
    stored_payload: String,
    stored_metadata: String,
}

impl EventLine {
    /// Why its hash is not the one its stored bytes make, if it is not.
    fn hash_problem(&self) -> Option<String> {
        let (Some(hash), previous) = (
            hex_hash(&self.hash),
            self.previous_hash.as_deref().map(hex_hash),
        ) else {
            return Some("its hash is not 32-byte hex".into());
        };
        let previous = match previous {
            Some(None) => return Some("its previous_hash is not 32-byte hex".into()),
            Some(Some(previous)) => Some(previous),
            None => None,
        };
        let stored = ChainedEvent {
            aggregate_type: self.aggregate_type.clone(),
            aggregate_id: self.aggregate_id.clone(),
            sequence: self.sequence,
            event_type: self.event_type.clone(),
            event_version: self.version.clone(),
            payload: self.stored_payload.clone(),
            metadata: self.stored_metadata.clone(),
            global_position: self.global_position,
            recorded_at: self.recorded_at,
            hash: hash.to_vec(),
        };
        if event_hash(previous.as_ref().map(|p| p.as_slice()), &stored) != hash.to_vec() {
            return Some(
                "its hash is not the one its stored bytes make: its content was changed".into(),
            );
        }
        if (self.sequence == 1) != previous.is_none() {
            return Some("its previous_hash does not fit its sequence".into());
        }
        None
    }
}

fn hash_of(base64: &str) -> Option<Hash> {
    BASE64
        .decode(base64)
        .ok()
        .and_then(|bytes| Hash::try_from(bytes.as_slice()).ok())
}

fn hex_hash(hex: &str) -> Option<Hash> {
    if hex.len() != 64 || !hex.is_ascii() {
        return None;
    }
    let mut hash = [0; 32];
    for (index, byte) in hash.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * index..2 * index + 2], 16).ok()?;
    }
    Some(hash)
}

/// `ledger verify inclusion`: every proof against the signed checkpoint, and with
/// `events`, that every exported event's hash is the one its stored bytes make,
/// that its stream's chain links through the export, and that every exported event
/// the checkpoint covers has a proof of that very hash.
pub fn inclusion(
    checkpoint_path: &Path,
    proofs_path: &Path,
    events_path: Option<&Path>,
    key: &VerifierKey,
) -> anyhow::Result<Verdict> {
    let body = match signed_checkpoint(checkpoint_path, key)? {
        Ok(body) => body,
        Err(why) => return Ok(Verdict::fails(format!("{why}\n"))),
    };
    let mut proven: HashMap<i64, (String, String, i64, String)> = HashMap::new();
    for (number, line) in (1..).zip(read(proofs_path, "proofs")?.lines()) {
        if line.trim().is_empty() {
            continue;
        }
        let proof: InclusionLine = serde_json::from_str(line)
            .with_context(|| format!("{} line {number} is not a proof", proofs_path.display()))?;
        let failed = |why: String| {
            Verdict::fails(format!(
                "the event at global position {} ({} {} sequence {}) is NOT proven in the log: {why}\n",
                proof.global_position, proof.aggregate_type, proof.aggregate_id, proof.sequence
            ))
        };
        if proof.tree_size != body.size {
            return Ok(failed(format!(
                "its proof is against a log of {} events, the checkpoint signs {}",
                proof.tree_size, body.size
            )));
        }
        let (Some(event_hash), Some(hashes)) = (
            hex_hash(&proof.event_hash),
            proof
                .hashes
                .iter()
                .map(|h| hash_of(h))
                .collect::<Option<Vec<Hash>>>(),
        ) else {
            return Ok(failed("its hashes are not 32-byte hex and base64".into()));
        };
        let leaf = merkle::leaf_hash(&event_hash);
        if let Err(error) =
            merkle::verify_inclusion(&leaf, proof.leaf_index, body.size, &hashes, &body.root)
        {
            return Ok(failed(error.to_string()));
        }
        proven.insert(
            proof.global_position,
            (
                proof.aggregate_type,
                proof.aggregate_id,
                proof.sequence,
                proof.event_hash,
            ),
        );
    }
    let mut report = format!(
        "{} events are in the log of {} events that checkpoint {} signs (root {})\n",
        proven.len(),
        body.size,
        checkpoint_path.display(),
        BASE64.encode(body.root)
    );
    if let Some(events_path) = events_path {
        let mut covered = 0u64;
        let mut later = 0u64;
        // Each stream's last hash seen, so the chain is followed through the export.
        let mut heads: HashMap<(String, String), (i64, String)> = HashMap::new();
        for (number, line) in (1..).zip(read(events_path, "events")?.lines()) {
            if line.trim().is_empty() {
                continue;
            }
            let event: EventLine = serde_json::from_str(line).with_context(|| {
                format!("{} line {number} is not an event", events_path.display())
            })?;
            let named = format!(
                "the exported event at global position {} ({} {} sequence {})",
                event.global_position, event.aggregate_type, event.aggregate_id, event.sequence
            );
            if let Some(problem) = event.hash_problem() {
                return Ok(Verdict::fails(format!("{named}: {problem}\n")));
            }
            let stream = (event.aggregate_type.clone(), event.aggregate_id.clone());
            if let Some((sequence, hash)) = heads.get(&stream) {
                if *sequence + 1 != event.sequence || Some(hash) != event.previous_hash.as_ref() {
                    return Ok(Verdict::fails(format!(
                        "{named}: its stream's chain does not link to the event before it\n"
                    )));
                }
            }
            heads.insert(stream, (event.sequence, event.hash.clone()));
            let expected = (
                event.aggregate_type.clone(),
                event.aggregate_id.clone(),
                event.sequence,
                event.hash.clone(),
            );
            match proven.get(&event.global_position) {
                Some(found) if *found == expected => {
                    covered += 1;
                }
                Some(_) => {
                    return Ok(Verdict::fails(format!(
                        "{named}: its proof is of another event or another hash\n"
                    )))
                }
                None => later += 1,
            }
        }
        if covered as usize != proven.len() {
            bail!(
                "{} proofs name events the export does not hold: export and proofs of the same account?",
                proven.len() - covered as usize
            );
        }
        report.push_str(&format!(
            "every one of the {covered} exported events up to the checkpoint is proven, each \
             hash recomputed from its stored bytes and every stream's chain followed; {later} \
             exported events are newer than it (prove them against a later checkpoint)\n"
        ));
    }
    Ok(Verdict::holds(report))
}

/// A consistency proof, as `GET /v1/log/consistency-proof` answers.
#[derive(Debug, Deserialize)]
struct ConsistencyFile {
    from: u64,
    to: u64,
    hashes: Vec<String>,
}

/// `ledger verify consistency`: the newer checkpoint's log extends the older's.
pub fn consistency(
    old_path: &Path,
    new_path: &Path,
    proof_path: &Path,
    key: &VerifierKey,
) -> anyhow::Result<Verdict> {
    let (old, new) = match (
        signed_checkpoint(old_path, key)?,
        signed_checkpoint(new_path, key)?,
    ) {
        (Ok(old), Ok(new)) => (old, new),
        (Err(why), _) | (_, Err(why)) => return Ok(Verdict::fails(format!("{why}\n"))),
    };
    let proof: ConsistencyFile = serde_json::from_str(&read(proof_path, "proof")?)
        .with_context(|| format!("{} is not a consistency proof", proof_path.display()))?;
    if (proof.from, proof.to) != (old.size, new.size) {
        return Ok(Verdict::fails(format!(
            "the proof is from {} to {} events, the checkpoints sign {} and {}\n",
            proof.from, proof.to, old.size, new.size
        )));
    }
    let Some(hashes) = proof
        .hashes
        .iter()
        .map(|h| hash_of(h))
        .collect::<Option<Vec<Hash>>>()
    else {
        return Ok(Verdict::fails(
            "the proof's hashes are not 32-byte base64\n".into(),
        ));
    };
    Ok(
        match merkle::verify_consistency(old.size, new.size, &old.root, &new.root, &hashes) {
            Ok(()) => Verdict::holds(format!(
                "the log of {} events ({}) extends the log of {} events ({}): nothing signed \
                 before was changed or removed\n",
                new.size,
                new_path.display(),
                old.size,
                old_path.display()
            )),
            Err(error) => Verdict::fails(format!(
                "the log of {} events does NOT extend the log of {} events: {error}\n",
                new.size, old.size
            )),
        },
    )
}
