//! Snapshots: a point-in-time copy of the whole store, and its restore.
//!
//! A snapshot is the physical content as the barrier wrote it — every key
//! and value still encrypted, the seal record still wrapped by the unseal
//! shares — so it is useless without the shares of the vault it came
//! from. The file is:
//!
//! ```text
//! vault-rs snapshot\n
//! {header JSON}\n
//! entry*: key length (u32, BE) ‖ key ‖ value length (u32, BE) ‖ value
//! ```
//!
//! The header gives the format version, creation time, keyring term,
//! entry count, body length and SHA-256, and an Ed25519 signature over all
//! of that by a key derived from the vault's root key (HKDF-SHA256, its own
//! label), with the public half beside it. Keys in the body are strictly
//! increasing, so a reordered, truncated, extended or altered snapshot is
//! refused when read, before anything is replaced.
//!
//! Restoring into the running vault also requires the signature to be by
//! this vault's own key (unless forced: a snapshot of another vault), and
//! leaves the vault sealed. Restoring offline (an empty or stopped store)
//! checks the structure and the signature against the key the header
//! names: whoever can write the data directory can replace it anyway.
//!
//! Owns: the file format, its checks, the signing key's derivation.
//! Must not touch: anything above the barrier; it never decrypts an entry.

use std::io::{Read, Write};

use base64::Engine;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::keyring::Keyring;
use super::{Barrier, BarrierError, StorageState};
use crate::crypto;
use crate::physical::{self, Backend, InmemBackend};

/// The first line of every snapshot file.
const MAGIC: &[u8] = b"vault-rs snapshot\n";
/// The format this code writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// Longest header line accepted.
const MAX_HEADER: usize = 64 * 1024;
/// Longest key accepted (storage keys are far shorter).
const MAX_KEY: usize = 64 * 1024;
/// Largest value accepted.
const MAX_VALUE: usize = 512 * 1024 * 1024;
/// HKDF label of the signing key.
const SIGNING_INFO: &[u8] = b"vault-rs snapshot signing key v1";

/// Why a snapshot was refused or could not be taken or restored.
#[derive(Debug)]
#[non_exhaustive]
pub enum SnapshotError {
    /// The file is not a snapshot, or is truncated, extended or damaged.
    Malformed(String),
    /// The body does not match the header's length or SHA-256.
    Checksum,
    /// The header's signature does not verify.
    Signature,
    /// Signed by another vault (restore with `force` to accept it).
    OtherVault,
    /// The content is not a complete, initialized vault.
    NotAVault(String),
    /// A format version this build does not read.
    UnsupportedVersion(u32),
    Barrier(BarrierError),
    Io(String),
}

impl std::fmt::Display for SnapshotError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SnapshotError::Malformed(why) => write!(f, "not a valid snapshot: {why}"),
            SnapshotError::Checksum => {
                f.write_str("snapshot is damaged: its content does not match its SHA-256")
            }
            SnapshotError::Signature => f.write_str("snapshot signature does not verify"),
            SnapshotError::OtherVault => f.write_str(
                "snapshot was taken by another vault; restore it with force to replace this \
                 vault's data with it",
            ),
            SnapshotError::NotAVault(why) => {
                write!(f, "snapshot does not hold an initialized vault: {why}")
            }
            SnapshotError::UnsupportedVersion(v) => {
                write!(f, "snapshot format version {v} is not supported (this build reads {FORMAT_VERSION})")
            }
            SnapshotError::Barrier(e) => e.fmt(f),
            SnapshotError::Io(e) => write!(f, "snapshot I/O: {e}"),
        }
    }
}

impl std::error::Error for SnapshotError {}

impl From<BarrierError> for SnapshotError {
    fn from(e: BarrierError) -> Self {
        SnapshotError::Barrier(e)
    }
}

impl From<physical::PhysicalError> for SnapshotError {
    fn from(e: physical::PhysicalError) -> Self {
        SnapshotError::Barrier(BarrierError::Physical(e))
    }
}

fn io(e: std::io::Error) -> SnapshotError {
    SnapshotError::Io(e.to_string())
}

/// What the signature covers: every header field but the signature.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotInfo {
    pub format_version: u32,
    pub created_time: String,
    pub keyring_term: u32,
    pub storage_type: String,
    pub entry_count: u64,
    pub body_bytes: u64,
    /// Hex SHA-256 of the body.
    pub body_sha256: String,
    /// Base64 Ed25519 public key of the vault that signed it.
    pub public_key: String,
}

/// The header line: what is signed, and the signature.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SnapshotHeader {
    #[serde(flatten)]
    pub info: SnapshotInfo,
    /// Base64 Ed25519 signature over [`signed_bytes`] of `info`.
    pub signature: String,
}

/// A snapshot read and checked: its header and its entries, sorted.
pub struct Snapshot {
    pub header: SnapshotHeader,
    entries: Vec<(String, Vec<u8>)>,
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot")
            .field("header", &self.header)
            .field("entries", &self.entries.len())
            .finish()
    }
}

