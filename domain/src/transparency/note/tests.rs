//! Round trips, strict parsing, and published notes, keys and cosignatures from
//! other implementations, which show that ours interoperate.

use chrono::DateTime;

use super::*;
use crate::transparency::merkle::{leaf_hash, root_from_leaves};

/// A signing key from a one-byte seed.
fn key(seed: u8) -> KeyringEntry {
    KeyringEntry::from_seed("tlog", DateTime::UNIX_EPOCH, &[seed; 32]).unwrap()
}

/// A verify-only copy of a key.
fn public_only(key: &KeyringEntry) -> KeyringEntry {
    KeyringEntry::verify_only("tlog", DateTime::UNIX_EPOCH, &key.public_key_base64()).unwrap()
}

/// A checkpoint of a small tree.
fn body() -> CheckpointBody {
    let leaves: Vec<Hash> = (0u8..5).map(|i| leaf_hash(&[i])).collect();
    CheckpointBody {
        origin: "ledger.example.com/log".to_owned(),
        size: 5,
        root: root_from_leaves(&leaves),
        extensions: vec![],
    }
}

/// Lowercase hex.
fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Decodes base64 test data.
fn b64(s: &str) -> Vec<u8> {
    BASE64.decode(s).unwrap()
}

// From golang.org/x/mod, sumdb/note/note_test.go (`TestSign`, `TestOpen`,
// `TestVerifierList`), the reference implementation of signed notes.
const GO_TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                       then you don't know what your problem is.\n";
/// The base64 of `PRIVATE+KEY+PeterNeumann+c74f20a3+<this>`: 0x01 then the seed.
const PETER_SKEY_MATERIAL: &str = "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const PETER_SIG: &str = "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
const ENOCH_VKEY: &str = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
const ENOCH_SIG: &str = "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

/// Peter Neumann's signing key from Go's test.
fn peter_key() -> KeyringEntry {
    let material = b64(PETER_SKEY_MATERIAL);
    assert_eq!(material[0], ALG_ED25519);
    let seed: [u8; 32] = material[1..].try_into().unwrap();
    KeyringEntry::from_seed("peter", DateTime::UNIX_EPOCH, &seed).unwrap()
}

#[test]
fn our_parser_and_verifier_accept_gos_published_note() {
    let vkey = VerifierKey::parse(PETER_VKEY).unwrap();
    assert_eq!(vkey.name(), "PeterNeumann");
    assert_eq!(vkey.key_hash(), [0xc7, 0x4f, 0x20, 0xa3]);
    let note = SignedNote::parse(&format!("{GO_TEXT}\n{PETER_SIG}")).unwrap();
    assert_eq!(note.text, GO_TEXT);
    assert_eq!(note.verify(vkey.name(), vkey.public_key()), Ok(()));
}

#[test]
fn signing_gos_text_with_gos_key_gives_gos_bytes() {
    let key = peter_key();
    let signature = sign_note(GO_TEXT, "PeterNeumann", &key).unwrap();
    let note = SignedNote {
        text: GO_TEXT.to_owned(),
        signatures: vec![signature],
    };
    assert_eq!(note.format(), format!("{GO_TEXT}\n{PETER_SIG}"));
    let vkey = VerifierKey::ed25519("PeterNeumann", key.public_key_bytes()).unwrap();
    assert_eq!(vkey.format(), PETER_VKEY);
}

#[test]
fn each_key_of_gos_doubly_signed_note_verifies_its_own_line() {
    let note = SignedNote::parse(&format!("{GO_TEXT}\n{PETER_SIG}{ENOCH_SIG}")).unwrap();
    for vkey in [PETER_VKEY, ENOCH_VKEY] {
        let vkey: VerifierKey = vkey.parse().unwrap();
        assert_eq!(note.verify(vkey.name(), vkey.public_key()), Ok(()));
    }
    // Go's example key `EnochRoot` is the one of the all-zero seed.
    let zero = KeyringEntry::from_seed("enoch", DateTime::UNIX_EPOCH, &[0; 32]).unwrap();
    let vkey = VerifierKey::ed25519("EnochRoot", zero.public_key_bytes()).unwrap();
    assert_eq!(vkey.to_string(), ENOCH_VKEY);
    assert_eq!(
        sign_note(GO_TEXT, "EnochRoot", &zero).unwrap().line(),
        ENOCH_SIG
    );
}

