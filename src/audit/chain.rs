//! The hash chain and the signed lines of an audit log.
//!
//! Every line of a log is one compact JSON object that ends with
//! `"seq":N,"prev":"<hex>"}`: `seq` counts lines (1, 2, 3, …, continuing
//! across restarts and rotated files) and `prev` is the SHA-256 (lower-case
//! hex) of the previous line's bytes, without its newline (`""` for the very
//! first line of a chain). Two kinds of lines are signed with the vault's
//! Ed25519 audit key:
//!
//! - a **header** starts every writer session (the first line of a file,
//!   and the first line after a restart or a reopen):
//!   `{"type":"header","version":1,"time":…,"device":"file/",
//!   "public_key":"<base64>","key_id":"<hex>",["torn_line":true,]
//!   ["lost_from_seq":N,]"seq":…,"prev":…,"sig":"<base64>"}`
//! - a **checkpoint** follows every N entries, T seconds after the first
//!   unsigned entry, before a reopen and at close:
//!   `{"type":"checkpoint","time":…,"device":"file/","seq":…,"prev":…,"sig":…}`
//!
//! The signature covers [`SIGNATURE_DOMAIN`] followed by the exact bytes of
//! the line with its `,"sig":"…"` member removed (so `…"prev":"<hex>"}`).
//! Because `prev` chains every earlier line, a valid checkpoint
//! authenticates everything before it.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::Serialize;

use crate::crypto::sha256_hex;

/// Version of the log format written in headers.
pub const LOG_FORMAT_VERSION: u64 = 1;
/// Prefix of every signed message (domain separation).
pub const SIGNATURE_DOMAIN: &[u8] = b"vault-rs audit log v1\n";
/// How the signature member starts; it is always the last member.
pub const SIG_MARKER: &str = ",\"sig\":\"";
/// `type` of a header line.
pub const TYPE_HEADER: &str = "header";
/// `type` of a checkpoint line.
pub const TYPE_CHECKPOINT: &str = "checkpoint";
/// `type` of the line a device writes after entries were dropped.
pub const TYPE_DROPPED: &str = "dropped";

/// Where the chain stands: the next line's `seq` and `prev`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainState {
    pub next_seq: u64,
    /// Hex SHA-256 of the last line ("" before the first line).
    pub prev: String,
}

impl Default for ChainState {
    fn default() -> Self {
        ChainState {
            next_seq: 1,
            prev: String::new(),
        }
    }
}

impl ChainState {
    /// Links the JSON object `body` into the chain; returns the line
    /// (without newline) and advances.
    pub fn link(&mut self, body: &str) -> String {
        let line = link(body, self.next_seq, &self.prev);
        self.advance(line.as_bytes());
        line
    }

    /// Records that `line` was appended.
    pub fn advance(&mut self, line: &[u8]) {
        self.next_seq += 1;
        self.prev = line_hash(line);
    }
}

/// The chain fields of an audit line (`seq`, `prev`, `type`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineTop {
    pub seq: u64,
    pub prev: String,
    /// `""` when the line has no `type`.
    pub kind: String,
}

#[derive(serde::Deserialize)]
struct TopFields {
    seq: Option<u64>,
    prev: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
}

/// Reads the chain fields of `line`, a JSON object; `None` if it is not
/// an audit line. The other fields are skipped, not built: a line of any
/// nesting depth is read (serde_json skips values without recursion), so
/// the writer and the verifier agree on every line the writer produces.
pub fn parse_top(line: &[u8]) -> Option<LineTop> {
    let top: TopFields = serde_json::from_slice(line).ok()?;
    Some(LineTop {
        seq: top.seq?,
        prev: top.prev?,
        kind: top.kind.unwrap_or_default(),
    })
}

/// SHA-256 (hex) of a line's bytes, without its newline.
pub fn line_hash(line: &[u8]) -> String {
    sha256_hex(line)
}

/// Appends `"seq":seq,"prev":"prev"` to the JSON object text `body`.
pub fn link(body: &str, seq: u64, prev: &str) -> String {
    let inner = body.trim_end().strip_suffix('}').unwrap_or(body).trim_end();
    let sep = if inner.ends_with('{') { "" } else { "," };
    format!("{inner}{sep}\"seq\":{seq},\"prev\":\"{prev}\"}}")
}

/// A short, stable identifier of a public key: the first 8 bytes of its
/// SHA-256, hex.
pub fn key_id(key: &VerifyingKey) -> String {
    sha256_hex(key.as_bytes())[..16].to_string()
}

/// The public key as written in headers: standard base64 of the 32 raw bytes.
pub fn encode_public_key(key: &VerifyingKey) -> String {
    B64.encode(key.as_bytes())
}

#[derive(Serialize)]
struct HeaderBody<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    version: u64,
    time: &'a str,
    device: &'a str,
    public_key: String,
    key_id: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    torn_line: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    lost_from_seq: Option<u64>,
}

