//! Named signing keys of the identity engine: their configuration, their
//! Ed25519 key versions, scheduled rotation with overlap, and the public
//! JWKS.
//!
//! Owns: the `oidc/key/<name>` entries of the identity mount's storage view.
//! Each entry holds the key's settings and its versions: the current one
//! (signs new tokens) and the rotated ones, kept until their `expire_at`
//! (rotation time + `verification_ttl`) so tokens they signed still verify.
//! A key rotates once `next_rotation` has passed — by the core's scheduler
//! ([`refresh_all_locked`], from the engine's `periodic` hook) — or on demand.
//! Reads (token issue, introspection, JWKS, key read) never write: they
//! use the stored versions, and publish or accept only those still
//! verifiable at the request's time.
//!
//! Private keys live only in storage (behind the barrier) and, while a
//! token is being signed, in an `ed25519_dalek::SigningKey` (zeroized on
//! drop); the seed is a [`SecretBytes`], zeroized when a [`KeyVersion`] drops. They are
//! never returned, logged or shown by `Debug`. Must not touch roles' entries
//! (except reading them, via the caller), other mounts, tokens or HTTP.

use std::sync::Mutex;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use zeroize::Zeroizing;

use crate::barrier::StorageView;
use crate::crypto::SecretBytes;
use crate::logical::LogicalError;

/// Storage prefix of named keys.
pub const KEY_PREFIX: &str = "oidc/key/";
/// Default rotation period and verification TTL: 24h.
pub const DEFAULT_PERIOD: u64 = 24 * 3600;

/// Serialises read-modify-write of one mount's key entries (rotation,
/// updates) and the key/role cross checks. Owned by the mount's
/// [`super::IdentityBackend`] instance.
#[derive(Default)]
pub struct KeyLock(Mutex<()>);

impl KeyLock {
    /// Takes the lock.
    pub fn lock(&self) -> std::sync::MutexGuard<'_, ()> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// One Ed25519 key pair of a named key.
#[derive(Serialize, Deserialize)]
pub struct KeyVersion {
    pub kid: String,
    /// The raw 32-byte public key, base64url (no padding), as in a JWK.
    pub public: String,
    /// The 32-byte private seed (stored as base64). Secret: never leaves
    /// this module; zeroized when dropped.
    #[serde(with = "seed_base64")]
    seed: SecretBytes,
    pub created: i64,
    /// When the key stops being published and accepted (None: current).
    #[serde(default)]
    pub expire_at: Option<i64>,
}

/// The seed's storage form: standard base64, with every intermediate copy
/// zeroized.
mod seed_base64 {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};
    use zeroize::Zeroizing;

    use crate::crypto::SecretBytes;

    pub fn serialize<S: Serializer>(seed: &SecretBytes, s: S) -> Result<S::Ok, S::Error> {
        let text = Zeroizing::new(STANDARD.encode(seed.expose()));
        s.serialize_str(&text)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SecretBytes, D::Error> {
        let text = Zeroizing::new(String::deserialize(d)?);
        let bytes = STANDARD
            .decode(text.as_bytes())
            .map_err(|_| serde::de::Error::custom("stored signing key is corrupt"))?;
        Ok(SecretBytes::new(bytes))
    }
}

impl std::fmt::Debug for KeyVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyVersion")
            .field("kid", &self.kid)
            .field("created", &self.created)
            .field("expire_at", &self.expire_at)
            .finish_non_exhaustive()
    }
}

impl KeyVersion {
    fn generate(now: i64) -> KeyVersion {
        let seed = Zeroizing::new(crate::crypto::random_array::<32>());
        let sk = SigningKey::from_bytes(&seed);
        KeyVersion {
            kid: uuid::Uuid::new_v4().to_string(),
            public: URL_SAFE_NO_PAD.encode(sk.verifying_key().to_bytes()),
            seed: SecretBytes::from_slice(seed.as_slice()),
            created: now,
            expire_at: None,
        }
    }

    /// The signing key (zeroized when dropped).
    pub fn signing_key(&self) -> Result<SigningKey, LogicalError> {
        let arr: Zeroizing<[u8; 32]> = Zeroizing::new(
            self.seed
                .expose()
                .try_into()
                .map_err(|_| LogicalError::Internal("stored signing key is corrupt".into()))?,
        );
        Ok(SigningKey::from_bytes(&arr))
    }

    /// The public key.
    pub fn verifying_key(&self) -> Option<VerifyingKey> {
        let raw: [u8; 32] = URL_SAFE_NO_PAD.decode(&self.public).ok()?.try_into().ok()?;
        VerifyingKey::from_bytes(&raw).ok()
    }

    /// Whether the key is still published and accepted at `now`.
    pub fn verifiable_at(&self, now: i64) -> bool {
        self.expire_at.is_none_or(|t| t > now)
    }