#[test]
fn gos_malformed_notes_are_rejected() {
    // `TestOpen`'s `badMsgs`, but the non-UTF-8 one, which a `&str` cannot hold.
    let cut = &PETER_SIG[..PETER_SIG.len() - 1];
    let bad_name = "— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=";
    let cases = [
        (GO_TEXT.to_owned(), NoteError::NoSignatureBlock),
        (format!("{GO_TEXT}\n"), NoteError::NoSignatureBlock),
        (format!("{GO_TEXT}\n{cut}"), NoteError::MissingFinalNewline),
        (
            format!("\x01{GO_TEXT}\n{PETER_SIG}"),
            NoteError::ControlCharacter,
        ),
        (
            format!("{GO_TEXT}\n{bad_name}"),
            NoteError::MissingFinalNewline,
        ),
        (
            format!("{GO_TEXT}\n{bad_name}\n"),
            // The name ends at the first space, so "Name …" is read as base64.
            NoteError::BadSignatureLine {
                line: 1,
                reason: "the signature is not standard base64",
            },
        ),
        (
            format!("{GO_TEXT}\n{PETER_SIG}Unexpected line.\n"),
            NoteError::BadSignatureLine {
                line: 2,
                reason: "does not start with an em dash and a space",
            },
        ),
        (
            format!("{GO_TEXT}\n{}", PETER_SIG.repeat(101)),
            NoteError::TooManySignatures,
        ),
    ];
    for (note, want) in cases {
        assert_eq!(SignedNote::parse(&note), Err(want), "{note:?}");
    }
    assert!(SignedNote::parse(&format!("{GO_TEXT}\n{}", PETER_SIG.repeat(100))).is_ok());
}

#[test]
fn a_corrupted_signature_of_a_known_key_rejects_the_note() {
    // `TestOpen`'s "invalid signature": four base64 characters inserted.
    let corrupted = format!("{}ABCD{}", &PETER_SIG[..60], &PETER_SIG[60..]);
    let note = SignedNote::parse(&format!("{GO_TEXT}\n{corrupted}")).unwrap();
    let vkey = VerifierKey::parse(PETER_VKEY).unwrap();
    assert_eq!(
        note.verify(vkey.name(), vkey.public_key()),
        Err(NoteError::InvalidSignature {
            name: "PeterNeumann".to_owned(),
            key_hash: 0xc74f20a3
        })
    );
}

// From C2SP/C2SP `signed-note.md` (commit 5ba5ee830903e91240fc6f9f3a7a9293d49e69c9),
// its "Example" and the note at its top.
const C2SP_VKEY: &str = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";
const C2SP_NOTE: &str = "This is an example message.\n\n— example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n";
const C2SP_POEM: &str = "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned è subito sera.\n\n— quasimodo.example/salvatore NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9oJKONrMouFSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=\n";

#[test]
fn the_signed_note_specs_example_verifies_with_its_vkey() {
    let vkey = VerifierKey::parse(C2SP_VKEY).unwrap();
    let note = SignedNote::parse(C2SP_NOTE).unwrap();
    assert_eq!(note.text, "This is an example message.\n");
    assert_eq!(note.verify(vkey.name(), vkey.public_key()), Ok(()));
    assert_eq!(note.format(), C2SP_NOTE);
}

#[test]
fn a_note_text_may_hold_blank_lines_and_ends_at_the_last_one() {
    let note = SignedNote::parse(C2SP_POEM).unwrap();
    assert_eq!(
        note.text,
        "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned è subito sera.\n"
    );
    assert_eq!(note.signatures.len(), 1);
    assert_eq!(note.signatures[0].name, "quasimodo.example/salvatore");
    assert_eq!(note.format(), C2SP_POEM);
}

#[test]
fn the_checkpoint_specs_example_body_is_read() {
    // C2SP/C2SP `tlog-checkpoint.md`, same commit.
    let text =
        "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
    let body = CheckpointBody::parse(text).unwrap();
    assert_eq!(body.origin, "example.com/behind-the-sofa");
    assert_eq!(body.size, 20852163);
    assert_eq!(body.root[..3], [0x0a, 0xc5, 0x18]);
    assert_eq!(body.text(), text);
}

