//! Tree heads as text others can check: C2SP `tlog-checkpoint` bodies, C2SP
//! `signed-note` Ed25519 signatures, verifier keys (`vkey`s), and witnesses'
//! `tlog-cosignature` (`cosignature/v1`) cosignatures.
//!
//! These are the formats of the Go checksum database (golang.org/x/mod/sumdb/note)
//! and of Certificate Transparency's tiled logs, followed to the letter so existing
//! verifiers and witnesses take our checkpoints and keys unchanged:
//!
//! ```text
//! ledger.example.com/log            <- origin
//! 20852163                          <- tree size, decimal
//! CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=   <- root hash, base64
//!                                   <- blank line ends the signed text
//! — ledger.example.com/log Az3g…    <- em dash, key name, base64(key ID || signature)
//! — witness.example.com/w1 jWbP…    <- a cosignature: key ID || timestamp || signature
//! ```
//!
//! A signature line is identified by its key name *and* its 4-byte key ID (a hash
//! of the name, the signature type and the public key). Lines of keys a verifier
//! does not know are ignored, as the spec requires, so one note carries the log's
//! signature, old keys' signatures during a rotation, and any number of
//! witnesses'.
//!
//! Keys are [`KeyringEntry`]s, the ledger's Ed25519 keys; nothing here reads the clock:
//! a cosignature's timestamp is passed in.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ed25519_dalek::{Signature, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::keys::KeyringEntry;
use crate::transparency::merkle::Hash;

#[cfg(test)]
mod tests;

/// Signature type byte of an Ed25519 note signature (signed-note).
pub const ALG_ED25519: u8 = 0x01;

/// Signature type byte of a timestamped Ed25519 checkpoint cosignature
/// (tlog-cosignature, `cosignature/v1`).
pub const ALG_COSIGNATURE_V1: u8 = 0x04;

/// What starts every signature line: U+2014 EM DASH and a space.
const SIGNATURE_PREFIX: &str = "\u{2014} ";

/// The most signature lines a note may have. The spec asks verifiers to cap them
/// and to accept at least 16; 100 is Go's cap, so every note Go accepts we accept.
const MAX_SIGNATURES: usize = 100;

/// The header line of the message a `cosignature/v1` signs (domain separation).
const COSIGNATURE_V1_HEADER: &str = "cosignature/v1\n";

/// The length of a key ID.
const KEY_HASH_LEN: usize = 4;

