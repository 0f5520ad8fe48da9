//! Deterministic path encryption: each segment of a logical path is
//! encrypted with AES-256-SIV under the path key, with the view id and the
//! plaintext parent path as associated data, then base64url-encoded. Equal
//! paths give equal keys, so get/put are lookups and LIST is a prefix scan.
//!
//! The key schedules are built once per keyring ([`PathCipher`]), not per
//! segment: ciphers are lent out of a small pool and wiped when the pool
//! (the keyring) is dropped.

use std::sync::{Mutex, MutexGuard};

use aes_siv::siv::Aes256Siv;
use aes_siv::KeyInit;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine;

use super::BarrierError;
use crate::crypto::SecretBytes;

const DATA_PREFIX: &str = "d/";
/// Longest logical path accepted.
pub(crate) const MAX_PATH_LEN: usize = 4096;

/// Ciphers kept for reuse: one per request that encrypts a path at the
/// same moment, up to this many.
const SPARE_CIPHERS: usize = 16;

/// The AES-256-SIV cipher of the path key, built once and lent out.
///
/// The cipher type keeps its key material without wiping it when dropped,
/// so each cipher lives in a box of its own and, when no longer needed, is
/// overwritten in place by a cipher of an all-zero key ([`wipe`]).
pub(crate) struct PathCipher {
    key: SecretBytes,
    spare: Mutex<Spare>,
}

/// Boxed on purpose: lending a cipher out and back moves the pointer, never
/// the key material, so no stale copy is left in the vector's buffer.
#[allow(clippy::vec_box)]
type Spare = Vec<Box<Aes256Siv>>;

impl PathCipher {
    pub(crate) fn new(key: SecretBytes) -> PathCipher {
        PathCipher {
            key,
            spare: Mutex::new(Vec::new()),
        }
    }

    /// The path key itself (to store the keyring).
    pub(crate) fn key(&self) -> &SecretBytes {
        &self.key
    }