// A checkpoint published by the Certificate Transparency staging log
// `arche2025h1.staging.ct.transparency.dev`, signed by the log and cosigned by
// witnesses, as quoted by a third-party test suite of checkpoint verification. The
// log's vkey is published with the log; the witness `remora.n621.de`'s vkey is also
// in transparency-dev/formats, `note/note_cosigv1_test.go`. Only the lines used
// here are kept; the others are signatures of unknown keys to this test.
const CT_CHECKPOINT: &str = "arche2025h1.staging.ct.transparency.dev\n\
1432088532\n\
U7WM79jrzyhGZ5/GUBTpM7NzwdyfFx61t3RovgcC4Ro=\n\
\n\
— arche2025h1.staging.ct.transparency.dev zTM8sQAAAZ5W0WdjBAMARjBEAiBjW5IQf9pvsYLfQFX6hoGREPMHbdQ3urbllzalApkptQIgIpwtEroeW2BXaHAI4kJXFbon5Ch9MNL5zRNZ55lvGt0=\n\
— arche2025h1.staging.ct.transparency.dev ui8GwCF1+kWqZrxGdhj4aX3gcw7XUlXQQabg/27lefwhUkzbC3NygNI75MdhL1bfTW9g8Ei59RA23oHP7Ry1k3ZFWwQ=\n\
— transparency.dev/DEV:witness-little-garden 2AQqhwAAAABqEiEgzgFIqqhbUoDwjMWE6UP8nd8/KYTzwZ2rhIgcqoXHAwVkjZr4AscylP3v7sEodkRAErumC2q44vdgJY096st5BQ==\n\
— remora.n621.de 2net5wAAAABqEiEgPlfF3V06o0Y+fHM+J5J9s27wgxxcOVSpZ/2g/KSiXCg9DEZI+aVCIobWX9sXTynk5XeU/zZ0WBxtqB0DrAWfBw==\n";
const CT_LOG_VKEY: &str =
    "arche2025h1.staging.ct.transparency.dev+ba2f06c0+AU0vHmlGCS/PdN8b2OaGmKprLI8HKM+dJ472xgFYh15f";
const REMORA_VKEY: &str = "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2";

#[test]
fn a_real_ct_checkpoint_verifies_with_the_logs_key_and_a_witness_cosignature() {
    let note = SignedNote::parse(CT_CHECKPOINT).unwrap();
    let body = note.checkpoint().unwrap();
    assert_eq!(body.origin, "arche2025h1.staging.ct.transparency.dev");
    assert_eq!(body.size, 1432088532);

    // The first line is an RFC 6962 signature (type 0x05) under the same name:
    // another key ID, so ignored.
    let log = VerifierKey::parse(CT_LOG_VKEY).unwrap();
    assert_eq!(note.verify(log.name(), log.public_key()), Ok(()));

    let witness = VerifierKey::parse(REMORA_VKEY).unwrap();
    assert_eq!(witness.algorithm(), ALG_COSIGNATURE_V1);
    let at = note
        .verify_cosignature(witness.name(), witness.public_key())
        .unwrap();
    assert_eq!(at, 0x6a12_2120);
    let line = note.signatures.last().unwrap();
    assert_eq!(
        verify_cosignature(&note.text, line, witness.name(), witness.public_key()),
        Ok(at)
    );
    // The witness key does not make an Ed25519 note signature, nor the log's key a
    // cosignature.
    assert!(matches!(
        note.verify(witness.name(), witness.public_key()),
        Err(NoteError::NoSignatureByKey { .. })
    ));
    assert!(matches!(
        note.verify_cosignature(log.name(), log.public_key()),
        Err(NoteError::NoSignatureByKey { .. })
    ));
}

#[test]
fn an_altered_real_checkpoint_fails_both_signatures() {
    let altered = CT_CHECKPOINT.replacen("1432088532", "1432088533", 1);
    let note = SignedNote::parse(&altered).unwrap();
    let log = VerifierKey::parse(CT_LOG_VKEY).unwrap();
    assert!(matches!(
        note.verify(log.name(), log.public_key()),
        Err(NoteError::InvalidSignature { .. })
    ));
    let witness = VerifierKey::parse(REMORA_VKEY).unwrap();
    assert!(matches!(
        note.verify_cosignature(witness.name(), witness.public_key()),
        Err(NoteError::InvalidSignature { .. })
    ));
}

