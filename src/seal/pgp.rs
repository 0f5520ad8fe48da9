//! Shares encrypted to operators' OpenPGP keys (`pgp_keys` on `sys/init`
//! and `sys/rekey/init`), as Vault does: share `i` is written as hex text
//! into an OpenPGP message encrypted to key `i`, and handed out as that
//! message (binary, then hex/base64 on the wire). The share holder decrypts
//! with their private key (`base64 -d | gpg -dq`) and unseals with the hex.
//!
//! Owns: parsing the public keys (base64 of the binary key, or armored),
//! their fingerprints, the encryption. Must not touch: the unseal key.
//! `keybase:` names are refused (vault-rs fetches nothing).

use base64::Engine;
use pgp::composed::{Deserializable, MessageBuilder, SignedPublicKey};
use pgp::crypto::sym::SymmetricKeyAlgorithm;
use pgp::types::KeyDetails;
use zeroize::Zeroizing;

use super::SealError;
use crate::crypto::SecretBytes;

/// Longest public key accepted (decoded).
const MAX_KEY_BYTES: usize = 64 * 1024;

/// One operator's public key.
pub struct PgpRecipient {
    key: SignedPublicKey,
    /// Lower-case hex fingerprint of the primary key.
    pub fingerprint: String,
}

fn bad(field: &str, why: &str) -> SealError {
    SealError::InvalidConfig(format!("{field}: {why}"))
}

/// Parses `keys` (one per share, in order).
pub fn parse_keys(keys: &[String]) -> Result<Vec<PgpRecipient>, SealError> {
    keys.iter()
        .enumerate()
        .map(|(i, k)| parse_key(&format!("pgp_keys[{i}]"), k))
        .collect()
}

/// Parses one public key given as the request field `field` (errors name
/// it: `pgp_key`).
pub fn parse_key(field: &str, text: &str) -> Result<PgpRecipient, SealError> {
    let i = field;
    let text = text.trim();
    if text.starts_with("keybase:") {
        return Err(bad(
            i,
            "keybase: names are not supported; give the base64 of the binary public key \
             (gpg --export KEYID | base64 -w0)",
        ));
    }
    let bytes = if text.starts_with("-----BEGIN PGP") {
        text.as_bytes().to_vec()
    } else {
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|_| bad(i, "not the base64 of a public key"))?
    };
    if bytes.len() > MAX_KEY_BYTES {
        return Err(bad(i, "public key too large"));
    }
    let (key, _) = SignedPublicKey::from_reader_single(&bytes[..])
        .map_err(|_| bad(i, "not an OpenPGP public key"))?;
    key.verify_bindings()
        .map_err(|_| bad(i, "the key's self-signatures do not verify"))?;
    if encryption_key_count(&key) == 0 {
        return Err(bad(i, "the key has no encryption-capable (sub)key"));
    }
    let fingerprint = format!("{:x}", key.fingerprint());
    Ok(PgpRecipient { key, fingerprint })
}

fn encryption_key_count(key: &SignedPublicKey) -> usize {
    key.public_subkeys
        .iter()
        .filter(|k| k.algorithm().can_encrypt())
        .count()
        + usize::from(key.algorithm().can_encrypt())
}

/// Encrypts `share` (as hex text, as Vault does) to `to`; the binary
/// OpenPGP message.
pub fn encrypt_share(to: &PgpRecipient, share: &SecretBytes) -> Result<Vec<u8>, SealError> {
    let text = Zeroizing::new(hex::encode(share.expose()).into_bytes());
    encrypt(to, &text)
}

/// Encrypts `text` as it is to `to` (a generated root token, as Vault
/// encrypts it: the holder's `gpg -d` prints the token); the binary
/// OpenPGP message.
pub fn encrypt(to: &PgpRecipient, text: &[u8]) -> Result<Vec<u8>, SealError> {
    let failed = || SealError::InvalidConfig("could not encrypt to a pgp key".into());
    let mut rng = rand::rngs::OsRng;
    let mut builder = MessageBuilder::from_bytes("", text.to_vec())
        .seipd_v1(&mut rng, SymmetricKeyAlgorithm::AES256);
    match to
        .key
        .public_subkeys
        .iter()
        .find(|k| k.algorithm().can_encrypt())
    {
        Some(sub) => builder
            .encrypt_to_key(&mut rng, sub)
            .map_err(|_| failed())?,
        None => builder
            .encrypt_to_key(&mut rng, &to.key)
            .map_err(|_| failed())?,
    };
    builder.to_vec(rng).map_err(|_| failed())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_keys_are_refused_with_their_index() {
        let e = parse_keys(&["keybase:alice".into()])
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("pgp_keys[0]") && e.contains("keybase"), "{e}");
        let e = parse_keys(&["bm90IGEga2V5".into()])
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("not an OpenPGP public key"), "{e}");
        let e = parse_keys(&["!!".into()]).err().unwrap().to_string();
        assert!(e.contains("base64"), "{e}");
    }
}
