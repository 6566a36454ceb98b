//! License-file signing keys at the edge: read from configuration, generated for
//! an operator, and published (public halves only) for anyone who verifies files.
//!
//! In configuration, `license_signing_keys` is either a TOML array of tables
//!
//! ```toml
//! [[license_signing_keys]]
//! key_id = "k2"
//! active_from = "2027-01-01T00:00:00Z"
//! private_key = "<base64 of the 32-byte Ed25519 seed>"
//!
//! [[license_signing_keys]]          # retired: verifies old files, signs nothing
//! key_id = "k1"
//! active_from = "2026-01-01T00:00:00Z"
//! public_key = "<base64 of the 32-byte public key>"
//! ```
//!
//! or one string, which is how `LEDGER_LICENSE_SIGNING_KEYS` sets it: entries
//! separated by `,`, each `<key id>=<base64 seed>@<active_from>` or, verify-only,
//! `<key id>=public:<base64 public key>@<active_from>`. Key material never appears
//! in an error message or in `Debug` output.

use std::fmt;

use anyhow::Context as _;
use chrono::{DateTime, SecondsFormat, Utc};
use ledger_domain::keys::{KeyError, Keyring, KeyringEntry};
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

/// The configured keys (none by default: downloads then answer 503).
#[derive(Clone, Default)]
pub struct SigningKeys(pub Keyring);

/// Key ids and public keys only.
impl fmt::Debug for SigningKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// One `[[license_signing_keys]]` table.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyTable {
    key_id: String,
    active_from: String,
    #[serde(default)]
    private_key: Option<String>,
    #[serde(default)]
    public_key: Option<String>,
}

fn instant(key_id: &str, raw: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(raw.trim())
        .map(|at| at.with_timezone(&Utc))
        .map_err(|_| format!("key `{key_id}`: active_from must be an RFC 3339 instant"))
}

impl KeyTable {
    fn into_key(self) -> Result<KeyringEntry, String> {
        let active_from = instant(&self.key_id, &self.active_from)?;
        let key = match (&self.private_key, &self.public_key) {
            (Some(private), public) => KeyringEntry::from_base64_seed(
                &self.key_id,
                active_from,
                private,
                public.as_deref(),
            ),
            (None, Some(public)) => KeyringEntry::verify_only(&self.key_id, active_from, public),
            (None, None) => {
                return Err(format!(
                    "key `{}` needs a private_key (signs) or a public_key (verifies only)",
                    self.key_id
                ))
            }
        };
        key.map_err(|e| e.to_string())
    }
}

/// Parses the one-string form (see the module docs); an empty string is no keys.
pub fn parse_compact(raw: &str) -> Result<Keyring, String> {
    let mut keys = Vec::new();
    for (index, entry) in raw.split(',').map(str::trim).enumerate() {
        if entry.is_empty() {
            continue;
        }
        let shape = || {
            format!(
                "entry {} must be `<key id>=<base64 seed>@<RFC 3339 instant>` or \
                 `<key id>=public:<base64 public key>@<RFC 3339 instant>`",
                index + 1
            )
        };
        let (key_id, rest) = entry.split_once('=').ok_or_else(shape)?;
        let (material, active_from) = rest.rsplit_once('@').ok_or_else(shape)?;
        let (private_key, public_key) = match material.strip_prefix("public:") {
            Some(public) => (None, Some(public.to_owned())),
            None => (Some(material.to_owned()), None),
        };
        keys.push(
            KeyTable {
                key_id: key_id.trim().to_owned(),
                active_from: active_from.to_owned(),
                private_key,
                public_key,
            }
            .into_key()?,
        );
    }
    Keyring::new(keys).map_err(|e| e.to_string())
}

impl<'de> Deserialize<'de> for SigningKeys {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeysVisitor;

        impl<'de> Visitor<'de> for KeysVisitor {
            type Value = SigningKeys;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array of key tables or a `<key id>=<key>@<active_from>,…` string")
            }

            fn visit_str<E: de::Error>(self, raw: &str) -> Result<SigningKeys, E> {
                parse_compact(raw).map(SigningKeys).map_err(E::custom)
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<SigningKeys, A::Error> {
                let mut keys = Vec::new();
                while let Some(table) = seq.next_element::<KeyTable>()? {
                    keys.push(table.into_key().map_err(de::Error::custom)?);
                }
                Keyring::new(keys)
                    .map(SigningKeys)
                    .map_err(de::Error::custom)
            }
        }

        deserializer.deserialize_any(KeysVisitor)
    }
}

/// A new signing key from the operating system's randomness.
pub fn generate(key_id: &str, active_from: DateTime<Utc>) -> anyhow::Result<KeyringEntry> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| anyhow::anyhow!("reading OS randomness: {e}"))?;
    Ok(KeyringEntry::from_seed(key_id, active_from, &seed)?)
}

