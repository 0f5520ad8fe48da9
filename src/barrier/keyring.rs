//! The keyring: barrier keys by term, the path key, and the root key that
//! encrypts them all. Serialized only inside zeroizing buffers.
//!
//! Key hierarchy (as Vault): the unseal key (rebuilt from the shares) only
//! decrypts the root key; the root key encrypts the keyring. A rekey wraps
//! the same root key under a new unseal key, a rotation re-encrypts the
//! keyring under the same root key, so each is one write of the seal record.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::path::PathCipher;
use super::BarrierError;
use crate::crypto::{self, random_secret, SecretBytes};

/// Stores created before the seal record derived the root key from the
/// unseal key with this HKDF label.
const LEGACY_ROOT_KEY_INFO: &[u8] = b"vault-rs root key v1";
/// HKDF label of the key-encryption key that wraps the root key.
const UNSEAL_KEK_INFO: &[u8] = b"vault-rs unseal key-encryption key v2";
const ROOT_KEY_LEN: usize = 32;
const PATH_KEY_LEN: usize = 64;

/// `sys/key-status` facts.
#[derive(Debug, Clone, Serialize)]
pub struct KeyStatus {
    pub term: u32,
    pub install_time: String,
    pub encryptions: u64,
}

struct TermKey {
    key: SecretBytes,
    install_time: String,
}

pub(crate) struct Keyring {
    root_key: SecretBytes,
    terms: BTreeMap<u32, TermKey>,
    active: u32,
    path_key: PathCipher,
}

#[derive(Serialize, Deserialize)]
struct StoredTerm {
    term: u32,
    key: String,
    install_time: String,
}

#[derive(Serialize, Deserialize)]
struct StoredKeyring {
    active_term: u32,
    terms: Vec<StoredTerm>,
    path_key: String,
}

impl Drop for StoredKeyring {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.path_key.zeroize();
        for t in self.terms.iter_mut() {
            t.key.zeroize();
        }
    }
}

fn derive(unseal_key: &SecretBytes, info: &[u8]) -> SecretBytes {
    let mut out = Zeroizing::new([0u8; 32]);
    crypto::hkdf_sha256(unseal_key.expose(), info, out.as_mut());
    SecretBytes::from_slice(out.as_ref())
}

/// `root_key` sealed under a key derived from `unseal_key`, bound to `aad`.
pub(crate) fn wrap_root_key(
    unseal_key: &SecretBytes,
    aad: &str,
    root_key: &SecretBytes,
) -> Result<Vec<u8>, BarrierError> {
    let kek = derive(unseal_key, UNSEAL_KEK_INFO);
    crypto::seal(kek.expose(), aad.as_bytes(), root_key.expose()).map_err(|_| BarrierError::Crypto)
}

/// Opens a root key sealed by [`wrap_root_key`]; [`BarrierError::Crypto`]
/// when `unseal_key` is not the key it was wrapped under.
pub(crate) fn unwrap_root_key(
    unseal_key: &SecretBytes,
    aad: &str,
    wrapped: &[u8],
) -> Result<SecretBytes, BarrierError> {
    let kek = derive(unseal_key, UNSEAL_KEK_INFO);
    let raw =
        crypto::open(kek.expose(), aad.as_bytes(), wrapped).map_err(|_| BarrierError::Crypto)?;
    let key = SecretBytes::new(raw);
    if key.len() != ROOT_KEY_LEN {
        return Err(BarrierError::Corrupt("root key"));
    }
    Ok(key)
}

/// The root key of a store written before the seal record existed.
pub(crate) fn legacy_root_key(unseal_key: &SecretBytes) -> SecretBytes {
    derive(unseal_key, LEGACY_ROOT_KEY_INFO)
}

/// When a key term is installed: the real time (a storage record, not a
/// rule the vault's clock drives).
pub(crate) fn now_rfc3339() -> String {
    crate::sdk::Clock::rfc3339(&crate::sdk::SystemClock)
}

impl Keyring {
    pub(crate) fn generate() -> Keyring {
        let mut terms = BTreeMap::new();
        terms.insert(
            1,
            TermKey {
                key: random_secret(32),
                install_time: now_rfc3339(),
            },
        );
        Keyring {
            root_key: random_secret(ROOT_KEY_LEN),
            terms,
            active: 1,
            path_key: PathCipher::new(random_secret(PATH_KEY_LEN)),
        }
    }

