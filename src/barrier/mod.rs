//! The barrier: everything above it sees plaintext, everything below it
//! (physical storage) sees only ciphertext under encrypted keys.
//!
//! Owns: the keyring (barrier keys by term, the path key, the root key that
//! wraps them), value encryption (XChaCha20-Poly1305, AAD = storage key),
//! deterministic path encryption (AES-256-SIV per segment), the seal
//! record that makes every keyring change one atomic write, and the
//! [`StorageView`] handed to each mount.
//! Must not touch: HTTP, policies, tokens. It never logs a key or a value.
//!
//! Physical layout:
//! - `core/seal`: the seal record (see `record`): seal configuration and
//!   root key wrapping of each share set, the keyring sealed under the root
//!   key, and whether `sys/init` completed. Every keyring change is one write
//!   of this entry;
//! - `core/seal-config`, `core/keyring`, `core/initialized`: the layout of
//!   older stores, read once and replaced by `core/seal` at the first unseal;
//! - `d/<view id>/<enc seg>/<enc seg>…`: values, each
//!   `term(4, BE) ‖ version(1) ‖ nonce(24) ‖ ciphertext+tag`.

mod error;
mod keyring;
mod path;
mod record;
pub mod snapshot;
mod view;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use zeroize::Zeroizing;

/// The HA lock of shared storage, as the core sees it.
pub use crate::physical::{HaLock, LockHolder};
pub use error::BarrierError;
pub use keyring::KeyStatus;
pub use record::StorageState;
pub use view::StorageView;

use crate::crypto::{self, SecretBytes};
use crate::physical::{Backend, TxnOp};
use crate::seal::SealConfig;
use keyring::Keyring;
use record::{legacy, SealRecord, UnsealWrapping, KEYRING_AAD, ROOT_KEY_AAD, SEAL_RECORD_KEY};

const VALUE_VERSION: u8 = 1;
const HEADER_LEN: usize = 5;

/// Plaintext read through the barrier: wiped when dropped.
pub type Plaintext = Zeroizing<Vec<u8>>;

/// Which share set opened the vault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnsealedWith {
    /// The current share set (a previous one, if any, is now forgotten).
    Current,
    /// The share set from before the last rekey, whose new shares have not
    /// been used yet.
    Previous,
}

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
    /// Serialises seal record changes (init, rotate, rekey, unseal's
    /// clean-up): each reads the record, writes a new one and installs it.
    keyring_write: std::sync::Mutex<()>,
    /// Held shared by every value write, exclusively by a snapshot
    /// restore: a restore waits for writes in flight, and no write lands
    /// after it (the barrier is sealed by then).
    writes: RwLock<()>,
    encryptions: AtomicU64,
    /// Told how long each durable write (put, delete, transaction) took.
    write_observer: std::sync::OnceLock<WriteObserver>,
}

/// What the barrier tells of each durable write: how long the storage
/// backend took to acknowledge it (its sync included). Installed once by
/// the owner of the barrier ([`Barrier::observe_writes`]).
pub type WriteObserver = Arc<dyn Fn(std::time::Duration) + Send + Sync>;

impl Barrier {
    pub fn new(physical: Arc<dyn Backend>) -> Arc<Barrier> {
        Arc::new(Barrier {
            physical,
            keyring: RwLock::new(None),
            keyring_write: std::sync::Mutex::new(()),
            writes: RwLock::new(()),
            encryptions: AtomicU64::new(0),
            write_observer: std::sync::OnceLock::new(),
        })
    }

