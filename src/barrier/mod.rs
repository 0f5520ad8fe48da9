//! The barrier: everything above it sees plaintext, everything below it
//! (physical storage) sees only ciphertext under encrypted keys.
//!
//! Owns: the keyring (barrier keys by term, the path key, the root key that
//! wraps them), value encryption (XChaCha20-Poly1305, AAD = storage key),
//! deterministic path encryption (AES-256-SIV per segment), and the
//! [`StorageView`] handed to each mount.
//! Must not touch: HTTP, policies, tokens. It never logs a key or a value.
//!
//! Physical layout:
//! - `core/seal-config`: the seal configuration, in clear;
//! - `core/keyring`: the keyring, sealed under the root key;
//! - `core/initialized`: present once `sys/init` completed;
//! - `d/<view id>/<enc seg>/<enc seg>…`: values, each
//!   `term(4, BE) ‖ version(1) ‖ nonce(24) ‖ ciphertext+tag`.

mod error;
mod keyring;
mod path;
mod view;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

pub use error::BarrierError;
pub use keyring::KeyStatus;
pub use view::StorageView;

use crate::crypto::{self, SecretBytes};
use crate::physical::{Backend, TxnOp};
use crate::seal::SealConfig;
use keyring::Keyring;

const SEAL_CONFIG_KEY: &str = "core/seal-config";
const KEYRING_KEY: &str = "core/keyring";
/// Written last by `sys/init`, once the root token exists: a crash before
/// it leaves a vault that can simply be initialized again.
const INIT_DONE_KEY: &str = "core/initialized";
const VALUE_VERSION: u8 = 1;
const HEADER_LEN: usize = 5;

/// One write of an atomic batch, in logical terms.
#[derive(Debug)]
pub enum WriteOp {
    Put {
        view: String,
        path: String,
        value: Vec<u8>,
    },
    Delete {
        view: String,
        path: String,
    },
}

/// Encrypting storage over an untrusted [`Backend`].
pub struct Barrier {
    physical: Arc<dyn Backend>,
    keyring: RwLock<Option<Arc<Keyring>>>,
    /// Serialises keyring changes (init, rotate, rekey): each reads the
    /// current keyring, writes a new one and installs it as one step.
    keyring_write: std::sync::Mutex<()>,
    encryptions: AtomicU64,
}

impl Barrier {
    pub fn new(physical: Arc<dyn Backend>) -> Arc<Barrier> {
        Arc::new(Barrier {
            physical,
            keyring: RwLock::new(None),
            keyring_write: std::sync::Mutex::new(()),
            encryptions: AtomicU64::new(0),
        })
    }

