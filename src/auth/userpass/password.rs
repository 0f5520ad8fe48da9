//! Password hashing: Argon2id with the `argon2` crate's default parameters,
//! stored as PHC strings (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`).
//!
//! A login for a user that does not exist verifies the password against a
//! fixed dummy hash (made once per process), so it costs the same time as
//! a login for one that does. The comparison inside `verify_password` is
//! constant-time.

use std::sync::{Condvar, Mutex, OnceLock};
use std::time::Duration;

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::Argon2;

use crate::crypto::SecretString;
use crate::logical::LogicalError;

/// Bounds concurrent Argon2 work (each run holds about 19 MiB): login
/// floods queue briefly, then get 429, instead of exhausting memory.
struct HashPermits {
    in_use: Mutex<usize>,
    freed: Condvar,
    max: usize,
}

/// How long a login waits for a hashing slot before 429.
const PERMIT_WAIT: Duration = Duration::from_secs(5);

fn permits() -> &'static HashPermits {
    static PERMITS: OnceLock<HashPermits> = OnceLock::new();
    PERMITS.get_or_init(|| HashPermits {
        in_use: Mutex::new(0),
        freed: Condvar::new(),
        max: std::thread::available_parallelism().map_or(2, |n| n.get().max(2)),
    })
}

/// A held hashing slot, released on drop.
struct Permit(&'static HashPermits);

impl Drop for Permit {
    fn drop(&mut self) {
        let mut n = self.0.in_use.lock().unwrap_or_else(|p| p.into_inner());
        *n = n.saturating_sub(1);
        self.0.freed.notify_one();
    }
}

fn acquire() -> Result<Permit, LogicalError> {
    let p = permits();
    let guard = p.in_use.lock().unwrap_or_else(|e| e.into_inner());
    let (mut n, _) = p
        .freed
        .wait_timeout_while(guard, PERMIT_WAIT, |n| *n >= p.max)
        .unwrap_or_else(|e| e.into_inner());
    if *n >= p.max {
        return Err(LogicalError::RateLimited);
    }
    *n += 1;
    Ok(Permit(p))
}

/// The PHC hash of `password` with a fresh random salt.
pub(super) fn hash(password: &SecretString) -> Result<String, LogicalError> {
    let _permit = acquire()?;
    Argon2::default()
        .hash_password(password.expose().as_bytes())
        .map(|h| h.to_string())
        .map_err(|_| LogicalError::Internal("password hashing failed".into()))
}

/// Whether `password` matches the PHC string `phc` (false for a corrupt
/// hash); 429 when too many hashes are already running.
pub(super) fn verify(password: &SecretString, phc: &str) -> Result<bool, LogicalError> {
    let Ok(parsed) = argon2::password_hash::phc::PasswordHash::new(phc) else {
        return Ok(false);
    };
    let _permit = acquire()?;
    Ok(Argon2::default()
        .verify_password(password.expose().as_bytes(), &parsed)
        .is_ok())
}

/// A hash nobody knows the password of, with the same parameters as real
/// ones; made once (its first use pays for one extra hash).
pub(super) fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let random = SecretString::new(crate::crypto::random_base62(32));
        // Hashing with default parameters and a fresh salt cannot fail; if
        // it ever did, an empty hash still makes every verify fail.
        hash(&random).unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_and_verify() {
        let pw = SecretString::from("correct horse");
        let h = hash(&pw).unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify(&pw, &h).unwrap());
        assert!(!verify(&SecretString::from("wrong"), &h).unwrap());
        assert!(!verify(&pw, "not a phc string").unwrap());
        assert!(!verify(&pw, dummy_hash()).unwrap());
        assert_eq!(dummy_hash(), dummy_hash());
    }
}
