//! Bearer tokens: compact JWS (RFC 7515) JSON Web Tokens signed with Ed25519
//! (`alg: EdDSA`, RFC 8037), issued and verified with keys from configuration.
//!
//! Verification accepts exactly one algorithm and only keys the keyring names by
//! `kid`: there is no algorithm negotiation, no `none`, no key carried in the token.
//! Pure functions of the token, the keys and the instant; I/O is the caller's.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as BASE64URL;
use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use ledger_domain::keys::Keyring;
use ledger_domain::usage::ServerHost;
use ledger_domain::AccountId;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::auth::verified::VerifiedTokens;
use crate::auth::Role;

/// Longest token accepted; ours are about 400 bytes.
const MAX_TOKEN_BYTES: usize = 4096;

/// Who a verified token speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The `sub` claim: who is acting, recorded as the actor of every command.
    pub subject: String,
    /// What it may do.
    pub role: Role,
    /// The account it acts in (none for an admin).
    pub account: Option<AccountId>,
    /// A license server's own host (license-server tokens only).
    pub host: Option<ServerHost>,
    /// The `jti` claim: rate limits are kept per token.
    pub token_id: String,
    /// When the token stops being accepted.
    pub expires_at: DateTime<Utc>,
}

/// What the gateway checks a token against.
#[derive(Debug, Clone)]
pub struct Verifier {
    /// Keys by id (verify-only keys included, for rotation).
    pub keys: Keyring,
    /// The `iss` every token must carry.
    pub issuer: String,
    /// The `aud` every token must name.
    pub audience: String,
    /// Clock skew tolerated on `exp`, `nbf` and `iat`.
    pub leeway: Duration,
}

/// Why a token was refused. The text is safe to send: it never quotes the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// No `Authorization: Bearer …` header.
    #[error("this request needs a bearer token (Authorization: Bearer <token>)")]
    Missing,
    /// Not three base64url parts of JSON, or too long.
    #[error("the token is not a well-formed JWT")]
    Malformed,
    /// `alg` is not `EdDSA`, or the header asks for extensions (`crit`).
    #[error("the token's algorithm is not accepted (EdDSA only)")]
    UnsupportedAlgorithm,
    /// `kid` names no configured key.
    #[error("the token is signed with an unknown key")]
    UnknownKey,
    /// The signature does not verify.
    #[error("the token's signature is not valid")]
    BadSignature,
    /// Past `exp`.
    #[error("the token has expired")]
    Expired,
    /// Before `nbf`, or issued in the future.
    #[error("the token is not valid yet")]
    NotYetValid,
    /// `iss` is not ours.
    #[error("the token is from another issuer")]
    WrongIssuer,
    /// `aud` does not name us.
    #[error("the token is for another audience")]
    WrongAudience,
    /// The claims contradict each other or the rules of the role.
    #[error("the token's claims are not valid: {0}")]
    BadClaims(&'static str),
}

/// Why a token could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IssueError {
    /// No configured key with a private part is active now.
    #[error("no token signing key with a private key is active (setting `auth_signing_keys`)")]
    NoSigningKey,
    /// The request contradicts the role's rules.
    #[error("{0}")]
    Invalid(&'static str),
}

#[derive(Debug, Serialize, Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    typ: Option<String>,
    #[serde(default, skip_serializing)]
    crit: Option<serde_json::Value>,
}

/// RFC 7519 allows `aud` as one string or a list.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    fn names(&self, audience: &str) -> bool {
        match self {
            Self::One(one) => one == audience,
            Self::Many(many) => many.iter().any(|one| one == audience),
        }
    }
}

/// The claims we issue and read. Unknown claims are ignored, so tokens minted by
/// another issuer with extra claims still verify.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Claims {
    iss: String,
    aud: Audience,
    sub: String,
    exp: i64,
    iat: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    nbf: Option<i64>,
    jti: String,
    role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    account: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    host: Option<String>,
}

/// What a new token is for.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    /// Who it acts as (`sub`).
    pub subject: String,
    /// Its role.
    pub role: Role,
    /// Its account; none exactly for admins.
    pub account: Option<AccountId>,
    /// The license server's host; exactly for license-server tokens.
    pub host: Option<ServerHost>,
    /// How long it is valid.
    pub valid_for: Duration,
}

