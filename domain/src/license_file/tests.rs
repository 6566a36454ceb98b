//! Signing and verifying whole files: determinism, tamper evidence, key rotation.

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use super::*;
use crate::keys::{KeyError, Keyring, KeyringEntry};
use crate::values::{AllocationId, BindingType, HostId};

pub(super) fn at(instant: &str) -> DateTime<Utc> {
    instant.parse().unwrap()
}

pub(super) fn key(id: &str, active_from: &str, seed: u8) -> KeyringEntry {
    KeyringEntry::from_seed(id, at(active_from), &[seed; 32]).unwrap()
}

pub(super) fn public_only(key: &KeyringEntry) -> KeyringEntry {
    KeyringEntry::verify_only(key.key_id(), key.active_from(), &key.public_key_base64()).unwrap()
}

pub(super) fn keyring(keys: Vec<KeyringEntry>) -> Keyring {
    Keyring::new(keys).unwrap()
}

pub(super) fn content() -> LicenseFileContent {
    LicenseFileContent {
        identity: FileIdentity {
            account_id: crate::AccountId(Uuid::from_u128(1)),
            license_id: crate::LicenseId(Uuid::from_u128(2)),
            allocation_id: AllocationId(Uuid::from_u128(3)),
            revision: 3,
        },
        binding_type: BindingType::HostName,
        host: HostId::parse(BindingType::HostName, "CTXSRV01").unwrap(),
        vendor: VendorName::parse("CITRIX").unwrap(),
        feature: "XDT_ENT_UD".into(),
        maintenance_until: NaiveDate::from_ymd_opt(2027, 1, 31).unwrap(),
        expires_on: None,
        count: 800,
        trial: false,
        overdraft_percent: 10,
        issued_at: at("2026-11-22T10:00:00Z"),
        order_number: "ORD-1".into(),
        access_code: "LA-0001234567-12345".into(),
    }
}

pub(super) fn k1() -> KeyringEntry {
    key("k1", "2026-01-01T00:00:00Z", 7)
}

#[test]
fn a_rendered_file_is_deterministic_and_has_the_flexnet_layout() {
    let keys = keyring(vec![k1()]);
    let text = sign(&content(), &keys).unwrap();
    assert_eq!(text, sign(&content(), &keys).unwrap());
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "# licensing-ledger license file");
    assert_eq!(lines[6], "SERVER this_host HOSTNAME=CTXSRV01");
    assert_eq!(lines[7], "VENDOR CITRIX");
    assert_eq!(lines[8], "USE_SERVER");
    assert_eq!(
        lines[9],
        "INCREMENT XDT_ENT_UD CITRIX 2027.0131 permanent 800 \\"
    );
    assert_eq!(lines[10], "  VENDOR_STRING=;LT=Retail;ODP=10 \\");
    assert_eq!(
        lines[11],
        "  ISSUED=22-nov-2026 NOTICE=\"Order ORD-1\" SN=LA-0001234567-12345:1 \
         START=22-nov-2026 \\"
    );
    assert!(lines[12].starts_with("  SIGN=\"k1:"), "{}", lines[12]);
    assert!(text.ends_with("\"\n"));
}

#[test]
fn a_signed_file_verifies_and_reports_what_it_checked() {
    let keys = keyring(vec![k1()]);
    let verified = verify(&sign(&content(), &keys).unwrap(), &keys).unwrap();
    assert_eq!(verified.host_id, "HOSTNAME=CTXSRV01");
    let line = &verified.increments[0];
    assert_eq!(
        (
            line.key_id.as_str(),
            line.feature.as_str(),
            line.count.as_str()
        ),
        ("k1", "XDT_ENT_UD", "800")
    );
    assert_eq!(
        (line.version.as_str(), line.expiry.as_str()),
        ("2027.0131", "permanent")
    );
    assert_eq!(line.serial.as_deref(), Some("LA-0001234567-12345:1"));
    assert!(verified
        .comments
        .contains(&("revision".to_owned(), "3".to_owned())));
}

