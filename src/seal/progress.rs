//! Shares submitted so far in one unseal (or rekey) attempt.

use super::shamir::{combine, KEYSHARE_LEN};
use super::SealError;
use crate::crypto::{ct_eq, SecretBytes};

/// Holds submitted shares (zeroized on drop) and the attempt's nonce.
#[derive(Debug)]
pub struct UnsealProgress {
    shares: Vec<SecretBytes>,
    nonce: String,
}

impl Default for UnsealProgress {
    fn default() -> Self {
        Self::new()
    }
}

impl UnsealProgress {
    pub fn new() -> Self {
        UnsealProgress {
            shares: Vec::new(),
            nonce: uuid::Uuid::new_v4().to_string(),
        }
    }

    /// Number of shares held.
    pub fn progress(&self) -> usize {
        self.shares.len()
    }

    /// The attempt's nonce ("" when no share is held, as Vault).
    pub fn nonce(&self) -> &str {
        if self.shares.is_empty() {
            ""
        } else {
            &self.nonce
        }
    }

    /// The attempt's nonce even before the first share (rekey shows it at init).
    pub fn attempt_nonce(&self) -> &str {
        &self.nonce
    }

    /// Forgets every held share and starts a new attempt.
    pub fn reset(&mut self) {
        *self = UnsealProgress::new();
    }

    /// Adds one share. Returns the combined key once `threshold` shares are
    /// held (and then starts a new attempt). A share that is detectably wrong
    /// is refused with the held shares kept; if the threshold is reached but
    /// the set does not combine, the newest share is dropped and the others
    /// are kept.
    pub fn add(
        &mut self,
        share: SecretBytes,
        threshold: usize,
    ) -> Result<Option<SecretBytes>, SealError> {
        self.check_fits(&share)?;
        self.shares.push(share);
        if self.shares.len() < threshold {
            return Ok(None);
        }
        match combine(&self.shares) {
            Some(key) => {
                self.reset();
                Ok(Some(key))
            }
            None => {
                self.shares.pop();
                Err(SealError::CombineFailed)
            }
        }
    }

    fn check_fits(&self, share: &SecretBytes) -> Result<(), SealError> {
        for held in &self.shares {
            let (hx, ht) = held.expose().split_at(KEYSHARE_LEN);
            let (sx, st) = share.expose().split_at(KEYSHARE_LEN);
            if ct_eq(held.expose(), share.expose()) || hx[0] == sx[0] {
                return Err(SealError::DuplicateShare);
            }
            // Every share of one key carries the same encrypted payload.
            if !ct_eq(ht, st) {
                return Err(SealError::WrongShare);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seal::{new_unseal_key, split, SealConfig};

    fn shares(n: u64, k: u64) -> (SecretBytes, Vec<SecretBytes>) {
        let key = new_unseal_key();
        let s = split(&key, &SealConfig::new(n, k).unwrap()).unwrap();
        (key, s)
    }

    #[test]
    fn unseals_at_threshold() {
        let (key, s) = shares(5, 3);
        let mut p = UnsealProgress::new();
        assert_eq!(p.add(s[4].clone(), 3).unwrap(), None);
        assert_eq!(p.add(s[0].clone(), 3).unwrap(), None);
        assert_eq!(p.progress(), 2);
        assert_eq!(p.add(s[2].clone(), 3).unwrap(), Some(key));
        assert_eq!(p.progress(), 0);
    }

    #[test]
    fn wrong_and_duplicate_shares_keep_progress() {
        let (_, s) = shares(3, 3);
        let (_, other) = shares(3, 3);
        let mut p = UnsealProgress::new();
        p.add(s[0].clone(), 3).unwrap();
        assert_eq!(p.add(s[0].clone(), 3), Err(SealError::DuplicateShare));
        assert_eq!(p.add(other[1].clone(), 3), Err(SealError::WrongShare));
        assert_eq!(p.progress(), 1);
    }

    #[test]
    fn corrupt_key_share_fails_combine_and_keeps_the_rest() {
        let (key, s) = shares(3, 2);
        let mut p = UnsealProgress::new();
        p.add(s[0].clone(), 2).unwrap();
        let mut bad = s[1].expose().to_vec();
        bad[3] ^= 1;
        assert_eq!(
            p.add(SecretBytes::new(bad), 2),
            Err(SealError::CombineFailed)
        );
        assert_eq!(p.progress(), 1);
        assert_eq!(p.add(s[2].clone(), 2).unwrap(), Some(key));
    }
}
