//! One license server's file: every live allocation on a host in one text, what
//! the portal's "Download all licenses" saves and `lmreread -all` reads in. The
//! `SERVER`, `VENDOR` and `USE_SERVER` lines come once, then each allocation's
//! `INCREMENT` line exactly as its own file has it — the same tokens and the same
//! signature — after comments naming the allocation:
//!
//! ```text
//! # licensing-ledger license file
//! # account: <uuid>
//! # license server: CTXSRV01
//! # allocations: 2
//! SERVER this_host HOSTNAME=CTXSRV01
//! VENDOR CITRIX
//! USE_SERVER
//! # license: <uuid>
//! # allocation: <uuid>
//! # revision: 3
//! # issued: 2026-11-22T10:00:00Z
//! INCREMENT XDT_ENT_UD CITRIX 2027.0131 permanent 800 \
//!   … SIGN="k1:…"
//! # license: <uuid>
//! …
//! ```
//!
//! Allocations are written by license id, then allocation id, whatever order they
//! are given in, so the same allocations always give the same bytes.

use crate::keys::Keyring;
use crate::license_file::errors::SignError;
use crate::license_file::model::{lines, LicenseFileContent, HEADER_COMMENT};
use crate::license_file::sign::sign_token;

/// The server file of `allocations`: all of one account, on one host, with one
/// host id type and vendor, at least one.
pub fn sign_server_file(
    allocations: &[LicenseFileContent],
    keyring: &Keyring,
) -> Result<String, SignError> {
    let mut ordered: Vec<&LicenseFileContent> = allocations.iter().collect();
    ordered.sort_by_key(|content| {
        (
            content.identity.license_id.0,
            content.identity.allocation_id.0,
        )
    });
    let first = *ordered.first().ok_or(SignError::NoAllocation)?;
    let one_server = ordered.iter().all(|content| {
        content.identity.account_id == first.identity.account_id
            && content.host == first.host
            && content.binding_type == first.binding_type
            && content.vendor == first.vendor
    });
    if !one_server {
        return Err(SignError::NotOneServer);
    }
    let mut text = lines(
        [
            HEADER_COMMENT.to_owned(),
            format!("# account: {}", first.identity.account_id),
            format!("# license server: {}", first.host.as_str()),
            format!("# allocations: {}", ordered.len()),
        ]
        .into_iter()
        .chain(first.server_lines()),
    );
    for content in ordered {
        let token = sign_token(content, keyring)?;
        text.push_str(&lines(content.identity_comments()));
        text.push_str(&content.increment_text(&token));
    }
    Ok(text)
}

#[cfg(test)]
mod tests;
