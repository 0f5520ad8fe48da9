//! The API key format: generation, checksum and parsing.
//!
//! A vault-rs key reads `<prefix>_<env>_<random><checksum>`:
//! - `prefix`: 1–16 of `[a-z0-9]`, starting with a letter (no `_`, so the
//!   key splits unambiguously); per mount, `vrs` by default;
//! - `env`: `live` or `test`;
//! - `random`: 40 base62 characters from the OS CSPRNG (≈ 238 bits);
//! - `checksum`: CRC32 (IEEE) of everything before it — prefix, env,
//!   underscores and random part — as 6 base62 characters, zero-padded.
//!
//! The checksum lets clients, secret scanners and [`classify`] reject a
//! mistyped or made-up key without any lookup. It is not a MAC: it only
//! protects against typos, not forgery.
//!
//! Owns: the key text and its validation. Must not touch storage, the index
//! or any policy; must never log a key.

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::crypto::{base62_encode, random_base62, SecretString};

/// Length of the random part.
pub const RANDOM_LEN: usize = 40;
/// Length of the base62 CRC32 checksum.
pub const CHECKSUM_LEN: usize = 6;
/// Longest accepted prefix.
pub const MAX_PREFIX_LEN: usize = 16;
/// Shortest and longest key accepted anywhere (imported keys included).
pub const MIN_KEY_LEN: usize = 8;
pub const MAX_KEY_LEN: usize = 512;
/// The default prefix of a mount.
pub const DEFAULT_PREFIX: &str = "vrs";

/// Which environment a key belongs to (part of the key text).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    Live,
    Test,
}

impl Environment {
    pub fn as_str(&self) -> &'static str {
        match self {
            Environment::Live => "live",
            Environment::Test => "test",
        }
    }

    /// Parses "live" or "test".
    pub fn parse(text: &str) -> Option<Environment> {
        match text {
            "live" => Some(Environment::Live),
            "test" => Some(Environment::Test),
            _ => None,
        }
    }
}

/// Whether `prefix` is a valid key prefix.
pub fn valid_prefix(prefix: &str) -> bool {
    let bytes = prefix.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= MAX_PREFIX_LEN
        && bytes[0].is_ascii_lowercase()
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// The checksum characters of `body` (everything before the checksum).
fn checksum(body: &str) -> String {
    base62_encode(u64::from(crc32fast::hash(body.as_bytes())), CHECKSUM_LEN)
}

/// A fresh key for `prefix` (already validated) and `env`.
pub fn generate(prefix: &str, env: Environment) -> SecretString {
    let random = Zeroizing::new(random_base62(RANDOM_LEN));
    let mut key = String::with_capacity(prefix.len() + 6 + RANDOM_LEN + CHECKSUM_LEN);
    key.push_str(prefix);
    key.push('_');
    key.push_str(env.as_str());
    key.push('_');
    key.push_str(&random);
    let sum = checksum(&key);
    key.push_str(&sum);
    SecretString::new(key)
}

/// What a presented key looks like, decided without any lookup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape<'a> {
    /// A vault-rs key with a correct checksum.
    VaultRs { prefix: &'a str, env: Environment },
    /// Plausible text that is not a vault-rs key (an imported key, maybe).
    Foreign,
}

/// The key is malformed: wrong characters or length, or a vault-rs key
/// whose checksum does not match.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Malformed;

/// Classifies a presented key: checks characters and length, and for
/// anything shaped like a vault-rs key, the checksum.
pub fn classify(key: &str) -> Result<Shape<'_>, Malformed> {
    let bytes = key.as_bytes();
    if bytes.len() < MIN_KEY_LEN
        || bytes.len() > MAX_KEY_LEN
        || !bytes.iter().all(|b| (0x21..=0x7e).contains(b))
    {
        return Err(Malformed);
    }
    // Printable ASCII only from here: byte offsets are char boundaries.
    match split_vault_rs(key) {
        None => Ok(Shape::Foreign),
        Some((prefix, env, body_len)) => {
            let (body, sum) = key.split_at(body_len);
            if checksum(body) == sum {
                Ok(Shape::VaultRs { prefix, env })
            } else {
                Err(Malformed)
            }
        }
    }
}