    /// A fresh keyring under a given root key (tests of the old layout).
    #[cfg(test)]
    pub(crate) fn generate_with_root_key(root_key: SecretBytes) -> Keyring {
        Keyring {
            root_key,
            ..Keyring::generate()
        }
    }

    pub(crate) fn active(&self) -> (u32, &SecretBytes) {
        // `active` always names an entry of `terms` (maintained by constructors).
        match self.terms.get(&self.active) {
            Some(t) => (self.active, &t.key),
            None => unreachable!("active term missing from keyring"),
        }
    }

    pub(crate) fn term(&self, term: u32) -> Option<&SecretBytes> {
        self.terms.get(&term).map(|t| &t.key)
    }

    /// The path key's cipher (built once per keyring).
    pub(crate) fn path_key(&self) -> &PathCipher {
        &self.path_key
    }

    pub(crate) fn status(&self, encryptions: u64) -> KeyStatus {
        let install_time = self
            .terms
            .get(&self.active)
            .map(|t| t.install_time.clone())
            .unwrap_or_default();
        KeyStatus {
            term: self.active,
            install_time,
            encryptions,
        }
    }

    fn cloned_terms(&self) -> BTreeMap<u32, TermKey> {
        self.terms
            .iter()
            .map(|(n, t)| {
                (
                    *n,
                    TermKey {
                        key: t.key.clone(),
                        install_time: t.install_time.clone(),
                    },
                )
            })
            .collect()
    }

    pub(crate) fn with_new_term(&self) -> Keyring {
        let mut terms = self.cloned_terms();
        let next = self.active + 1;
        terms.insert(
            next,
            TermKey {
                key: random_secret(32),
                install_time: now_rfc3339(),
            },
        );
        Keyring {
            root_key: self.root_key.clone(),
            terms,
            active: next,
            path_key: PathCipher::new(self.path_key.key().clone()),
        }
    }

    /// The root key that encrypts this keyring.
    pub(crate) fn root_key(&self) -> &SecretBytes {
        &self.root_key
    }

    /// The keyring sealed under the root key, bound to `aad`.
    pub(crate) fn wrap(&self, aad: &str) -> Result<Vec<u8>, BarrierError> {
        let stored = StoredKeyring {
            active_term: self.active,
            terms: self
                .terms
                .iter()
                .map(|(n, t)| StoredTerm {
                    term: *n,
                    key: B64.encode(t.key.expose()),
                    install_time: t.install_time.clone(),
                })
                .collect(),
            path_key: B64.encode(self.path_key.key().expose()),
        };
        let json = Zeroizing::new(
            serde_json::to_vec(&stored).map_err(|_| BarrierError::Corrupt("keyring"))?,
        );
        crypto::seal(self.root_key.expose(), aad.as_bytes(), &json)
            .map_err(|_| BarrierError::Crypto)
    }

    /// Opens a keyring sealed by [`Keyring::wrap`] under `root_key`.
    pub(crate) fn unwrap(
        root_key: SecretBytes,
        aad: &str,
        wrapped: &[u8],
    ) -> Result<Keyring, BarrierError> {
        let json = Zeroizing::new(
            crypto::open(root_key.expose(), aad.as_bytes(), wrapped)
                .map_err(|_| BarrierError::Crypto)?,
        );
        let stored: StoredKeyring =
            serde_json::from_slice(&json).map_err(|_| BarrierError::Corrupt("keyring"))?;
        let mut terms = BTreeMap::new();
        for t in &stored.terms {
            let key = Zeroizing::new(
                B64.decode(&t.key)
                    .map_err(|_| BarrierError::Corrupt("keyring"))?,
            );
            terms.insert(
                t.term,
                TermKey {
                    key: SecretBytes::from_slice(&key),
                    install_time: t.install_time.clone(),
                },
            );
        }
        if !terms.contains_key(&stored.active_term) {
            return Err(BarrierError::Corrupt("keyring"));
        }
        let path_key = Zeroizing::new(
            B64.decode(&stored.path_key)
                .map_err(|_| BarrierError::Corrupt("keyring"))?,
        );
        Ok(Keyring {
            root_key,
            terms,
            active: stored.active_term,
            path_key: PathCipher::new(SecretBytes::from_slice(&path_key)),
        })
    }
}
