//! Compact JWS (JWT) encoding and verification with Ed25519 (`alg: EdDSA`,
//! RFC 8037).
//!
//! Owns: the wire format only — `base64url(header).base64url(claims)`,
//! signed over those ASCII bytes, signature appended base64url (no
//! padding). Knows nothing of keys' storage, rotation or claims' meaning;
//! callers pass the signing key or the verifying key. Must not log tokens
//! or keys.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The only algorithm vault-rs signs with.
pub const ALG: &str = "EdDSA";

/// The JOSE header vault-rs writes (field order as written on the wire).
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Header {
    pub alg: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub typ: Option<String>,
    #[serde(default)]
    pub kid: String,
}

/// Why a token could not be parsed.
#[derive(Debug, PartialEq, Eq)]
pub enum JwtError {
    /// Not three base64url segments of JSON.
    Malformed,
    /// The header names an algorithm other than EdDSA.
    Algorithm,
}

impl std::fmt::Display for JwtError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JwtError::Malformed => f.write_str("malformed token"),
            JwtError::Algorithm => f.write_str("unsupported signing algorithm"),
        }
    }
}

/// Signs `claims` with `key`, naming `kid` in the header.
pub fn encode(kid: &str, claims: &Map<String, Value>, key: &SigningKey) -> String {
    let header = Header {
        alg: ALG.into(),
        typ: Some("JWT".into()),
        kid: kid.into(),
    };
    // Serializing a struct of strings and a JSON map cannot fail.
    let h = serde_json::to_vec(&header).unwrap_or_default();
    let c = serde_json::to_vec(claims).unwrap_or_default();
    let mut out = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(h),
        URL_SAFE_NO_PAD.encode(c)
    );
    let sig: Signature = key.sign(out.as_bytes());
    out.push('.');
    out.push_str(&URL_SAFE_NO_PAD.encode(sig.to_bytes()));
    out
}

/// A parsed, not yet verified, token.
pub struct Parsed {
    pub header: Header,
    pub claims: Map<String, Value>,
    signing_input: String,
    signature: Signature,
}

impl Parsed {
    /// Whether the signature is `key`'s (strict verification: no
    /// malleable or small-order signatures).
    pub fn verify(&self, key: &VerifyingKey) -> bool {
        key.verify_strict(self.signing_input.as_bytes(), &self.signature)
            .is_ok()
    }
}

/// Splits and decodes a compact JWS; checks the algorithm is EdDSA.
pub fn parse(token: &str) -> Result<Parsed, JwtError> {
    let token = token.trim();
    let mut parts = token.split('.');
    let (Some(h), Some(c), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed);
    };
    let decode = |seg: &str| URL_SAFE_NO_PAD.decode(seg).map_err(|_| JwtError::Malformed);
    let header: Header = serde_json::from_slice(&decode(h)?).map_err(|_| JwtError::Malformed)?;
    if header.alg != ALG {
        return Err(JwtError::Algorithm);
    }
    let claims: Map<String, Value> =
        serde_json::from_slice(&decode(c)?).map_err(|_| JwtError::Malformed)?;
    let sig: [u8; 64] = decode(s)?.try_into().map_err(|_| JwtError::Malformed)?;
    Ok(Parsed {
        header,
        claims,
        signing_input: format!("{h}.{c}"),
        signature: Signature::from_bytes(&sig),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trip_and_tamper() {
        let key = SigningKey::from_bytes(&[3u8; 32]);
        let claims = json!({"sub": "a", "n": 1}).as_object().cloned().unwrap();
        let t = encode("k1", &claims, &key);
        let p = parse(&t).unwrap();
        assert_eq!(p.header.kid, "k1");
        assert_eq!(p.header.typ.as_deref(), Some("JWT"));
        assert_eq!(p.claims, claims);
        assert!(p.verify(&key.verifying_key()));
        let other = SigningKey::from_bytes(&[4u8; 32]);
        assert!(!p.verify(&other.verifying_key()));

        // change the payload, keep the signature
        let parts: Vec<&str> = t.split('.').collect();
        let forged = URL_SAFE_NO_PAD.encode(br#"{"sub":"b","n":1}"#);
        let t2 = format!("{}.{}.{}", parts[0], forged, parts[2]);
        assert!(!parse(&t2).unwrap().verify(&key.verifying_key()));

        assert_eq!(parse("a.b").err(), Some(JwtError::Malformed));
        assert_eq!(parse("").err(), Some(JwtError::Malformed));
        let none = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","kid":"k1"}"#);
        let t3 = format!("{none}.{}.{}", parts[1], parts[2]);
        assert_eq!(parse(&t3).err(), Some(JwtError::Algorithm));
    }
}