fn signed_bytes(info: &SnapshotInfo) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    // Serialising a plain struct cannot fail; an empty body would fail the
    // verification rather than pass it.
    out.extend(serde_json::to_vec(info).unwrap_or_default());
    out
}

fn signing_key(keyring: &Keyring) -> SigningKey {
    let mut seed = Zeroizing::new([0u8; 32]);
    crypto::hkdf_sha256(keyring.root_key().expose(), SIGNING_INFO, seed.as_mut());
    SigningKey::from_bytes(&seed)
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

fn encode_body(entries: &[(String, Vec<u8>)]) -> Result<Vec<u8>, SnapshotError> {
    let mut body = Vec::new();
    for (k, v) in entries {
        let klen =
            u32::try_from(k.len()).map_err(|_| SnapshotError::Malformed("key too long".into()))?;
        let vlen = u32::try_from(v.len())
            .map_err(|_| SnapshotError::Malformed("value too long".into()))?;
        body.extend_from_slice(&klen.to_be_bytes());
        body.extend_from_slice(k.as_bytes());
        body.extend_from_slice(&vlen.to_be_bytes());
        body.extend_from_slice(v);
    }
    Ok(body)
}

impl Barrier {
    /// Writes a snapshot of the whole store to `out` and returns its
    /// header. Needs the vault unsealed (the signing key comes from the
    /// root key); writers wait only while the entries are copied.
    pub fn snapshot(&self, out: &mut dyn Write) -> Result<SnapshotHeader, SnapshotError> {
        let keyring = self.unsealed()?;
        let entries = self.physical.export()?;
        let body = encode_body(&entries)?;
        let key = signing_key(&keyring);
        let info = SnapshotInfo {
            format_version: FORMAT_VERSION,
            // Real time: when the copy was taken, whatever the vault clock says.
            created_time: crate::sdk::Clock::rfc3339(&crate::sdk::SystemClock),
            keyring_term: keyring.active().0,
            storage_type: self.physical.kind().to_string(),
            entry_count: entries.len() as u64,
            body_bytes: body.len() as u64,
            body_sha256: crypto::sha256_hex(&body),
            public_key: b64().encode(key.verifying_key().as_bytes()),
        };
        let signature = key.sign(&signed_bytes(&info));
        let header = SnapshotHeader {
            info,
            signature: b64().encode(signature.to_bytes()),
        };
        let line = serde_json::to_vec(&header).map_err(|e| SnapshotError::Io(e.to_string()))?;
        out.write_all(MAGIC).map_err(io)?;
        out.write_all(&line).map_err(io)?;
        out.write_all(b"\n").map_err(io)?;
        out.write_all(&body).map_err(io)?;
        out.flush().map_err(io)?;
        Ok(header)
    }

    /// Seals the vault and replaces the whole store with `snapshot` in one
    /// atomic write (the restored seal record and keyring take effect at the
    /// next unseal, with the shares of the snapshot's vault). Needs the
    /// vault unsealed, and a snapshot signed by this vault unless `force`.
    /// If the write fails the vault stays sealed over its old content.
    pub fn restore_snapshot(&self, snapshot: Snapshot, force: bool) -> Result<(), SnapshotError> {
        let keyring = self.unsealed()?;
        let ours = b64().encode(signing_key(&keyring).verifying_key().as_bytes());
        if !force && !crypto::ct_eq(ours.as_bytes(), snapshot.header.info.public_key.as_bytes()) {
            return Err(SnapshotError::OtherVault);
        }
        let _keyring = self.keyring_lock();
        // Writes in flight finish first; every later one finds the vault
        // sealed, so none lands on top of the restored content.
        let _writes = self.writes.write().unwrap_or_else(|p| p.into_inner());
        self.seal();
        physical::replace_all(self.physical.as_ref(), snapshot.entries)?;
        Ok(())
    }
}

/// Restores `snapshot` into a store no vault is serving (offline restore):
/// one atomic write replacing everything.
pub fn restore_offline(backend: &dyn Backend, snapshot: Snapshot) -> Result<(), SnapshotError> {
    physical::replace_all(backend, snapshot.entries)?;
    backend.flush()?;
    Ok(())
}

impl Snapshot {
    /// Reads and checks a snapshot: format, length, SHA-256, key order,
    /// signature (against the key the header names), and that it holds an
    /// initialized vault. Nothing is written.
    pub fn read(input: &mut dyn Read) -> Result<Snapshot, SnapshotError> {
        let header = read_header(input)?;
        let mut body = Vec::new();
        input
            .take(header.info.body_bytes.saturating_add(1))
            .read_to_end(&mut body)
            .map_err(io)?;
        if body.len() as u64 != header.info.body_bytes {
            return Err(if (body.len() as u64) < header.info.body_bytes {
                SnapshotError::Malformed("truncated body".into())
            } else {
                SnapshotError::Malformed("data after the last entry".into())
            });
        }
        if crypto::sha256_hex(&body) != header.info.body_sha256 {
            return Err(SnapshotError::Checksum);
        }
        let entries = decode_body(&body)?;
        if entries.len() as u64 != header.info.entry_count {
            return Err(SnapshotError::Malformed(format!(
                "{} entries where the header says {}",
                entries.len(),
                header.info.entry_count
            )));
        }
        check_vault(&entries)?;
        Ok(Snapshot { header, entries })
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Reads the magic line and the header, and verifies the signature.
pub fn read_header(input: &mut dyn Read) -> Result<SnapshotHeader, SnapshotError> {
    let mut magic = vec![0u8; MAGIC.len()];
    input
        .read_exact(&mut magic)
        .map_err(|_| SnapshotError::Malformed("too short to be a snapshot".into()))?;
    if magic != MAGIC {
        return Err(SnapshotError::Malformed(
            "does not start with the snapshot marker".into(),
        ));
    }
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        let n = input.read(&mut byte).map_err(io)?;
        if n == 0 {
            return Err(SnapshotError::Malformed("truncated header".into()));
        }
        if byte[0] == b'\n' {
            break;
        }
        line.push(byte[0]);
        if line.len() > MAX_HEADER {
            return Err(SnapshotError::Malformed("header too long".into()));
        }
    }
    let header: SnapshotHeader = serde_json::from_slice(&line)
        .map_err(|e| SnapshotError::Malformed(format!("header: {e}")))?;
    if header.info.format_version != FORMAT_VERSION {
        return Err(SnapshotError::UnsupportedVersion(
            header.info.format_version,
        ));
    }
    verify_signature(&header)?;
    Ok(header)
}

fn verify_signature(header: &SnapshotHeader) -> Result<(), SnapshotError> {
    let key: [u8; 32] = b64()
        .decode(&header.info.public_key)
        .ok()
        .and_then(|k| k.try_into().ok())
        .ok_or(SnapshotError::Signature)?;
    let key = VerifyingKey::from_bytes(&key).map_err(|_| SnapshotError::Signature)?;
    let sig: [u8; 64] = b64()
        .decode(&header.signature)
        .ok()
        .and_then(|s| s.try_into().ok())
        .ok_or(SnapshotError::Signature)?;
    key.verify(&signed_bytes(&header.info), &Signature::from_bytes(&sig))
        .map_err(|_| SnapshotError::Signature)
}

fn take<'a>(body: &'a [u8], at: &mut usize, n: usize) -> Result<&'a [u8], SnapshotError> {
    let end = at
        .checked_add(n)
        .filter(|e| *e <= body.len())
        .ok_or_else(|| SnapshotError::Malformed("truncated entry".into()))?;
    let out = &body[*at..end];
    *at = end;
    Ok(out)
}

