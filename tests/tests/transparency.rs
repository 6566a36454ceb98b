//! The auditor's walk through the transparency log, against the real binary: the
//! log's key and newest checkpoint from the public routes, an account's events and
//! their inclusion proofs, all checked offline by `ledger verify` (exit 0); a
//! later checkpoint proven to extend the one kept; a tampered proof, another key
//! or another checkpoint refused (exit 1); unreadable inputs (exit 2); another
//! account's events never in an account's proofs; bad queries answered 400/404.
//! And the same walk at production size: an account of 20,000 events, seeded
//! straight into the store and interleaved in the log with another account's.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use ledger_tests::bench::seed;
use ledger_tests::{
    activated_license, ledger_bin, run_ledger, status_and_output, Api, Ledger, Role, TestEnv,
};
use serde_json::Value;
use uuid::Uuid;

/// A public route's body as text.
async fn public(ledger: &Ledger, path: &str) -> (u16, String) {
    let answer = reqwest::get(format!("{}{path}", ledger.base_url))
        .await
        .unwrap();
    (answer.status().as_u16(), answer.text().await.unwrap())
}

/// The newest checkpoint once it signs at least `size` events.
async fn checkpoint_of(ledger: &Ledger, size: u64) -> (String, u64) {
    let started = tokio::time::Instant::now();
    loop {
        let (status, note) = public(ledger, "/v1/log/checkpoint").await;
        if status == 200 {
            let signed: u64 = note.lines().nth(1).unwrap().parse().unwrap();
            if signed >= size {
                return (note, signed);
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no checkpoint of {size}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

struct Files {
    dir: PathBuf,
}

impl Files {
    fn new(env: &TestEnv) -> Self {
        let dir = std::env::temp_dir().join(format!("{}-audit", env.database));
        std::fs::create_dir_all(&dir).unwrap();
        Self { dir }
    }

    fn put(&self, name: &str, text: &str) -> String {
        let path = self.dir.join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    }
}

/// `ledger verify inclusion` of exported events and their proofs against a kept
/// checkpoint and the log's key.
async fn verify_inclusion(
    env: &TestEnv,
    checkpoint: &str,
    proofs: &str,
    events: &str,
    key: &str,
) -> (i32, String) {
    verify(
        env,
        &[
            "inclusion",
            "--checkpoint",
            checkpoint,
            "--proofs",
            proofs,
            "--events",
            events,
            "--key",
            key,
        ],
    )
    .await
}

/// `ledger verify <args>`: exit status and what it said.
async fn verify(env: &TestEnv, args: &[&str]) -> (i32, String) {
    let mut all = vec!["verify"];
    all.extend_from_slice(args);
    status_and_output(&run_ledger(ledger_bin!(), env, &all).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_auditor_proves_offline_that_every_event_of_the_account_is_in_the_signed_log_and_that_it_only_grew(
) {
    let env = TestEnv::fresh().with_checkpoints();
    let ledger = Ledger::start(ledger_bin!(), &env, &[]).await.unwrap();
    let api = Api::new(&ledger);
    let other = Api::new(&ledger);
    for _ in 0..3 {
        activated_license(&api).await;
        activated_license(&other).await;
    }
    let files = Files::new(&env);
    let (status, keys) = public(&ledger, "/v1/log/keys").await;
    assert_eq!(status, 200, "{keys}");
    let keys: Value = serde_json::from_str(&keys).unwrap();
    let vkey = keys["keys"][0]["vkey"].as_str().unwrap().to_owned();
    assert!(
        vkey.starts_with(&format!("{}+", keys["origin"].as_str().unwrap())),
        "{vkey}"
    );

    let (note, size) = checkpoint_of(&ledger, 12).await;
    let kept = files.put("kept.checkpoint", &note);
    let (code, said) = verify(&env, &["checkpoint", &kept, "--key", &vkey]).await;
    assert_eq!(code, 0, "{said}");
    assert!(said.contains(&format!("{size} events")), "{said}");

    let (status, events) = api.text("/events.ndjson").await.unwrap();
    assert_eq!(status, 200);
    let events_file = files.put("events.ndjson", &events);
    let (status, proofs) = api
        .text(&format!("/inclusion-proofs.ndjson?tree_size={size}"))
        .await
        .unwrap();
    assert_eq!(status, 200, "{proofs}");
    // Only this account's six events, each with its place in the log.
    let lines: Vec<Value> = proofs
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 6, "{proofs}");
    let (_, theirs) = other.text("/events.ndjson").await.unwrap();
    for line in &lines {
        let position = line["global_position"].to_string();
        assert!(!theirs.contains(&format!("\"global_position\":{position},")));
    }
    let proofs_file = files.put("proofs.ndjson", &proofs);
    let (code, said) = verify_inclusion(&env, &kept, &proofs_file, &events_file, &vkey).await;
    assert_eq!(code, 0, "{said}");
    assert!(
        said.contains("every one of the 6 exported events"),
        "{said}"
    );

    // One hash of one proof changed: refused, naming the event.
    let mut forged = lines[2].clone();
    let first = forged["hashes"][0].as_str().unwrap().to_owned();
    let flipped = if first.starts_with('A') {
        first.replacen('A', "B", 1)
    } else {
        format!("A{}", &first[1..])
    };
    forged["hashes"][0] = Value::String(flipped);
    let mut tampered: Vec<String> = lines.iter().map(Value::to_string).collect();
    tampered[2] = forged.to_string();
    let tampered_file = files.put("tampered.ndjson", &tampered.join("\n"));
    let (code, said) = verify(
        &env,
        &[
            "inclusion",
            "--checkpoint",
            &kept,
            "--proofs",
            &tampered_file,
            "--key",
            &vkey,
        ],
    )
    .await;
    assert_eq!(code, 1, "{said}");
    assert!(
        said.contains(&format!("global position {}", lines[2]["global_position"])),
        "{said}"
    );

    // An exported event whose content was changed: its hash no longer fits.
    let mut exported: Vec<Value> = events
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let payload = exported[0]["stored_payload"]
        .as_str()
        .unwrap()
        .replace("ENT", "PLT");
    assert_ne!(payload, exported[0]["stored_payload"].as_str().unwrap());
    exported[0]["stored_payload"] = Value::String(payload);
    let altered: Vec<String> = exported.iter().map(Value::to_string).collect();
    let altered_file = files.put("altered.ndjson", &altered.join("\n"));
    let (code, said) = verify(
        &env,
        &[
            "inclusion",
            "--checkpoint",
            &kept,
            "--proofs",
            &proofs_file,
            "--events",
            &altered_file,
            "--key",
            &vkey,
        ],
    )
    .await;
    assert_eq!(code, 1, "{said}");
    assert!(said.contains("its content was changed"), "{said}");

    // More history, a later checkpoint: the log only grew since the one kept.
    activated_license(&api).await;
    let (newer, newer_size) = checkpoint_of(&ledger, size + 2).await;
    let newer_file = files.put("newer.checkpoint", &newer);
    let (status, proof) = public(
        &ledger,
        &format!("/v1/log/consistency-proof?from={size}&to={newer_size}"),
    )
    .await;
    assert_eq!(status, 200, "{proof}");
    let proof_file = files.put("consistency.json", &proof);
    let consistency = |old: String, new: String, key: String| {
        let env = &env;
        let proof_file = proof_file.clone();
        async move {
            verify(
                env,
                &[
                    "consistency",
                    "--old",
                    &old,
                    "--new",
                    &new,
                    "--proof",
                    &proof_file,
                    "--key",
                    &key,
                ],
            )
            .await
        }
    };
    let (code, said) = consistency(kept.clone(), newer_file.clone(), vkey.clone()).await;
    assert_eq!(code, 0, "{said}");
    assert!(
        said.contains("nothing signed before was changed or removed"),
        "{said}"
    );
    // The same proof does not join the checkpoints the other way round.
    let (code, said) = consistency(newer_file.clone(), kept.clone(), vkey.clone()).await;
    assert_eq!(code, 1, "{said}");
    // A mangled key is no key at all.
    let stranger = vkey.replacen('+', "x+", 1);
    let (code, said) = consistency(kept.clone(), newer_file.clone(), stranger).await;
    assert_ne!(code, 0, "{said}");
    // A file that is not there: the check could not run.
    let missing = files.dir.join("missing").display().to_string();
    let (code, said) = verify(&env, &["checkpoint", &missing, "--key", &vkey]).await;
    assert_eq!(code, 2, "{said}");
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_inclusion_proof_by_position_or_by_stream_and_its_bad_queries() {
    let env = TestEnv::fresh().with_checkpoints();
    let ledger = Ledger::start(ledger_bin!(), &env, &[]).await.unwrap();
    let api = Api::new(&ledger);
    let other = Api::new(&ledger);
    let license = activated_license(&api).await;
    let theirs = activated_license(&other).await;
    let (_, size) = checkpoint_of(&ledger, 4).await;

    let by_stream = api
        .get(&format!(
            "/inclusion-proof?aggregate_type=License&aggregate_id={license}&sequence=2"
        ))
        .await
        .unwrap();
    assert_eq!(by_stream.status, 200, "{}", by_stream.body);
    assert_eq!(by_stream.body["tree_size"], size);
    let position = by_stream.body["global_position"].clone();
    let by_position = api
        .get(&format!(
            "/inclusion-proof?global_position={position}&tree_size={size}"
        ))
        .await
        .unwrap();
    assert_eq!(by_position.body, by_stream.body);

    for (query, status, field) in [
        (String::new(), 400, "query.global_position"),
        (
            format!("?global_position={position}&aggregate_id={license}"),
            400,
            "query.global_position",
        ),
        (
            format!("?global_position={position}&tree_size=999999"),
            400,
            "query.tree_size",
        ),
        (
            "?global_position=0".to_owned(),
            400,
            "query.global_position",
        ),
        (
            "?global_position=abc".to_owned(),
            400,
            "query.global_position",
        ),
        ("?sequence=1".to_owned(), 400, "query.global_position"),
        ("?nope=1".to_owned(), 400, "query.nope"),
    ] {
        let answer = api.get(&format!("/inclusion-proof{query}")).await.unwrap();
        assert_eq!(answer.status, status, "{query}: {}", answer.body);
        assert_eq!(answer.body["field"], field, "{query}: {}", answer.body);
    }
    // Another account's event answers like a missing one.
    let foreign = api
        .get(&format!(
            "/inclusion-proof?aggregate_type=License&aggregate_id={theirs}&sequence=1"
        ))
        .await
        .unwrap();
    assert_eq!(foreign.status, 404, "{}", foreign.body);

    for (query, field) in [
        ("", "query.from"),
        ("?from=0&to=1", "query.from"),
        ("?from=2&to=1", "query.from"),
        ("?from=1&to=99999999", "query.to"),
    ] {
        let (status, body) = public(&ledger, &format!("/v1/log/consistency-proof{query}")).await;
        assert_eq!(status, 400, "{query}: {body}");
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["field"], field, "{query}: {body}");
    }
    let (status, listed) = public(&ledger, "/v1/log/checkpoints?limit=1").await;
    assert_eq!(status, 200);
    let listed: Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(listed["checkpoints"][0]["checkpoint"], 1);
    assert!(listed["checkpoints"][0]["note"]
        .as_str()
        .unwrap()
        .contains("\n\n\u{2014} "));
    env.cleanup().await;
}

/// `(global_position, leaf_index)` of every line of an inclusion-proofs answer.
fn proven_positions(proofs: &str) -> Vec<(i64, u64)> {
    proofs
        .lines()
        .map(|line| {
            let proof: Value = serde_json::from_str(line).unwrap();
            (
                proof["global_position"].as_i64().unwrap(),
                proof["leaf_index"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_auditor_proves_offline_every_one_of_twenty_thousand_events_of_an_account_interleaved_in_the_log_with_another(
) {
    const OURS: usize = 20_000;
    const THEIRS: usize = 4_000;
    let env = TestEnv::fresh().with_checkpoints();
    let migrated = run_ledger(ledger_bin!(), &env, &["migrate"]).await;
    assert!(migrated.status.success(), "{migrated:?}");
    // Five purchases of every six are the audited account's, the sixth another's,
    // so the two interleave all through the log. Seeded before the ledger starts:
    // its relay publishes them as a backlog and grows the log over them.
    let (ours, theirs) = (Uuid::now_v7(), Uuid::now_v7());
    let pool = env.pool().await;
    let seeding = Instant::now();
    let seeded = seed::purchases_of(
        &pool,
        &[ours, ours, ours, ours, ours, theirs],
        OURS + THEIRS,
    )
    .await
    .unwrap();
    pool.close().await;
    eprintln!("seeding {} events: {:?}", seeded.events, seeding.elapsed());
    let started = Instant::now();
    // No projector: the walk reads the store and the log only, and a projector
    // applying the backlog would only share the machine's CPU with the walk.
    let ledger = Ledger::start_roles(ledger_bin!(), &env, "gateway,relay", &[])
        .await
        .unwrap();
    let (note, size) = checkpoint_of(&ledger, seeded.events).await;
    eprintln!(
        "start and a checkpoint of {size} events: {:?}",
        started.elapsed()
    );
    let files = Files::new(&env);
    let (status, keys) = public(&ledger, "/v1/log/keys").await;
    assert_eq!(status, 200, "{keys}");
    let keys: Value = serde_json::from_str(&keys).unwrap();
    let vkey = keys["keys"][0]["vkey"].as_str().unwrap().to_owned();
    let kept = files.put("kept.checkpoint", &note);
    // The auditor's token of the account; no account row is needed to read history.
    let auditor = Api::new(&ledger).with_token(ours, &env.token(Role::Auditor, Some(ours), None));
    let their_auditor = auditor.with_token(theirs, &env.token(Role::Auditor, Some(theirs), None));

    let fetching = Instant::now();
    let (status, events) = auditor.text("/events.ndjson").await.unwrap();
    eprintln!(
        "export of {} events ({} bytes): {:?}",
        events.lines().count(),
        events.len(),
        fetching.elapsed()
    );
    assert_eq!(status, 200);
    assert_eq!(events.lines().count(), OURS);
    assert!(!events.contains(&theirs.to_string()));
    let exported: HashSet<i64> = events
        .lines()
        .map(|line| {
            let event: Value = serde_json::from_str(line).unwrap();
            event["global_position"].as_i64().unwrap()
        })
        .collect();
    assert_eq!(exported.len(), OURS);

    let fetching = Instant::now();
    let (status, proofs) = auditor
        .text(&format!("/inclusion-proofs.ndjson?tree_size={size}"))
        .await
        .unwrap();
    eprintln!(
        "inclusion proofs of {} events ({} bytes): {:?}",
        proofs.lines().count(),
        proofs.len(),
        fetching.elapsed()
    );
    assert_eq!(status, 200, "{proofs}");
    let proven = proven_positions(&proofs);
    assert_eq!(proven.len(), OURS);
    // Each of the account's own events once, in log order.
    assert!(proven
        .iter()
        .all(|(position, _)| exported.contains(position)));
    assert!(proven.windows(2).all(|pair| pair[0].1 < pair[1].1));
    let fetching = Instant::now();
    let (status, their_proofs) = their_auditor
        .text(&format!("/inclusion-proofs.ndjson?tree_size={size}"))
        .await
        .unwrap();
    eprintln!(
        "inclusion proofs of the other account: {:?}",
        fetching.elapsed()
    );
    assert_eq!(status, 200, "{their_proofs}");
    let their_proven = proven_positions(&their_proofs);
    assert_eq!(their_proven.len(), THEIRS);
    assert!(their_proven
        .iter()
        .all(|(position, _)| !exported.contains(position)));
    // Their leaves lie among ours, which name them only as hashes.
    let ours_span = proven[0].1..=proven[OURS - 1].1;
    let among = their_proven
        .iter()
        .filter(|(_, leaf)| ours_span.contains(leaf))
        .count();
    assert!(among > THEIRS / 2, "{among} of their leaves among ours");

    let events_file = files.put("events.ndjson", &events);
    let proofs_file = files.put("proofs.ndjson", &proofs);
    let verifying = Instant::now();
    let (code, said) = verify_inclusion(&env, &kept, &proofs_file, &events_file, &vkey).await;
    eprintln!("ledger verify inclusion: {:?}", verifying.elapsed());
    assert_eq!(code, 0, "{said}");
    assert!(
        said.contains(&format!("{OURS} events are in the log of {size} events")),
        "{said}"
    );
    assert!(
        said.contains(&format!(
            "every one of the {OURS} exported events up to the checkpoint is proven"
        )),
        "{said}"
    );
    assert!(said.contains("; 0 exported events are newer"), "{said}");
    std::fs::remove_dir_all(&files.dir).unwrap();
    env.cleanup().await;
}
