//! XChaCha20-Poly1305 with a random 24-byte nonce. Output: nonce ‖ ciphertext ‖ tag.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

use super::random::random_array;

pub const KEY_LEN: usize = 32;
pub const NONCE_LEN: usize = 24;
pub const TAG_LEN: usize = 16;

/// The only AEAD failure we report: deliberately says nothing about why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AeadError;

impl std::fmt::Display for AeadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("decryption failed")
    }
}

impl std::error::Error for AeadError {}

fn cipher(key: &[u8]) -> Result<XChaCha20Poly1305, AeadError> {
    XChaCha20Poly1305::new_from_slice(key).map_err(|_| AeadError)
}

/// Encrypts `plaintext` bound to `aad`; returns nonce ‖ ciphertext ‖ tag.
pub fn seal(key: &[u8], aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, AeadError> {
    let nonce_bytes: [u8; NONCE_LEN] = random_array();
    let nonce = XNonce::from(nonce_bytes);
    let ct = cipher(key)?
        .encrypt(
            &nonce,
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .map_err(|_| AeadError)?;
    let mut out = Vec::with_capacity(NONCE_LEN + ct.len());
    out.extend_from_slice(&nonce_bytes);
    out.extend_from_slice(&ct);
    Ok(out)
}

/// Decrypts nonce ‖ ciphertext ‖ tag produced by [`seal`] with the same `aad`.
pub fn open(key: &[u8], aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, AeadError> {
    if sealed.len() < NONCE_LEN + TAG_LEN {
        return Err(AeadError);
    }
    let (nonce_bytes, ct) = sealed.split_at(NONCE_LEN);
    let nonce_arr: [u8; NONCE_LEN] = nonce_bytes.try_into().map_err(|_| AeadError)?;
    let nonce = XNonce::from(nonce_arr);
    cipher(key)?
        .decrypt(&nonce, Payload { msg: ct, aad })
        .map_err(|_| AeadError)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_binding() {
        let key = [7u8; 32];
        let ct = seal(&key, b"path/a", b"secret").unwrap();
        assert_eq!(open(&key, b"path/a", &ct).unwrap(), b"secret");
        assert_eq!(open(&key, b"path/b", &ct), Err(AeadError));
        assert_eq!(open(&[8u8; 32], b"path/a", &ct), Err(AeadError));
        let mut bad = ct.clone();
        bad[30] ^= 1;
        assert_eq!(open(&key, b"path/a", &bad), Err(AeadError));
        assert_eq!(open(&key, b"path/a", &ct[..10]), Err(AeadError));
    }

    #[test]
    fn nonces_differ() {
        let key = [1u8; 32];
        assert_ne!(
            seal(&key, b"", b"x").unwrap(),
            seal(&key, b"", b"x").unwrap()
        );
    }
}