#[test]
fn a_checkpoint_body_is_three_lines_and_its_extensions() {
    let mut body = body();
    let root = BASE64.encode(body.root);
    assert_eq!(body.text(), format!("ledger.example.com/log\n5\n{root}\n"));
    assert_eq!(CheckpointBody::parse(&body.text()), Ok(body.clone()));
    body.extensions = vec!["first extension".to_owned(), "— second".to_owned()];
    assert_eq!(
        body.text(),
        format!("ledger.example.com/log\n5\n{root}\nfirst extension\n— second\n")
    );
    assert_eq!(CheckpointBody::parse(&body.text()), Ok(body));
    let empty = CheckpointBody {
        origin: "o".to_owned(),
        size: 0,
        root: crate::transparency::merkle::empty_root(),
        extensions: vec![],
    };
    assert_eq!(CheckpointBody::parse(&empty.text()), Ok(empty));
}

#[test]
fn malformed_checkpoint_bodies_are_rejected() {
    let root = BASE64.encode(body().root);
    let short = BASE64.encode([0u8; 31]);
    let unpadded = root.trim_end_matches('=').to_owned();
    let cases = [
        (String::new(), NoteError::MissingFinalNewline),
        (format!("o\n5\n{root}"), NoteError::MissingFinalNewline),
        ("o\n5\n".to_owned(), NoteError::MissingLines),
        (format!("\n5\n{root}\n"), NoteError::EmptyOrigin),
        (
            format!("o\n05\n{root}\n"),
            NoteError::BadTreeSize("05".to_owned()),
        ),
        (
            format!("o\n00\n{root}\n"),
            NoteError::BadTreeSize("00".to_owned()),
        ),
        (
            format!("o\n+5\n{root}\n"),
            NoteError::BadTreeSize("+5".to_owned()),
        ),
        (
            format!("o\n5a\n{root}\n"),
            NoteError::BadTreeSize("5a".to_owned()),
        ),
        (
            format!("o\n\n{root}\n"),
            NoteError::BadTreeSize(String::new()),
        ),
        (
            format!("o\n18446744073709551616\n{root}\n"),
            NoteError::BadTreeSize("18446744073709551616".to_owned()),
        ),
        ("o\n5\nnot base64!\n".to_owned(), NoteError::BadRootHash),
        (format!("o\n5\n{short}\n"), NoteError::BadRootHash),
        (format!("o\n5\n{unpadded}\n"), NoteError::BadRootHash),
        ("o\n5\n\n".to_owned(), NoteError::BadRootHash),
        (format!("o\n5\n{root}\n\n"), NoteError::EmptyExtensionLine),
        (
            format!("o\n5\n{root}\next\n\n"),
            NoteError::EmptyExtensionLine,
        ),
        (format!("o\r\n5\n{root}\n"), NoteError::ControlCharacter),
    ];
    for (text, want) in cases {
        assert_eq!(CheckpointBody::parse(&text), Err(want), "{text:?}");
    }
    let max = format!("o\n18446744073709551615\n{root}\n");
    assert_eq!(CheckpointBody::parse(&max).map(|b| b.size), Ok(u64::MAX));
}

#[test]
fn a_signed_checkpoint_is_formatted_to_the_exact_bytes_and_read_back() {
    let key = key(1);
    let body = body();
    let text = body.text();
    let signature = sign_note(&text, &body.origin, &key).unwrap();
    let note = SignedNote {
        text: text.clone(),
        signatures: vec![signature.clone()],
    };
    let mut line_bytes = signature.key_hash.to_vec();
    line_bytes.extend_from_slice(&key.sign_message(text.as_bytes()).unwrap());
    let want = format!(
        "ledger.example.com/log\n5\n{}\n\n\u{2014} ledger.example.com/log {}\n",
        BASE64.encode(body.root),
        BASE64.encode(&line_bytes)
    );
    assert_eq!(note.format(), want);
    assert_eq!(
        signature.key_hash,
        Sha256::digest(
            [
                b"ledger.example.com/log\n\x01".as_slice(),
                &key.public_key_bytes()
            ]
            .concat()
        )[..4]
    );
    let read = SignedNote::parse(&want).unwrap();
    assert_eq!(read, note);
    assert_eq!(read.checkpoint(), Ok(body.clone()));
    assert_eq!(read.verify(&body.origin, key.public_key_bytes()), Ok(()));
}

