//! Errors of the barrier. Crypto failures are opaque.

use crate::physical::PhysicalError;

#[derive(Debug)]
#[non_exhaustive]
pub enum BarrierError {
    Sealed,
    NotInitialized,
    AlreadyInitialized,
    /// Decryption or authentication failed; deliberately says nothing more.
    Crypto,
    /// A system entry could not be decoded.
    Corrupt(&'static str),
    /// The store is neither empty nor a complete vault (see
    /// [`super::StorageState::Damaged`]); nothing is served from it.
    Damaged(String),
    /// A logical path is not acceptable (empty segment, "..", too long).
    InvalidPath(String),
    Physical(PhysicalError),
}

impl std::fmt::Display for BarrierError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BarrierError::Sealed => f.write_str("Vault is sealed"),
            BarrierError::NotInitialized => f.write_str("Vault is not initialized"),
            BarrierError::AlreadyInitialized => f.write_str("Vault is already initialized"),
            BarrierError::Crypto => f.write_str("decryption failed"),
            BarrierError::Corrupt(what) => write!(f, "stored {what} is corrupt"),
            BarrierError::Damaged(why) => write!(
                f,
                "the storage does not hold a complete vault ({why}); refusing to use it \
                 (restore it from a backup, or move it aside to start a new vault)"
            ),
            BarrierError::InvalidPath(m) => write!(f, "invalid path: {m}"),
            BarrierError::Physical(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for BarrierError {}

impl BarrierError {
    /// Shared (HA) storage refused a write: this node does not hold the
    /// active lock.
    pub fn is_not_active(&self) -> bool {
        matches!(self, BarrierError::Physical(PhysicalError::NotActive))
    }
}

impl From<PhysicalError> for BarrierError {
    fn from(e: PhysicalError) -> Self {
        BarrierError::Physical(e)
    }
}
