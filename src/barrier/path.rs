//! Deterministic path encryption: each segment of a logical path is
//! encrypted with AES-256-SIV under the path key, with the view id and the
//! plaintext parent path as associated data, then base64url-encoded. Equal
//! paths give equal keys, so get/put are lookups and LIST is a prefix scan.

use aes_siv::siv::Aes256Siv;
use aes_siv::KeyInit;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine;

use super::BarrierError;
use crate::crypto::SecretBytes;

const DATA_PREFIX: &str = "d/";
/// Longest logical path accepted.
pub(crate) const MAX_PATH_LEN: usize = 4096;

fn cipher(path_key: &SecretBytes) -> Result<Aes256Siv, BarrierError> {
    Aes256Siv::new_from_slice(path_key.expose()).map_err(|_| BarrierError::Crypto)
}

fn check_view(view: &str) -> Result<(), BarrierError> {
    if view.is_empty() || view.contains('/') {
        return Err(BarrierError::InvalidPath("bad storage view".into()));
    }
    Ok(())
}

fn segments(path: &str) -> Result<Vec<&str>, BarrierError> {
    if path.len() > MAX_PATH_LEN {
        return Err(BarrierError::InvalidPath("path too long".into()));
    }
    let segs: Vec<&str> = path.split('/').collect();
    if segs.iter().any(|s| s.is_empty() || *s == "." || *s == "..") {
        return Err(BarrierError::InvalidPath(
            "empty, '.' or '..' path segment".into(),
        ));
    }
    Ok(segs)
}

fn encrypt_segment(
    c: &mut Aes256Siv,
    view: &str,
    parent: &str,
    seg: &str,
) -> Result<String, BarrierError> {
    let ct = c
        .encrypt([view.as_bytes(), parent.as_bytes()], seg.as_bytes())
        .map_err(|_| BarrierError::Crypto)?;
    Ok(B64URL.encode(ct))
}

/// Physical prefix of the folder `prefix` ("" or ending in '/').
pub(crate) fn encrypt_prefix(
    path_key: &SecretBytes,
    view: &str,
    prefix: &str,
) -> Result<String, BarrierError> {
    check_view(view)?;
    let mut out = format!("{DATA_PREFIX}{view}/");
    if prefix.is_empty() {
        return Ok(out);
    }
    let Some(folder) = prefix.strip_suffix('/') else {
        return Err(BarrierError::InvalidPath(
            "list prefix must end in '/'".into(),
        ));
    };
    out.push_str(&encrypt_path(path_key, view, folder)?[out.len()..]);
    out.push('/');
    Ok(out)
}

/// Physical key of the logical `path` in `view`.
pub(crate) fn encrypt_path(
    path_key: &SecretBytes,
    view: &str,
    path: &str,
) -> Result<String, BarrierError> {
    check_view(view)?;
    let mut c = cipher(path_key)?;
    let mut out = format!("{DATA_PREFIX}{view}");
    let mut parent = String::new();
    for seg in segments(path)? {
        out.push('/');
        out.push_str(&encrypt_segment(&mut c, view, &parent, seg)?);
        parent.push_str(seg);
        parent.push('/');
    }
    Ok(out)
}

fn decrypt_segment(
    c: &mut Aes256Siv,
    view: &str,
    parent: &str,
    enc: &str,
) -> Result<String, BarrierError> {
    let ct = B64URL.decode(enc).map_err(|_| BarrierError::Crypto)?;
    let pt = c
        .decrypt([view.as_bytes(), parent.as_bytes()], &ct)
        .map_err(|_| BarrierError::Crypto)?;
    String::from_utf8(pt).map_err(|_| BarrierError::Crypto)
}

/// Decrypts one child returned by a physical LIST of `prefix`.
pub(crate) fn decrypt_child(
    path_key: &SecretBytes,
    view: &str,
    prefix: &str,
    child: &str,
) -> Result<String, BarrierError> {
    let mut c = cipher(path_key)?;
    match child.strip_suffix('/') {
        Some(folder) => Ok(format!(
            "{}/",
            decrypt_segment(&mut c, view, prefix, folder)?
        )),
        None => decrypt_segment(&mut c, view, prefix, child),
    }
}

/// Decrypts a full physical key back to its logical path.
pub(crate) fn decrypt_path(
    path_key: &SecretBytes,
    view: &str,
    key: &str,
) -> Result<String, BarrierError> {
    let head = format!("{DATA_PREFIX}{view}/");
    let rest = key.strip_prefix(&head).ok_or(BarrierError::Crypto)?;
    let mut c = cipher(path_key)?;
    let mut parent = String::new();
    for enc in rest.split('/') {
        let seg = decrypt_segment(&mut c, view, &parent, enc)?;
        parent.push_str(&seg);
        parent.push('/');
    }
    parent.pop();
    Ok(parent)
}