/// A token just made.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    /// The compact JWT: a secret, to hand to its holder once.
    pub token: String,
    /// Its `jti`.
    pub token_id: Uuid,
    /// Its `exp`.
    pub expires_at: DateTime<Utc>,
}

/// `sub`: who acts, as it will be recorded.
fn check_subject(subject: &str) -> Result<(), &'static str> {
    if (1..=128).contains(&subject.len()) && subject.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(())
    } else {
        Err("sub must be 1 to 128 printable characters without spaces")
    }
}

/// Which claims a role needs and forbids.
fn check_scope(
    role: Role,
    account: Option<AccountId>,
    host: Option<&ServerHost>,
) -> Result<(), &'static str> {
    match (role, account, host) {
        (Role::Admin, None, None) => Ok(()),
        (Role::Admin, _, _) => Err("an admin token has no account and no host"),
        (_, None, _) => Err("every role but admin acts in one account"),
        (Role::LicenseServer, Some(_), Some(_)) => Ok(()),
        (Role::LicenseServer, Some(_), None) => Err("a license-server token names its host"),
        (_, Some(_), Some(_)) => Err("only a license-server token names a host"),
        (_, Some(_), None) => Ok(()),
    }
}

impl Verifier {
    /// A signed token for `request`, by the newest key active `now`.
    pub fn issue(
        &self,
        request: &TokenRequest,
        now: DateTime<Utc>,
    ) -> Result<IssuedToken, IssueError> {
        check_subject(&request.subject).map_err(IssueError::Invalid)?;
        check_scope(request.role, request.account, request.host.as_ref())
            .map_err(IssueError::Invalid)?;
        if request.valid_for <= Duration::zero() {
            return Err(IssueError::Invalid("a token must be valid for some time"));
        }
        let key = self
            .keys
            .signing_key_for(now)
            .filter(|key| key.can_sign())
            .ok_or(IssueError::NoSigningKey)?;
        let token_id = Uuid::now_v7();
        let expires_at = now + request.valid_for;
        let header = Header {
            alg: "EdDSA".into(),
            kid: Some(key.key_id().to_owned()),
            typ: Some("JWT".into()),
            crit: None,
        };
        let claims = Claims {
            iss: self.issuer.clone(),
            aud: Audience::One(self.audience.clone()),
            sub: request.subject.clone(),
            exp: expires_at.timestamp(),
            iat: now.timestamp(),
            nbf: None,
            jti: token_id.to_string(),
            role: request.role,
            account: request.account.map(|account| account.0),
            host: request.host.as_ref().map(|host| host.as_str().to_owned()),
        };
        let signing_input = format!("{}.{}", encode_json(&header), encode_json(&claims));
        let signature = key
            .sign_message(signing_input.as_bytes())
            .ok_or(IssueError::NoSigningKey)?;
        Ok(IssuedToken {
            token: format!("{signing_input}.{}", BASE64URL.encode(signature)),
            token_id,
            expires_at: DateTime::from_timestamp(claims.exp, 0).unwrap_or(expires_at),
        })
    }

    /// The caller `token` speaks for at `now`, or why it is refused. The signature
    /// is checked before any claim is believed.
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<Caller, TokenError> {
        self.check_claims(self.signed_claims(token)?, now)
    }

    /// The same, remembering in `seen` the claims of tokens whose signature held,
    /// so a token sent again skips the signature check; its times, issuer and
    /// audience are checked every time.
    pub fn verify_with(
        &self,
        token: &str,
        now: DateTime<Utc>,
        seen: &VerifiedTokens,
    ) -> Result<Caller, TokenError> {
        let claims = match seen.get(token) {
            Some(claims) => claims,
            None => {
                let claims = self.signed_claims(token)?;
                seen.insert(token, claims.clone());
                claims
            }
        };
        self.check_claims(claims, now)
    }