/// `key` in the one-string form, ready for `LEDGER_LICENSE_SIGNING_KEYS`.
pub fn compact_entry(key: &KeyringEntry) -> String {
    let active_from = key.active_from().to_rfc3339_opts(SecondsFormat::Secs, true);
    match key.private_key_base64() {
        Some(seed) => format!("{}={seed}@{active_from}", key.key_id()),
        None => format!(
            "{}=public:{}@{active_from}",
            key.key_id(),
            key.public_key_base64()
        ),
    }
}

/// `key` as a `[[license_signing_keys]]` TOML table.
pub fn toml_entry(key: &KeyringEntry) -> String {
    let active_from = key.active_from().to_rfc3339_opts(SecondsFormat::Secs, true);
    let material = match key.private_key_base64() {
        Some(seed) => format!("private_key = \"{seed}\""),
        None => format!("public_key = \"{}\"", key.public_key_base64()),
    };
    format!(
        "[[license_signing_keys]]\nkey_id = \"{}\"\nactive_from = \"{active_from}\"\n{material}\n",
        key.key_id()
    )
}

/// The answer of `GET /v1/license-file-keys`, and the `--keys` file of
/// `ledger verify license-file`: public keys by id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishedKeys {
    /// Every configured key, oldest first.
    pub keys: Vec<PublishedKey>,
}

/// One public key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishedKey {
    /// The id files name in `SIGN="<key id>:…"`.
    pub key_id: String,
    /// Always `Ed25519`.
    pub algorithm: String,
    /// Base64 of the 32-byte public key.
    pub public_key: String,
    /// From when it signs new files.
    pub active_from: DateTime<Utc>,
}

/// The one signature algorithm.
pub const ALGORITHM: &str = "Ed25519";

impl PublishedKeys {
    /// The public halves of `keyring`.
    pub fn of(keyring: &Keyring) -> Self {
        Self {
            keys: keyring
                .keys()
                .iter()
                .map(|key| PublishedKey {
                    key_id: key.key_id().to_owned(),
                    algorithm: ALGORITHM.to_owned(),
                    public_key: key.public_key_base64(),
                    active_from: key.active_from(),
                })
                .collect(),
        }
    }

    /// Verify-only keys from a published list.
    pub fn keyring(&self) -> anyhow::Result<Keyring> {
        let keys = self
            .keys
            .iter()
            .map(|key| {
                if key.algorithm != ALGORITHM {
                    anyhow::bail!(
                        "key `{}`: algorithm `{}` is not {ALGORITHM}",
                        key.key_id,
                        key.algorithm
                    );
                }
                KeyringEntry::verify_only(&key.key_id, key.active_from, &key.public_key)
                    .with_context(|| format!("key `{}`", key.key_id))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Keyring::new(keys).map_err(|e: KeyError| anyhow::anyhow!(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_one_string_form_holds_signing_and_verify_only_keys() {
        let new = generate("k2", "2027-01-01T00:00:00Z".parse().unwrap()).unwrap();
        let old = generate("k1", "2026-01-01T00:00:00Z".parse().unwrap()).unwrap();
        let retired =
            KeyringEntry::verify_only("k1", old.active_from(), &old.public_key_base64()).unwrap();
        let raw = format!(" {} , {}", compact_entry(&new), compact_entry(&retired));
        let keyring = parse_compact(&raw).unwrap();
        let ids: Vec<(&str, bool)> = keyring
            .keys()
            .iter()
            .map(|k| (k.key_id(), k.can_sign()))
            .collect();
        assert_eq!(ids, [("k1", false), ("k2", true)]);
        assert_eq!(keyring.keys()[1].public_key_bytes(), new.public_key_bytes());
        assert!(parse_compact("").unwrap().keys().is_empty());
    }

    #[test]
    fn bad_entries_are_refused_without_repeating_the_material() {
        let seed = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlYw";
        for raw in [
            format!("k1={seed}@2026-01-01T00:00:00Z"),
            format!("k1={seed}"),
            format!("k 1={seed}=@2026-01-01T00:00:00Z"),
            format!("k1={seed}=@yesterday"),
        ] {
            let error = parse_compact(&raw).unwrap_err();
            assert!(!error.contains(seed), "{error}");
        }
        let twice = generate("k1", Utc::now()).unwrap();
        let raw = format!("{},{}", compact_entry(&twice), compact_entry(&twice));
        assert!(parse_compact(&raw).unwrap_err().contains("twice"));
    }

    #[test]
    fn published_keys_round_trip_into_a_verify_only_keyring() {
        let key = generate("k1", Utc::now()).unwrap();
        let published = PublishedKeys::of(&Keyring::new(vec![key.clone()]).unwrap());
        let json = serde_json::to_string(&published).unwrap();
        assert!(!json.contains(&key.private_key_base64().unwrap()));
        let back: PublishedKeys = serde_json::from_str(&json).unwrap();
        let keyring = back.keyring().unwrap();
        assert_eq!(keyring.keys()[0].public_key_bytes(), key.public_key_bytes());
        assert!(!keyring.can_sign());
    }
}
