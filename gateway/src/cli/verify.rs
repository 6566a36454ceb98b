//! `ledger verify …`: offline checks an auditor or a license server administrator
//! runs without access to the ledger's database. Today: a license file's
//! signatures (an allocation's file, or a whole license server's), against the
//! published public keys or the configured ones.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{bail, Context as _};
use ledger_domain::keys::Keyring;
use ledger_domain::license_file;

use crate::config::Settings;
use crate::signing_keys::PublishedKeys;

/// Checks the license file at `path`. `Ok` is the report of what was checked; an
/// invalid file is an error saying why.
pub fn license_file(
    path: &Path,
    keys: Option<&Path>,
    settings: &Settings,
) -> anyhow::Result<String> {
    let keyring = match keys {
        Some(keys) => published_keys(keys)?,
        None => settings.license_signing_keys.0.clone(),
    };
    if keyring.keys().is_empty() {
        bail!(
            "no keys to verify with: pass --keys FILE (saved from GET /v1/license-file-keys) \
             or configure license_signing_keys"
        );
    }
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading license file {}", path.display()))?;
    let verified = license_file::verify(&text, &keyring)
        .with_context(|| format!("license file {} is NOT valid", path.display()))?;
    let of = verified.increments.len();
    let mut report = format!(
        "license file {} is valid: every INCREMENT line ({of}) is signed and unchanged\n  host id:   {}\n",
        path.display(),
        verified.host_id
    );
    for (index, line) in verified.increments.iter().enumerate() {
        let or_none = |value: &Option<String>| value.clone().unwrap_or_else(|| "-".into());
        // Writing to a String cannot fail.
        let _ = write!(
            report,
            "  INCREMENT {} of {of}\n  feature:   {} (vendor {})\n  key id:    {}\n  count:     {}\n  \
             expiry:    {}\n  version:   {} (maintenance)\n  issued:    {}\n  \
             start:     {}\n  serial:    {}\n",
            index + 1,
            line.feature,
            line.vendor,
            line.key_id,
            line.count,
            line.expiry,
            line.version,
            or_none(&line.issued),
            or_none(&line.start),
            or_none(&line.serial),
        );
        for (key, value) in &line.comments {
            let _ = writeln!(report, "  {key}: {value} (comment, not signed)");
        }
    }
    for (key, value) in &verified.comments {
        let _ = writeln!(report, "  {key}: {value} (comment, not signed)");
    }
    Ok(report)
}

fn published_keys(path: &Path) -> anyhow::Result<Keyring> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading keys file {}", path.display()))?;
    let published: PublishedKeys = serde_json::from_str(&text).with_context(|| {
        format!(
            "keys file {}: expected the JSON of GET /v1/license-file-keys",
            path.display()
        )
    })?;
    published
        .keyring()
        .with_context(|| format!("keys file {}", path.display()))
}