    /// The claims of a well-formed token signed by one of our keys, unchecked.
    fn signed_claims(&self, token: &str) -> Result<Claims, TokenError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(TokenError::Malformed);
        }
        let (signing_input, signature) = token.rsplit_once('.').ok_or(TokenError::Malformed)?;
        let (header, claims) = signing_input
            .split_once('.')
            .filter(|(_, claims)| !claims.contains('.'))
            .ok_or(TokenError::Malformed)?;
        let header: Header = decode_json(header)?;
        if header.alg != "EdDSA" || header.crit.is_some() {
            return Err(TokenError::UnsupportedAlgorithm);
        }
        let key = header
            .kid
            .as_deref()
            .and_then(|kid| self.keys.find(kid))
            .ok_or(TokenError::UnknownKey)?;
        let signature = BASE64URL
            .decode(signature)
            .map_err(|_| TokenError::Malformed)?;
        if !key.verifies_message(signing_input.as_bytes(), &signature) {
            return Err(TokenError::BadSignature);
        }
        decode_json(claims)
    }

    fn check_claims(&self, claims: Claims, now: DateTime<Utc>) -> Result<Caller, TokenError> {
        let now_s = now.timestamp();
        let leeway = self.leeway.num_seconds();
        if claims.exp + leeway <= now_s {
            return Err(TokenError::Expired);
        }
        if claims.nbf.is_some_and(|nbf| nbf - leeway > now_s) || claims.iat - leeway > now_s {
            return Err(TokenError::NotYetValid);
        }
        if claims.iss != self.issuer {
            return Err(TokenError::WrongIssuer);
        }
        if !claims.aud.names(&self.audience) {
            return Err(TokenError::WrongAudience);
        }
        check_subject(&claims.sub).map_err(TokenError::BadClaims)?;
        if !(1..=128).contains(&claims.jti.len()) {
            return Err(TokenError::BadClaims("jti must be 1 to 128 characters"));
        }
        let account = claims.account.map(AccountId);
        let host = claims
            .host
            .as_deref()
            .map(ServerHost::parse)
            .transpose()
            .map_err(|_| TokenError::BadClaims("host is not a license server id"))?;
        check_scope(claims.role, account, host.as_ref()).map_err(TokenError::BadClaims)?;
        Ok(Caller {
            subject: claims.sub,
            role: claims.role,
            account,
            host,
            token_id: claims.jti,
            expires_at: DateTime::from_timestamp(claims.exp, 0).unwrap_or(now),
        })
    }
}

fn encode_json<T: Serialize>(value: &T) -> String {
    // Serializing our own plain structs cannot fail.
    BASE64URL.encode(serde_json::to_vec(value).unwrap_or_default())
}