/// Why a checkpoint, note or key could not be read, made or verified.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    /// The text does not end in a newline: it was cut short, or it is not a
    /// checkpoint or note text.
    #[error("the text does not end in a newline")]
    MissingFinalNewline,
    /// The text holds an ASCII control character other than newline, which notes
    /// must not (it could hide text from a human reader).
    #[error("the text holds a control character other than newline")]
    ControlCharacter,
    /// A checkpoint has at least three lines: origin, tree size, root hash.
    #[error("a checkpoint needs an origin, a tree size and a root hash line")]
    MissingLines,
    /// The checkpoint's first line, the log's identity, is empty.
    #[error("the checkpoint's origin line is empty")]
    EmptyOrigin,
    /// The tree size line is not a decimal `u64` without leading zeroes.
    #[error("`{0}` is not a tree size: decimal digits, no leading zero")]
    BadTreeSize(String),
    /// The root hash line is not the standard, padded base64 of 32 bytes.
    #[error("the root hash line is not base64 of 32 bytes")]
    BadRootHash,
    /// Extension lines, when present, must not be empty.
    #[error("a checkpoint extension line is empty")]
    EmptyExtensionLine,
    /// No blank line followed by signature lines: not a signed note (perhaps a
    /// bare checkpoint body, or one whose signatures were cut off).
    #[error("no blank line followed by signature lines")]
    NoSignatureBlock,
    /// A line of the signature block is not `— <name> <base64>`.
    #[error("signature line {line}: {reason}")]
    BadSignatureLine {
        /// 1-based, counted within the signature block.
        line: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// More signature lines than any note we accept has.
    #[error("more than {MAX_SIGNATURES} signature lines")]
    TooManySignatures,
    /// Key names are non-empty and hold no whitespace and no `+`.
    #[error("`{0}` is not a key name: non-empty, no spaces, no `+`")]
    InvalidKeyName(String),
    /// A verifier key is not `<name>+<8 lowercase hex digits>+<base64>`.
    #[error("not a verifier key: {0}")]
    BadVerifierKey(&'static str),
    /// The verifier key's key ID is not the hash of its name and key: mangled, or
    /// the name was edited.
    #[error("the verifier key's key ID does not match its name and key")]
    VerifierKeyHashMismatch,
    /// A signature type this module does not verify (only Ed25519 and Ed25519
    /// cosignatures).
    #[error("unknown signature type {0:#04x}")]
    UnknownAlgorithm(u8),
    /// 32 bytes that are not an Ed25519 public key.
    #[error("the public key is not a valid Ed25519 point")]
    InvalidPublicKey,
    /// The key has no private half (it is verify-only).
    #[error("the key cannot sign")]
    CannotSign,
    /// Cosignature timestamps are at most 2^63 - 1 seconds.
    #[error("timestamp {0} is above 2^63 - 1")]
    TimestampTooLarge(u64),
    /// A `cosignature/v1` line's signature is 8 bytes of timestamp and 64 of
    /// Ed25519 signature, 72 in all.
    #[error("a cosignature/v1 is 72 bytes, not {0}")]
    MalformedCosignature(usize),
    /// No signature line has this key's name and key ID: the note was not signed
    /// by this key (it may be signed by others, which are ignored).
    #[error("no signature by key {name}+{key_hash:08x}")]
    NoSignatureByKey {
        /// The key's name.
        name: String,
        /// The key's key ID.
        key_hash: u32,
    },
    /// A line of this key does not verify: the text was altered or the signature
    /// forged. The whole note is to be rejected.
    #[error("the signature by key {name}+{key_hash:08x} does not verify")]
    InvalidSignature {
        /// The key's name.
        name: String,
        /// The key's key ID.
        key_hash: u32,
    },
}

/// The key ID of a key: the first 4 bytes of
/// `SHA-256(name || 0x0A || signature type || public key)`.
pub fn key_hash(name: &str, algorithm: u8, public_key: &[u8; 32]) -> [u8; 4] {
    let mut hasher = Sha256::new();
    hasher.update(name.as_bytes());
    hasher.update([b'\n', algorithm]);
    hasher.update(public_key);
    let digest = hasher.finalize();
    [digest[0], digest[1], digest[2], digest[3]]
}

/// Checks a key name: non-empty, no Unicode whitespace, no `+` (the vkey
/// separator).
pub fn check_key_name(name: &str) -> Result<(), NoteError> {
    if name.is_empty() || name.contains(|c: char| c.is_whitespace() || c == '+') {
        return Err(NoteError::InvalidKeyName(name.to_owned()));
    }
    Ok(())
}

/// Notes are UTF-8 (a `&str` is) without ASCII control characters but newline.
fn check_no_control(text: &str) -> Result<(), NoteError> {
    if text.bytes().any(|b| b < 0x20 && b != b'\n') {
        return Err(NoteError::ControlCharacter);
    }
    Ok(())
}

/// Checks that `text` can be a note's signed text: ends in a newline, no control
/// characters.
fn check_note_text(text: &str) -> Result<(), NoteError> {
    check_no_control(text)?;
    if !text.ends_with('\n') {
        return Err(NoteError::MissingFinalNewline);
    }
    Ok(())
}

/// Strictly parses a tree size: ASCII digits, no sign, no leading zero but `0`.
fn parse_size(line: &str) -> Result<u64, NoteError> {
    let bad = || NoteError::BadTreeSize(line.to_owned());
    let digits_only = !line.is_empty() && line.bytes().all(|b| b.is_ascii_digit());
    if !digits_only || (line.len() > 1 && line.starts_with('0')) {
        return Err(bad());
    }
    line.parse().map_err(|_| bad())
}

/// The body of a checkpoint (tlog-checkpoint): what the log signs about its tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointBody {
    /// The log's identity, e.g. `ledger.example.com/log`; the log's key name should
    /// be the same.
    pub origin: String,
    /// The number of leaves (events) in the tree.
    pub size: u64,
    /// The RFC 9162 root of the tree of `size` leaves.
    pub root: Hash,
    /// Optional extra lines, each non-empty. Monitors cannot audit them, so the
    /// spec discourages them; kept so any checkpoint is read faithfully.
    pub extensions: Vec<String>,
}

