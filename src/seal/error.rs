//! Errors of the seal. None of them carries share or key bytes.

#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SealError {
    /// `secret_shares` / `secret_threshold` out of range.
    InvalidConfig(String),
    /// A submitted share is not valid hex/base64 of the right length.
    MalformedShare,
    /// The share was already submitted in this unseal attempt.
    DuplicateShare,
    /// The share belongs to another key (detected before combining): to
    /// another share set than the shares held, or to no share set of this
    /// vault.
    WrongShare,
    /// The share does not belong with the shares already held (another
    /// share set); the attempt was reset, as either side may be the wrong one.
    MismatchedShare,
    /// The threshold was reached but the shares did not combine; the
    /// attempt was reset.
    CombineFailed,
    /// The shares combined into a key that opens no share set of this vault
    /// (the attempt is over: its progress was reset).
    KeyMismatch,
}

/// What a failed attempt tells the operator: it is over, and how to go on.
const RESET_ADVICE: &str = "the progress was reset: submit the threshold number of key shares \
     again, starting over (`operator unseal -reset` also starts over at any time)";

impl std::fmt::Display for SealError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SealError::InvalidConfig(m) => write!(f, "invalid seal configuration: {m}"),
            SealError::MalformedShare => {
                f.write_str("invalid key share: must be the hex or base64 of a 113-byte share")
            }
            SealError::DuplicateShare => f.write_str("this key share was already provided"),
            SealError::WrongShare => {
                f.write_str("invalid key share: it does not belong to this vault's unseal key")
            }
            SealError::MismatchedShare => write!(
                f,
                "invalid key share: it does not belong with the key shares already given; \
                 {RESET_ADVICE}"
            ),
            SealError::KeyMismatch => write!(
                f,
                "unseal failed: the key shares do not open this vault (shares of another vault, \
                 or of a share set replaced by a rekey); {RESET_ADVICE}"
            ),
            SealError::CombineFailed => write!(
                f,
                "unseal failed: the key shares did not combine into the unseal key; \
                 {RESET_ADVICE}"
            ),
        }
    }
}

impl std::error::Error for SealError {}