    /// The public JWK (RFC 8037 OKP).
    pub fn jwk(&self) -> Value {
        json!({
            "kty": "OKP",
            "crv": "Ed25519",
            "x": self.public,
            "kid": self.kid,
            "alg": super::jwt::ALG,
            "use": "sig",
        })
    }
}

/// A named key: settings and versions.
#[derive(Serialize, Deserialize, Debug)]
pub struct NamedKey {
    pub algorithm: String,
    pub rotation_period: u64,
    pub verification_ttl: u64,
    pub allowed_client_ids: Vec<String>,
    /// Unix time of the next scheduled rotation.
    pub next_rotation: i64,
    /// The kid of the version that signs.
    pub current: String,
    pub versions: Vec<KeyVersion>,
}

/// What a key write asks for (None: keep / default).
#[derive(Default)]
pub struct KeyParams {
    pub rotation_period: Option<u64>,
    pub verification_ttl: Option<u64>,
    pub allowed_client_ids: Option<Vec<String>>,
}

impl NamedKey {
    /// A new key with one fresh version.
    pub fn new(p: KeyParams, now: i64) -> NamedKey {
        let v = KeyVersion::generate(now);
        let rotation_period = p.rotation_period.unwrap_or(DEFAULT_PERIOD);
        NamedKey {
            algorithm: super::jwt::ALG.into(),
            rotation_period,
            verification_ttl: p.verification_ttl.unwrap_or(DEFAULT_PERIOD),
            allowed_client_ids: p.allowed_client_ids.unwrap_or_else(|| vec!["*".into()]),
            next_rotation: now.saturating_add(rotation_period as i64),
            current: v.kid.clone(),
            versions: vec![v],
        }
    }

    /// Applies an update; a new rotation period restarts the schedule.
    pub fn update(&mut self, p: KeyParams, now: i64) {
        if let Some(rp) = p.rotation_period {
            if rp != self.rotation_period {
                self.rotation_period = rp;
                self.next_rotation = now.saturating_add(rp as i64);
            }
        }
        if let Some(v) = p.verification_ttl {
            self.verification_ttl = v;
        }
        if let Some(ids) = p.allowed_client_ids {
            self.allowed_client_ids = ids;
        }
    }

    /// The version that signs new tokens.
    pub fn current(&self) -> Result<&KeyVersion, LogicalError> {
        self.versions
            .iter()
            .find(|v| v.kid == self.current)
            .ok_or_else(|| LogicalError::Internal("named key has no current version".into()))
    }

    /// Rotates: a new current version; the previous one stays verifiable
    /// for `verification_ttl` (this rotation's override, else the key's).
    pub fn rotate(&mut self, now: i64, verification_ttl: Option<u64>) {
        let ttl = verification_ttl.unwrap_or(self.verification_ttl);
        let expire = now.saturating_add(ttl as i64);
        for v in &mut self.versions {
            if v.expire_at.is_none() {
                v.expire_at = Some(expire);
            }
        }
        let v = KeyVersion::generate(now);
        self.current = v.kid.clone();
        self.versions.push(v);
        self.next_rotation = now.saturating_add(self.rotation_period as i64);
        self.prune(now);
    }

    /// Drops versions past their verification window. True if any went.
    fn prune(&mut self, now: i64) -> bool {
        let before = self.versions.len();
        self.versions.retain(|v| v.verifiable_at(now));
        self.versions.len() != before
    }

    /// Rotates if due and prunes; true if the entry changed.
    fn refresh(&mut self, now: i64) -> bool {
        if now >= self.next_rotation {
            self.rotate(now, None);
            return true;
        }
        self.prune(now)
    }

    /// Whether the key may sign for `client_id`.
    pub fn allows(&self, client_id: &str) -> bool {
        self.allowed_client_ids
            .iter()
            .any(|c| c == "*" || c == client_id)
    }

    /// The key's settings, for GET (never key material).
    pub fn describe(&self) -> serde_json::Map<String, Value> {
        let v = json!({
            "algorithm": self.algorithm,
            "rotation_period": self.rotation_period,
            "verification_ttl": self.verification_ttl,
            "allowed_client_ids": self.allowed_client_ids,
        });
        v.as_object().cloned().unwrap_or_default()
    }
}

fn path_of(name: &str) -> String {
    format!("{KEY_PREFIX}{name}")
}

/// Loads a key without rotating it.
pub fn load(storage: &StorageView, name: &str) -> Result<Option<NamedKey>, LogicalError> {
    Ok(storage.get_json(&path_of(name))?)
}

/// Stores a key.
pub fn save(storage: &StorageView, name: &str, key: &NamedKey) -> Result<(), LogicalError> {
    Ok(storage.put_json(&path_of(name), key)?)
}

/// Deletes a key.
pub fn delete(storage: &StorageView, name: &str) -> Result<(), LogicalError> {
    Ok(storage.delete(&path_of(name))?)
}