fn decode_json<T: serde::de::DeserializeOwned>(part: &str) -> Result<T, TokenError> {
    let bytes = BASE64URL.decode(part).map_err(|_| TokenError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| TokenError::Malformed)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use ledger_domain::keys::KeyringEntry;

    fn key(id: &str, seed: u8) -> KeyringEntry {
        KeyringEntry::from_seed(id, "2000-01-01T00:00:00Z".parse().unwrap(), &[seed; 32]).unwrap()
    }

    fn verifier(keys: Vec<KeyringEntry>) -> Verifier {
        Verifier {
            keys: Keyring::new(keys).unwrap(),
            issuer: "ledger".into(),
            audience: "ledger-api".into(),
            leeway: Duration::seconds(30),
        }
    }

    fn now() -> DateTime<Utc> {
        "2026-11-23T12:00:00Z".parse().unwrap()
    }

    fn portal() -> TokenRequest {
        TokenRequest {
            subject: "alice@portal".into(),
            role: Role::Portal,
            account: Some(AccountId(Uuid::from_u128(7))),
            host: None,
            valid_for: Duration::hours(1),
        }
    }

    /// A token with hand-made header and claims, signed by `key`.
    fn handmade(
        header: &serde_json::Value,
        claims: &serde_json::Value,
        key: &KeyringEntry,
    ) -> String {
        let input = format!("{}.{}", encode_json(header), encode_json(claims));
        let signature = key.sign_message(input.as_bytes()).unwrap();
        format!("{input}.{}", BASE64URL.encode(signature))
    }

    fn claims() -> serde_json::Value {
        serde_json::json!({
            "iss": "ledger", "aud": ["other", "ledger-api"], "sub": "svc",
            "exp": now().timestamp() + 60, "iat": now().timestamp(), "jti": "t1",
            "role": "read_only", "account": Uuid::from_u128(7),
        })
    }

    /// `token` with its role claim changed to admin, its signature kept.
    fn promoted_to_admin(token: &str) -> String {
        let parts: Vec<&str> = token.split('.').collect();
        let mut claims: serde_json::Value =
            serde_json::from_slice(&BASE64URL.decode(parts[1]).unwrap()).unwrap();
        claims["role"] = "admin".into();
        format!("{}.{}.{}", parts[0], encode_json(&claims), parts[2])
    }

    #[test]
    fn an_issued_token_verifies_to_its_caller() {
        let verifier = verifier(vec![key("k1", 1)]);
        let issued = verifier.issue(&portal(), now()).unwrap();
        let caller = verifier.verify(&issued.token, now()).unwrap();
        assert_eq!(caller.subject, "alice@portal");
        assert_eq!(caller.role, Role::Portal);
        assert_eq!(caller.account, Some(AccountId(Uuid::from_u128(7))));
        assert_eq!(caller.token_id, issued.token_id.to_string());
        assert_eq!(caller.expires_at, now() + Duration::hours(1));
    }

    #[test]
    fn expiry_is_checked_with_the_leeway() {
        let verifier = verifier(vec![key("k1", 1)]);
        let token = verifier.issue(&portal(), now()).unwrap().token;
        let at_expiry = now() + Duration::hours(1);
        assert!(verifier.verify(&token, at_expiry).is_ok());
        assert_eq!(
            verifier.verify(&token, at_expiry + Duration::seconds(30)),
            Err(TokenError::Expired)
        );
    }

    #[test]
    fn a_remembered_token_is_still_checked_for_expiry_every_time() {
        let verifier = verifier(vec![key("k1", 1)]);
        let seen = VerifiedTokens::default();
        let token = verifier.issue(&portal(), now()).unwrap().token;
        assert!(verifier.verify_with(&token, now(), &seen).is_ok());
        assert_eq!(seen.len(), 1);
        let later = now() + Duration::hours(1) + Duration::seconds(30);
        assert_eq!(
            verifier.verify_with(&token, later, &seen),
            Err(TokenError::Expired)
        );
    }

    #[test]
    fn only_the_very_token_verified_is_remembered() {
        let verifier = verifier(vec![key("k1", 1)]);
        let seen = VerifiedTokens::default();
        let token = verifier.issue(&portal(), now()).unwrap().token;
        assert!(verifier.verify_with(&token, now(), &seen).is_ok());
        // Its claims with a changed role, and another key's signature, miss.
        let tampered = promoted_to_admin(&token);
        assert_eq!(
            verifier.verify_with(&tampered, now(), &seen),
            Err(TokenError::BadSignature)
        );
        let forger = self::verifier(vec![key("k1", 2)]);
        let forged = forger.issue(&portal(), now()).unwrap().token;
        assert_eq!(
            verifier.verify_with(&forged, now(), &seen),
            Err(TokenError::BadSignature)
        );
        assert_eq!(seen.len(), 1);
    }

    #[test]
    fn a_token_from_the_future_is_not_valid_yet() {
        let verifier = verifier(vec![key("k1", 1)]);
        let token = verifier.issue(&portal(), now()).unwrap().token;
        assert_eq!(
            verifier.verify(&token, now() - Duration::minutes(5)),
            Err(TokenError::NotYetValid)
        );
    }

    #[test]
    fn another_keys_signature_is_refused() {
        let ours = verifier(vec![key("k1", 1)]);
        let forger = verifier(vec![key("k1", 2)]);
        let forged = forger.issue(&portal(), now()).unwrap().token;
        assert_eq!(ours.verify(&forged, now()), Err(TokenError::BadSignature));
    }

    #[test]
    fn a_changed_claim_breaks_the_signature() {
        let verifier = verifier(vec![key("k1", 1)]);
        let token = verifier.issue(&portal(), now()).unwrap().token;
        let tampered = promoted_to_admin(&token);
        assert_eq!(
            verifier.verify(&tampered, now()),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn issuer_and_audience_must_be_ours() {
        let verifier = verifier(vec![key("k1", 1)]);
        let signer = key("k1", 1);
        let header = serde_json::json!({"alg": "EdDSA", "kid": "k1"});
        let mut wrong_issuer = claims();
        wrong_issuer["iss"] = "someone-else".into();
        let mut wrong_audience = claims();
        wrong_audience["aud"] = "another-api".into();
        assert!(verifier
            .verify(&handmade(&header, &claims(), &signer), now())
            .is_ok());
        assert_eq!(
            verifier.verify(&handmade(&header, &wrong_issuer, &signer), now()),
            Err(TokenError::WrongIssuer)
        );
        assert_eq!(
            verifier.verify(&handmade(&header, &wrong_audience, &signer), now()),
            Err(TokenError::WrongAudience)
        );
    }

    #[test]
    fn only_eddsa_by_a_named_key_is_accepted() {
        let verifier = verifier(vec![key("k1", 1)]);
        let signer = key("k1", 1);
        for header in [
            serde_json::json!({"alg": "none", "kid": "k1"}),
            serde_json::json!({"alg": "HS256", "kid": "k1"}),
            serde_json::json!({"alg": "EdDSA", "kid": "k1", "crit": ["b64"]}),
        ] {
            assert_eq!(
                verifier.verify(&handmade(&header, &claims(), &signer), now()),
                Err(TokenError::UnsupportedAlgorithm),
                "{header}"
            );
        }
        for header in [
            serde_json::json!({"alg": "EdDSA"}),
            serde_json::json!({"alg": "EdDSA", "kid": "k9"}),
        ] {
            assert_eq!(
                verifier.verify(&handmade(&header, &claims(), &signer), now()),
                Err(TokenError::UnknownKey),
                "{header}"
            );
        }
    }

    #[test]
    fn a_rotated_out_key_still_verifies_while_configured() {
        let old = key("old", 1);
        let new = KeyringEntry::from_seed("new", "2026-01-01T00:00:00Z".parse().unwrap(), &[2; 32])
            .unwrap();
        let before = verifier(vec![old.clone()]);
        let token = before.issue(&portal(), now()).unwrap().token;
        let old_public =
            KeyringEntry::verify_only("old", old.active_from(), &old.public_key_base64()).unwrap();
        let after = verifier(vec![old_public, new]);
        assert!(after.verify(&token, now()).is_ok());
        let fresh = after.issue(&portal(), now()).unwrap().token;
        assert_eq!(after.verify(&fresh, now()).unwrap().role, Role::Portal);
        assert!(fresh.starts_with(&encode_json(
            &serde_json::json!({"alg": "EdDSA", "kid": "new", "typ": "JWT"})
        )));
        assert_eq!(before.verify(&fresh, now()), Err(TokenError::UnknownKey));
    }

    #[test]
    fn garbage_is_malformed() {
        let verifier = verifier(vec![key("k1", 1)]);
        for token in ["", "a.b", "a.b.c.d", "!!!.???.***", &"a".repeat(5000)] {
            assert_eq!(
                verifier.verify(token, now()),
                Err(TokenError::Malformed),
                "{token}"
            );
        }
    }

    #[test]
    fn roles_carry_exactly_the_scope_they_need() {
        let verifier = verifier(vec![key("k1", 1)]);
        let host = ServerHost::parse("lic-01").unwrap();
        let admin_with_account = TokenRequest {
            role: Role::Admin,
            ..portal()
        };
        let server_without_host = TokenRequest {
            role: Role::LicenseServer,
            ..portal()
        };
        let portal_with_host = TokenRequest {
            host: Some(host.clone()),
            ..portal()
        };
        let reader_without_account = TokenRequest {
            role: Role::ReadOnly,
            account: None,
            ..portal()
        };
        for request in [
            admin_with_account,
            server_without_host,
            portal_with_host,
            reader_without_account,
        ] {
            assert!(
                matches!(verifier.issue(&request, now()), Err(IssueError::Invalid(_))),
                "{request:?}"
            );
        }
        let server = TokenRequest {
            role: Role::LicenseServer,
            host: Some(host.clone()),
            ..portal()
        };
        let token = verifier.issue(&server, now()).unwrap().token;
        assert_eq!(verifier.verify(&token, now()).unwrap().host, Some(host));
    }

    #[test]
    fn a_verify_only_keyring_cannot_issue() {
        let signer = key("k1", 1);
        let public =
            KeyringEntry::verify_only("k1", signer.active_from(), &signer.public_key_base64())
                .unwrap();
        assert_eq!(
            verifier(vec![public]).issue(&portal(), now()).unwrap_err(),
            IssueError::NoSigningKey
        );
    }
}
