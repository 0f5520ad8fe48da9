//! Compact JWS (JWT) signing and verification for the identity engine, on
//! the `jsonwebtoken` crate (crypto backend: aws-lc-rs), with the
//! algorithms Vault's OIDC keys offer: RS256 (the default), RS384, RS512,
//! ES256, ES384 and EdDSA (Ed25519).
//!
//! Owns: the algorithms ([`SigningAlgorithm`]), key generation (PKCS#8
//! v1 DER private keys, public keys as JWKs), signing, and signature
//! checks. The algorithm that verifies a token is always the key's,
//! never the token header's: a header naming `none`, an HMAC algorithm
//! or another key family is refused. Time claims are checked by the
//! caller against its own clock (the request's), not here. Knows nothing
//! of keys' storage, rotation or claims' meaning. Must not log tokens or
//! keys; its errors never carry either.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use jsonwebtoken::jwk::{Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use crate::crypto::SecretBytes;

/// The longest token accepted for parsing (bytes). Longer input is refused
/// before any decoding.
pub const MAX_TOKEN_LEN: usize = 16 * 1024;

/// An algorithm an identity key signs with (Vault's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigningAlgorithm {
    RS256,
    RS384,
    RS512,
    ES256,
    ES384,
    EdDSA,
}

/// Every algorithm, in Vault's order.
pub const ALGORITHMS: &[SigningAlgorithm] = &[
    SigningAlgorithm::RS256,
    SigningAlgorithm::RS384,
    SigningAlgorithm::RS512,
    SigningAlgorithm::ES256,
    SigningAlgorithm::ES384,
    SigningAlgorithm::EdDSA,
];

/// Why a token could not be signed or verified. Never carries the token
/// or key material.
#[derive(Debug, PartialEq, Eq)]
pub enum JwtError {
    /// Not three base64url segments of JSON, or too long.
    Malformed,
    /// The header names an algorithm other than the key's (or one
    /// vault-rs never accepts: `none`, HMAC).
    Algorithm,
    /// The signature does not verify with the key.
    Signature,
    /// A key could not be generated or read (corrupt storage).
    Key,
}

impl std::fmt::Display for JwtError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            JwtError::Malformed => "malformed token",
            JwtError::Algorithm => "unsupported or unexpected signing algorithm",
            JwtError::Signature => "invalid signature",
            JwtError::Key => "unusable signing key",
        })
    }
}

impl std::error::Error for JwtError {}

impl SigningAlgorithm {
    /// The algorithm named `s` (exact, as Vault spells it).
    pub fn parse(s: &str) -> Option<SigningAlgorithm> {
        ALGORITHMS.iter().copied().find(|a| a.as_str() == s)
    }

    /// Vault's (and JOSE's) name.
    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlgorithm::RS256 => "RS256",
            SigningAlgorithm::RS384 => "RS384",
            SigningAlgorithm::RS512 => "RS512",
            SigningAlgorithm::ES256 => "ES256",
            SigningAlgorithm::ES384 => "ES384",
            SigningAlgorithm::EdDSA => "EdDSA",
        }
    }

    /// The `jsonwebtoken` algorithm.
    pub fn jose(self) -> Algorithm {
        match self {
            SigningAlgorithm::RS256 => Algorithm::RS256,
            SigningAlgorithm::RS384 => Algorithm::RS384,
            SigningAlgorithm::RS512 => Algorithm::RS512,
            SigningAlgorithm::ES256 => Algorithm::ES256,
            SigningAlgorithm::ES384 => Algorithm::ES384,
            SigningAlgorithm::EdDSA => Algorithm::EdDSA,
        }
    }

    /// A fresh private key, PKCS#8 v1 DER (RSA: 2048 bits, as Vault).
    pub fn generate(self) -> Result<SecretBytes, JwtError> {
        use aws_lc_rs::encoding::AsDer;
        use aws_lc_rs::signature::{
            EcdsaKeyPair, Ed25519KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING,
            ECDSA_P384_SHA384_FIXED_SIGNING,
        };
        let der = match self {
            SigningAlgorithm::RS256 | SigningAlgorithm::RS384 | SigningAlgorithm::RS512 => {
                let kp = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
                    .map_err(|_| JwtError::Key)?;
                let der = kp.as_der().map_err(|_| JwtError::Key)?;
                SecretBytes::from_slice(der.as_ref())
            }
            SigningAlgorithm::ES256 | SigningAlgorithm::ES384 => {
                let alg = if self == SigningAlgorithm::ES256 {
                    &ECDSA_P256_SHA256_FIXED_SIGNING
                } else {
                    &ECDSA_P384_SHA384_FIXED_SIGNING
                };
                let kp = EcdsaKeyPair::generate(alg).map_err(|_| JwtError::Key)?;
                let doc = kp.to_pkcs8v1().map_err(|_| JwtError::Key)?;
                SecretBytes::from_slice(doc.as_ref())
            }
            SigningAlgorithm::EdDSA => {
                let kp = Ed25519KeyPair::generate().map_err(|_| JwtError::Key)?;
                let doc = kp.to_pkcs8v1().map_err(|_| JwtError::Key)?;
                SecretBytes::from_slice(doc.as_ref())
            }
        };
        Ok(der)
    }

    /// The signing key of a PKCS#8 DER private key of this algorithm.
    fn encoding_key(self, pkcs8: &[u8]) -> Result<EncodingKey, JwtError> {
        let mut pem = Zeroizing::new(String::from("-----BEGIN PRIVATE KEY-----\n"));
        let body = Zeroizing::new(STANDARD.encode(pkcs8));
        for chunk in body.as_bytes().chunks(64) {
            pem.push_str(std::str::from_utf8(chunk).map_err(|_| JwtError::Key)?);
            pem.push('\n');
        }
        pem.push_str("-----END PRIVATE KEY-----\n");
        let key = match self {
            SigningAlgorithm::RS256 | SigningAlgorithm::RS384 | SigningAlgorithm::RS512 => {
                EncodingKey::from_rsa_pem(pem.as_bytes())
            }
            SigningAlgorithm::ES256 | SigningAlgorithm::ES384 => {
                EncodingKey::from_ec_pem(pem.as_bytes())
            }
            SigningAlgorithm::EdDSA => EncodingKey::from_ed_pem(pem.as_bytes()),
        };
        key.map_err(|_| JwtError::Key)
    }
}

