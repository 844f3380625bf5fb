//! Access tokens: short-lived JWTs (EdDSA, or RS256 by configuration) carrying the user, their
//! roles and their session.
//!
//! Verification reads the header first so that a token is refused for the right reason: only
//! the algorithms of the configured allow-list are accepted (`EdDSA` and `RS256` are the only
//! ones that can be listed: never `none`, never an HMAC keyed with a public key), the `kid` must
//! name a configured key whose algorithm is the token's `alg`, then jsonwebtoken checks the
//! signature, `exp`, `nbf`, `iss` and `aud` with the configured leeway, and `iat` is checked
//! here (jsonwebtoken does not).
//!
//! A token that verified is remembered by its exact text (at most [`VERIFIED_CACHE`] of them,
//! forgotten all at once when full), so a client presenting the same token again skips the
//! JSON parsing and the signature check; only `exp` is checked again, the one claim time can
//! invalidate. This caches nothing about the session: the guard checks it separately (in Redis,
//! or in `auth::live`'s cache, which every revocation clears), so logout and revocation keep
//! taking effect on the next request.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Header, Validation};
use sagaway_platform::identity::Role;
use serde::{Deserialize, Serialize};

use crate::auth::keys::KeySet;
use crate::config::AuthConfig;

/// The claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user id.
    pub sub: String,
    /// Role names (`customer`, `admin`).
    pub roles: Vec<String>,
    /// The session the token belongs to.
    pub sid: String,
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// Issued at (seconds since the epoch).
    pub iat: u64,
    /// Not before.
    pub nbf: u64,
    /// Expires at.
    pub exp: u64,
}

/// Why a token was refused; the `Display` text is the 401 message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// No `Authorization: Bearer` header.
    #[error("missing bearer token")]
    Missing,
    /// Not three base64url parts with a JSON header.
    #[error("malformed token")]
    Malformed,
    /// `alg` outside the allow-list.
    #[error("alg not allowed")]
    AlgNotAllowed,
    /// No `kid`, or one naming no configured key.
    #[error("unknown kid")]
    UnknownKid,
    /// The signature does not verify.
    #[error("bad signature")]
    BadSignature,
    /// Past `exp` (plus leeway).
    #[error("expired")]
    Expired,
    /// Before `nbf` (minus leeway).
    #[error("not yet valid")]
    NotYetValid,
    /// `iat` in the future.
    #[error("issued in the future")]
    IssuedInFuture,
    /// `iss` is not ours.
    #[error("wrong issuer")]
    WrongIssuer,
    /// `aud` is not ours.
    #[error("wrong audience")]
    WrongAudience,
    /// A required claim is absent or has the wrong type.
    #[error("missing or invalid claim: {0}")]
    BadClaim(String),
    /// The session was logged out, revoked or has expired.
    #[error("session revoked")]
    SessionRevoked,
}

/// How many verified tokens are remembered.
pub const VERIFIED_CACHE: usize = 8192;

/// Issues and verifies access tokens.
#[derive(Debug)]
pub struct Tokens {
    keys: KeySet,
    issuer: String,
    audience: String,
    ttl: Duration,
    leeway: Duration,
    verified: Mutex<HashMap<Box<str>, Claims>>,
}

impl Tokens {
    /// Tokens signed with `keys`, as `config` says.
    pub fn new(keys: KeySet, config: &AuthConfig) -> Self {
        Self {
            keys,
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
            ttl: config.token_ttl,
            leeway: config.leeway,
            verified: Mutex::new(HashMap::new()),
        }
    }

    /// The keys, for the JWK Set.
    pub fn keys(&self) -> &KeySet {
        &self.keys
    }

    /// Lifetime of a token, for `expires_in`.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// A signed token for `user_id` in session `sid`.
    pub fn issue(&self, user_id: &str, roles: &[Role], sid: &str) -> Result<String, TokenError> {
        let now = now();
        let claims = Claims {
            sub: user_id.to_owned(),
            roles: roles.iter().map(|role| role.as_str().to_owned()).collect(),
            sid: sid.to_owned(),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            iat: now,
            nbf: now,
            exp: now + self.ttl.as_secs(),
        };
        let mut header = Header::new(self.keys.signing_algorithm.jwt());
        header.kid = Some(self.keys.signing_kid.clone());
        jsonwebtoken::encode(&header, &claims, &self.keys.signing).map_err(|err| {
            tracing::error!(error = %err, "signing an access token");
            TokenError::Malformed
        })
    }

    /// The claims of a valid token, or why it is refused.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let remembered = self
            .verified
            .lock()
            .ok()
            .and_then(|verified| verified.get(token).cloned());
        if let Some(claims) = remembered {
            if claims.exp.saturating_add(self.leeway.as_secs()) < now() {
                return Err(TokenError::Expired);
            }
            return Ok(claims);
        }
        let claims = self.verify_afresh(token)?;
        if let Ok(mut verified) = self.verified.lock() {
            if verified.len() >= VERIFIED_CACHE {
                verified.clear();
            }
            verified.insert(token.into(), claims.clone());
        }
        Ok(claims)
    }

    /// [`Tokens::verify`] without the cache: header, key, signature and every claim.
    fn verify_afresh(&self, token: &str) -> Result<Claims, TokenError> {
        let header = token.split('.').next().ok_or(TokenError::Malformed)?;
        let header: serde_json::Value = URL_SAFE_NO_PAD
            .decode(header)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or(TokenError::Malformed)?;
        let alg = header["alg"].as_str().unwrap_or("none");
        if !self.keys.allows(alg) {
            return Err(TokenError::AlgNotAllowed);
        }
        let key = header["kid"]
            .as_str()
            .and_then(|kid| self.keys.find(kid))
            .ok_or(TokenError::UnknownKid)?;
        // A key verifies one algorithm: an RS256 header on an Ed25519 `kid` is not a mix-up
        // to be helpful about.
        if key.algorithm().as_str() != alg {
            return Err(TokenError::AlgNotAllowed);
        }
        let mut validation = Validation::new(key.algorithm().jwt());
        validation.leeway = self.leeway.as_secs();
        validation.validate_nbf = true;
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "aud", "sub"]);
        let claims = jsonwebtoken::decode::<Claims>(token, &key.decoding, &validation)
            .map_err(|err| reason(err.kind()))?
            .claims;
        if claims.iat > now() + self.leeway.as_secs() {
            return Err(TokenError::IssuedInFuture);
        }
        Ok(claims)
    }
}

