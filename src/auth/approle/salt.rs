//! The mount's HMAC key ("salt"): made on first use, kept in the mount's
//! storage (behind the barrier) under `salt`, cached in memory. Role ids,
//! secret ids and accessors are stored and indexed only as HMACs under it.

use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::barrier::StorageView;
use crate::crypto::{hmac_sha256, random_secret, SecretBytes};
use crate::logical::LogicalError;

const SALT_KEY: &str = "salt";
const SALT_LEN: usize = 32;

#[derive(Serialize, Deserialize)]
struct StoredSalt {
    key: String,
}

/// What an HMAC is of: keeps the three indexes apart.
#[derive(Clone, Copy)]
pub(super) enum Kind {
    RoleId,
    SecretId,
    Accessor,
}

impl Kind {
    fn label(self) -> &'static [u8] {
        match self {
            Kind::RoleId => b"role_id\0",
            Kind::SecretId => b"secret_id\0",
            Kind::Accessor => b"accessor\0",
        }
    }
}

/// The cached salt of one mount.
#[derive(Default)]
pub(super) struct SaltCache {
    key: Mutex<Option<SecretBytes>>,
}

impl SaltCache {
    /// The salt, loading or creating it on first use.
    fn get(&self, storage: &StorageView) -> Result<SecretBytes, LogicalError> {
        let mut slot = self.key.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(k) = slot.as_ref() {
            return Ok(k.clone());
        }
        let key = match storage.get_json::<StoredSalt>(SALT_KEY)? {
            Some(s) => SecretBytes::new(
                hex::decode(&s.key)
                    .map_err(|_| LogicalError::Internal("corrupt approle salt".into()))?,
            ),
            None => {
                let k = random_secret(SALT_LEN);
                storage.put_json(
                    SALT_KEY,
                    &StoredSalt {
                        key: hex::encode(k.expose()),
                    },
                )?;
                k
            }
        };
        *slot = Some(key.clone());
        Ok(key)
    }

    /// Hex HMAC-SHA256 of `value` under the mount's salt.
    pub(super) fn hmac(
        &self,
        storage: &StorageView,
        kind: Kind,
        value: &str,
    ) -> Result<String, LogicalError> {
        let key = self.get(storage)?;
        let mut input = Vec::with_capacity(kind.label().len() + value.len());
        input.extend_from_slice(kind.label());
        input.extend_from_slice(value.as_bytes());
        let mac = hmac_sha256(key.expose(), &input);
        zeroize::Zeroize::zeroize(&mut input);
        Ok(hex::encode(mac))
    }
}