/// The public JWK (with `kid`, `alg`, `use: sig`) of a private key.
pub fn public_jwk(alg: SigningAlgorithm, kid: &str, pkcs8: &[u8]) -> Result<Value, JwtError> {
    let key = alg.encoding_key(pkcs8)?;
    let mut jwk = Jwk::from_encoding_key(&key, alg.jose()).map_err(|_| JwtError::Key)?;
    jwk.common.key_id = Some(kid.to_string());
    jwk.common.public_key_use = Some(PublicKeyUse::Signature);
    serde_json::to_value(&jwk).map_err(|_| JwtError::Key)
}

/// Signs `claims` with the PKCS#8 private key, naming `kid` in the header
/// (`typ: JWT`).
pub fn sign(
    alg: SigningAlgorithm,
    kid: &str,
    claims: &Map<String, Value>,
    pkcs8: &[u8],
) -> Result<String, JwtError> {
    let key = alg.encoding_key(pkcs8)?;
    let mut header = Header::new(alg.jose());
    header.kid = Some(kid.to_string());
    jsonwebtoken::encode(&header, claims, &key).map_err(|_| JwtError::Key)
}

/// The decoded header of an unverified token: its `alg` and `kid`. Use
/// only to pick the key; trust nothing else in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peeked {
    /// The algorithm the header names (only those vault-rs could verify).
    pub alg: Algorithm,
    pub kid: Option<String>,
}

/// Reads the header of `token` without verifying anything. Refuses
/// oversized input, anything but three segments, and headers naming `none`
/// (which `jsonwebtoken` cannot even represent) or an HMAC algorithm.
pub fn peek(token: &str) -> Result<Peeked, JwtError> {
    let token = token.trim();
    if token.len() > MAX_TOKEN_LEN || token.split('.').count() != 3 {
        return Err(JwtError::Malformed);
    }
    let header = jsonwebtoken::decode_header(token).map_err(|_| header_error(token))?;
    if matches!(
        header.alg,
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512
    ) {
        return Err(JwtError::Algorithm);
    }
    Ok(Peeked {
        alg: header.alg,
        kid: header.kid,
    })
}

/// Why a header `jsonwebtoken` could not read was refused: an `alg` it
/// does not know (`none` among them) is an algorithm error.
fn header_error(token: &str) -> JwtError {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let first = token.split('.').next().unwrap_or_default();
    let Ok(bytes) = URL_SAFE_NO_PAD.decode(first.trim_end_matches('=')) else {
        return JwtError::Malformed;
    };
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(h)) if h.get("alg").is_some_and(Value::is_string) => JwtError::Algorithm,
        _ => JwtError::Malformed,
    }
}