impl CheckpointBody {
    /// The note text: `<origin>\n<size>\n<base64 root>\n`, then each extension line.
    /// [`CheckpointBody::parse`] reads it back when the origin and extensions are
    /// non-empty lines without control characters.
    pub fn text(&self) -> String {
        let mut text = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            BASE64.encode(self.root)
        );
        for line in &self.extensions {
            text.push_str(line);
            text.push('\n');
        }
        text
    }

    /// Reads a checkpoint body, strictly: a non-empty origin, a decimal size without
    /// leading zeroes, the padded base64 of 32 bytes, non-empty extension lines,
    /// and a final newline.
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        check_no_control(text)?;
        let body = text
            .strip_suffix('\n')
            .ok_or(NoteError::MissingFinalNewline)?;
        let mut lines = body.split('\n');
        let (Some(origin), Some(size), Some(root)) = (lines.next(), lines.next(), lines.next())
        else {
            return Err(NoteError::MissingLines);
        };
        if origin.is_empty() {
            return Err(NoteError::EmptyOrigin);
        }
        let size = parse_size(size)?;
        let root = BASE64
            .decode(root)
            .ok()
            .and_then(|bytes| Hash::try_from(bytes).ok())
            .ok_or(NoteError::BadRootHash)?;
        let extensions = lines
            .map(|line| {
                if line.is_empty() {
                    Err(NoteError::EmptyExtensionLine)
                } else {
                    Ok(line.to_owned())
                }
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root,
            extensions,
        })
    }
}

/// One signature line of a note: `— <name> base64(key_hash || signature)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    /// The key's name.
    pub name: String,
    /// The key's ID: with the name, it says which key to verify with.
    pub key_hash: [u8; 4],
    /// What follows the key ID: the Ed25519 signature (64 bytes) for a note
    /// signature, timestamp and signature (72 bytes) for a `cosignature/v1`.
    pub signature: Vec<u8>,
}

impl NoteSignature {
    /// The signature line, newline included.
    pub fn line(&self) -> String {
        let mut bytes = Vec::with_capacity(KEY_HASH_LEN + self.signature.len());
        bytes.extend_from_slice(&self.key_hash);
        bytes.extend_from_slice(&self.signature);
        format!("{SIGNATURE_PREFIX}{} {}\n", self.name, BASE64.encode(bytes))
    }

    /// The key ID as the number Go and error messages print in hex.
    fn key_hash_u32(&self) -> u32 {
        u32::from_be_bytes(self.key_hash)
    }

    /// Reads one signature line, without its newline; `line` numbers it in errors.
    fn parse_line(text: &str, line: usize) -> Result<Self, NoteError> {
        let bad = |reason| NoteError::BadSignatureLine { line, reason };
        let rest = text
            .strip_prefix(SIGNATURE_PREFIX)
            .ok_or_else(|| bad("does not start with an em dash and a space"))?;
        let (name, encoded) = rest
            .split_once(' ')
            .ok_or_else(|| bad("no space between key name and signature"))?;
        check_key_name(name)?;
        let bytes = BASE64
            .decode(encoded)
            .map_err(|_| bad("the signature is not standard base64"))?;
        if bytes.len() <= KEY_HASH_LEN {
            return Err(bad("the signature is not a key ID followed by a signature"));
        }
        let (key_hash, signature) = bytes.split_at(KEY_HASH_LEN);
        Ok(Self {
            name: name.to_owned(),
            key_hash: [key_hash[0], key_hash[1], key_hash[2], key_hash[3]],
            signature: signature.to_vec(),
        })
    }
}