#[test]
fn a_signature_by_another_key_or_over_other_text_fails() {
    let (ours, theirs) = (key(1), key(2));
    let body = body();
    let text = body.text();
    let signature = sign_note(&text, &body.origin, &ours).unwrap();
    let note = SignedNote {
        text: text.clone(),
        signatures: vec![signature.clone()],
    };
    // Another key under the same name has another key ID: not its signature.
    assert_eq!(
        note.verify(&body.origin, theirs.public_key_bytes()),
        Err(NoteError::NoSignatureByKey {
            name: body.origin.clone(),
            key_hash: u32::from_be_bytes(key_hash(
                &body.origin,
                ALG_ED25519,
                &theirs.public_key_bytes()
            ))
        })
    );
    // Another name: not its signature either.
    assert!(matches!(
        note.verify("other.example.com/log", ours.public_key_bytes()),
        Err(NoteError::NoSignatureByKey { .. })
    ));
    // Other text.
    let mut altered = note.clone();
    altered.text = text.replace("\n5\n", "\n6\n");
    assert!(matches!(
        altered.verify(&body.origin, ours.public_key_bytes()),
        Err(NoteError::InvalidSignature { .. })
    ));
    // A forged line with our name and key ID but their signature.
    let mut forged = signature.clone();
    forged.signature = theirs.sign_message(text.as_bytes()).unwrap().to_vec();
    let forged = SignedNote {
        text: text.clone(),
        signatures: vec![forged],
    };
    assert!(matches!(
        forged.verify(&body.origin, ours.public_key_bytes()),
        Err(NoteError::InvalidSignature { .. })
    ));
    // A bad line of ours rejects the note even beside a good one.
    let mut both = forged.clone();
    both.signatures.push(signature);
    assert!(matches!(
        both.verify(&body.origin, ours.public_key_bytes()),
        Err(NoteError::InvalidSignature { .. })
    ));
}

#[test]
fn unknown_signatures_are_ignored() {
    let (ours, theirs) = (key(1), key(2));
    let text = body().text();
    let note = SignedNote {
        text: text.clone(),
        signatures: vec![
            sign_note(&text, "witness.example.com", &theirs).unwrap(),
            NoteSignature {
                name: "someone.example.com".to_owned(),
                key_hash: [1, 2, 3, 4],
                signature: vec![0; 3],
            },
            sign_note(&text, "ledger.example.com/log", &ours).unwrap(),
        ],
    };
    let read = SignedNote::parse(&note.format()).unwrap();
    assert_eq!(read, note);
    assert_eq!(
        read.verify("ledger.example.com/log", ours.public_key_bytes()),
        Ok(())
    );
    assert_eq!(
        read.verify("witness.example.com", theirs.public_key_bytes()),
        Ok(())
    );
}

#[test]
fn malformed_signature_lines_are_rejected() {
    let text = body().text();
    let line = sign_note(&text, "log", &key(1)).unwrap().line();
    let encoded = line.trim_end().rsplit(' ').next().unwrap().to_owned();
    let bad_line = |line: usize, reason: &'static str| NoteError::BadSignatureLine { line, reason };
    let cases = [
        (
            format!("- log {encoded}\n"),
            bad_line(1, "does not start with an em dash and a space"),
        ),
        (
            format!("—log {encoded}\n"),
            bad_line(1, "does not start with an em dash and a space"),
        ),
        (
            format!("— log{encoded}\n"),
            bad_line(1, "no space between key name and signature"),
        ),
        (
            "— log \n".to_owned(),
            bad_line(1, "the signature is not a key ID followed by a signature"),
        ),
        (
            format!("— log {encoded}!\n"),
            bad_line(1, "the signature is not standard base64"),
        ),
        (
            format!("— log {encoded} \n"),
            bad_line(1, "the signature is not standard base64"),
        ),
        (
            format!("— log {}\n", BASE64.encode([1, 2, 3, 4])),
            bad_line(1, "the signature is not a key ID followed by a signature"),
        ),
        (
            format!("— a+b {encoded}\n"),
            NoteError::InvalidKeyName("a+b".to_owned()),
        ),
        (
            format!("—  {encoded}\n"),
            NoteError::InvalidKeyName(String::new()),
        ),
    ];
    for (block, want) in cases {
        let note = format!("{text}\n{block}");
        assert_eq!(SignedNote::parse(&note), Err(want), "{note:?}");
    }
    // A blank line between signature lines ends the text there: the lines above
    // it become text, as the spec's "last empty line" says.
    let split = SignedNote::parse(&format!("{text}\n{line}\n{line}")).unwrap();
    assert_eq!(split.text, format!("{text}\n{line}"));
    assert_eq!(split.signatures.len(), 1);
    // One byte of signature after the key ID is the shortest line Go reads.
    let five = format!("{text}\n— log {}\n", BASE64.encode([1, 2, 3, 4, 5]));
    assert!(SignedNote::parse(&five).is_ok());
}

