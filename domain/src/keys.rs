//! Ed25519 keys by key id, with rotation: they sign and verify license files,
//! bearer tokens and transparency-log checkpoints, and this says which key signs
//! at a given instant.
//!
//! Keys come from configuration, never from code. Each has an `active_from`
//! instant; a file is signed with the newest signing key active at the file's issue
//! instant, so adding a key (a rotation) changes no file issued before it, and the
//! same state always gives the same bytes (Ed25519 signatures are deterministic).
//! A key kept with its public half only (verify-only) still verifies the files it
//! signed.

use std::fmt;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use ed25519_dalek::{SigningKey, VerifyingKey};

/// A signing or verifying key that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Key ids go into files and URLs.
    #[error("`{0}` is not a key id: 1 to 64 letters, digits, `.`, `_` or `-`")]
    InvalidKeyId(String),
    /// Key material must be the base64 (standard alphabet) of exactly 32 bytes.
    /// The material itself is never repeated: it may be a secret.
    #[error("the {what} of key `{key_id}` is not base64 of 32 bytes")]
    BadMaterial {
        /// The key.
        key_id: String,
        /// `private key` or `public key`.
        what: &'static str,
    },
    /// 32 bytes that are not an Ed25519 public key.
    #[error("the public key of key `{0}` is not a valid Ed25519 point")]
    InvalidPublicKey(String),
    /// Both halves given, and they do not belong together.
    #[error("the public key of key `{0}` does not match its private key")]
    PublicKeyMismatch(String),
    /// Each id names one key, so a file names its key unambiguously.
    #[error("key id `{0}` is configured twice")]
    DuplicateKeyId(String),
}

/// One configured key: always its public half, and its private half when it may sign.
#[derive(Clone)]
pub struct KeyringEntry {
    key_id: String,
    active_from: DateTime<Utc>,
    verifying: VerifyingKey,
    signing: Option<SigningKey>,
}

/// Checks a key id: 1–64 of `A-Z a-z 0-9 . _ -`, so it needs no quoting anywhere.
pub fn check_key_id(key_id: &str) -> Result<(), KeyError> {
    let ok = (1..=64).contains(&key_id.len())
        && key_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(KeyError::InvalidKeyId(key_id.to_owned()))
    }
}

fn decode_32(key_id: &str, what: &'static str, base64: &str) -> Result<[u8; 32], KeyError> {
    BASE64
        .decode(base64.trim())
        .ok()
        .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
        .ok_or_else(|| KeyError::BadMaterial {
            key_id: key_id.to_owned(),
            what,
        })
}

impl KeyringEntry {
    /// A signing key from its 32-byte seed.
    pub fn from_seed(
        key_id: &str,
        active_from: DateTime<Utc>,
        seed: &[u8; 32],
    ) -> Result<Self, KeyError> {
        check_key_id(key_id)?;
        let signing = SigningKey::from_bytes(seed);
        Ok(Self {
            key_id: key_id.to_owned(),
            active_from,
            verifying: signing.verifying_key(),
            signing: Some(signing),
        })
    }

    /// A signing key from the base64 of its seed; `public_key`, when given, must match.
    pub fn from_base64_seed(
        key_id: &str,
        active_from: DateTime<Utc>,
        private_key: &str,
        public_key: Option<&str>,
    ) -> Result<Self, KeyError> {
        check_key_id(key_id)?;
        let key = Self::from_seed(
            key_id,
            active_from,
            &decode_32(key_id, "private key", private_key)?,
        )?;
        if let Some(public_key) = public_key {
            if decode_32(key_id, "public key", public_key)? != key.public_key_bytes() {
                return Err(KeyError::PublicKeyMismatch(key_id.to_owned()));
            }
        }
        Ok(key)
    }

