//! The seal record (`core/seal`): the one physical entry that says what the
//! vault is and how it opens.
//!
//! It holds, in one value, the seal configuration of each share set, the root
//! key wrapped under each set's unseal key, the keyring encrypted under the
//! root key, and whether `sys/init` completed. Every keyring or seal change
//! (init, rotate, rekey, end of a rekey's grace) rewrites this one entry, so
//! each is a single atomic write: a crash leaves the old record or the new
//! one, never a mix (no multi-key atomicity is asked of the storage engine).
//!
//! Owns: the record's format and the classification of a store (empty,
//! half-initialized, initialized, damaged). Must not touch: key material in
//! clear (everything secret in it is sealed by the keyring module).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde::{Deserialize, Serialize};

use super::BarrierError;
use crate::seal::SealConfig;

pub(super) const SEAL_RECORD_KEY: &str = "core/seal";
/// AAD of the keyring ciphertext inside the record.
pub(super) const KEYRING_AAD: &str = "core/seal#keyring";
/// AAD of each wrapped root key inside the record.
pub(super) const ROOT_KEY_AAD: &str = "core/seal#root-key";
const RECORD_VERSION: u32 = 1;

/// Entries of stores written before the seal record existed.
pub(super) mod legacy {
    pub const SEAL_CONFIG_KEY: &str = "core/seal-config";
    pub const KEYRING_KEY: &str = "core/keyring";
    pub const INIT_DONE_KEY: &str = "core/initialized";
    pub const ALL: [&str; 3] = [SEAL_CONFIG_KEY, KEYRING_KEY, INIT_DONE_KEY];
}

/// One share set that opens the vault: its configuration, the fingerprint
/// of its shares and the root key wrapped under its unseal key.
#[derive(Clone, Serialize, Deserialize)]
pub(super) struct UnsealWrapping {
    pub config: SealConfig,
    /// [`crate::seal::share_set_tag`] of the set; absent for a store
    /// migrated from the old layout (its shares were never seen).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share_tag: Option<String>,
    /// The root key sealed under the set's unseal key (base64).
    pub root_key: String,
}

impl UnsealWrapping {
    pub fn wrapped_root_key(&self) -> Result<Vec<u8>, BarrierError> {
        B64.decode(&self.root_key)
            .map_err(|_| BarrierError::Corrupt("seal record"))
    }
}

#[derive(Clone, Serialize, Deserialize)]
pub(super) struct SealRecord {
    pub version: u32,
    /// False while `sys/init` is still writing the vault's first entries.
    pub initialized: bool,
    /// The keyring sealed under the root key (base64).
    pub keyring: String,
    /// The share sets that open the vault: the current one first; after a
    /// rekey, the previous one second until the new shares are first used.
    pub unseal_keys: Vec<UnsealWrapping>,
}

impl SealRecord {
    pub fn new(keyring: &[u8], current: UnsealWrapping) -> SealRecord {
        SealRecord {
            version: RECORD_VERSION,
            initialized: false,
            keyring: B64.encode(keyring),
            unseal_keys: vec![current],
        }
    }

    pub fn decode(bytes: &[u8]) -> Result<SealRecord, BarrierError> {
        let r: SealRecord =
            serde_json::from_slice(bytes).map_err(|_| BarrierError::Corrupt("seal record"))?;
        if r.version != RECORD_VERSION || r.unseal_keys.is_empty() {
            return Err(BarrierError::Corrupt("seal record"));
        }
        Ok(r)
    }

    pub fn encode(&self) -> Result<Vec<u8>, BarrierError> {
        serde_json::to_vec(self).map_err(|_| BarrierError::Corrupt("seal record"))
    }

    pub fn keyring_bytes(&self) -> Result<Vec<u8>, BarrierError> {
        B64.decode(&self.keyring)
            .map_err(|_| BarrierError::Corrupt("seal record"))
    }

    pub fn set_keyring(&mut self, keyring: &[u8]) {
        self.keyring = B64.encode(keyring);
    }

    pub fn current(&self) -> &UnsealWrapping {
        &self.unseal_keys[0]
    }

    /// The wrapping whose shares carry `tag`; with no fingerprints recorded
    /// (migrated store) the current one.
    pub fn wrapping_for_tag(&self, tag: &str) -> Option<&UnsealWrapping> {
        if self.unseal_keys.iter().all(|w| w.share_tag.is_none()) {
            return Some(self.current());
        }
        self.unseal_keys
            .iter()
            .find(|w| w.share_tag.as_deref() == Some(tag))
    }
}

/// What a store holds, decided before anything is served from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageState {
    /// Nothing at all: `sys/init` may run.
    Empty,
    /// A `sys/init` started and did not complete (its shares were never
    /// returned): `sys/init` may run again and replaces it.
    Initializing,
    /// A complete vault.
    Initialized,
    /// Anything else: refused, never served as empty or uninitialized.
    Damaged(String),
}

impl StorageState {
    /// Classifies a store from what the caller read from it.
    pub(super) fn classify(
        record: Option<&[u8]>,
        legacy_present: [bool; 3],
        top_level: &[String],
        core_entries: &[String],
    ) -> StorageState {
        if let Some(bytes) = record {
            return match SealRecord::decode(bytes) {
                Ok(r) if r.initialized => StorageState::Initialized,
                Ok(_) => StorageState::Initializing,
                Err(_) => StorageState::Damaged(format!(
                    "the seal record ({SEAL_RECORD_KEY}) cannot be decoded"
                )),
            };
        }
        let [config, keyring, done] = legacy_present;
        if keyring || config || done {
            if !(keyring && config) {
                return StorageState::Damaged(
                    "the seal configuration or the keyring is missing".into(),
                );
            }
            if done {
                return StorageState::Initialized;
            }
            let only_core = top_level.iter().all(|k| k == "core/");
            let only_seal = core_entries
                .iter()
                .all(|k| k == "seal-config" || k == "keyring");
            return if only_core && only_seal {
                StorageState::Initializing
            } else {
                StorageState::Damaged(
                    "an initialization that never completed left data behind".into(),
                )
            };
        }
        if top_level.is_empty() {
            StorageState::Empty
        } else {
            StorageState::Damaged(
                "the storage holds data but no seal configuration or keyring".into(),
            )
        }
    }
}