fn reason(kind: &ErrorKind) -> TokenError {
    match kind {
        ErrorKind::InvalidSignature => TokenError::BadSignature,
        ErrorKind::ExpiredSignature => TokenError::Expired,
        ErrorKind::ImmatureSignature => TokenError::NotYetValid,
        ErrorKind::InvalidIssuer => TokenError::WrongIssuer,
        ErrorKind::InvalidAudience => TokenError::WrongAudience,
        ErrorKind::InvalidAlgorithm => TokenError::AlgNotAllowed,
        ErrorKind::MissingRequiredClaim(claim) => TokenError::BadClaim(claim.clone()),
        ErrorKind::Json(err) => TokenError::BadClaim(err.to_string()),
        _ => TokenError::Malformed,
    }
}

/// Seconds since the epoch.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sagaway_platform::config::Env;

    fn tokens() -> Tokens {
        let config = AuthConfig::from_env(&Env::default()).expect("defaults");
        Tokens::new(KeySet::load(&config).expect("keys"), &config)
    }

    #[test]
    fn an_issued_token_verifies_with_its_claims() {
        let tokens = tokens();
        let token = tokens
            .issue("u-1", &[Role::Customer, Role::Admin], "s-1")
            .expect("signs");
        let claims = tokens.verify(&token).expect("verifies");
        assert_eq!((claims.sub.as_str(), claims.sid.as_str()), ("u-1", "s-1"));
        assert_eq!(claims.roles, ["customer", "admin"]);
        assert_eq!(claims.exp - claims.iat, 300);
    }

    fn rs256_tokens(allowed: &str) -> Tokens {
        let env = Env::from_pairs([
            ("SAGAWAY_JWT_ALGORITHM", "RS256"),
            ("SAGAWAY_JWT_SIGNING_KEY", crate::auth::keys::TEST_RSA_KEY),
            ("SAGAWAY_JWT_ALLOWED_ALGORITHMS", allowed),
        ]);
        let config = AuthConfig::from_env(&env).expect("config");
        Tokens::new(KeySet::load(&config).expect("keys"), &config)
    }

    #[test]
    fn an_rs256_gateway_issues_tokens_that_verify_and_refuses_eddsa_ones() {
        let tokens = rs256_tokens("");
        let token = tokens
            .issue("u-1", &[Role::Customer], "s-1")
            .expect("signs");
        let header: serde_json::Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(token.split('.').next().expect("header"))
                .expect("base64"),
        )
        .expect("json");
        assert_eq!(header["alg"], "RS256");
        assert_eq!(header["kid"], tokens.keys().signing_kid.as_str());
        assert_eq!(tokens.verify(&token).expect("verifies").sub, "u-1");

        let eddsa = super::tests::tokens()
            .issue("u-1", &[], "s-1")
            .expect("signs");
        assert_eq!(tokens.verify(&eddsa), Err(TokenError::AlgNotAllowed));
        // Even with EdDSA allowed, an EdDSA header naming the RSA key's kid is refused.
        let both = rs256_tokens("RS256,EdDSA");
        let kid = both.keys().signing_kid.clone();
        let mut parts: Vec<String> = eddsa.split('.').map(str::to_owned).collect();
        parts[0] = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"EdDSA","kid":"{kid}"}}"#));
        assert_eq!(
            both.verify(&parts.join(".")),
            Err(TokenError::AlgNotAllowed)
        );
    }

    #[test]
    fn a_remembered_token_is_still_refused_once_expired() {
        let tokens = tokens();
        let token = tokens.issue("u-1", &[], "s-1").expect("signs");
        assert!(tokens.verify(&token).is_ok());
        assert!(tokens.verify(&token).is_ok(), "from the cache");
        let remembered = tokens
            .verified
            .lock()
            .expect("lock")
            .get(token.as_str())
            .cloned();
        let mut claims = remembered.expect("remembered");
        claims.exp = now() - 3600;
        tokens
            .verified
            .lock()
            .expect("lock")
            .insert(token.as_str().into(), claims);
        assert_eq!(tokens.verify(&token), Err(TokenError::Expired));
        let at = token.len() - 10;
        let flipped = if &token[at..=at] == "A" { "B" } else { "A" };
        let tampered = format!("{}{flipped}{}", &token[..at], &token[at + 1..]);
        assert_eq!(tokens.verify(&tampered), Err(TokenError::BadSignature));
    }

    #[test]
    fn a_token_from_another_gateway_is_refused_for_its_unknown_kid() {
        let token = tokens().issue("u-1", &[], "s-1").expect("signs");
        assert_eq!(tokens().verify(&token), Err(TokenError::UnknownKid));
        assert_eq!(tokens().verify("x.y.z"), Err(TokenError::Malformed));
    }
}
