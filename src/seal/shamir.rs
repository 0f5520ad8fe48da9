//! Shamir split/combine over `shamirsecretsharing` (shares carry integrity:
//! a wrong or corrupted share set fails to combine instead of yielding garbage).

use base64::Engine;
use serde::{Deserialize, Serialize};

use super::SealError;
use crate::crypto::{random_secret, SecretBytes};

/// The unseal key length `shamirsecretsharing` requires.
pub const UNSEAL_KEY_LEN: usize = shamirsecretsharing::DATA_SIZE;
/// Upper bound on `secret_shares`.
pub const MAX_SHARES: u8 = 10;
/// Bytes of the key-share part of a share; the rest is the same for every
/// share of one key.
pub(crate) const KEYSHARE_LEN: usize = 33;

/// The seal configuration stored in clear (it is needed before unsealing).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct SealConfig {
    pub secret_shares: u8,
    pub secret_threshold: u8,
}

impl SealConfig {
    /// Checks 1 ≤ threshold ≤ shares ≤ 10.
    pub fn new(shares: u64, threshold: u64) -> Result<SealConfig, SealError> {
        if shares < 1 || shares > MAX_SHARES as u64 {
            return Err(SealError::InvalidConfig(format!(
                "secret_shares must be between 1 and {MAX_SHARES}"
            )));
        }
        if threshold < 1 || threshold > shares {
            return Err(SealError::InvalidConfig(
                "secret_threshold must be between 1 and secret_shares".into(),
            ));
        }
        Ok(SealConfig {
            secret_shares: shares as u8,
            secret_threshold: threshold as u8,
        })
    }
}

/// A fresh random 64-byte unseal key.
pub fn new_unseal_key() -> SecretBytes {
    random_secret(UNSEAL_KEY_LEN)
}

/// Splits `key` into `config.secret_shares` shares.
pub fn split(key: &SecretBytes, config: &SealConfig) -> Result<Vec<SecretBytes>, SealError> {
    let shares = shamirsecretsharing::create_shares(
        key.expose(),
        config.secret_shares,
        config.secret_threshold,
    )
    .map_err(|e| SealError::InvalidConfig(e.to_string()))?;
    Ok(shares.into_iter().map(SecretBytes::new).collect())
}

/// Combines shares; `None` when they do not form the key.
pub(crate) fn combine(shares: &[SecretBytes]) -> Option<SecretBytes> {
    let raw: Vec<Vec<u8>> = shares.iter().map(|s| s.expose().to_vec()).collect();
    let result = shamirsecretsharing::combine_shares(&raw);
    let mut raw = raw;
    for r in raw.iter_mut() {
        zeroize::Zeroize::zeroize(r);
    }
    match result {
        Ok(Some(key)) => Some(SecretBytes::new(key)),
        _ => None,
    }
}

/// The fingerprint of the share set `share` belongs to: SHA-256 of the part
/// every share of one split carries (the unseal key encrypted under a key
/// that only a threshold of shares rebuilds), never of the key share itself.
/// It is stored in clear beside each unseal-key wrapping so a submitted share
/// is matched to its set, and a share of another vault refused, before any
/// combining. Two splits (an init and a rekey) have different fingerprints.
pub fn share_set_tag(share: &SecretBytes) -> String {
    crate::crypto::sha256_hex(share.expose().get(KEYSHARE_LEN..).unwrap_or(&[]))
}

/// Decodes a share given as hex or base64 (standard, padded) text.
pub fn decode_share(text: &str) -> Result<SecretBytes, SealError> {
    let text = text.trim();
    let bytes = if text.len() == shamirsecretsharing::SHARE_SIZE * 2 {
        hex::decode(text).ok()
    } else {
        base64::engine::general_purpose::STANDARD.decode(text).ok()
    };
    match bytes {
        Some(b) if b.len() == shamirsecretsharing::SHARE_SIZE => Ok(SecretBytes::new(b)),
        Some(mut b) => {
            zeroize::Zeroize::zeroize(&mut b);
            Err(SealError::MalformedShare)
        }
        None => Err(SealError::MalformedShare),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_bounds() {
        assert!(SealConfig::new(0, 0).is_err());
        assert!(SealConfig::new(11, 3).is_err());
        assert!(SealConfig::new(3, 4).is_err());
        assert!(SealConfig::new(3, 0).is_err());
        assert!(SealConfig::new(1, 1).is_ok());
        assert!(SealConfig::new(10, 10).is_ok());
    }

    #[test]
    fn split_and_combine() {
        let key = new_unseal_key();
        let cfg = SealConfig::new(5, 3).unwrap();
        let shares = split(&key, &cfg).unwrap();
        assert_eq!(shares.len(), 5);
        assert_eq!(combine(&shares[1..4]).unwrap(), key);
        assert!(combine(&shares[..2]).is_none());
        let mut bad = shares[..3].to_vec();
        let mut b = bad[0].expose().to_vec();
        b[5] ^= 0xff;
        bad[0] = SecretBytes::new(b);
        assert!(combine(&bad).is_none());
    }

    #[test]
    fn share_set_tag_names_the_split_not_the_share() {
        let key = new_unseal_key();
        let cfg = SealConfig::new(3, 2).unwrap();
        let a = split(&key, &cfg).unwrap();
        let b = split(&key, &cfg).unwrap();
        assert_eq!(share_set_tag(&a[0]), share_set_tag(&a[2]));
        assert_ne!(share_set_tag(&a[0]), share_set_tag(&b[0]));
        assert_eq!(share_set_tag(&a[1]).len(), 64);
    }

    #[test]
    fn decode_accepts_hex_and_base64_only() {
        let key = new_unseal_key();
        let share = &split(&key, &SealConfig::new(1, 1).unwrap()).unwrap()[0];
        let hex_text = hex::encode(share.expose());
        let b64 = base64::engine::general_purpose::STANDARD.encode(share.expose());
        assert_eq!(&decode_share(&hex_text).unwrap(), share);
        assert_eq!(&decode_share(&b64).unwrap(), share);
        assert_eq!(decode_share("zz"), Err(SealError::MalformedShare));
        assert_eq!(decode_share(""), Err(SealError::MalformedShare));
        assert_eq!(decode_share(&b64[..40]), Err(SealError::MalformedShare));
    }
}
