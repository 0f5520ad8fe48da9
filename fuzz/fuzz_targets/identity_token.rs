//! Any text given to the identity engine's token parser and verifier
//! yields claims or an error, never a panic; and no token verifies unless
//! its header names exactly the key's algorithm (no `none`, no HMAC, no
//! RS/ES/EdDSA confusion). The input is used as a whole token, and also as
//! the header of a token whose claims and signature come from a genuine
//! one (to reach the algorithm checks with well-formed segments).
#![no_main]

use std::sync::OnceLock;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};
use vault_rs::logical::identity::jwt::{self, SigningAlgorithm};

struct Key {
    alg: SigningAlgorithm,
    jwk: Value,
    token: String,
}

/// One key per family, made once (key generation is slow).
fn keys() -> &'static [Key] {
    static KEYS: OnceLock<Vec<Key>> = OnceLock::new();
    KEYS.get_or_init(|| {
        [
            SigningAlgorithm::RS256,
            SigningAlgorithm::ES256,
            SigningAlgorithm::EdDSA,
        ]
        .into_iter()
        .map(|alg| {
            let sk = alg.generate().expect("key generation");
            let jwk = jwt::public_jwk(alg, "k", sk.expose()).expect("jwk");
            let claims = json!({"sub": "fuzz"}).as_object().cloned().unwrap_or_default();
            let token = jwt::sign(alg, "k", &claims, sk.expose()).expect("sign");
            Key { alg, jwk, token }
        })
        .collect()
    })
}

fn check(token: &str) {
    let peeked = jwt::peek(token);
    for key in keys() {
        for other in keys() {
            if let Ok(claims) = jwt::verify(token, &key.jwk, other.alg.jose()) {
                // Only a key's own algorithm, named by the header, verifies.
                assert_eq!(key.alg, other.alg);
                assert_eq!(peeked.as_ref().map(|p| p.alg).ok(), Some(key.alg.jose()));
                assert!(claims.len() <= token.len());
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    check(text);
    for key in keys() {
        let mut parts = key.token.splitn(3, '.');
        let (_, claims, sig) = (parts.next(), parts.next(), parts.next());
        let header = URL_SAFE_NO_PAD.encode(text.as_bytes());
        let forged = format!("{header}.{}.{}", claims.unwrap_or(""), sig.unwrap_or(""));
        check(&forged);
    }
});
