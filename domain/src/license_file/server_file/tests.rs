//! A server's file: each allocation's `INCREMENT` exactly as in its own file, in
//! a fixed order, verified as a whole, a changed one named.

use uuid::Uuid;

use super::sign_server_file;
use crate::license_file::tests::{at, content, k1, key, keyring};
use crate::license_file::{sign, verify, LicenseFileContent, SignError, VerifyError};
use crate::values::{AllocationId, BindingType, HostId, LicenseId};

/// Allocation `n` of license `license` on the test host, issued at `issued`.
fn allocation(license: u128, n: u128, count: u32, issued: &str) -> LicenseFileContent {
    let mut c = content();
    c.identity.license_id = LicenseId(Uuid::from_u128(license));
    c.identity.allocation_id = AllocationId(Uuid::from_u128(n));
    c.count = count;
    c.issued_at = at(issued);
    c
}

/// Three allocations of two licenses, given out of order; the third issued after
/// a key rotation.
fn three() -> Vec<LicenseFileContent> {
    vec![
        allocation(20, 5, 50, "2026-11-22T10:00:00Z"),
        allocation(10, 7, 700, "2026-11-23T10:00:00Z"),
        allocation(10, 3, 300, "2027-02-01T10:00:00Z"),
    ]
}

/// The `INCREMENT` line of a file, with its continuations and `SIGN`.
fn increments(text: &str) -> Vec<String> {
    text.split("INCREMENT ")
        .skip(1)
        .map(|rest| {
            let end = rest.find("\"\n").map_or(rest.len(), |i| i + 2);
            format!("INCREMENT {}", &rest[..end])
        })
        .collect()
}

#[test]
fn a_servers_file_holds_each_allocations_own_increment_once_in_license_then_allocation_order() {
    let keys = keyring(vec![k1(), key("k2", "2027-01-01T00:00:00Z", 8)]);
    let text = sign_server_file(&three(), &keys).unwrap();
    let mut reversed = three();
    reversed.reverse();
    assert_eq!(sign_server_file(&reversed, &keys).unwrap(), text);
    assert_eq!(
        text.matches("SERVER this_host HOSTNAME=CTXSRV01\n").count(),
        1
    );
    assert_eq!(text.matches("VENDOR CITRIX\n").count(), 1);
    assert_eq!(text.matches("USE_SERVER\n").count(), 1);
    assert!(text.starts_with("# licensing-ledger license file\n"));
    assert!(text.contains("# license server: CTXSRV01\n# allocations: 3\n"));
    let in_order = [&three()[2], &three()[1], &three()[0]].map(|c| {
        let own = sign(c, &keys).unwrap();
        increments(&own).remove(0)
    });
    assert_eq!(increments(&text), in_order);
    assert!(in_order[0].contains("SIGN=\"k2:") && in_order[2].contains("SIGN=\"k1:"));
    let allocation_comments: Vec<&str> = text
        .lines()
        .filter(|line| line.starts_with("# allocation: "))
        .collect();
    assert_eq!(
        allocation_comments,
        [3, 7, 5].map(|n| format!("# allocation: {}", Uuid::from_u128(n)))
    );
}

#[test]
fn a_servers_file_verifies_and_a_changed_increment_is_named() {
    let keys = keyring(vec![k1(), key("k2", "2027-01-01T00:00:00Z", 8)]);
    let text = sign_server_file(&three(), &keys).unwrap();
    let verified = verify(&text, &keys).unwrap();
    let counts: Vec<&str> = verified
        .increments
        .iter()
        .map(|i| i.count.as_str())
        .collect();
    assert_eq!(counts, ["300", "700", "50"]);
    assert!(verified.increments[1]
        .comments
        .contains(&("allocation".to_owned(), Uuid::from_u128(7).to_string())));
    // The second INCREMENT's count raised: that one, and only it, is named.
    let tampered = text.replacen(" 700 \\", " 900 \\", 1);
    match verify(&tampered, &keys) {
        Err(VerifyError::SignatureMismatch { at, key_id }) => {
            assert_eq!((at.number, at.of, key_id.as_str()), (2, 3, "k1"));
            assert_eq!(at.allocation, Some(Uuid::from_u128(7).to_string()));
            let said = VerifyError::SignatureMismatch { at, key_id }.to_string();
            assert!(said.contains("INCREMENT 2 of 3"), "{said}");
            assert!(said.contains(&Uuid::from_u128(7).to_string()), "{said}");
        }
        other => panic!("{other:?}"),
    }
    // A host id edited once, in the one SERVER line, breaks every INCREMENT: the
    // first is named.
    let moved = text.replace("HOSTNAME=CTXSRV01", "HOSTNAME=CTXSRV02");
    assert!(matches!(
        verify(&moved, &keys),
        Err(VerifyError::SignatureMismatch { at, .. }) if at.number == 1
    ));
    // An INCREMENT copied in from another server's file does not verify here.
    let mut elsewhere = allocation(30, 9, 1, "2026-11-22T10:00:00Z");
    elsewhere.host = HostId::parse(BindingType::HostName, "OTHER").unwrap();
    let foreign = increments(&sign(&elsewhere, &keys).unwrap()).remove(0);
    let smuggled = format!("{text}{foreign}");
    assert!(matches!(
        verify(&smuggled, &keys),
        Err(VerifyError::SignatureMismatch { at, .. }) if (at.number, at.of) == (4, 4)
    ));
}

#[test]
fn a_servers_file_is_of_one_host_id_and_holds_something() {
    let keys = keyring(vec![k1()]);
    assert_eq!(sign_server_file(&[], &keys), Err(SignError::NoAllocation));
    let mut other_host = three();
    other_host[1].host = HostId::parse(BindingType::HostName, "CTXSRV02").unwrap();
    assert_eq!(
        sign_server_file(&other_host, &keys),
        Err(SignError::NotOneServer)
    );
    let mut other_binding = three();
    other_binding[0].binding_type = BindingType::OtherId;
    other_binding[0].host = HostId::parse(BindingType::OtherId, "CTXSRV01").unwrap();
    assert_eq!(
        sign_server_file(&other_binding, &keys),
        Err(SignError::NotOneServer)
    );
    let mut other_account = three();
    other_account[2].identity.account_id = crate::AccountId(Uuid::from_u128(99));
    assert_eq!(
        sign_server_file(&other_account, &keys),
        Err(SignError::NotOneServer)
    );
}