/// Splits a vault-rs-shaped key into prefix, environment and the length of
/// the checksummed body; `None` if it does not have that shape.
fn split_vault_rs(key: &str) -> Option<(&str, Environment, usize)> {
    let tail_len = RANDOM_LEN + CHECKSUM_LEN;
    if key.len() < tail_len + 7 {
        return None;
    }
    let (head, tail) = key.split_at(key.len() - tail_len);
    if !tail.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    let head = head.strip_suffix('_')?;
    let (prefix, env) = head.rsplit_once('_')?;
    let env = Environment::parse(env)?;
    if !valid_prefix(prefix) {
        return None;
    }
    Some((prefix, env, key.len() - CHECKSUM_LEN))
}

/// Checks a value supplied for import: printable ASCII of a sane length,
/// and not a vault-rs-shaped key with a wrong checksum (it could never
/// validate).
pub fn check_importable(value: &str) -> Result<(), String> {
    match classify(value) {
        Ok(_) => Ok(()),
        Err(Malformed) => Err(format!(
            "the key must be {MIN_KEY_LEN}–{MAX_KEY_LEN} printable ASCII characters without spaces \
             (and, if shaped like a vault-rs key, carry a valid checksum)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_have_the_documented_shape() {
        let k = generate("vrs", Environment::Live);
        let k = k.expose();
        assert!(k.starts_with("vrs_live_"), "{k}");
        assert_eq!(k.len(), "vrs_live_".len() + RANDOM_LEN + CHECKSUM_LEN);
        assert_eq!(
            classify(k),
            Ok(Shape::VaultRs {
                prefix: "vrs",
                env: Environment::Live
            })
        );
        let t = generate("acme2", Environment::Test);
        assert!(t.expose().starts_with("acme2_test_"));
        assert_ne!(generate("vrs", Environment::Live).expose(), k);
    }

    #[test]
    fn one_changed_character_is_malformed() {
        let k = generate("vrs", Environment::Live);
        let k = k.expose();
        for i in 9..k.len() {
            let mut bytes = k.as_bytes().to_vec();
            bytes[i] = if bytes[i] == b'a' { b'b' } else { b'a' };
            let changed = String::from_utf8(bytes).unwrap();
            assert_eq!(classify(&changed), Err(Malformed), "position {i}");
        }
        // The environment is covered by the checksum too.
        let swapped = k.replacen("_live_", "_test_", 1);
        assert_eq!(classify(&swapped), Err(Malformed));
    }

    #[test]
    fn foreign_and_garbage() {
        assert_eq!(classify("sk_live_51Habcdef0123"), Ok(Shape::Foreign));
        assert_eq!(classify("short"), Err(Malformed));
        assert_eq!(classify("has space inside it"), Err(Malformed));
        assert_eq!(classify("ünïcödé-key-value"), Err(Malformed));
        assert_eq!(classify(&"x".repeat(MAX_KEY_LEN + 1)), Err(Malformed));
        assert!(check_importable("sk_live_51Habcdef0123").is_ok());
        let k = generate("vrs", Environment::Live);
        let mut bad = k.expose().to_string();
        bad.pop();
        bad.push(if k.expose().ends_with('0') { '1' } else { '0' });
        assert!(check_importable(&bad).is_err());
    }

    #[test]
    fn prefixes() {
        assert!(valid_prefix("vrs"));
        assert!(valid_prefix("a1"));
        assert!(!valid_prefix(""));
        assert!(!valid_prefix("1abc"));
        assert!(!valid_prefix("has_underscore"));
        assert!(!valid_prefix("UPPER"));
        assert!(!valid_prefix(&"a".repeat(MAX_PREFIX_LEN + 1)));
    }
}
