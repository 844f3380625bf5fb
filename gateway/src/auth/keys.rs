//! Access-token keys: the signing key (Ed25519 for `EdDSA`, the default, or RSA for `RS256`), the
//! public keys that verify (the current one and, during a rotation, the previous one), each named
//! by its RFC 7638 thumbprint as `kid`, and the explicit list of algorithms a token may carry.
//!
//! Keys come as PEM: a PKCS#8 private key for signing, an SPKI public key for the previous one.
//! ring parses and checks them; the little DER reading ring does not expose (the PKCS#1 body of a
//! PKCS#8 RSA key, `n` and `e`, the algorithm of an SPKI) is done here by [`der`].

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, KeyPair as _, RsaKeyPair};
use serde_json::{Value, json};

use crate::config::AuthConfig;

/// The DER prefix of an Ed25519 `SubjectPublicKeyInfo`; the 32 key bytes follow.
const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// The DER of the OID of Ed25519 keys, 1.3.101.112.
const ED25519_OID: [u8; 3] = [0x2b, 0x65, 0x70];

/// The DER of the OID of RSA keys, 1.2.840.113549.1.1.1 (`rsaEncryption`).
const RSA_OID: [u8; 9] = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];

const SIGNING_KEY: &str = "SAGAWAY_JWT_SIGNING_KEY";
const PREVIOUS_KEY: &str = "SAGAWAY_JWT_PREVIOUS_PUBLIC_KEY";
const ALLOWED: &str = "SAGAWAY_JWT_ALLOWED_ALGORITHMS";

/// An algorithm the gateway signs or verifies with. There is deliberately no `none` and no HMAC:
/// an `alg` outside this enum cannot even be configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwtAlgorithm {
    /// Ed25519 signatures (RFC 8037), the default.
    EdDSA,
    /// RSASSA-PKCS1-v1_5 with SHA-256, keys of 2048 bits or more.
    RS256,
}

impl JwtAlgorithm {
    /// The `alg` header value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EdDSA => "EdDSA",
            Self::RS256 => "RS256",
        }
    }

    /// The same, for jsonwebtoken.
    pub fn jwt(self) -> Algorithm {
        match self {
            Self::EdDSA => Algorithm::EdDSA,
            Self::RS256 => Algorithm::RS256,
        }
    }
}

impl fmt::Display for JwtAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JwtAlgorithm {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text.trim() {
            "EdDSA" => Ok(Self::EdDSA),
            "RS256" => Ok(Self::RS256),
            other => Err(format!("{other:?} is not EdDSA or RS256")),
        }
    }
}

/// A key that cannot be used, naming the variable it came from.
#[derive(Debug, thiserror::Error)]
#[error("{variable}: {reason}")]
pub struct KeyError {
    /// The configuration variable.
    pub variable: &'static str,
    /// Why (never the key itself).
    pub reason: String,
}

fn refused(variable: &'static str, reason: impl Into<String>) -> KeyError {
    KeyError {
        variable,
        reason: reason.into(),
    }
}

/// The public half of a key, as the JWK Set shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKey {
    /// The raw 32-byte Ed25519 key.
    Ed25519(Vec<u8>),
    /// An RSA modulus and public exponent, big-endian without leading zeros.
    Rsa {
        /// The modulus.
        n: Vec<u8>,
        /// The public exponent.
        e: Vec<u8>,
    },
}

impl PublicKey {
    /// The algorithm this key verifies.
    pub fn algorithm(&self) -> JwtAlgorithm {
        match self {
            Self::Ed25519(_) => JwtAlgorithm::EdDSA,
            Self::Rsa { .. } => JwtAlgorithm::RS256,
        }
    }

    /// The RFC 7638 members, in the order the thumbprint needs (lexicographic).
    fn required_members(&self) -> String {
        match self {
            Self::Ed25519(x) => format!(
                r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
                URL_SAFE_NO_PAD.encode(x)
            ),
            Self::Rsa { n, e } => format!(
                r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
                URL_SAFE_NO_PAD.encode(e),
                URL_SAFE_NO_PAD.encode(n)
            ),
        }
    }

    /// The RFC 7638 JWK thumbprint, the key's `kid`.
    pub fn thumbprint(&self) -> String {
        let canonical = self.required_members();
        let digest = ring::digest::digest(&ring::digest::SHA256, canonical.as_bytes());
        URL_SAFE_NO_PAD.encode(digest.as_ref())
    }

    /// An RSA public key from its PKCS#1 `RSAPublicKey` DER (`SEQUENCE { n, e }`).
    pub fn from_pkcs1_rsa(der: &[u8]) -> Option<Self> {
        let (body, rest) = der::read(der, der::SEQUENCE)?;
        if !rest.is_empty() {
            return None;
        }
        let (n, body) = der::read(body, der::INTEGER)?;
        let (e, _) = der::read(body, der::INTEGER)?;
        Some(Self::Rsa {
            n: der::unsigned(n).to_vec(),
            e: der::unsigned(e).to_vec(),
        })
    }
}

