//! A witness against the real binary: `ledger witness --once` cosigns the ledger's
//! checkpoint, and the ledger serves the cosignature beside it; as the log grows
//! it cosigns again, the consistency proof checked. A split view — a second
//! ledger with the same log key and name but another history — is refused, and
//! the witness's state keeps the history it saw.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::time::Duration;

use ledger_domain::transparency::note::{SignedNote, VerifierKey};
use ledger_tests::{
    activated_license, generated_signing_key, ledger_bin, status_and_output, Api, Ledger, TestEnv,
};
use tokio::process::Command;

const ORIGIN: &str = "ledger.test/witnessed";
const WITNESS: &str = "witness.test/w1";

/// The newest checkpoint's note once it signs at least `size` events.
async fn checkpoint_of(ledger: &Ledger, size: u64) -> String {
    let started = tokio::time::Instant::now();
    loop {
        let answer = reqwest::get(format!("{}/v1/log/checkpoint", ledger.base_url))
            .await
            .unwrap();
        if answer.status() == 200 {
            let note = answer.text().await.unwrap();
            if note.lines().nth(1).unwrap().parse::<u64>().unwrap() >= size {
                return note;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no checkpoint of {size}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `ledger witness --once` against `ledger`: exit status and what it said.
async fn witness_once(
    ledger: &Ledger,
    log_key: &str,
    key_file: &str,
    state: &str,
) -> (i32, String) {
    let output = Command::new(ledger_bin!())
        .args([
            "witness",
            "--ledger-url",
            &ledger.base_url,
            "--log-key",
            log_key,
            "--name",
            WITNESS,
            "--key-file",
            key_file,
            "--state",
            state,
            "--once",
        ])
        .output()
        .await
        .unwrap();
    status_and_output(&output)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_witness_cosigns_only_a_log_that_extends_what_it_saw_and_refuses_a_split_view() {
    let witness_key = generated_signing_key("w1", "2000-01-01T00:00:00Z");
    let witness_public = ledger_gateway::signing_keys::parse_compact(&witness_key)
        .unwrap()
        .keys()[0]
        .public_key_bytes();
    let witness_vkey = VerifierKey::cosignature_v1(WITNESS, witness_public)
        .unwrap()
        .format();
    let settings = [
        ("LEDGER_CHECKPOINT_ORIGIN", ORIGIN),
        ("LEDGER_CHECKPOINT_WITNESS_KEYS", witness_vkey.as_str()),
    ];
    // Two ledgers signing with the same log key and name: an operator showing two
    // histories.
    let honest = TestEnv::fresh().with_checkpoints();
    let mut other = TestEnv::fresh();
    other.checkpoint_signing_keys = honest.checkpoint_signing_keys.clone();
    let ledger = Ledger::start(ledger_bin!(), &honest, &settings)
        .await
        .unwrap();
    let split = Ledger::start(ledger_bin!(), &other, &settings)
        .await
        .unwrap();

    let dir = std::env::temp_dir().join(format!("{}-witness", honest.database));
    std::fs::create_dir_all(&dir).unwrap();
    let key_file = dir.join("w1.key");
    std::fs::write(&key_file, &witness_key).unwrap();
    let key_file = key_file.display().to_string();
    let state = dir.join("state.json").display().to_string();
    let keys: serde_json::Value = reqwest::get(format!("{}/v1/log/keys", ledger.base_url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let log_key = keys["keys"][0]["vkey"].as_str().unwrap().to_owned();

    let api = Api::new(&ledger);
    activated_license(&api).await;
    checkpoint_of(&ledger, 2).await;
    let (code, said) = witness_once(&ledger, &log_key, &key_file, &state).await;
    assert_eq!(code, 0, "{said}");
    assert!(said.contains("cosigned the log of"), "{said}");
    // The ledger serves the cosignature beside the checkpoint, and it verifies.
    let note = checkpoint_of(&ledger, 2).await;
    let signed = SignedNote::parse(&note).unwrap();
    let timestamp = signed.verify_cosignature(WITNESS, witness_public).unwrap();
    assert!(timestamp > 1_700_000_000);
    let log = VerifierKey::parse(&log_key).unwrap();
    signed.verify(log.name(), log.public_key()).unwrap();

    // The log grows: cosigned again, through a consistency proof.
    activated_license(&api).await;
    let accepted: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    checkpoint_of(&ledger, accepted["tree_size"].as_u64().unwrap() + 2).await;
    let (code, said) = witness_once(&ledger, &log_key, &key_file, &state).await;
    assert_eq!(code, 0, "{said}");

    // The other history, under the same key and name: refused.
    let kept = std::fs::read_to_string(&state).unwrap();
    let elsewhere = Api::new(&split);
    for _ in 0..4 {
        activated_license(&elsewhere).await;
    }
    let size: u64 = serde_json::from_str::<serde_json::Value>(&kept).unwrap()["tree_size"]
        .as_u64()
        .unwrap();
    checkpoint_of(&split, size).await;
    let (code, said) = witness_once(&split, &log_key, &key_file, &state).await;
    assert_eq!(code, 1, "{said}");
    assert!(said.contains("REFUSED"), "{said}");
    assert_eq!(
        std::fs::read_to_string(&state).unwrap(),
        kept,
        "the state keeps what it saw"
    );
    let theirs = checkpoint_of(&split, size).await;
    assert!(
        SignedNote::parse(&theirs)
            .unwrap()
            .verify_cosignature(WITNESS, witness_public)
            .is_err(),
        "the split view carries no cosignature"
    );

    // A cosignature that does not verify, or from an unknown witness, is not kept.
    let client = reqwest::Client::new();
    let size: u64 = note.lines().nth(1).unwrap().parse().unwrap();
    let genuine = signed
        .signatures
        .iter()
        .find(|s| s.name == WITNESS)
        .unwrap()
        .line();
    // The first byte of the signature proper (after the 4-byte key ID and the
    // 8-byte timestamp: base64 characters 16 on) changed.
    let at = genuine.rfind(' ').unwrap() + 1 + 17;
    let was = &genuine[at..=at];
    let forged = format!(
        "{}{}{}",
        &genuine[..at],
        if was == "A" { "B" } else { "A" },
        &genuine[at + 1..]
    );
    for (body, status) in [
        (
            serde_json::json!({"tree_size": size, "cosignature": forged}),
            400,
        ),
        (
            serde_json::json!({"tree_size": size, "cosignature": "— nobody AAAA"}),
            400,
        ),
        (
            serde_json::json!({"tree_size": 999_999, "cosignature": forged}),
            404,
        ),
        (serde_json::json!({"tree_size": size}), 400),
    ] {
        let answer = client
            .post(format!("{}/v1/log/cosignatures", ledger.base_url))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status().as_u16(), status, "{body}");
    }
    honest.cleanup().await;
    other.cleanup().await;
}