/// Checks a strict Ed25519 signature (no malleable or small-order signatures, as
/// [`KeyringEntry::verifies_message`]) by the holder of `public_key` over `message`.
fn ed25519_verifies(public_key: &VerifyingKey, message: &[u8], signature: &[u8]) -> bool {
    Signature::from_slice(signature)
        .is_ok_and(|signature| public_key.verify_strict(message, &signature).is_ok())
}

/// The Ed25519 public key from its 32 bytes.
fn verifying_key(public_key: &[u8; 32]) -> Result<VerifyingKey, NoteError> {
    VerifyingKey::from_bytes(public_key).map_err(|_| NoteError::InvalidPublicKey)
}

/// Signs a note text (ending in a newline) with `key` under the key name `name`.
/// For a checkpoint, `text` is [`CheckpointBody::text`] and `name` should be the
/// origin.
pub fn sign_note(text: &str, name: &str, key: &KeyringEntry) -> Result<NoteSignature, NoteError> {
    check_key_name(name)?;
    check_note_text(text)?;
    let signature = key
        .sign_message(text.as_bytes())
        .ok_or(NoteError::CannotSign)?;
    Ok(NoteSignature {
        name: name.to_owned(),
        key_hash: key_hash(name, ALG_ED25519, &key.public_key_bytes()),
        signature: signature.to_vec(),
    })
}

/// A note: a text and the signature lines under it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedNote {
    /// The signed text, final newline included, blank line excluded.
    pub text: String,
    /// The signature lines, in order; [`SignedNote::parse`] needs at least one.
    pub signatures: Vec<NoteSignature>,
}

impl SignedNote {
    /// The note as sent: the text, a blank line, the signature lines.
    pub fn format(&self) -> String {
        let mut note = format!("{}\n", self.text);
        for signature in &self.signatures {
            note.push_str(&signature.line());
        }
        note
    }

    /// Reads a note: the text is everything up to the last blank line, then one or
    /// more well-formed signature lines, each ending in a newline.
    pub fn parse(note: &str) -> Result<Self, NoteError> {
        check_no_control(note)?;
        let split = note.rfind("\n\n").ok_or(NoteError::NoSignatureBlock)?;
        let (text, block) = (&note[..split + 1], &note[split + 2..]);
        if block.is_empty() {
            return Err(NoteError::NoSignatureBlock);
        }
        let block = block
            .strip_suffix('\n')
            .ok_or(NoteError::MissingFinalNewline)?;
        if block.split('\n').nth(MAX_SIGNATURES).is_some() {
            return Err(NoteError::TooManySignatures);
        }
        let signatures = block
            .split('\n')
            .enumerate()
            .map(|(i, line)| NoteSignature::parse_line(line, i + 1))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            text: text.to_owned(),
            signatures,
        })
    }

    /// The text read as a checkpoint body.
    pub fn checkpoint(&self) -> Result<CheckpointBody, NoteError> {
        CheckpointBody::parse(&self.text)
    }

    /// Checks the note's Ed25519 signature by the key `public_key` named `name`:
    /// every line with that name and key ID must verify, and there must be one.
    /// Lines of other keys are ignored, as the spec requires.
    pub fn verify(&self, name: &str, public_key: [u8; 32]) -> Result<(), NoteError> {
        let expected = key_hash(name, ALG_ED25519, &public_key);
        let key = verifying_key(&public_key)?;
        let mut found = false;
        for signature in self.signatures_by(name, expected) {
            if !ed25519_verifies(&key, self.text.as_bytes(), &signature.signature) {
                return Err(NoteError::InvalidSignature {
                    name: name.to_owned(),
                    key_hash: signature.key_hash_u32(),
                });
            }
            found = true;
        }
        if !found {
            return Err(NoteError::NoSignatureByKey {
                name: name.to_owned(),
                key_hash: u32::from_be_bytes(expected),
            });
        }
        Ok(())
    }

    /// Checks the `cosignature/v1` of the witness `public_key` named `name` on this
    /// checkpoint, and returns when the witness signed (the latest, should it have
    /// signed twice). Every line of that witness must verify.
    pub fn verify_cosignature(&self, name: &str, public_key: [u8; 32]) -> Result<u64, NoteError> {
        let expected = key_hash(name, ALG_COSIGNATURE_V1, &public_key);
        let mut latest = None;
        for signature in self.signatures_by(name, expected) {
            let at = verify_cosignature(&self.text, signature, name, public_key)?;
            latest = latest.max(Some(at));
        }
        latest.ok_or_else(|| NoteError::NoSignatureByKey {
            name: name.to_owned(),
            key_hash: u32::from_be_bytes(expected),
        })
    }

    /// The lines with this name and key ID.
    fn signatures_by<'a>(
        &'a self,
        name: &'a str,
        key_hash: [u8; 4],
    ) -> impl Iterator<Item = &'a NoteSignature> + 'a {
        self.signatures
            .iter()
            .filter(move |s| s.name == name && s.key_hash == key_hash)
    }
}