#[derive(Serialize)]
struct CheckpointBody<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    time: &'a str,
    device: &'a str,
}

/// What a header says besides the key.
#[derive(Clone, Copy, Debug, Default)]
pub struct HeaderFlags {
    /// The previous line is an incomplete write (crash or failed write)
    /// that this header vouches for.
    pub torn_line: bool,
    /// The writer had written lines from this seq on that are no longer in
    /// the file (the file was truncated or replaced under it).
    pub lost_from_seq: Option<u64>,
}

/// A signed header line for `device`, linked into `chain`.
pub fn header_line(
    key: &SigningKey,
    device: &str,
    time: &str,
    flags: HeaderFlags,
    chain: &mut ChainState,
) -> String {
    let vk = key.verifying_key();
    let body = HeaderBody {
        kind: TYPE_HEADER,
        version: LOG_FORMAT_VERSION,
        time,
        device,
        public_key: encode_public_key(&vk),
        key_id: key_id(&vk),
        torn_line: flags.torn_line,
        lost_from_seq: flags.lost_from_seq,
    };
    signed_line(key, &to_json(&body), chain)
}

/// A signed checkpoint line for `device`, linked into `chain`.
pub fn checkpoint_line(
    key: &SigningKey,
    device: &str,
    time: &str,
    chain: &mut ChainState,
) -> String {
    let body = CheckpointBody {
        kind: TYPE_CHECKPOINT,
        time,
        device,
    };
    signed_line(key, &to_json(&body), chain)
}

fn to_json<T: Serialize>(v: &T) -> String {
    // Serialising these plain structs cannot fail.
    serde_json::to_string(v).unwrap_or_else(|_| "{}".to_string())
}

fn signed_line(key: &SigningKey, body: &str, chain: &mut ChainState) -> String {
    let linked = link(body, chain.next_seq, &chain.prev);
    let sig = key.sign(&signed_message(&linked));
    let line = format!(
        "{}{SIG_MARKER}{}\"}}",
        &linked[..linked.len() - 1],
        B64.encode(sig.to_bytes())
    );
    chain.advance(line.as_bytes());
    line
}

/// The message a signature covers for the unsigned line text `body`.
pub fn signed_message(body: &str) -> Vec<u8> {
    let mut m = Vec::with_capacity(SIGNATURE_DOMAIN.len() + body.len());
    m.extend_from_slice(SIGNATURE_DOMAIN);
    m.extend_from_slice(body.as_bytes());
    m
}

/// Splits a signed line into its unsigned text and signature; `None` if the
/// line does not end with a well-formed `,"sig":"…"}` member.
pub fn split_signed(line: &str) -> Option<(String, Signature)> {
    let idx = line.rfind(SIG_MARKER)?;
    let rest = line[idx + SIG_MARKER.len()..].strip_suffix("\"}")?;
    let bytes = B64.decode(rest).ok()?;
    let arr: [u8; 64] = bytes.as_slice().try_into().ok()?;
    Some((format!("{}}}", &line[..idx]), Signature::from_bytes(&arr)))
}

/// Checks the signature of a signed line.
pub fn verify_signed(line: &str, key: &VerifyingKey) -> bool {
    match split_signed(line) {
        Some((body, sig)) => key.verify_strict(&signed_message(&body), &sig).is_ok(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[7u8; 32])
    }

    #[test]
    fn link_appends_seq_and_prev() {
        assert_eq!(
            link("{\"a\":1}", 3, "ab"),
            "{\"a\":1,\"seq\":3,\"prev\":\"ab\"}"
        );
        assert_eq!(link("{}", 1, ""), "{\"seq\":1,\"prev\":\"\"}");
    }

    #[test]
    fn signed_lines_verify_and_detect_changes() {
        let k = key();
        let mut chain = ChainState::default();
        let h = header_line(
            &k,
            "file/",
            "2024-01-01T00:00:00Z",
            HeaderFlags::default(),
            &mut chain,
        );
        assert!(verify_signed(&h, &k.verifying_key()));
        assert_eq!(chain.next_seq, 2);
        assert_eq!(chain.prev, line_hash(h.as_bytes()));
        let c = checkpoint_line(&k, "file/", "2024-01-01T00:00:01Z", &mut chain);
        assert!(verify_signed(&c, &k.verifying_key()));
        let v: serde_json::Value = serde_json::from_str(&c).unwrap();
        assert_eq!(v["seq"], 2);
        assert_eq!(v["type"], "checkpoint");
        let changed = c.replace("00:00:01", "00:00:02");
        assert!(!verify_signed(&changed, &k.verifying_key()));
        let other = SigningKey::from_bytes(&[8u8; 32]);
        assert!(!verify_signed(&c, &other.verifying_key()));
        assert!(!verify_signed(
            "{\"type\":\"checkpoint\"}",
            &k.verifying_key()
        ));
    }
}
