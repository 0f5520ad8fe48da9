//! Errors of the physical layer.

/// A storage failure. The message names the operation, never a value.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum PhysicalError {
    /// The storage engine reported an I/O or corruption error. The write
    /// that got it was not performed; later writes may succeed.
    Io(String),
    /// The storage could not be opened (path, permissions, lock).
    Open(String),
    /// A sync of the data files failed: data the kernel had accepted may be
    /// lost, so the backend refuses every write until the process restarts.
    Failed(String),
    /// The data directory failed an integrity check: it is damaged or
    /// truncated and is not opened.
    Corrupt(String),
    /// HA storage: this node does not hold the active lock (a standby, or
    /// an active that lost it), so the write was refused before it could
    /// commit.
    NotActive,
}

impl std::fmt::Display for PhysicalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PhysicalError::Io(m) => write!(f, "storage error: {m}"),
            PhysicalError::Open(m) => write!(f, "cannot open storage: {m}"),
            PhysicalError::Failed(m) => write!(
                f,
                "storage failed: {m}; writes are refused until the server restarts"
            ),
            PhysicalError::Corrupt(m) => write!(f, "storage is damaged: {m}"),
            PhysicalError::NotActive => {
                f.write_str("this node does not hold the active lock: writes are refused")
            }
        }
    }
}

impl std::error::Error for PhysicalError {}
