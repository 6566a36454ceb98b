//! Signing a file's content into its text, and verifying a text against keys.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _};

use crate::keys::Keyring;
use crate::license_file::canonical::canonical_form;
use crate::license_file::errors::{IncrementAt, SignError, VerifyError};
use crate::license_file::model::LicenseFileContent;
use crate::license_file::parse::{parse, ParsedIncrement};

/// The file's text, signed with the key [`Keyring::signing_key_for`] its issue
/// instant picks. The same content and keys always give the same bytes.
pub fn sign(content: &LicenseFileContent, keyring: &Keyring) -> Result<String, SignError> {
    Ok(content.render(&sign_token(content, keyring)?))
}

/// The `SIGN="<key id>:<signature>"` token that ends `content`'s `INCREMENT` line.
/// Ed25519 is deterministic: the same content and keys give the same token, in a
/// file of one allocation or of a whole server.
pub fn sign_token(content: &LicenseFileContent, keyring: &Keyring) -> Result<String, SignError> {
    for (field, value) in [
        ("host", content.host.as_str()),
        ("feature", content.feature.as_str()),
        ("order_number", content.order_number.as_str()),
        ("access_code", content.access_code.as_str()),
    ] {
        if value.chars().any(char::is_control) {
            return Err(SignError::Unprintable(field));
        }
    }
    let key = keyring
        .signing_key_for(content.issued_at)
        .ok_or(SignError::NoSigningKey)?;
    let signing = key.signing().ok_or(SignError::NoSigningKey)?;
    let message = canonical_form(
        key.key_id(),
        &content.host_id_token(),
        &content.increment_tokens(),
    );
    let signature = BASE64.encode(signing.sign(&message).to_bytes());
    Ok(format!("SIGN=\"{}:{signature}\"", key.key_id()))
}

/// A file whose every `INCREMENT` line carries a valid signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedFile {
    /// The `SERVER` line's host id token, e.g. `HOSTNAME=CTXSRV01`.
    pub host_id: String,
    /// Each `INCREMENT` line, verified.
    pub increments: Vec<VerifiedIncrement>,
    /// `# key: value` comments: not signed, shown for information only.
    pub comments: Vec<(String, String)>,
}

/// A verified `INCREMENT` line's fields, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedIncrement {
    /// The key that signed it.
    pub key_id: String,
    /// Feature name.
    pub feature: String,
    /// Vendor daemon.
    pub vendor: String,
    /// Version: the maintenance date, `yyyy.mmdd`.
    pub version: String,
    /// `dd-mmm-yyyy` or `permanent`.
    pub expiry: String,
    /// Seats.
    pub count: String,
    /// `ISSUED=`.
    pub issued: Option<String>,
    /// `START=`.
    pub start: Option<String>,
    /// `SN=`.
    pub serial: Option<String>,
    /// The comments just before it (not signed): in a server's file, which
    /// license, allocation and revision it is.
    pub comments: Vec<(String, String)>,
}

/// Checks every `INCREMENT` line of `text` against `keyring`'s public keys; the
/// first that fails is named ([`IncrementAt`]).
pub fn verify(text: &str, keyring: &Keyring) -> Result<VerifiedFile, VerifyError> {
    let parsed = parse(text)?;
    let of = parsed.increments.len();
    let increments = parsed
        .increments
        .iter()
        .enumerate()
        .map(|(index, increment)| {
            let at = IncrementAt {
                line: increment.line,
                number: index + 1,
                of,
                feature: increment.positional(0).to_owned(),
                allocation: comment(&increment.comments, "allocation")
                    .or_else(|| comment(&parsed.comments, "allocation")),
            };
            verify_increment(&parsed.host_id, increment, at, keyring)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(VerifiedFile {
        host_id: parsed.host_id,
        increments,
        comments: parsed.comments,
    })
}

fn comment(comments: &[(String, String)], key: &str) -> Option<String> {
    comments
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, value)| value.clone())
}

fn verify_increment(
    host_id: &str,
    increment: &ParsedIncrement,
    at: IncrementAt,
    keyring: &Keyring,
) -> Result<VerifiedIncrement, VerifyError> {
    let Some(sign) = increment.sign.as_deref() else {
        return Err(VerifyError::Unsigned { at });
    };
    let Some((key_id, signature)) = sign.split_once(':') else {
        return Err(VerifyError::Malformed {
            line: at.line,
            reason: "SIGN is `\"<key id>:<base64 signature>\"`".to_owned(),
        });
    };
    let Some(key) = keyring.find(key_id) else {
        return Err(VerifyError::UnknownKey {
            at,
            key_id: key_id.to_owned(),
        });
    };
    let holds = BASE64
        .decode(signature)
        .ok()
        .and_then(|bytes| <[u8; 64]>::try_from(bytes).ok())
        .map(|bytes| Signature::from_bytes(&bytes))
        .is_some_and(|signature| {
            let message = canonical_form(key_id, host_id, &increment.tokens);
            key.verifying().verify_strict(&message, &signature).is_ok()
        });
    if !holds {
        return Err(VerifyError::SignatureMismatch {
            at,
            key_id: key_id.to_owned(),
        });
    }
    Ok(VerifiedIncrement {
        key_id: key_id.to_owned(),
        feature: increment.positional(0).to_owned(),
        vendor: increment.positional(1).to_owned(),
        version: increment.positional(2).to_owned(),
        expiry: increment.positional(3).to_owned(),
        count: increment.positional(4).to_owned(),
        issued: increment.field("ISSUED"),
        start: increment.field("START"),
        serial: increment.field("SN"),
        comments: increment.comments.clone(),
    })
}