/// A public key that verifies tokens whose header names its `kid`.
pub struct VerifyingKey {
    /// The RFC 7638 thumbprint.
    pub kid: String,
    /// The public key.
    pub public: PublicKey,
    /// The same key, for jsonwebtoken.
    pub decoding: DecodingKey,
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("kid", &self.kid)
            .field("alg", &self.algorithm())
            .finish()
    }
}

impl VerifyingKey {
    fn new(public: PublicKey) -> Self {
        let decoding = match &public {
            PublicKey::Ed25519(x) => DecodingKey::from_ed_der(x),
            PublicKey::Rsa { n, e } => DecodingKey::from_rsa_raw_components(n, e),
        };
        Self {
            kid: public.thumbprint(),
            public,
            decoding,
        }
    }

    /// The one algorithm this key verifies.
    pub fn algorithm(&self) -> JwtAlgorithm {
        self.public.algorithm()
    }

    /// The key as a JWK with `kid`, `alg` and `use: sig`.
    pub fn jwk(&self) -> Value {
        let mut jwk = match &self.public {
            PublicKey::Ed25519(x) => json!({
                "kty": "OKP",
                "crv": "Ed25519",
                "x": URL_SAFE_NO_PAD.encode(x),
            }),
            PublicKey::Rsa { n, e } => json!({
                "kty": "RSA",
                "n": URL_SAFE_NO_PAD.encode(n),
                "e": URL_SAFE_NO_PAD.encode(e),
            }),
        };
        jwk["kid"] = json!(self.kid);
        jwk["alg"] = json!(self.algorithm().as_str());
        jwk["use"] = json!("sig");
        jwk
    }
}

/// The signing key and every key that verifies; `Debug` never shows the private key.
pub struct KeySet {
    /// The key new tokens are signed with.
    pub signing: EncodingKey,
    /// Its algorithm.
    pub signing_algorithm: JwtAlgorithm,
    /// The `kid` of the signing key.
    pub signing_kid: String,
    /// The current key first, then the previous one when configured.
    pub verifying: Vec<VerifyingKey>,
    /// The `alg` values a token may carry (`SAGAWAY_JWT_ALLOWED_ALGORITHMS`).
    pub allowed: Vec<JwtAlgorithm>,
}

impl fmt::Debug for KeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kids: Vec<&str> = self.verifying.iter().map(|k| k.kid.as_str()).collect();
        f.debug_struct("KeySet")
            .field("alg", &self.signing_algorithm)
            .field("kids", &kids)
            .field("allowed", &self.allowed)
            .finish()
    }
}

impl KeySet {
    /// Loads the configured keys, or generates an Ed25519 signing key (with a warning) when none
    /// is set. RSA keys are not generated (ring cannot): `RS256` needs a configured key. Every
    /// key's algorithm must be in the allow-list, so a misconfiguration fails at start-up rather
    /// than on the first token.
    pub fn load(config: &AuthConfig) -> Result<Self, KeyError> {
        let algorithm = config.algorithm;
        let allowed = if config.allowed_algorithms.is_empty() {
            vec![algorithm]
        } else {
            config.allowed_algorithms.clone()
        };
        if !allowed.contains(&algorithm) {
            return Err(refused(
                ALLOWED,
                format!("the signing algorithm {algorithm} is not in the list"),
            ));
        }
        let pkcs8 = match &config.signing_key {
            Some(pem) => pem_body(pem.expose(), "PRIVATE KEY").ok_or_else(|| {
                refused(
                    SIGNING_KEY,
                    "not a PKCS#8 PEM (-----BEGIN PRIVATE KEY-----)",
                )
            })?,
            None if algorithm == JwtAlgorithm::RS256 => {
                return Err(refused(
                    SIGNING_KEY,
                    "RS256 needs an RSA private key (PKCS#8 PEM, \
                     openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048)",
                ));
            }
            None => {
                tracing::warn!(
                    "SAGAWAY_JWT_SIGNING_KEY is not set: signing with a key generated now; \
                     tokens will not survive a restart"
                );
                generate_pkcs8()
            }
        };
        let (signing, public) = match algorithm {
            JwtAlgorithm::EdDSA => {
                let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(&pkcs8)
                    .map_err(|_| refused(SIGNING_KEY, "not an Ed25519 private key"))?;
                let public = PublicKey::Ed25519(pair.public_key().as_ref().to_vec());
                (EncodingKey::from_ed_der(&pkcs8), public)
            }
            JwtAlgorithm::RS256 => {
                let pair = RsaKeyPair::from_pkcs8(&pkcs8).map_err(|why| {
                    refused(
                        SIGNING_KEY,
                        format!("not an RSA private key of 2048 to 8192 bits ({why})"),
                    )
                })?;
                let public = PublicKey::from_pkcs1_rsa(pair.public().as_ref())
                    .ok_or_else(|| refused(SIGNING_KEY, "unreadable RSA public key"))?;
                // jsonwebtoken signs RS256 from the PKCS#1 `RSAPrivateKey` inside the PKCS#8.
                let pkcs1 = der::pkcs8_private_key(&pkcs8)
                    .ok_or_else(|| refused(SIGNING_KEY, "unreadable PKCS#8 structure"))?;
                (EncodingKey::from_rsa_der(pkcs1), public)
            }
        };
        let current = VerifyingKey::new(public);
        let signing_kid = current.kid.clone();
        let mut verifying = vec![current];
        if let Some(pem) = &config.previous_public_key {
            let public = spki_public_key(pem).ok_or_else(|| {
                refused(
                    PREVIOUS_KEY,
                    "not an Ed25519 or RSA public key PEM (-----BEGIN PUBLIC KEY-----)",
                )
            })?;
            if !allowed.contains(&public.algorithm()) {
                return Err(refused(
                    PREVIOUS_KEY,
                    format!(
                        "an {} key, but {ALLOWED} does not allow {}",
                        public.algorithm(),
                        public.algorithm()
                    ),
                ));
            }
            verifying.push(VerifyingKey::new(public));
        }
        Ok(Self {
            signing,
            signing_algorithm: algorithm,
            signing_kid,
            verifying,
            allowed,
        })
    }