    /// A verify-only key from the base64 of its public key.
    pub fn verify_only(
        key_id: &str,
        active_from: DateTime<Utc>,
        public_key: &str,
    ) -> Result<Self, KeyError> {
        check_key_id(key_id)?;
        let bytes = decode_32(key_id, "public key", public_key)?;
        let verifying = VerifyingKey::from_bytes(&bytes)
            .map_err(|_| KeyError::InvalidPublicKey(key_id.to_owned()))?;
        Ok(Self {
            key_id: key_id.to_owned(),
            active_from,
            verifying,
            signing: None,
        })
    }

    /// Its id, as written in files (`SIGN="<key id>:…"`).
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// From when it signs new files.
    pub fn active_from(&self) -> DateTime<Utc> {
        self.active_from
    }

    /// The 32 bytes of the public key.
    pub fn public_key_bytes(&self) -> [u8; 32] {
        self.verifying.to_bytes()
    }

    /// The public key, base64 (standard alphabet, padded).
    pub fn public_key_base64(&self) -> String {
        BASE64.encode(self.public_key_bytes())
    }

    /// The private seed, base64: only for printing a freshly generated key.
    pub fn private_key_base64(&self) -> Option<String> {
        self.signing.as_ref().map(|s| BASE64.encode(s.to_bytes()))
    }

    /// Whether it holds a private key.
    pub fn can_sign(&self) -> bool {
        self.signing.is_some()
    }

    /// An Ed25519 signature over `message`, when this key can sign: for other
    /// signed documents than license files (bearer tokens, integrity checkpoints).
    pub fn sign_message(&self, message: &[u8]) -> Option<[u8; 64]> {
        use ed25519_dalek::Signer as _;
        self.signing.as_ref().map(|s| s.sign(message).to_bytes())
    }

    /// Whether `signature` is this key's (strict Ed25519 verification: no malleable
    /// or small-order signatures) over `message`; a signature not 64 bytes long is not.
    pub fn verifies_message(&self, message: &[u8], signature: &[u8]) -> bool {
        ed25519_dalek::Signature::from_slice(signature)
            .is_ok_and(|signature| self.verifying.verify_strict(message, &signature).is_ok())
    }

    pub(crate) fn verifying(&self) -> &VerifyingKey {
        &self.verifying
    }

    pub(crate) fn signing(&self) -> Option<&SigningKey> {
        self.signing.as_ref()
    }
}

/// Never prints private material.
impl fmt::Debug for KeyringEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyringEntry")
            .field("key_id", &self.key_id)
            .field("active_from", &self.active_from)
            .field("public_key", &self.public_key_base64())
            .field("can_sign", &self.can_sign())
            .finish()
    }
}

/// Every configured key, oldest `active_from` first.
#[derive(Debug, Clone, Default)]
pub struct Keyring {
    keys: Vec<KeyringEntry>,
}

impl Keyring {
    /// The keys, refusing two with one id.
    pub fn new(mut keys: Vec<KeyringEntry>) -> Result<Self, KeyError> {
        keys.sort_by(|a, b| (a.active_from, &a.key_id).cmp(&(b.active_from, &b.key_id)));
        for (i, key) in keys.iter().enumerate() {
            if keys[..i].iter().any(|k| k.key_id == key.key_id) {
                return Err(KeyError::DuplicateKeyId(key.key_id.clone()));
            }
        }
        Ok(Self { keys })
    }

    /// Every key, oldest first.
    pub fn keys(&self) -> &[KeyringEntry] {
        &self.keys
    }

    /// The key with this id.
    pub fn find(&self, key_id: &str) -> Option<&KeyringEntry> {
        self.keys.iter().find(|k| k.key_id == key_id)
    }

    /// Whether any key can sign.
    pub fn can_sign(&self) -> bool {
        self.keys.iter().any(KeyringEntry::can_sign)
    }

    /// The key that signs a file issued at `issued_at`: the newest signing key
    /// active by then, else (a file older than every signing key) the oldest one.
    pub fn signing_key_for(&self, issued_at: DateTime<Utc>) -> Option<&KeyringEntry> {
        let mut signing = self.keys.iter().filter(|k| k.can_sign());
        let oldest = signing.clone().next();
        signing.rfind(|k| k.active_from <= issued_at).or(oldest)
    }
}