    fn spare(&self) -> MutexGuard<'_, Spare> {
        self.spare.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` with a cipher of the path key: a spare one, or a new one.
    fn with<R>(
        &self,
        f: impl FnOnce(&mut Aes256Siv) -> Result<R, BarrierError>,
    ) -> Result<R, BarrierError> {
        let taken = self.spare().pop();
        let mut c = match taken {
            Some(c) => c,
            None => Box::new(
                Aes256Siv::new_from_slice(self.key.expose()).map_err(|_| BarrierError::Crypto)?,
            ),
        };
        let out = f(&mut c);
        let mut spare = self.spare();
        if spare.len() < SPARE_CIPHERS {
            spare.push(c);
        } else {
            drop(spare);
            wipe(c);
        }
        out
    }

    /// How many ciphers wait for reuse.
    #[cfg(test)]
    pub(crate) fn spare_count(&self) -> usize {
        self.spare().len()
    }
}

impl Drop for PathCipher {
    fn drop(&mut self) {
        for c in self.spare().drain(..) {
            wipe(c);
        }
    }
}

/// Overwrites a cipher's memory with a cipher of an all-zero key before
/// the memory is freed.
fn wipe(mut c: Box<Aes256Siv>) {
    let zero = aes_siv::Key::<Aes256Siv>::default();
    *c = Aes256Siv::new(&zero);
    // The overwrite must not be optimised away as a dead store.
    std::hint::black_box(&*c);
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

/// Physical prefix of the folder `prefix` ("" or ending in '/').
pub(crate) fn encrypt_prefix(
    path_key: &PathCipher,
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
    path_key: &PathCipher,
    view: &str,
    path: &str,
) -> Result<String, BarrierError> {
    check_view(view)?;
    let segs = segments(path)?;
    // Each segment: 16 bytes of tag, base64url (4/3), and a '/'.
    let mut out = String::with_capacity(
        DATA_PREFIX.len() + view.len() + (path.len() + 17 * segs.len()) * 4 / 3 + segs.len(),
    );
    out.push_str(DATA_PREFIX);
    out.push_str(view);
    path_key.with(|c| {
        let mut parent_len = 0;
        for seg in segs {
            out.push('/');
            // The parent path is the plaintext before this segment.
            let parent = &path[..parent_len];
            let ct = c
                .encrypt([view.as_bytes(), parent.as_bytes()], seg.as_bytes())
                .map_err(|_| BarrierError::Crypto)?;
            B64URL.encode_string(ct, &mut out);
            parent_len += seg.len() + 1;
        }
        Ok(())
    })?;
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
    path_key: &PathCipher,
    view: &str,
    prefix: &str,
    child: &str,
) -> Result<String, BarrierError> {
    path_key.with(|c| match child.strip_suffix('/') {
        Some(folder) => Ok(format!("{}/", decrypt_segment(c, view, prefix, folder)?)),
        None => decrypt_segment(c, view, prefix, child),
    })
}

/// Decrypts a full physical key back to its logical path.
pub(crate) fn decrypt_path(
    path_key: &PathCipher,
    view: &str,
    key: &str,
) -> Result<String, BarrierError> {
    let head = format!("{DATA_PREFIX}{view}/");
    let rest = key.strip_prefix(&head).ok_or(BarrierError::Crypto)?;
    path_key.with(|c| {
        let mut parent = String::new();
        for enc in rest.split('/') {
            let seg = decrypt_segment(c, view, &parent, enc)?;
            parent.push_str(&seg);
            parent.push('/');
        }
        parent.pop();
        Ok(parent)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::random_secret;

    #[test]
    fn ciphers_are_reused_and_give_the_same_keys() {
        let key = random_secret(64);
        let pooled = PathCipher::new(key.clone());
        let a = encrypt_path(&pooled, "v", "app/db/password").unwrap();
        // One cipher served the whole path, and waits for the next one.
        assert_eq!(pooled.spare_count(), 1);
        let b = encrypt_path(&pooled, "v", "app/db/password").unwrap();
        assert_eq!(pooled.spare_count(), 1);
        assert_eq!(a, b);
        // A cipher built afresh gives the same physical key.
        let fresh = PathCipher::new(key);
        assert_eq!(encrypt_path(&fresh, "v", "app/db/password").unwrap(), a);
        assert_eq!(decrypt_path(&pooled, "v", &a).unwrap(), "app/db/password");
        let prefix = encrypt_prefix(&pooled, "v", "app/").unwrap();
        let child = a[prefix.len()..].split('/').next().unwrap();
        assert_eq!(
            decrypt_child(&pooled, "v", "app/", &format!("{child}/")).unwrap(),
            "db/"
        );
        // Different parents give different segments for the same name.
        let other = encrypt_path(&pooled, "v", "web/db/password").unwrap();
        assert_ne!(other.rsplit('/').next(), a.rsplit('/').next());
    }

    #[test]
    fn concurrent_use_builds_a_bounded_number_of_ciphers() {
        let pooled = std::sync::Arc::new(PathCipher::new(random_secret(64)));
        let want = encrypt_path(&pooled, "v", "a/b/c").unwrap();
        let threads: Vec<_> = (0..32)
            .map(|_| {
                let p = pooled.clone();
                let want = want.clone();
                std::thread::spawn(move || {
                    for _ in 0..50 {
                        assert_eq!(encrypt_path(&p, "v", "a/b/c").unwrap(), want);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let n = pooled.spare_count();
        assert!((1..=SPARE_CIPHERS).contains(&n), "{n}");
    }

    #[test]
    fn bad_ciphertext_is_an_error_not_a_panic() {
        let pooled = PathCipher::new(random_secret(64));
        for bad in ["d/v/!!", "d/v/AAAA", "d/w/x", "", "d/v/"] {
            assert!(decrypt_path(&pooled, "v", bad).is_err(), "{bad}");
        }
        // A failure does not lose the cipher.
        assert_eq!(pooled.spare_count(), 1);
    }
}