/// A verifier key (`vkey`): `<name>+<hex key ID>+<base64(type || public key)>`, the
/// text form Go's golang.org/x/mod/sumdb/note and witnesses are configured with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierKey {
    /// The key name signature lines carry.
    name: String,
    /// [`ALG_ED25519`] or [`ALG_COSIGNATURE_V1`].
    algorithm: u8,
    /// The Ed25519 public key.
    public_key: [u8; 32],
}

impl VerifierKey {
    /// The vkey of an Ed25519 note-signing key, such as the log's.
    pub fn ed25519(name: &str, public_key: [u8; 32]) -> Result<Self, NoteError> {
        Self::new(name, ALG_ED25519, public_key)
    }

    /// The vkey of an Ed25519 `cosignature/v1` witness key.
    pub fn cosignature_v1(name: &str, public_key: [u8; 32]) -> Result<Self, NoteError> {
        Self::new(name, ALG_COSIGNATURE_V1, public_key)
    }

    fn new(name: &str, algorithm: u8, public_key: [u8; 32]) -> Result<Self, NoteError> {
        check_key_name(name)?;
        verifying_key(&public_key)?;
        Ok(Self {
            name: name.to_owned(),
            algorithm,
            public_key,
        })
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The signature type: [`ALG_ED25519`] or [`ALG_COSIGNATURE_V1`].
    pub fn algorithm(&self) -> u8 {
        self.algorithm
    }

    /// The Ed25519 public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.public_key
    }

    /// The key ID its signature lines carry.
    pub fn key_hash(&self) -> [u8; 4] {
        key_hash(&self.name, self.algorithm, &self.public_key)
    }

    /// The vkey text.
    pub fn format(&self) -> String {
        let mut material = Vec::with_capacity(33);
        material.push(self.algorithm);
        material.extend_from_slice(&self.public_key);
        format!(
            "{}+{:08x}+{}",
            self.name,
            u32::from_be_bytes(self.key_hash()),
            BASE64.encode(material)
        )
    }

    /// Reads a vkey of an Ed25519 or `cosignature/v1` key, checking that its key ID
    /// is its name's and key's. The base64 may itself hold `+`.
    pub fn parse(vkey: &str) -> Result<Self, NoteError> {
        let (name, rest) = vkey
            .split_once('+')
            .ok_or(NoteError::BadVerifierKey("no `+` after the name"))?;
        let (hash, material) = rest
            .split_once('+')
            .ok_or(NoteError::BadVerifierKey("no `+` after the key ID"))?;
        check_key_name(name)?;
        let lower_hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
        if hash.len() != 8 || !hash.bytes().all(lower_hex) {
            return Err(NoteError::BadVerifierKey(
                "the key ID is not 8 lowercase hex digits",
            ));
        }
        let hash = u32::from_str_radix(hash, 16)
            .map_err(|_| NoteError::BadVerifierKey("the key ID is not hex"))?;
        let material = BASE64
            .decode(material)
            .map_err(|_| NoteError::BadVerifierKey("the key is not standard base64"))?;
        let (&algorithm, public_key) = material
            .split_first()
            .ok_or(NoteError::BadVerifierKey("the key is empty"))?;
        if algorithm != ALG_ED25519 && algorithm != ALG_COSIGNATURE_V1 {
            return Err(NoteError::UnknownAlgorithm(algorithm));
        }
        let public_key = <[u8; 32]>::try_from(public_key)
            .map_err(|_| NoteError::BadVerifierKey("the public key is not 32 bytes"))?;
        let key = Self::new(name, algorithm, public_key)?;
        if u32::from_be_bytes(key.key_hash()) != hash {
            return Err(NoteError::VerifierKeyHashMismatch);
        }
        Ok(key)
    }
}

