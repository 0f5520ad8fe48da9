//! Password hashing: Argon2id with the `argon2` crate's default parameters,
//! stored as PHC strings (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`).
//!
//! A login for a user that does not exist verifies the password against a
//! fixed dummy hash (made once per process), so it costs the same time as
//! a login for one that does. The comparison inside `verify_password` is
//! constant-time.

use std::sync::OnceLock;

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::Argon2;

use crate::crypto::SecretString;
use crate::logical::LogicalError;

/// The PHC hash of `password` with a fresh random salt.
pub(super) fn hash(password: &SecretString) -> Result<String, LogicalError> {
    Argon2::default()
        .hash_password(password.expose().as_bytes())
        .map(|h| h.to_string())
        .map_err(|_| LogicalError::Internal("password hashing failed".into()))
}

/// Whether `password` matches the PHC string `phc` (false for a corrupt hash).
pub(super) fn verify(password: &SecretString, phc: &str) -> bool {
    let Ok(parsed) = argon2::password_hash::phc::PasswordHash::new(phc) else {
        return false;
    };
    Argon2::default()
        .verify_password(password.expose().as_bytes(), &parsed)
        .is_ok()
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
        assert!(verify(&pw, &h));
        assert!(!verify(&SecretString::from("wrong"), &h));
        assert!(!verify(&pw, "not a phc string"));
        assert!(!verify(&pw, dummy_hash()));
        assert_eq!(dummy_hash(), dummy_hash());
    }
}