#[test]
fn changing_any_signed_field_makes_verification_fail() {
    let keys = keyring(vec![k1(), key("k2", "2030-01-01T00:00:00Z", 9)]);
    let mut term = content();
    term.expires_on = NaiveDate::from_ymd_opt(2027, 6, 30);
    let text = sign(&term, &keys).unwrap();
    assert!(verify(&text, &keys).is_ok());
    let tampered = [
        ("count", " 800 \\", " 801 \\"),
        ("host", "HOSTNAME=CTXSRV01", "HOSTNAME=ctxsrv01"),
        ("expiry", "30-jun-2027", "30-jun-2028"),
        ("issued", "ISSUED=22-nov-2026", "ISSUED=21-nov-2026"),
        ("start", "START=22-nov-2026", "START=21-nov-2026"),
        ("version", "2027.0131", "2028.0131"),
        ("feature", "XDT_ENT_UD", "XDT_PLT_UD"),
        (
            "serial",
            "SN=LA-0001234567-12345:1",
            "SN=LA-0001234567-12346:1",
        ),
        ("notice", "Order ORD-1", "Order ORD-2"),
        ("key id", "SIGN=\"k1:", "SIGN=\"k2:"),
        ("binding", "HOSTNAME=", "ID="),
    ];
    for (what, from, to) in tampered {
        assert!(text.contains(from), "{what}: {from}");
        let changed = text.replacen(from, to, 1);
        assert!(
            matches!(
                verify(&changed, &keys),
                Err(VerifyError::SignatureMismatch { .. })
            ),
            "changing the {what} must fail verification"
        );
    }
}

#[test]
fn an_unknown_key_id_or_a_missing_signature_fails() {
    let text = sign(&content(), &keyring(vec![k1()])).unwrap();
    let other = keyring(vec![key("k9", "2026-01-01T00:00:00Z", 9)]);
    assert!(matches!(
        verify(&text, &other),
        Err(VerifyError::UnknownKey { key_id, .. }) if key_id == "k1"
    ));
    let sign_at = text.find(" \\\n  SIGN=").unwrap();
    let unsigned = format!("{}\n", &text[..sign_at]);
    assert!(matches!(
        verify(&unsigned, &keyring(vec![k1()])),
        Err(VerifyError::Unsigned { .. })
    ));
}

#[test]
fn comments_whitespace_crlf_and_rewrapping_do_not_matter() {
    let keys = keyring(vec![k1()]);
    let text = sign(&content(), &keys).unwrap();
    let crlf = text.replace('\n', "\r\n");
    let one_line = text.replace(" \\\n  ", "   ");
    let commented = text.replace("# revision: 3", "# revision: 3 (copied to srv01)");
    let server_edited = text.replace("SERVER this_host", "SERVER ctxsrv01.corp");
    for variant in [crlf, one_line, commented, server_edited] {
        assert!(verify(&variant, &keys).is_ok(), "{variant}");
    }
}

#[test]
fn a_rotation_changes_no_issued_file_and_retired_keys_still_verify() {
    let old = k1();
    let before = sign(&content(), &keyring(vec![old.clone()])).unwrap();
    // Rotation: a new key active from later on; files issued before keep their key.
    let new = key("k2", "2027-01-01T00:00:00Z", 8);
    let rotated = keyring(vec![old.clone(), new.clone()]);
    assert_eq!(sign(&content(), &rotated).unwrap(), before);
    let mut later = content();
    later.issued_at = at("2027-03-01T00:00:00Z");
    assert!(sign(&later, &rotated).unwrap().contains("SIGN=\"k2:"));
    // The old private key removed, its public key kept: old files still verify.
    let retired = keyring(vec![public_only(&old), new]);
    let verified = verify(&before, &retired).unwrap();
    assert_eq!(verified.increments[0].key_id, "k1");
    // …and what is signed now uses the remaining signing key.
    assert!(sign(&content(), &retired).unwrap().contains("SIGN=\"k2:"));
}