impl std::fmt::Display for VerifierKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.format())
    }
}

impl std::str::FromStr for VerifierKey {
    type Err = NoteError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// What a `cosignature/v1` signs: `cosignature/v1\ntime <unix seconds>\n`, then the
/// checkpoint body.
pub fn cosignature_message(body_text: &str, unix_seconds: u64) -> String {
    format!("{COSIGNATURE_V1_HEADER}time {unix_seconds}\n{body_text}")
}

/// The highest timestamp a cosignature may carry: 2^63 - 1.
const MAX_TIMESTAMP: u64 = i64::MAX as u64;

/// A witness's `cosignature/v1` of a checkpoint body, as of `unix_seconds` (the
/// caller reads the clock). Its line carries the key ID (type 0x04), the timestamp
/// and the signature.
pub fn cosign(
    body_text: &str,
    name: &str,
    key: &KeyringEntry,
    unix_seconds: u64,
) -> Result<NoteSignature, NoteError> {
    check_key_name(name)?;
    CheckpointBody::parse(body_text)?;
    if unix_seconds > MAX_TIMESTAMP {
        return Err(NoteError::TimestampTooLarge(unix_seconds));
    }
    let message = cosignature_message(body_text, unix_seconds);
    let signature = key
        .sign_message(message.as_bytes())
        .ok_or(NoteError::CannotSign)?;
    let mut bytes = Vec::with_capacity(8 + signature.len());
    bytes.extend_from_slice(&unix_seconds.to_be_bytes());
    bytes.extend_from_slice(&signature);
    Ok(NoteSignature {
        name: name.to_owned(),
        key_hash: key_hash(name, ALG_COSIGNATURE_V1, &key.public_key_bytes()),
        signature: bytes,
    })
}

/// Checks that `signature` is the `cosignature/v1` of the witness `public_key`
/// named `name` over the checkpoint body, and returns its timestamp (Unix
/// seconds). Whether that time is acceptable (not in the future, recent enough) is
/// the caller's policy.
pub fn verify_cosignature(
    body_text: &str,
    signature: &NoteSignature,
    name: &str,
    public_key: [u8; 32],
) -> Result<u64, NoteError> {
    let expected = key_hash(name, ALG_COSIGNATURE_V1, &public_key);
    if signature.name != name || signature.key_hash != expected {
        return Err(NoteError::NoSignatureByKey {
            name: name.to_owned(),
            key_hash: u32::from_be_bytes(expected),
        });
    }
    CheckpointBody::parse(body_text)?;
    let Some((timestamp, ed25519)) = signature.signature.split_first_chunk::<8>() else {
        return Err(NoteError::MalformedCosignature(signature.signature.len()));
    };
    if ed25519.len() != 64 {
        return Err(NoteError::MalformedCosignature(signature.signature.len()));
    }
    let timestamp = u64::from_be_bytes(*timestamp);
    if timestamp > MAX_TIMESTAMP {
        return Err(NoteError::TimestampTooLarge(timestamp));
    }
    let key = verifying_key(&public_key)?;
    let message = cosignature_message(body_text, timestamp);
    if !ed25519_verifies(&key, message.as_bytes(), ed25519) {
        return Err(NoteError::InvalidSignature {
            name: name.to_owned(),
            key_hash: signature.key_hash_u32(),
        });
    }
    Ok(timestamp)
}