    /// The verifying key named `kid`.
    pub fn find(&self, kid: &str) -> Option<&VerifyingKey> {
        self.verifying.iter().find(|key| key.kid == kid)
    }

    /// True when a token may carry `alg`.
    pub fn allows(&self, alg: &str) -> bool {
        self.allowed.iter().any(|allowed| allowed.as_str() == alg)
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

/// The key of a `SubjectPublicKeyInfo` PEM: Ed25519 or RSA, told apart by its algorithm OID.
pub fn spki_public_key(pem: &str) -> Option<PublicKey> {
    let spki = pem_body(pem, "PUBLIC KEY")?;
    if let Some(raw) = spki.strip_prefix(&ED25519_SPKI_PREFIX) {
        return (raw.len() == 32).then(|| PublicKey::Ed25519(raw.to_vec()));
    }
    let (body, _) = der::read(&spki, der::SEQUENCE)?;
    let (algorithm, body) = der::read(body, der::SEQUENCE)?;
    let (oid, _) = der::read(algorithm, der::OID)?;
    let (bits, _) = der::read(body, der::BIT_STRING)?;
    let key = bits.strip_prefix(&[0])?;
    if oid == RSA_OID {
        PublicKey::from_pkcs1_rsa(key)
    } else if oid == ED25519_OID {
        (key.len() == 32).then(|| PublicKey::Ed25519(key.to_vec()))
    } else {
        None
    }
}

/// The RFC 7638 JWK thumbprint of a raw Ed25519 public key.
pub fn thumbprint(public: &[u8]) -> String {
    PublicKey::Ed25519(public.to_vec()).thumbprint()
}

/// Just enough DER to walk the key structures: definite lengths, one tag byte.
pub mod der {
    /// `SEQUENCE`.
    pub const SEQUENCE: u8 = 0x30;
    /// `INTEGER`.
    pub const INTEGER: u8 = 0x02;
    /// `OCTET STRING`.
    pub const OCTET_STRING: u8 = 0x04;
    /// `BIT STRING`.
    pub const BIT_STRING: u8 = 0x03;
    /// `OBJECT IDENTIFIER`.
    pub const OID: u8 = 0x06;

    /// The contents of the element at the start of `input` if its tag is `tag`, and what follows.
    pub fn read(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
        let (&found, rest) = input.split_first()?;
        if found != tag {
            return None;
        }
        let (&first, mut rest) = rest.split_first()?;
        let length = if first < 0x80 {
            usize::from(first)
        } else {
            let count = usize::from(first & 0x7f);
            if count == 0 || count > 4 || rest.len() < count {
                return None;
            }
            let (bytes, after) = rest.split_at(count);
            rest = after;
            bytes
                .iter()
                .fold(0_usize, |length, byte| (length << 8) | usize::from(*byte))
        };
        (rest.len() >= length).then(|| rest.split_at(length))
    }

    /// An `INTEGER`'s contents without the sign byte DER puts before a high bit.
    pub fn unsigned(integer: &[u8]) -> &[u8] {
        match integer {
            [0, rest @ ..] if !rest.is_empty() => rest,
            _ => integer,
        }
    }

    /// The `privateKey` of a PKCS#8 `PrivateKeyInfo`: `SEQUENCE { version, algorithm,
    /// OCTET STRING privateKey, ... }`.
    pub fn pkcs8_private_key(pkcs8: &[u8]) -> Option<&[u8]> {
        let (body, _) = read(pkcs8, SEQUENCE)?;
        let (_, body) = read(body, INTEGER)?;
        let (_, body) = read(body, SEQUENCE)?;
        let (key, _) = read(body, OCTET_STRING)?;
        Some(key)
    }
}

/// A 2048-bit RSA key made for the tests only (`openssl genpkey -algorithm RSA`); never use it.
#[cfg(test)]
pub(crate) const TEST_RSA_KEY: &str = include_str!("testdata/rs256-test-key.pem");

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
        assert!(err.to_string().starts_with(SIGNING_KEY), "{err}");
    }