#[test]
fn only_note_texts_are_signed_and_only_with_a_private_key() {
    let key = key(1);
    assert_eq!(
        sign_note("no newline", "log", &key),
        Err(NoteError::MissingFinalNewline)
    );
    assert_eq!(
        sign_note("tab\there\n", "log", &key),
        Err(NoteError::ControlCharacter)
    );
    for name in ["", "a b", "a+b", "a\u{a0}b", "tab\tname"] {
        assert_eq!(
            sign_note("text\n", name, &key),
            Err(NoteError::InvalidKeyName(name.to_owned()))
        );
    }
    assert_eq!(
        sign_note("text\n", "log", &public_only(&key)),
        Err(NoteError::CannotSign)
    );
}

#[test]
fn a_vkey_round_trips_and_names_its_key_id() {
    let key = key(3);
    for vkey in [
        VerifierKey::ed25519("ledger.example.com/log", key.public_key_bytes()).unwrap(),
        VerifierKey::cosignature_v1("witness.example.com/w1", key.public_key_bytes()).unwrap(),
    ] {
        let text = vkey.format();
        let parts: Vec<&str> = text.splitn(3, '+').collect();
        assert_eq!(parts[0], vkey.name());
        assert_eq!(
            parts[1],
            format!("{:08x}", u32::from_be_bytes(vkey.key_hash()))
        );
        assert_eq!(b64(parts[2])[0], vkey.algorithm());
        assert_eq!(VerifierKey::parse(&text), Ok(vkey));
    }
}

#[test]
fn malformed_vkeys_are_rejected() {
    let mangled_hash = PETER_VKEY.replace("c74f20a3", "c74f20a4");
    let upper = PETER_VKEY.replace("c74f20a3", "C74F20A3");
    // A 33-byte public key, with the key ID it would have.
    let material = [[ALG_ED25519].as_slice(), &[7; 33]].concat();
    let id = Sha256::digest([b"n\n".as_slice(), &material].concat());
    let long_key = format!("n+{}+{}", hex_of(&id[..4]), BASE64.encode(&material));
    let cases = [
        (
            "PeterNeumann".to_owned(),
            NoteError::BadVerifierKey("no `+` after the name"),
        ),
        (
            "PeterNeumann+c74f20a3".to_owned(),
            NoteError::BadVerifierKey("no `+` after the key ID"),
        ),
        (mangled_hash, NoteError::VerifierKeyHashMismatch),
        (
            upper,
            NoteError::BadVerifierKey("the key ID is not 8 lowercase hex digits"),
        ),
        (
            PETER_VKEY.replace("c74f20a3", "c74f20a"),
            NoteError::BadVerifierKey("the key ID is not 8 lowercase hex digits"),
        ),
        (
            PETER_VKEY.replace("PeterNeumann", "Peter Neumann"),
            NoteError::InvalidKeyName("Peter Neumann".to_owned()),
        ),
        (
            format!("{PETER_VKEY}!"),
            NoteError::BadVerifierKey("the key is not standard base64"),
        ),
        (
            "n+00000000+".to_owned(),
            NoteError::BadVerifierKey("the key is empty"),
        ),
        // Go's own cases: a wrong-length key and an unknown algorithm, each with
        // its key ID adjusted. Go's base64 decoder takes the first one's
        // non-zero padding bits; ours is strict and stops there.
        (
            "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==".to_owned(),
            NoteError::BadVerifierKey("the key is not standard base64"),
        ),
        (
            long_key,
            NoteError::BadVerifierKey("the public key is not 32 bytes"),
        ),
        (
            "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW".to_owned(),
            NoteError::UnknownAlgorithm(0x65),
        ),
    ];
    for (vkey, want) in cases {
        assert_eq!(VerifierKey::parse(&vkey), Err(want), "{vkey}");
    }
}