    /// The storage type (for `sys/seal-status`).
    pub fn storage_type(&self) -> &'static str {
        self.physical.kind()
    }

    /// Whether `sys/init` has completed.
    pub fn is_initialized(&self) -> Result<bool, BarrierError> {
        Ok(self.physical.get(INIT_DONE_KEY)?.is_some())
    }

    /// Records that initialization completed (after the root token exists).
    pub fn mark_initialized(&self) -> Result<(), BarrierError> {
        Ok(self.physical.put(INIT_DONE_KEY, b"1")?)
    }

    /// The stored seal configuration, if initialized.
    pub fn seal_config(&self) -> Result<Option<SealConfig>, BarrierError> {
        match self.physical.get(SEAL_CONFIG_KEY)? {
            None => Ok(None),
            Some(b) => serde_json::from_slice(&b)
                .map(Some)
                .map_err(|_| BarrierError::Corrupt("seal configuration")),
        }
    }

    pub fn is_sealed(&self) -> bool {
        self.read_keyring().is_none()
    }

    fn read_keyring(&self) -> Option<Arc<Keyring>> {
        self.keyring
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn set_keyring(&self, k: Option<Arc<Keyring>>) {
        *self.keyring.write().unwrap_or_else(|p| p.into_inner()) = k;
    }

    fn keyring_lock(&self) -> std::sync::MutexGuard<'_, ()> {
        self.keyring_write.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn unsealed(&self) -> Result<Arc<Keyring>, BarrierError> {
        self.read_keyring().ok_or(BarrierError::Sealed)
    }

    /// Creates a fresh keyring wrapped by `unseal_key` and stores the seal
    /// configuration, in one atomic write. Leaves the barrier unsealed.
    pub fn initialize(
        &self,
        unseal_key: &SecretBytes,
        config: &SealConfig,
    ) -> Result<(), BarrierError> {
        let _write = self.keyring_lock();
        if self.is_initialized()? {
            return Err(BarrierError::AlreadyInitialized);
        }
        let keyring = Keyring::generate(unseal_key);
        let config_json =
            serde_json::to_vec(config).map_err(|_| BarrierError::Corrupt("seal configuration"))?;
        self.physical.transaction(vec![
            TxnOp::Put(SEAL_CONFIG_KEY.into(), config_json),
            TxnOp::Put(KEYRING_KEY.into(), keyring.wrap(KEYRING_KEY)?),
        ])?;
        self.set_keyring(Some(Arc::new(keyring)));
        Ok(())
    }

    /// Decrypts the keyring with the root key derived from `unseal_key`.
    pub fn unseal(&self, unseal_key: &SecretBytes) -> Result<(), BarrierError> {
        let wrapped = self
            .physical
            .get(KEYRING_KEY)?
            .ok_or(BarrierError::NotInitialized)?;
        let keyring = Keyring::unwrap(unseal_key, KEYRING_KEY, &wrapped)?;
        self.set_keyring(Some(Arc::new(keyring)));
        Ok(())
    }

    /// Drops (and thereby zeroizes) all key material.
    pub fn seal(&self) {
        self.set_keyring(None);
    }

    /// Adds a new barrier key term; old terms keep decrypting.
    pub fn rotate(&self) -> Result<KeyStatus, BarrierError> {
        let _write = self.keyring_lock();
        let current = self.unsealed()?;
        let next = current.with_new_term();
        self.physical.put(KEYRING_KEY, &next.wrap(KEYRING_KEY)?)?;
        let status = next.status(self.encryptions.load(Ordering::Relaxed));
        self.set_keyring(Some(Arc::new(next)));
        self.encryptions.store(0, Ordering::Relaxed);
        Ok(KeyStatus {
            encryptions: 0,
            ..status
        })
    }

    /// Re-wraps the keyring under a new unseal key and stores the new seal
    /// configuration atomically. Data is not re-encrypted.
    pub fn rekey(
        &self,
        new_unseal_key: &SecretBytes,
        config: &SealConfig,
    ) -> Result<(), BarrierError> {
        let _write = self.keyring_lock();
        let current = self.unsealed()?;
        let next = current.with_root_key(new_unseal_key);
        let config_json =
            serde_json::to_vec(config).map_err(|_| BarrierError::Corrupt("seal configuration"))?;
        self.physical.transaction(vec![
            TxnOp::Put(SEAL_CONFIG_KEY.into(), config_json),
            TxnOp::Put(KEYRING_KEY.into(), next.wrap(KEYRING_KEY)?),
        ])?;
        self.set_keyring(Some(Arc::new(next)));
        Ok(())
    }

    /// Checks that `unseal_key` opens the stored keyring (used by rekey).
    pub fn verify_unseal_key(&self, unseal_key: &SecretBytes) -> Result<(), BarrierError> {
        let wrapped = self
            .physical
            .get(KEYRING_KEY)?
            .ok_or(BarrierError::NotInitialized)?;
        Keyring::unwrap(unseal_key, KEYRING_KEY, &wrapped).map(|_| ())
    }

    /// The active term, its install time and encryptions since unseal.
    pub fn key_status(&self) -> Result<KeyStatus, BarrierError> {
        Ok(self
            .unsealed()?
            .status(self.encryptions.load(Ordering::Relaxed)))
    }

    /// A view of the storage of `view` (a mount UUID or a system id).
    pub fn view(self: &Arc<Self>, view: &str) -> StorageView {
        StorageView::new(self.clone(), view)
    }

    fn physical_key(
        &self,
        keyring: &Keyring,
        view: &str,
        path: &str,
    ) -> Result<String, BarrierError> {
        path::encrypt_path(keyring.path_key(), view, path)
    }

    fn encrypt_value(
        &self,
        keyring: &Keyring,
        key: &str,
        value: &[u8],
    ) -> Result<Vec<u8>, BarrierError> {
        let (term, k) = keyring.active();
        let sealed =
            crypto::seal(k.expose(), key.as_bytes(), value).map_err(|_| BarrierError::Crypto)?;
        self.encryptions.fetch_add(1, Ordering::Relaxed);
        let mut out = Vec::with_capacity(HEADER_LEN + sealed.len());
        out.extend_from_slice(&term.to_be_bytes());
        out.push(VALUE_VERSION);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    fn decrypt_value(
        &self,
        keyring: &Keyring,
        key: &str,
        stored: &[u8],
    ) -> Result<Vec<u8>, BarrierError> {
        if stored.len() < HEADER_LEN || stored[4] != VALUE_VERSION {
            return Err(BarrierError::Crypto);
        }
        let term = u32::from_be_bytes([stored[0], stored[1], stored[2], stored[3]]);
        let k = keyring.term(term).ok_or(BarrierError::Crypto)?;
        crypto::open(k.expose(), key.as_bytes(), &stored[HEADER_LEN..])
            .map_err(|_| BarrierError::Crypto)
    }

    pub(crate) fn get(&self, view: &str, path: &str) -> Result<Option<Vec<u8>>, BarrierError> {
        let kr = self.unsealed()?;
        let key = self.physical_key(&kr, view, path)?;
        match self.physical.get(&key)? {
            None => Ok(None),
            Some(v) => self.decrypt_value(&kr, &key, &v).map(Some),
        }
    }

    pub(crate) fn put(&self, view: &str, path: &str, value: &[u8]) -> Result<(), BarrierError> {
        let kr = self.unsealed()?;
        let key = self.physical_key(&kr, view, path)?;
        let ct = self.encrypt_value(&kr, &key, value)?;
        Ok(self.physical.put(&key, &ct)?)
    }

    pub(crate) fn delete(&self, view: &str, path: &str) -> Result<(), BarrierError> {
        let kr = self.unsealed()?;
        let key = self.physical_key(&kr, view, path)?;
        Ok(self.physical.delete(&key)?)
    }

    pub(crate) fn list(&self, view: &str, prefix: &str) -> Result<Vec<String>, BarrierError> {
        let kr = self.unsealed()?;
        let phys_prefix = path::encrypt_prefix(kr.path_key(), view, prefix)?;
        let mut out = Vec::new();
        for child in self.physical.list(&phys_prefix)? {
            out.push(path::decrypt_child(kr.path_key(), view, prefix, &child)?);
        }
        out.sort();
        Ok(out)
    }

    /// Every logical path under `prefix` (recursive), sorted.
    pub(crate) fn scan(&self, view: &str, prefix: &str) -> Result<Vec<String>, BarrierError> {
        let kr = self.unsealed()?;
        let phys_prefix = path::encrypt_prefix(kr.path_key(), view, prefix)?;
        let mut out = Vec::new();
        for key in self.physical.scan(&phys_prefix)? {
            out.push(path::decrypt_path(kr.path_key(), view, &key)?);
        }
        out.sort();
        Ok(out)
    }

    /// Applies `ops` atomically.
    pub(crate) fn transaction(&self, ops: Vec<WriteOp>) -> Result<(), BarrierError> {
        let kr = self.unsealed()?;
        let mut phys = Vec::with_capacity(ops.len());
        for op in ops {
            phys.push(match op {
                WriteOp::Put { view, path, value } => {
                    let key = self.physical_key(&kr, &view, &path)?;
                    let ct = self.encrypt_value(&kr, &key, &value)?;
                    TxnOp::Put(key, ct)
                }
                WriteOp::Delete { view, path } => {
                    TxnOp::Delete(self.physical_key(&kr, &view, &path)?)
                }
            });
        }
        Ok(self.physical.transaction(phys)?)
    }

    /// Makes every acknowledged write durable.
    pub fn flush(&self) -> Result<(), BarrierError> {
        Ok(self.physical.flush()?)
    }
}

#[cfg(test)]
mod tests;