    #[test]
    fn an_rsa_key_is_published_as_an_rs256_jwk_with_its_thumbprint() {
        let env = Env::from_pairs([
            ("SAGAWAY_JWT_ALGORITHM", "RS256"),
            (SIGNING_KEY, TEST_RSA_KEY),
        ]);
        let config = AuthConfig::from_env(&env).expect("config");
        let keys = KeySet::load(&config).expect("keys load");
        assert_eq!(keys.allowed, [JwtAlgorithm::RS256]);
        let jwk = &keys.jwks()["keys"][0];
        assert_eq!((&jwk["kty"], &jwk["alg"]), (&json!("RSA"), &json!("RS256")));
        assert_eq!(jwk["e"], "AQAB");
        let n = URL_SAFE_NO_PAD
            .decode(jwk["n"].as_str().expect("n"))
            .expect("base64url");
        assert_eq!(n.len(), 256, "2048 bits, no sign byte");
        // RFC 7638: SHA-256 of exactly {"e","kty","n"} in that order, no spaces.
        let canonical = format!(
            r#"{{"e":"AQAB","kty":"RSA","n":"{}"}}"#,
            jwk["n"].as_str().expect("n")
        );
        let expected = URL_SAFE_NO_PAD
            .encode(ring::digest::digest(&ring::digest::SHA256, canonical.as_bytes()).as_ref());
        assert_eq!(jwk["kid"], expected.as_str());
    }

    #[test]
    fn rs256_without_a_key_or_outside_the_allow_list_is_refused_at_start_up() {
        let env = Env::from_pairs([("SAGAWAY_JWT_ALGORITHM", "RS256")]);
        let err = KeySet::load(&AuthConfig::from_env(&env).expect("config")).expect_err("no key");
        assert!(err.to_string().starts_with(SIGNING_KEY), "{err}");

        let env = Env::from_pairs([
            ("SAGAWAY_JWT_ALGORITHM", "RS256"),
            (SIGNING_KEY, TEST_RSA_KEY),
            (ALLOWED, "EdDSA"),
        ]);
        let err = KeySet::load(&AuthConfig::from_env(&env).expect("config")).expect_err("list");
        assert!(err.to_string().starts_with(ALLOWED), "{err}");

        let env = Env::from_pairs([(SIGNING_KEY, TEST_RSA_KEY)]);
        let err = KeySet::load(&AuthConfig::from_env(&env).expect("config")).expect_err("alg");
        assert!(err.to_string().contains("not an Ed25519"), "{err}");

        for bad in ["none", "HS256", "RS512"] {
            let env = Env::from_pairs([(ALLOWED, bad)]);
            assert!(AuthConfig::from_env(&env).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_previous_key_of_another_algorithm_needs_the_allow_list_to_name_it() {
        let ed = Ed25519KeyPair::from_pkcs8(&generate_pkcs8()).expect("key");
        let spki = pem(
            "PUBLIC KEY",
            &[&ED25519_SPKI_PREFIX[..], ed.public_key().as_ref()].concat(),
        );
        let pairs = |allowed: &'static str| {
            Env::from_pairs([
                ("SAGAWAY_JWT_ALGORITHM", "RS256"),
                (SIGNING_KEY, TEST_RSA_KEY),
                (PREVIOUS_KEY, spki.as_str()),
                (ALLOWED, allowed),
            ])
        };
        let err = KeySet::load(&AuthConfig::from_env(&pairs("RS256")).expect("config"))
            .expect_err("EdDSA not allowed");
        assert!(err.to_string().starts_with(PREVIOUS_KEY), "{err}");
        let keys = KeySet::load(&AuthConfig::from_env(&pairs("RS256,EdDSA")).expect("config"))
            .expect("rotation from EdDSA to RS256");
        assert_eq!(keys.verifying[1].algorithm(), JwtAlgorithm::EdDSA);
        assert!(keys.allows("EdDSA") && keys.allows("RS256") && !keys.allows("none"));
    }
}