fn take_len(body: &[u8], at: &mut usize, max: usize) -> Result<usize, SnapshotError> {
    let raw: [u8; 4] = take(body, at, 4)?
        .try_into()
        .map_err(|_| SnapshotError::Malformed("truncated entry".into()))?;
    let n = u32::from_be_bytes(raw) as usize;
    if n > max {
        return Err(SnapshotError::Malformed("entry larger than allowed".into()));
    }
    Ok(n)
}

fn decode_body(body: &[u8]) -> Result<Vec<(String, Vec<u8>)>, SnapshotError> {
    let mut at = 0;
    let mut out: Vec<(String, Vec<u8>)> = Vec::new();
    while at < body.len() {
        let klen = take_len(body, &mut at, MAX_KEY)?;
        let key = std::str::from_utf8(take(body, &mut at, klen)?)
            .map_err(|_| SnapshotError::Malformed("a key is not UTF-8".into()))?
            .to_string();
        if key.is_empty() {
            return Err(SnapshotError::Malformed("an empty key".into()));
        }
        if let Some((prev, _)) = out.last() {
            if *prev >= key {
                return Err(SnapshotError::Malformed(
                    "entries out of order or repeated".into(),
                ));
            }
        }
        let vlen = take_len(body, &mut at, MAX_VALUE)?;
        let value = take(body, &mut at, vlen)?.to_vec();
        out.push((key, value));
    }
    Ok(out)
}

/// The entries must form an initialized vault: the barrier's own reading
/// of them, on a scratch in-memory store, says so.
fn check_vault(entries: &[(String, Vec<u8>)]) -> Result<(), SnapshotError> {
    let scratch = std::sync::Arc::new(InmemBackend::new());
    physical::replace_all(scratch.as_ref(), entries.to_vec())?;
    let barrier = Barrier::new(scratch);
    match barrier.storage_state()? {
        StorageState::Initialized => Ok(()),
        other => Err(SnapshotError::NotAVault(format!("{other:?}"))),
    }
}

#[cfg(test)]
mod tests;