#[test]
fn a_cosignature_signs_the_header_the_time_and_the_body() {
    let witness = key(4);
    let text = body().text();
    assert_eq!(
        cosignature_message(&text, 1679315147),
        format!("cosignature/v1\ntime 1679315147\n{text}")
    );
    let signature = cosign(&text, "witness.example.com/w1", &witness, 1679315147).unwrap();
    assert_eq!(
        signature.key_hash,
        key_hash(
            "witness.example.com/w1",
            ALG_COSIGNATURE_V1,
            &witness.public_key_bytes()
        )
    );
    assert_eq!(signature.signature.len(), 72);
    assert_eq!(signature.signature[..8], 1679315147u64.to_be_bytes());
    let message = cosignature_message(&text, 1679315147);
    assert!(witness.verifies_message(message.as_bytes(), &signature.signature[8..]));
    assert_eq!(
        verify_cosignature(
            &text,
            &signature,
            "witness.example.com/w1",
            witness.public_key_bytes()
        ),
        Ok(1679315147)
    );
}

#[test]
fn a_cosigned_checkpoint_round_trips_beside_the_logs_signature() {
    let (log, witness) = (key(1), key(4));
    let body = body();
    let text = body.text();
    let note = SignedNote {
        text: text.clone(),
        signatures: vec![
            sign_note(&text, &body.origin, &log).unwrap(),
            cosign(&text, "witness.example.com/w1", &witness, 1_700_000_000).unwrap(),
        ],
    };
    let read = SignedNote::parse(&note.format()).unwrap();
    assert_eq!(read, note);
    assert_eq!(read.verify(&body.origin, log.public_key_bytes()), Ok(()));
    assert_eq!(
        read.verify_cosignature("witness.example.com/w1", witness.public_key_bytes()),
        Ok(1_700_000_000)
    );
    // A witness's cosignature is not a note signature by the same key and name.
    assert!(matches!(
        read.verify("witness.example.com/w1", witness.public_key_bytes()),
        Err(NoteError::NoSignatureByKey { .. })
    ));
}

#[test]
fn a_cosignature_by_another_key_over_other_text_or_at_another_time_fails() {
    let (witness, other) = (key(4), key(5));
    let text = body().text();
    let name = "witness.example.com/w1";
    let signature = cosign(&text, name, &witness, 1_700_000_000).unwrap();
    assert!(matches!(
        verify_cosignature(&text, &signature, name, other.public_key_bytes()),
        Err(NoteError::NoSignatureByKey { .. })
    ));
    assert!(matches!(
        verify_cosignature(
            &text,
            &signature,
            "witness.example.com/w2",
            witness.public_key_bytes()
        ),
        Err(NoteError::NoSignatureByKey { .. })
    ));
    let altered = text.replace("\n5\n", "\n6\n");
    assert!(matches!(
        verify_cosignature(&altered, &signature, name, witness.public_key_bytes()),
        Err(NoteError::InvalidSignature { .. })
    ));
    let mut later = signature.clone();
    later.signature[..8].copy_from_slice(&1_700_000_001u64.to_be_bytes());
    assert!(matches!(
        verify_cosignature(&text, &later, name, witness.public_key_bytes()),
        Err(NoteError::InvalidSignature { .. })
    ));
    let mut short = signature.clone();
    short.signature.pop();
    assert_eq!(
        verify_cosignature(&text, &short, name, witness.public_key_bytes()),
        Err(NoteError::MalformedCosignature(71))
    );
    let mut huge = signature;
    huge.signature[..8].copy_from_slice(&(1u64 << 63).to_be_bytes());
    assert_eq!(
        verify_cosignature(&text, &huge, name, witness.public_key_bytes()),
        Err(NoteError::TimestampTooLarge(1 << 63))
    );
}

#[test]
fn only_checkpoints_are_cosigned_and_only_at_representable_times() {
    let witness = key(4);
    let text = body().text();
    assert_eq!(
        cosign("not a checkpoint\n", "w", &witness, 1),
        Err(NoteError::MissingLines)
    );
    assert_eq!(
        cosign(&text, "w", &witness, 1 << 63),
        Err(NoteError::TimestampTooLarge(1 << 63))
    );
    assert!(cosign(&text, "w", &witness, (1 << 63) - 1).is_ok());
    assert_eq!(
        cosign(&text, "w", &public_only(&witness), 1),
        Err(NoteError::CannotSign)
    );
    assert_eq!(
        cosign(&text, "a b", &witness, 1),
        Err(NoteError::InvalidKeyName("a b".to_owned()))
    );
}
