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
    /// held (and then starts a new attempt). A share given twice is refused
    /// with the held shares kept. Otherwise a failed attempt starts over, as
    /// Vault's does: a share that does not belong with the held ones (either
    /// may be the wrong one), or a full set that does not combine, resets
    /// the progress, so a wrong share can never wedge the attempt.
    pub fn add(
        &mut self,
        share: SecretBytes,
        threshold: usize,
    ) -> Result<Option<SecretBytes>, SealError> {
        // A failed attempt drops its shares but keeps its nonce (a rekey's
        // clients go on with the nonce they were given).
        if let Err(e) = self.check_fits(&share) {
            if e != SealError::DuplicateShare {
                self.shares.clear();
            }
            return Err(e);
        }
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
                self.shares.clear();
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
                return Err(SealError::MismatchedShare);
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
    fn duplicates_keep_progress_and_mismatched_shares_reset_it() {
        let (key, s) = shares(3, 3);
        let (_, other) = shares(3, 3);
        let mut p = UnsealProgress::new();
        p.add(s[0].clone(), 3).unwrap();
        assert_eq!(p.add(s[0].clone(), 3), Err(SealError::DuplicateShare));
        assert_eq!(p.progress(), 1);
        // The held share may be the wrong one: the attempt starts over.
        assert_eq!(p.add(other[1].clone(), 3), Err(SealError::MismatchedShare));
        assert_eq!(p.progress(), 0);
        for share in &s[..2] {
            assert_eq!(p.add(share.clone(), 3).unwrap(), None);
        }
        assert_eq!(p.add(s[2].clone(), 3).unwrap(), Some(key));
    }

    #[test]
    fn a_set_that_does_not_combine_resets_the_attempt() {
        let (key, s) = shares(3, 2);
        let mut p = UnsealProgress::new();
        // A corrupt share held first used to wedge the attempt: every
        // good share after it was the one dropped.
        let mut bad = s[1].expose().to_vec();
        bad[3] ^= 1;
        p.add(SecretBytes::new(bad), 2).unwrap();
        assert_eq!(p.add(s[0].clone(), 2), Err(SealError::CombineFailed));
        assert_eq!(p.progress(), 0);
        assert_eq!(p.add(s[2].clone(), 2).unwrap(), None);
        assert_eq!(p.add(s[0].clone(), 2).unwrap(), Some(key));
        assert!(SealError::CombineFailed.to_string().contains("reset"));
    }
}