#[test]
fn the_signing_key_is_the_newest_active_else_the_oldest() {
    let keys = keyring(vec![
        key("k3", "2028-01-01T00:00:00Z", 3),
        key("k1", "2026-01-01T00:00:00Z", 1),
        key("k2", "2027-01-01T00:00:00Z", 2),
    ]);
    let pick = |instant| {
        keys.signing_key_for(at(instant))
            .unwrap()
            .key_id()
            .to_owned()
    };
    assert_eq!(pick("2025-06-01T00:00:00Z"), "k1");
    assert_eq!(pick("2027-01-01T00:00:00Z"), "k2");
    assert_eq!(pick("2027-12-31T23:59:59Z"), "k2");
    assert_eq!(pick("2099-01-01T00:00:00Z"), "k3");
    let verify_only = keyring(vec![public_only(&k1())]);
    assert_eq!(sign(&content(), &verify_only), Err(SignError::NoSigningKey));
}

#[test]
fn values_with_spaces_and_quotes_cannot_break_the_file() {
    let keys = keyring(vec![k1()]);
    let mut odd = content();
    odd.order_number = "PO\"7\\x".into();
    odd.access_code = "LA=1\"".into();
    odd.binding_type = BindingType::OtherId;
    odd.host = HostId::parse(BindingType::OtherId, "id\"SIGN=x").unwrap();
    odd.trial = true;
    let text = sign(&odd, &keys).unwrap();
    assert!(text.contains("NOTICE=\"Order PO\\\"7\\\\x\""), "{text}");
    assert!(text.contains("LT=Eval"));
    let verified = verify(&text, &keys).unwrap();
    assert_eq!(verified.host_id, "ID=\"id\\\"SIGN=x\"");
    assert_eq!(verified.increments[0].serial.as_deref(), Some("LA=1\":1"));
}

#[test]
fn each_binding_type_has_its_host_id_keyword() {
    let keys = keyring(vec![k1()]);
    for (binding, host, token) in [
        (
            BindingType::MacAddress,
            "0a1B2c3D4e5F",
            // MAC addresses are recorded in lower case.
            "ETHERNET=0a1b2c3d4e5f",
        ),
        (BindingType::HardwareSerial, "SN-1", "DISK_SERIAL_NUM=SN-1"),
        (BindingType::OtherId, "x", "ID=x"),
    ] {
        let mut c = content();
        c.binding_type = binding;
        c.host = HostId::parse(binding, host).unwrap();
        let text = sign(&c, &keys).unwrap();
        assert!(
            text.contains(&format!("SERVER this_host {token}\n")),
            "{text}"
        );
        assert_eq!(verify(&text, &keys).unwrap().host_id, token);
    }
}

#[test]
fn keys_are_validated_and_never_printed() {
    let k = k1();
    assert!(!format!("{k:?}").contains(&k.private_key_base64().unwrap()));
    assert!(matches!(
        KeyringEntry::from_base64_seed("k1", k.active_from(), "c2hvcnQ=", None),
        Err(KeyError::BadMaterial { .. })
    ));
    assert!(matches!(
        KeyringEntry::from_seed("bad id", k.active_from(), &[1; 32]),
        Err(KeyError::InvalidKeyId(_))
    ));
    let other = key("k2", "2026-01-01T00:00:00Z", 2);
    assert!(matches!(
        KeyringEntry::from_base64_seed(
            "k1",
            k.active_from(),
            &k.private_key_base64().unwrap(),
            Some(&other.public_key_base64())
        ),
        Err(KeyError::PublicKeyMismatch(_))
    ));
    assert!(matches!(
        Keyring::new(vec![k.clone(), public_only(&k)]),
        Err(KeyError::DuplicateKeyId(_))
    ));
}