    /// The storage type (for `sys/seal-status`).
    pub fn storage_type(&self) -> &'static str {
        self.physical.kind()
    }

    /// What the store holds: empty, half-initialized, a vault, or damaged.
    pub fn storage_state(&self) -> Result<StorageState, BarrierError> {
        let record = self.physical.get(SEAL_RECORD_KEY)?;
        if record.is_some() {
            return Ok(StorageState::classify(
                record.as_deref(),
                [false; 3],
                &[],
                &[],
            ));
        }
        let mut present = [false; 3];
        for (i, key) in legacy::ALL.iter().enumerate() {
            present[i] = self.physical.get(key)?.is_some();
        }
        let top = self.physical.list("")?;
        let core = self.physical.list("core/")?;
        Ok(StorageState::classify(None, present, &top, &core))
    }

    /// Whether `sys/init` has completed. A damaged store is an error, never
    /// "not initialized".
    pub fn is_initialized(&self) -> Result<bool, BarrierError> {
        match self.storage_state()? {
            StorageState::Initialized => Ok(true),
            StorageState::Empty | StorageState::Initializing => Ok(false),
            StorageState::Damaged(why) => Err(BarrierError::Damaged(why)),
        }
    }

    fn read_record(&self) -> Result<Option<SealRecord>, BarrierError> {
        match self.physical.get(SEAL_RECORD_KEY)? {
            None => Ok(None),
            Some(b) => SealRecord::decode(&b).map(Some),
        }
    }

    /// Writes `record` and reads it back: the switch is this one write.
    fn write_record(&self, record: &SealRecord) -> Result<(), BarrierError> {
        let bytes = record.encode()?;
        self.physical.put(SEAL_RECORD_KEY, &bytes)?;
        match self.physical.get(SEAL_RECORD_KEY)? {
            Some(b) if b == bytes => Ok(()),
            _ => Err(BarrierError::Corrupt(
                "seal record (read back after writing)",
            )),
        }
    }

    /// Records that initialization completed (after the root token exists).
    pub fn mark_initialized(&self) -> Result<(), BarrierError> {
        let _write = self.keyring_lock();
        let mut record = self.read_record()?.ok_or(BarrierError::NotInitialized)?;
        record.initialized = true;
        self.write_record(&record)
    }

    /// The current seal configuration, if any.
    pub fn seal_config(&self) -> Result<Option<SealConfig>, BarrierError> {
        if let Some(r) = self.read_record()? {
            return Ok(Some(r.current().config.clone()));
        }
        self.legacy_seal_config()
    }

    fn legacy_seal_config(&self) -> Result<Option<SealConfig>, BarrierError> {
        match self.physical.get(legacy::SEAL_CONFIG_KEY)? {
            None => Ok(None),
            Some(b) => serde_json::from_slice(&b)
                .map(Some)
                .map_err(|_| BarrierError::Corrupt("seal configuration")),
        }
    }

    /// The configuration of the share set whose shares carry `share_tag`
    /// (see [`crate::seal::share_set_tag`]); `None` when no share set of
    /// this vault does (a share of another vault).
    pub fn config_for_share(&self, share_tag: &str) -> Result<Option<SealConfig>, BarrierError> {
        match self.read_record()? {
            Some(r) => Ok(r.wrapping_for_tag(share_tag).map(|w| w.config.clone())),
            None => self.legacy_seal_config(),
        }
    }

    /// Whether a previous share set still opens the vault (after a rekey
    /// whose new shares have not been used yet).
    pub fn previous_shares_valid(&self) -> Result<bool, BarrierError> {
        Ok(self
            .read_record()?
            .map(|r| r.unseal_keys.len() > 1)
            .unwrap_or(false))
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

    fn write_guard(&self) -> std::sync::RwLockReadGuard<'_, ()> {
        self.writes.read().unwrap_or_else(|p| p.into_inner())
    }

    fn unsealed(&self) -> Result<Arc<Keyring>, BarrierError> {
        self.read_keyring().ok_or(BarrierError::Sealed)
    }

    fn wrapping(
        unseal_key: &SecretBytes,
        root_key: &SecretBytes,
        config: &SealConfig,
        share_tag: Option<String>,
    ) -> Result<UnsealWrapping, BarrierError> {
        use base64::Engine;
        let wrapped = keyring::wrap_root_key(unseal_key, ROOT_KEY_AAD, root_key)?;
        // Verify before anything is written: the new unseal key opens it.
        let back = keyring::unwrap_root_key(unseal_key, ROOT_KEY_AAD, &wrapped)?;
        if back != *root_key {
            return Err(BarrierError::Crypto);
        }
        Ok(UnsealWrapping {
            config: config.clone(),
            share_tag,
            root_key: base64::engine::general_purpose::STANDARD.encode(wrapped),
        })
    }

    /// Creates a fresh keyring whose root key is wrapped by `unseal_key`
    /// and writes the seal record (marked "initializing") in one write.
    /// Leaves the barrier unsealed. Allowed on an empty store, or over an
    /// initialization that never completed (whose entries are removed
    /// first); refused on anything else.
    pub fn initialize(
        &self,
        unseal_key: &SecretBytes,
        config: &SealConfig,
    ) -> Result<(), BarrierError> {
        self.initialize_for_shares(unseal_key, config, None)
    }

    /// [`Barrier::initialize`], recording the fingerprint of the share set
    /// (see [`crate::seal::share_set_tag`]) so shares of other vaults are
    /// recognised.
    pub fn initialize_for_shares(
        &self,
        unseal_key: &SecretBytes,
        config: &SealConfig,
        share_tag: Option<String>,
    ) -> Result<(), BarrierError> {
        let _write = self.keyring_lock();
        match self.storage_state()? {
            StorageState::Empty => {}
            StorageState::Initializing => self.clear_unfinished_init()?,
            StorageState::Initialized => return Err(BarrierError::AlreadyInitialized),
            StorageState::Damaged(why) => return Err(BarrierError::Damaged(why)),
        }
        let keyring = Keyring::generate();
        let current = Self::wrapping(unseal_key, keyring.root_key(), config, share_tag)?;
        let record = SealRecord::new(&keyring.wrap(KEYRING_AAD)?, current);
        self.write_record(&record)?;
        self.set_keyring(Some(Arc::new(keyring)));
        Ok(())
    }

    /// Removes what an unfinished `sys/init` wrote; the seal record (still
    /// "initializing") goes last, so a crash here leaves a store that is
    /// still recognised as an unfinished initialization.
    fn clear_unfinished_init(&self) -> Result<(), BarrierError> {
        let ops: Vec<TxnOp> = self
            .physical
            .scan("")?
            .into_iter()
            .filter(|k| k != SEAL_RECORD_KEY)
            .map(TxnOp::Delete)
            .collect();
        if !ops.is_empty() {
            self.physical.transaction(ops)?;
        }
        Ok(())
    }

    /// Opens the keyring with the unseal key rebuilt from the shares. With
    /// the current share set, a previous set kept since the last rekey is
    /// forgotten (its wrapping removed in one write): the new shares have
    /// now been used.
    pub fn unseal(&self, unseal_key: &SecretBytes) -> Result<UnsealedWith, BarrierError> {
        let _write = self.keyring_lock();
        let Some(mut record) = self.read_record()? else {
            return self.unseal_legacy(unseal_key);
        };
        // An unfinished init opens too (only with its key, which nobody was
        // given); `sys/unseal` itself refuses before initialization.
        let (index, root_key) = Self::open_root_key(&record, unseal_key)?;
        let keyring = Keyring::unwrap(root_key, KEYRING_AAD, &record.keyring_bytes()?)?;
        if index == 0 && record.unseal_keys.len() > 1 {
            record.unseal_keys.truncate(1);
            // Unsealing must not depend on this write (a full disk): the
            // previous set is retired at the next unseal instead.
            if let Err(e) = self.write_record(&record) {
                tracing::warn!(
                    error = %e,
                    "could not retire the share set from before the last rekey; it keeps \
                     opening the vault until the next unseal with the new shares"
                );
            }
        }
        self.set_keyring(Some(Arc::new(keyring)));
        Ok(if index == 0 {
            UnsealedWith::Current
        } else {
            UnsealedWith::Previous
        })
    }

    /// The index of the wrapping `unseal_key` opens, and the root key.
    fn open_root_key(
        record: &SealRecord,
        unseal_key: &SecretBytes,
    ) -> Result<(usize, SecretBytes), BarrierError> {
        for (i, w) in record.unseal_keys.iter().enumerate() {
            if let Ok(k) =
                keyring::unwrap_root_key(unseal_key, ROOT_KEY_AAD, &w.wrapped_root_key()?)
            {
                return Ok((i, k));
            }
        }
        Err(BarrierError::Crypto)
    }

    /// Unseals a store in the old layout and replaces it by a seal record
    /// (written first; the old entries are deleted after, and ignored
    /// whenever a record exists).
    fn unseal_legacy(&self, unseal_key: &SecretBytes) -> Result<UnsealedWith, BarrierError> {
        if self.storage_state()? != StorageState::Initialized {
            return Err(BarrierError::NotInitialized);
        }
        let config = self
            .legacy_seal_config()?
            .ok_or(BarrierError::NotInitialized)?;
        let wrapped = self
            .physical
            .get(legacy::KEYRING_KEY)?
            .ok_or(BarrierError::NotInitialized)?;
        let keyring = Keyring::unwrap(
            keyring::legacy_root_key(unseal_key),
            legacy::KEYRING_KEY,
            &wrapped,
        )?;
        let current = Self::wrapping(unseal_key, keyring.root_key(), &config, None)?;
        let mut record = SealRecord::new(&keyring.wrap(KEYRING_AAD)?, current);
        record.initialized = true;
        self.write_record(&record)?;
        self.physical.transaction(
            legacy::ALL
                .iter()
                .map(|k| TxnOp::Delete(k.to_string()))
                .collect(),
        )?;
        self.set_keyring(Some(Arc::new(keyring)));
        Ok(UnsealedWith::Current)
    }

    /// The HA lock when the storage is shared by several nodes.
    pub fn ha_lock(&self) -> Option<Arc<dyn HaLock>> {
        self.physical.ha_lock()
    }

    /// Re-reads the keyring from storage, opened with the root key already
    /// held: a standby taking over sees the terms another node added since
    /// it unsealed.
    pub fn reload_keyring(&self) -> Result<(), BarrierError> {
        let _write = self.keyring_lock();
        let current = self.unsealed()?;
        let record = self.read_record()?.ok_or(BarrierError::NotInitialized)?;
        let keyring = Keyring::unwrap(
            current.root_key().clone(),
            KEYRING_AAD,
            &record.keyring_bytes()?,
        )?;
        self.set_keyring(Some(Arc::new(keyring)));
        Ok(())
    }

    /// Drops (and thereby zeroizes) all key material.
    pub fn seal(&self) {
        self.set_keyring(None);
    }

    /// Adds a new barrier key term; old terms keep decrypting. One write of
    /// the seal record (the keyring is re-encrypted under the same root key,
    /// so every share set that opened the vault still does).
    pub fn rotate(&self) -> Result<KeyStatus, BarrierError> {
        let _write = self.keyring_lock();
        let current = self.unsealed()?;
        let mut record = self.read_record()?.ok_or(BarrierError::NotInitialized)?;
        let next = current.with_new_term();
        record.set_keyring(&next.wrap(KEYRING_AAD)?);
        self.write_record(&record)?;
        let status = next.status(self.encryptions.load(Ordering::Relaxed));
        self.set_keyring(Some(Arc::new(next)));
        self.encryptions.store(0, Ordering::Relaxed);
        Ok(KeyStatus {
            encryptions: 0,
            ..status
        })
    }

    /// Rekey: wraps the root key under `new_unseal_key` (checked to open it
    /// before anything is written) and makes that share set current, in one
    /// write of the seal record. The share set that authorised the rekey
    /// (`old_unseal_key`) stays valid beside it until the new shares are
    /// first used (unseal, or authorising another rekey): if the response
    /// carrying the new shares never reaches the operator, the shares they
    /// hold still open the vault. Data is not re-encrypted.
    pub fn rekey(
        &self,
        old_unseal_key: &SecretBytes,
        new_unseal_key: &SecretBytes,
        config: &SealConfig,
        share_tag: Option<String>,
    ) -> Result<(), BarrierError> {
        let _write = self.keyring_lock();
        let current = self.unsealed()?;
        let mut record = self.read_record()?.ok_or(BarrierError::NotInitialized)?;
        let (index, root_key) = Self::open_root_key(&record, old_unseal_key)?;
        if root_key != *current.root_key() {
            return Err(BarrierError::Crypto);
        }
        let authorising = record.unseal_keys.swap_remove(index);
        let new = Self::wrapping(new_unseal_key, &root_key, config, share_tag)?;
        record.unseal_keys = vec![new, authorising];
        self.write_record(&record)
    }

    /// Rekey after verification (the operator proved they hold the new
    /// shares): the new share set becomes the only one, in one write.
    pub fn rekey_verified(
        &self,
        new_unseal_key: &SecretBytes,
        config: &SealConfig,
        share_tag: Option<String>,
    ) -> Result<(), BarrierError> {
        let _write = self.keyring_lock();
        let current = self.unsealed()?;
        let mut record = self.read_record()?.ok_or(BarrierError::NotInitialized)?;
        let new = Self::wrapping(new_unseal_key, current.root_key(), config, share_tag)?;
        record.unseal_keys = vec![new];
        self.write_record(&record)
    }

    /// Checks that `unseal_key` opens the stored keyring (used by rekey).
    pub fn verify_unseal_key(&self, unseal_key: &SecretBytes) -> Result<(), BarrierError> {
        match self.read_record()? {
            Some(r) => Self::open_root_key(&r, unseal_key).map(|_| ()),
            None => {
                let wrapped = self
                    .physical
                    .get(legacy::KEYRING_KEY)?
                    .ok_or(BarrierError::NotInitialized)?;
                Keyring::unwrap(
                    keyring::legacy_root_key(unseal_key),
                    legacy::KEYRING_KEY,
                    &wrapped,
                )
                .map(|_| ())
            }
        }
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
    ) -> Result<Plaintext, BarrierError> {
        if stored.len() < HEADER_LEN || stored[4] != VALUE_VERSION {
            return Err(BarrierError::Crypto);
        }
        let term = u32::from_be_bytes([stored[0], stored[1], stored[2], stored[3]]);
        let k = keyring.term(term).ok_or(BarrierError::Crypto)?;
        crypto::open(k.expose(), key.as_bytes(), &stored[HEADER_LEN..])
            .map(Zeroizing::new)
            .map_err(|_| BarrierError::Crypto)
    }

    pub(crate) fn get(&self, view: &str, path: &str) -> Result<Option<Plaintext>, BarrierError> {
        let kr = self.unsealed()?;
        let key = self.physical_key(&kr, view, path)?;
        match self.physical.get(&key)? {
            None => Ok(None),
            Some(v) => self.decrypt_value(&kr, &key, &v).map(Some),
        }
    }

    /// Installs the write observer (the first call wins).
    pub fn observe_writes(&self, observer: WriteObserver) {
        let _ = self.write_observer.set(observer);
    }

    /// Runs one physical write, timed for the observer.
    fn timed<T>(&self, write: impl FnOnce() -> T) -> T {
        let started = std::time::Instant::now();
        let out = write();
        if let Some(observe) = self.write_observer.get() {
            observe(started.elapsed());
        }
        out
    }

    pub(crate) fn put(&self, view: &str, path: &str, value: &[u8]) -> Result<(), BarrierError> {
        let _writing = self.write_guard();
        let kr = self.unsealed()?;
        let key = self.physical_key(&kr, view, path)?;
        let ct = self.encrypt_value(&kr, &key, value)?;
        Ok(self.timed(|| self.physical.put(&key, &ct))?)
    }

    pub(crate) fn delete(&self, view: &str, path: &str) -> Result<(), BarrierError> {
        let _writing = self.write_guard();
        let kr = self.unsealed()?;
        let key = self.physical_key(&kr, view, path)?;
        Ok(self.timed(|| self.physical.delete(&key))?)
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
        let _writing = self.write_guard();
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
        Ok(self.timed(|| self.physical.transaction(phys))?)
    }

    /// Makes every acknowledged write durable.
    pub fn flush(&self) -> Result<(), BarrierError> {
        Ok(self.physical.flush()?)
    }
}

#[cfg(test)]
mod tests;