/// Names of all keys.
pub fn names(storage: &StorageView) -> Result<Vec<String>, LogicalError> {
    Ok(storage
        .list(KEY_PREFIX)?
        .into_iter()
        .filter(|k| !k.ends_with('/'))
        .collect())
}

/// What a scheduler pass did, and when the next one has work.
pub struct Refreshed {
    /// The keys it rotated.
    pub rotated: Vec<String>,
    /// The earliest time a key rotates or a version leaves its window
    /// (`i64::MAX`: never, as things stand).
    pub next_due: i64,
}

impl NamedKey {
    /// When this key next needs the scheduler.
    fn next_due(&self) -> i64 {
        self.versions
            .iter()
            .filter_map(|v| v.expire_at)
            .fold(self.next_rotation, i64::min)
    }
}

/// The scheduler's pass (the caller holds the mount's [`KeyLock`]):
/// rotates every key whose rotation is due at `now` and drops versions past
/// their verification window, one write per changed key.
pub fn refresh_all_locked(storage: &StorageView, now: i64) -> Result<Refreshed, LogicalError> {
    let mut out = Refreshed {
        rotated: Vec::new(),
        next_due: i64::MAX,
    };
    for name in names(storage)? {
        let Some(mut key) = load(storage, &name)? else {
            continue;
        };
        let due = now >= key.next_rotation;
        if key.refresh(now) {
            save(storage, &name, &key)?;
            if due {
                tracing::info!(key = %name, kid = %key.current, "identity signing key rotated on schedule");
                out.rotated.push(name);
            }
        }
        out.next_due = out.next_due.min(key.next_due());
    }
    Ok(out)
}

/// Every stored key (as stored: nothing is rotated or written).
fn all(storage: &StorageView) -> Result<Vec<NamedKey>, LogicalError> {
    let mut out = Vec::new();
    for name in names(storage)? {
        if let Some(k) = load(storage, &name)? {
            out.push(k);
        }
    }
    Ok(out)
}

/// The JWKS: every current and still verifiable public key of every key.
pub fn jwks(storage: &StorageView, now: i64) -> Result<Value, LogicalError> {
    let keys: Vec<Value> = all(storage)?
        .iter()
        .flat_map(|k| k.versions.iter())
        .filter(|v| v.verifiable_at(now))
        .map(KeyVersion::jwk)
        .collect();
    Ok(json!({ "keys": keys }))
}

/// The verifying key for `kid`, if some key publishes it at `now`.
pub fn find_verifying(
    storage: &StorageView,
    kid: &str,
    now: i64,
) -> Result<Option<VerifyingKey>, LogicalError> {
    Ok(all(storage)?
        .iter()
        .flat_map(|k| k.versions.iter())
        .find(|v| v.kid == kid && v.verifiable_at(now))
        .and_then(KeyVersion::verifying_key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_keeps_the_previous_version_for_the_verification_ttl() {
        let mut k = NamedKey::new(
            KeyParams {
                rotation_period: Some(100),
                verification_ttl: Some(50),
                ..KeyParams::default()
            },
            1000,
        );
        let first = k.current.clone();
        assert!(!k.refresh(1099));
        assert!(k.refresh(1100));
        assert_ne!(k.current, first);
        assert_eq!(k.versions.len(), 2);
        assert_eq!(k.next_rotation, 1200);
        let old = k.versions.iter().find(|v| v.kid == first).unwrap();
        assert_eq!(old.expire_at, Some(1150));
        assert!(old.verifiable_at(1149) && !old.verifiable_at(1150));
        assert!(k.refresh(1150)); // pruned
        assert_eq!(k.versions.len(), 1);
        // the signing key matches the published key
        let cur = k.current().unwrap();
        assert_eq!(
            cur.signing_key().unwrap().verifying_key(),
            cur.verifying_key().unwrap()
        );
        // Debug never shows the seed
        let shown = format!("{k:?}");
        let seed_b64 = base64::engine::general_purpose::STANDARD.encode(cur.seed.expose());
        assert!(!shown.contains(&seed_b64), "{shown}");
        // the storage form is unchanged: base64 of the 32-byte seed, and it
        // round-trips
        let stored = serde_json::to_value(cur).unwrap();
        assert_eq!(stored["seed"], json!(seed_b64));
        let back: KeyVersion = serde_json::from_value(stored).unwrap();
        assert_eq!(back.seed, cur.seed);
        let mut bad = serde_json::to_value(cur).unwrap();
        bad["seed"] = json!("not base64!");
        assert!(serde_json::from_value::<KeyVersion>(bad).is_err());
    }

    #[test]
    fn allowed_client_ids() {
        let mut k = NamedKey::new(KeyParams::default(), 0);
        assert!(k.allows("anything"));
        k.allowed_client_ids = vec!["a".into()];
        assert!(k.allows("a") && !k.allows("b"));
    }
}
