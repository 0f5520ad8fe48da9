//! Cryptographic building blocks shared by the seal, the barrier, the token
//! store and the audit devices.
//!
//! Owns: secret newtypes (zeroized on drop, redacted in `Debug`, no
//! `Display`), the OS random source, XChaCha20-Poly1305 sealing, HKDF and
//! HMAC helpers, constant-time comparison and base62 encoding.
//! Must not touch: storage, HTTP, or any policy decision. Errors here are
//! opaque on purpose ("decryption failed"), never which byte or why.

mod aead;
mod encoding;
mod mac;
mod random;
mod secret;

pub use aead::{open, seal, AeadError, KEY_LEN, NONCE_LEN, TAG_LEN};
pub use encoding::{base62_encode, BASE62};
pub use mac::{ct_eq, hkdf_sha256, hmac_sha256, sha256, sha256_hex};
pub use random::{random_array, random_base62, random_bytes, random_secret};
pub use secret::{serialize_exposed, SecretBytes, SecretString};
