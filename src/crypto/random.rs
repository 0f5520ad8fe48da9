//! The OS CSPRNG. A failure of the OS random source is fatal: we never fall
//! back to a weaker generator.

use super::encoding::BASE62;
use super::secret::SecretBytes;

fn fill(buf: &mut [u8]) {
    // The OS random source failing is not recoverable and not input-driven.
    if let Err(e) = getrandom::fill(buf) {
        panic!("OS random number generator failed: {e}");
    }
}

/// `n` random bytes held as a secret.
pub fn random_secret(n: usize) -> SecretBytes {
    let mut v = vec![0u8; n];
    fill(&mut v);
    SecretBytes::new(v)
}

/// `n` random bytes (for non-secret values such as nonces and ids).
pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    fill(&mut v);
    v
}

/// A random fixed-size array.
pub fn random_array<const N: usize>() -> [u8; N] {
    let mut a = [0u8; N];
    fill(&mut a);
    a
}

/// `len` characters drawn uniformly from the base62 alphabet (rejection
/// sampling, no modulo bias).
pub fn random_base62(len: usize) -> String {
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 64];
    while out.len() < len {
        fill(&mut buf);
        for b in buf {
            // 248 = 62 * 4: bytes below it map uniformly onto 62 symbols.
            if b < 248 && out.len() < len {
                out.push(BASE62[(b % 62) as usize] as char);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base62_has_requested_length_and_alphabet() {
        let s = random_base62(40);
        assert_eq!(s.len(), 40);
        assert!(s.bytes().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(random_base62(40), s);
    }
}