/// Verifies `token`'s signature with the public `jwk`, which must be a key
/// of the algorithm `alg`, and returns its claims. The header must name
/// `alg`. Checks no claim (times, issuer, audience are the caller's).
pub fn verify(token: &str, jwk: &Value, alg: Algorithm) -> Result<Map<String, Value>, JwtError> {
    if matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512) {
        return Err(JwtError::Algorithm);
    }
    let peeked = peek(token)?;
    if peeked.alg != alg {
        return Err(JwtError::Algorithm);
    }
    let jwk: Jwk = serde_json::from_value(jwk.clone()).map_err(|_| JwtError::Key)?;
    if let Some(a) = jwk.common.key_algorithm {
        if Algorithm::try_from(a).ok() != Some(alg) {
            return Err(JwtError::Algorithm);
        }
    }
    let key = DecodingKey::from_jwk(&jwk).map_err(|_| JwtError::Key)?;
    let mut v = Validation::new(alg);
    v.required_spec_claims.clear();
    v.validate_exp = false;
    v.validate_nbf = false;
    v.validate_aud = false;
    let data = jsonwebtoken::decode::<Map<String, Value>>(token.trim(), &key, &v).map_err(|e| {
        use jsonwebtoken::errors::ErrorKind as K;
        match e.kind() {
            K::InvalidSignature => JwtError::Signature,
            K::InvalidAlgorithm | K::InvalidAlgorithmName => JwtError::Algorithm,
            K::InvalidKeyFormat
            | K::InvalidRsaKey(_)
            | K::InvalidEcdsaKey
            | K::InvalidEddsaKey
            | K::MissingAlgorithm => JwtError::Key,
            _ => JwtError::Malformed,
        }
    })?;
    Ok(data.claims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use serde_json::json;

    fn claims() -> Map<String, Value> {
        json!({"sub": "a", "n": 1}).as_object().cloned().unwrap()
    }

    #[test]
    fn every_algorithm_round_trips_and_refuses_tampering() {
        for &alg in ALGORITHMS {
            let sk = alg.generate().unwrap();
            let jwk = public_jwk(alg, "k1", sk.expose()).unwrap();
            assert_eq!(jwk["alg"], alg.as_str(), "{jwk}");
            assert_eq!(jwk["kid"], "k1");
            assert_eq!(jwk["use"], "sig");
            assert!(jwk.get("d").is_none(), "never the private part");
            let t = sign(alg, "k1", &claims(), sk.expose()).unwrap();
            let p = peek(&t).unwrap();
            assert_eq!(p.alg, alg.jose());
            assert_eq!(p.kid.as_deref(), Some("k1"));
            assert_eq!(verify(&t, &jwk, alg.jose()).unwrap(), claims());

            // another key of the same algorithm
            let other = alg.generate().unwrap();
            let other_jwk = public_jwk(alg, "k1", other.expose()).unwrap();
            assert_eq!(
                verify(&t, &other_jwk, alg.jose()),
                Err(JwtError::Signature),
                "{alg:?}"
            );
            // the payload changed, the signature kept
            let parts: Vec<&str> = t.split('.').collect();
            let forged = URL_SAFE_NO_PAD.encode(br#"{"sub":"b","n":1}"#);
            let t2 = format!("{}.{}.{}", parts[0], forged, parts[2]);
            assert_eq!(verify(&t2, &jwk, alg.jose()), Err(JwtError::Signature));
            // the key's algorithm, never the header's
            for &wrong in ALGORITHMS.iter().filter(|&&a| a != alg) {
                assert_eq!(
                    verify(&t, &jwk, wrong.jose()),
                    Err(JwtError::Algorithm),
                    "{alg:?} as {wrong:?}"
                );
            }
        }
    }

    #[test]
    fn none_hmac_and_garbage_are_refused() {
        let alg = SigningAlgorithm::EdDSA;
        let sk = alg.generate().unwrap();
        let jwk = public_jwk(alg, "k1", sk.expose()).unwrap();
        let t = sign(alg, "k1", &claims(), sk.expose()).unwrap();
        let parts: Vec<&str> = t.split('.').collect();
        let none = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","kid":"k1"}"#);
        assert_eq!(
            peek(&format!("{none}.{}.", parts[1])),
            Err(JwtError::Algorithm)
        );
        assert_eq!(
            verify(
                &format!("{none}.{}.{}", parts[1], parts[2]),
                &jwk,
                alg.jose()
            ),
            Err(JwtError::Algorithm)
        );
        // HS256 keyed with the public key's bytes: refused whatever the key
        let hs = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims(),
            &EncodingKey::from_secret(jwk["x"].as_str().unwrap().as_bytes()),
        )
        .unwrap();
        assert_eq!(peek(&hs), Err(JwtError::Algorithm));
        assert_eq!(verify(&hs, &jwk, alg.jose()), Err(JwtError::Algorithm));
        assert_eq!(verify(&t, &jwk, Algorithm::HS256), Err(JwtError::Algorithm));
        for bad in ["", "a.b", "a.b.c.d", "...", "x.y.z", "e30.e30.e30"] {
            assert!(verify(bad, &jwk, alg.jose()).is_err(), "{bad}");
        }
        let huge = format!("{}.{}.{}", "a".repeat(MAX_TOKEN_LEN), parts[1], parts[2]);
        assert_eq!(peek(&huge), Err(JwtError::Malformed));
        // a corrupt private key is an error, not a panic
        assert_eq!(sign(alg, "k", &claims(), b"not a key"), Err(JwtError::Key));
        assert_eq!(
            sign(SigningAlgorithm::RS256, "k", &claims(), sk.expose()),
            Err(JwtError::Key)
        );
        assert_eq!(SigningAlgorithm::parse("rs256"), None);
        assert_eq!(
            SigningAlgorithm::parse("ES384"),
            Some(SigningAlgorithm::ES384)
        );
    }
}
