//! Access-token keys: the Ed25519 signing key, the public keys that verify (the current one and,
//! during a rotation, the previous one), each named by its RFC 7638 thumbprint as `kid`.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{DecodingKey, EncodingKey};
use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, KeyPair as _};
use serde_json::{Value, json};

use crate::config::AuthConfig;

/// The DER prefix of an Ed25519 `SubjectPublicKeyInfo`; the 32 key bytes follow.
const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// A key that cannot be used, naming the variable it came from.
#[derive(Debug, thiserror::Error)]
#[error("{variable}: {reason}")]
pub struct KeyError {
    /// The configuration variable.
    pub variable: &'static str,
    /// Why (never the key itself).
    pub reason: String,
}

/// A public key that verifies tokens whose header names its `kid`.
pub struct VerifyingKey {
    /// The RFC 7638 thumbprint.
    pub kid: String,
    /// The raw 32-byte Ed25519 public key.
    pub public: Vec<u8>,
    /// The same key, for jsonwebtoken.
    pub decoding: DecodingKey,
}

impl std::fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("kid", &self.kid)
            .finish()
    }
}

impl VerifyingKey {
    fn new(public: &[u8]) -> Self {
        Self {
            kid: thumbprint(public),
            public: public.to_vec(),
            decoding: DecodingKey::from_ed_der(public),
        }
    }

    /// The key as a JWK with `kid`, `alg` and `use: sig`.
    pub fn jwk(&self) -> Value {
        json!({
            "kty": "OKP",
            "crv": "Ed25519",
            "x": URL_SAFE_NO_PAD.encode(&self.public),
            "kid": self.kid,
            "alg": "EdDSA",
            "use": "sig",
        })
    }
}

/// The signing key and every key that verifies; `Debug` never shows the private key.
pub struct KeySet {
    /// The key new tokens are signed with.
    pub signing: EncodingKey,
    /// The `kid` of the signing key.
    pub signing_kid: String,
    /// The current key first, then the previous one when configured.
    pub verifying: Vec<VerifyingKey>,
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kids: Vec<&str> = self.verifying.iter().map(|k| k.kid.as_str()).collect();
        f.debug_struct("KeySet").field("kids", &kids).finish()
    }
}

impl KeySet {
    /// Loads the configured keys, or generates a signing key (with a warning) when none is set.
    pub fn load(config: &AuthConfig) -> Result<Self, KeyError> {
        let der = match &config.signing_key {
            Some(pem) => pem_body(pem.expose(), "PRIVATE KEY").ok_or_else(|| KeyError {
                variable: "SAGAWAY_JWT_SIGNING_KEY",
                reason: "not a PKCS#8 PEM (-----BEGIN PRIVATE KEY-----)".into(),
            })?,
            None => {
                tracing::warn!(
                    "SAGAWAY_JWT_SIGNING_KEY is not set: signing with a key generated now; \
                     tokens will not survive a restart"
                );
                generate_pkcs8()
            }
        };
        let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der).map_err(|_| KeyError {
            variable: "SAGAWAY_JWT_SIGNING_KEY",
            reason: "not an Ed25519 private key".into(),
        })?;
        let current = VerifyingKey::new(pair.public_key().as_ref());
        let mut verifying = vec![];
        let signing_kid = current.kid.clone();
        verifying.push(current);
        if let Some(pem) = &config.previous_public_key {
            let public = spki_public_key(pem).ok_or_else(|| KeyError {
                variable: "SAGAWAY_JWT_PREVIOUS_PUBLIC_KEY",
                reason: "not an Ed25519 public key PEM (-----BEGIN PUBLIC KEY-----)".into(),
            })?;
            verifying.push(VerifyingKey::new(&public));
        }
        Ok(Self {
            signing: EncodingKey::from_ed_der(&der),
            signing_kid,
            verifying,
        })
    }

    /// The verifying key named `kid`.
    pub fn find(&self, kid: &str) -> Option<&VerifyingKey> {
        self.verifying.iter().find(|key| key.kid == kid)
    }

    /// The JWK Set served at `/.well-known/jwks.json`.
    pub fn jwks(&self) -> Value {
        json!({ "keys": self.verifying.iter().map(VerifyingKey::jwk).collect::<Vec<_>>() })
    }
}

/// A fresh Ed25519 key as PKCS#8 DER.
pub fn generate_pkcs8() -> Vec<u8> {
    Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
        .map(|document| document.as_ref().to_vec())
        // The system random source failing leaves nothing sensible to do at start-up.
        .unwrap_or_else(|_| panic!("the system random source failed"))
}

/// The base64 body of the first PEM block labelled `label`.
pub fn pem_body(pem: &str, label: &str) -> Option<Vec<u8>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = pem.find(&begin)? + begin.len();
    let stop = start + pem[start..].find(&end)?;
    let body: String = pem[start..stop].split_whitespace().collect();
    STANDARD.decode(body).ok()
}

/// The raw key of an Ed25519 `SubjectPublicKeyInfo` PEM.
pub fn spki_public_key(pem: &str) -> Option<Vec<u8>> {
    let der = pem_body(pem, "PUBLIC KEY")?;
    let raw = der.strip_prefix(&ED25519_SPKI_PREFIX)?;
    (raw.len() == 32).then(|| raw.to_vec())
}

/// The RFC 7638 JWK thumbprint of an Ed25519 public key.
pub fn thumbprint(public: &[u8]) -> String {
    let canonical = format!(
        r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
        URL_SAFE_NO_PAD.encode(public)
    );
    let digest = ring::digest::digest(&ring::digest::SHA256, canonical.as_bytes());
    URL_SAFE_NO_PAD.encode(digest.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sagaway_platform::config::{Env, Secret};

    fn pem(label: &str, der: &[u8]) -> String {
        format!(
            "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
            STANDARD.encode(der)
        )
    }

    #[test]
    fn a_configured_key_and_a_previous_key_both_verify_under_their_own_kid() {
        let current = generate_pkcs8();
        let previous = Ed25519KeyPair::from_pkcs8(&generate_pkcs8()).expect("key");
        let spki = [&ED25519_SPKI_PREFIX[..], previous.public_key().as_ref()].concat();
        let mut config = AuthConfig::from_env(&Env::default()).expect("defaults");
        config.signing_key = Some(Secret::new(pem("PRIVATE KEY", &current)));
        config.previous_public_key = Some(pem("PUBLIC KEY", &spki));
        let keys = KeySet::load(&config).expect("keys load");
        assert_eq!(keys.verifying.len(), 2);
        assert_eq!(keys.signing_kid, keys.verifying[0].kid);
        let old_kid = thumbprint(previous.public_key().as_ref());
        assert!(keys.find(&old_kid).is_some());
        assert_eq!(keys.jwks()["keys"][1]["kid"], old_kid.as_str());
        assert!(!format!("{keys:?}").contains("PRIVATE"));
    }

    #[test]
    fn a_malformed_key_names_its_variable() {
        let mut config = AuthConfig::from_env(&Env::default()).expect("defaults");
        config.signing_key = Some(Secret::new("not a key"));
        let err = KeySet::load(&config).expect_err("refused");
        assert!(
            err.to_string().starts_with("SAGAWAY_JWT_SIGNING_KEY"),
            "{err}"
        );
    }
}
