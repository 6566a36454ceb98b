//! `ledger witness`: a witness process with its own key and state file. Each round
//! it fetches the ledger's newest checkpoint, and — only when it extends the last
//! one the witness accepted ([`Witness::check`]; the consistency proof fetched
//! from the ledger and checked here) — records it as accepted and hands the ledger
//! its `cosignature/v1`, which the ledger then serves beside the checkpoint.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context as _};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ledger_domain::keys::KeyringEntry;
use ledger_domain::transparency::merkle::Hash;
use ledger_domain::transparency::note::{cosign, SignedNote, VerifierKey};

use super::witness::{Refusal, Witness, WitnessState};

/// How the witness runs.
#[derive(Debug, Clone)]
pub struct WitnessSettings {
    /// The ledger's base URL, e.g. `http://127.0.0.1:8080`.
    pub ledger_url: String,
    /// The log's key.
    pub log_key: VerifierKey,
    /// The witness's name on its cosignatures.
    pub name: String,
    /// Its signing key.
    pub key: KeyringEntry,
    /// Its state file.
    pub state: PathBuf,
    /// Pause between rounds.
    pub interval: Duration,
    /// One round, then exit.
    pub once: bool,
}

/// What one round did.
enum Round {
    /// The ledger has no checkpoint yet.
    NoCheckpoint,
    /// Accepted and cosigned the log of this size.
    Cosigned(u64),
}

/// Runs rounds until stopped (or one, with `once`). Exit status with `once`: 0
/// cosigned (or nothing to cosign yet), 1 refused, 2 the round could not run.
pub async fn run(settings: WitnessSettings) -> ExitCode {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build();
    let client = match client {
        Ok(client) => client,
        Err(error) => {
            eprintln!("ledger witness: {error}");
            return ExitCode::from(2);
        }
    };
    let witness = Witness {
        log_key: settings.log_key.clone(),
    };
    loop {
        let code = match round(&client, &witness, &settings).await {
            Ok(Round::NoCheckpoint) => {
                println!("the ledger has no checkpoint yet");
                ExitCode::SUCCESS
            }
            Ok(Round::Cosigned(size)) => {
                println!("cosigned the log of {size} events");
                ExitCode::SUCCESS
            }
            Err(error) => match error.downcast_ref::<Refusal>() {
                Some(refusal) => {
                    eprintln!("ledger witness: REFUSED: {refusal}");
                    tracing::error!(%refusal, "the witness refuses the ledger's checkpoint");
                    ExitCode::FAILURE
                }
                None => {
                    eprintln!("ledger witness: {error:#}");
                    ExitCode::from(2)
                }
            },
        };
        if settings.once {
            return code;
        }
        tokio::time::sleep(settings.interval).await;
    }
}

async fn round(
    client: &reqwest::Client,
    witness: &Witness,
    settings: &WitnessSettings,
) -> anyhow::Result<Round> {
    let base = settings.ledger_url.trim_end_matches('/');
    let answer = client
        .get(format!("{base}/v1/log/checkpoint"))
        .send()
        .await
        .context("fetching the ledger's checkpoint")?;
    if answer.status() == reqwest::StatusCode::NOT_FOUND {
        return Ok(Round::NoCheckpoint);
    }
    let note = answer
        .error_for_status()
        .context("fetching the ledger's checkpoint")?
        .text()
        .await?;
    let offered = SignedNote::parse(&note)
        .and_then(|signed| signed.checkpoint())
        .map_err(|error| Refusal::NotSigned(error.to_string()))?;
    let accepted = WitnessState::load(&settings.state)?;
    let proof = match &accepted {
        Some(accepted) if offered.size > accepted.tree_size => {
            Some(consistency_proof(client, base, accepted.tree_size, offered.size).await?)
        }
        _ => None,
    };
    let body = witness.check(accepted.as_ref(), &note, proof.as_deref())?;
    WitnessState {
        origin: body.origin.clone(),
        tree_size: body.size,
        root_hash: BASE64.encode(body.root),
        note: note.clone(),
    }
    .save(&settings.state)?;
    let now = u64::try_from(chrono::Utc::now().timestamp()).unwrap_or(0);
    let cosignature = cosign(&body.text(), &settings.name, &settings.key, now)
        .context("cosigning (is the witness key a private one?)")?;
    let handed = client
        .post(format!("{base}/v1/log/cosignatures"))
        .json(&serde_json::json!({"tree_size": body.size, "cosignature": cosignature.line()}))
        .send()
        .await
        .context("handing the cosignature to the ledger")?;
    if !handed.status().is_success() {
        let status = handed.status();
        bail!(
            "the ledger did not keep the cosignature ({status}): {}",
            handed.text().await.unwrap_or_default()
        );
    }
    Ok(Round::Cosigned(body.size))
}

async fn consistency_proof(
    client: &reqwest::Client,
    base: &str,
    from: u64,
    to: u64,
) -> anyhow::Result<Vec<Hash>> {
    #[derive(serde::Deserialize)]
    struct Proof {
        hashes: Vec<String>,
    }
    let proof: Proof = client
        .get(format!(
            "{base}/v1/log/consistency-proof?from={from}&to={to}"
        ))
        .send()
        .await?
        .error_for_status()
        .context("fetching the consistency proof")?
        .json()
        .await
        .context("reading the consistency proof")?;
    proof
        .hashes
        .iter()
        .map(|hash| {
            BASE64
                .decode(hash)
                .ok()
                .and_then(|bytes| Hash::try_from(bytes.as_slice()).ok())
                .ok_or_else(|| {
                    anyhow::anyhow!("the consistency proof holds a hash that is not 32 bytes")
                })
        })
        .collect()
}
