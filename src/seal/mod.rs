//! The seal: Shamir splitting of the unseal key and the unseal progress.
//!
//! Owns: making the 64-byte unseal key, splitting it into shares with
//! `shamirsecretsharing`, decoding submitted shares (hex or base64), and
//! holding submitted shares (zeroized) until the threshold is met.
//! Must not touch: storage or the keyring; it hands the recovered unseal key
//! to the barrier and forgets it.

mod error;
pub mod pgp;
mod progress;
mod shamir;

pub use error::SealError;
pub use progress::UnsealProgress;
pub use shamir::{
    decode_share, new_unseal_key, share_set_tag, split, SealConfig, MAX_SHARES, UNSEAL_KEY_LEN,
};
