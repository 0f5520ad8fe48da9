//! Named signing keys of the identity engine: their configuration, their
//! key versions (RS256, RS384, RS512, ES256, ES384 or EdDSA), scheduled
//! rotation with overlap, and the public JWKS.
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
//! Private keys (PKCS#8 DER) live only in storage (behind the barrier) and
//! in a [`SecretBytes`], zeroized when a [`KeyVersion`] drops; signing
//! copies one into the `jsonwebtoken` key for the length of one signature.
//! They are never returned, logged or shown by `Debug`. Must not touch roles' entries
//! (except reading them, via the caller), other mounts, tokens or HTTP.

use std::sync::Mutex;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use zeroize::Zeroizing;

use crate::barrier::StorageView;
use crate::crypto::SecretBytes;
use crate::logical::LogicalError;

use super::jwt::{self, SigningAlgorithm};

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

/// One key pair of a named key, of the key's algorithm at the time it was
/// made (an algorithm change rotates the key).
pub struct KeyVersion {
    pub kid: String,
    pub algorithm: SigningAlgorithm,
    /// The public JWK (`kid`, `alg`, `use: sig`), as published.
    pub jwk: Value,
    /// The private key, PKCS#8 v1 DER. Secret: never leaves this module
    /// but to sign; zeroized when dropped.
    private: SecretBytes,
    pub created: i64,
    /// When the key stops being published and accepted (None: current).
    pub expire_at: Option<i64>,
}

/// The storage form of a [`KeyVersion`]. Entries written before keys had
/// an algorithm hold an Ed25519 `seed` (32 bytes, base64) and its raw
/// public key instead of `pkcs8` and `jwk`; they load as EdDSA versions.
#[derive(Serialize, Deserialize)]
struct StoredVersion {
    kid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    algorithm: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    jwk: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pkcs8: Option<Zeroizing<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    seed: Option<Zeroizing<String>>,
    created: i64,
    #[serde(default)]
    expire_at: Option<i64>,
}

/// The PKCS#8 v1 prefix of an Ed25519 private key (RFC 8410): the DER of
/// a key is this followed by the 32-byte seed.
const ED25519_PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

impl Serialize for KeyVersion {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        StoredVersion {
            kid: self.kid.clone(),
            algorithm: Some(self.algorithm.as_str().to_string()),
            jwk: Some(self.jwk.clone()),
            pkcs8: Some(Zeroizing::new(STANDARD.encode(self.private.expose()))),
            seed: None,
            created: self.created,
            expire_at: self.expire_at,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for KeyVersion {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<KeyVersion, D::Error> {
        use serde::de::Error;
        let corrupt = || D::Error::custom("stored signing key is corrupt");
        let st = StoredVersion::deserialize(d)?;
        let algorithm = match st.algorithm.as_deref() {
            None => SigningAlgorithm::EdDSA,
            Some(a) => SigningAlgorithm::parse(a).ok_or_else(corrupt)?,
        };
        let private = match (&st.pkcs8, &st.seed) {
            (Some(p), _) => SecretBytes::new(STANDARD.decode(p.as_bytes()).map_err(|_| corrupt())?),
            (None, Some(seed)) if algorithm == SigningAlgorithm::EdDSA => {
                let raw = Zeroizing::new(STANDARD.decode(seed.as_bytes()).map_err(|_| corrupt())?);
                if raw.len() != 32 {
                    return Err(corrupt());
                }
                let mut der = Zeroizing::new(ED25519_PKCS8_PREFIX.to_vec());
                der.extend_from_slice(&raw);
                SecretBytes::from_slice(&der)
            }
            _ => return Err(corrupt()),
        };
        let jwk = match st.jwk {
            Some(j) => j,
            None => jwt::public_jwk(algorithm, &st.kid, private.expose()).map_err(|_| corrupt())?,
        };
        Ok(KeyVersion {
            kid: st.kid,
            algorithm,
            jwk,
            private,
            created: st.created,
            expire_at: st.expire_at,
        })
    }
}

impl std::fmt::Debug for KeyVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyVersion")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .field("created", &self.created)
            .field("expire_at", &self.expire_at)
            .finish_non_exhaustive()
    }
}

impl KeyVersion {
    fn generate(algorithm: SigningAlgorithm, now: i64) -> Result<KeyVersion, LogicalError> {
        let failed = |_| LogicalError::Internal("signing key generation failed".into());
        let kid = uuid::Uuid::new_v4().to_string();
        let private = algorithm.generate().map_err(failed)?;
        let jwk = jwt::public_jwk(algorithm, &kid, private.expose()).map_err(failed)?;
        Ok(KeyVersion {
            kid,
            algorithm,
            jwk,
            private,
            created: now,
            expire_at: None,
        })
    }

    /// Signs `claims` with this version.
    pub fn sign(&self, claims: &serde_json::Map<String, Value>) -> Result<String, LogicalError> {
        jwt::sign(self.algorithm, &self.kid, claims, self.private.expose())
            .map_err(|_| LogicalError::Internal("stored signing key is corrupt".into()))
    }

    /// Whether the key is still published and accepted at `now`.
    pub fn verifiable_at(&self, now: i64) -> bool {
        self.expire_at.is_none_or(|t| t > now)
    }

    /// The public JWK.
    pub fn jwk(&self) -> Value {
        self.jwk.clone()
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
    pub algorithm: Option<SigningAlgorithm>,
}

impl NamedKey {
    /// A new key with one fresh version.
    pub fn new(p: KeyParams, now: i64) -> Result<NamedKey, LogicalError> {
        let algorithm = p.algorithm.unwrap_or(SigningAlgorithm::RS256);
        let v = KeyVersion::generate(algorithm, now)?;
        let rotation_period = p.rotation_period.unwrap_or(DEFAULT_PERIOD);
        Ok(NamedKey {
            algorithm: algorithm.as_str().into(),
            rotation_period,
            verification_ttl: p.verification_ttl.unwrap_or(DEFAULT_PERIOD),
            allowed_client_ids: p.allowed_client_ids.unwrap_or_else(|| vec!["*".into()]),
            next_rotation: now.saturating_add(rotation_period as i64),
            current: v.kid.clone(),
            versions: vec![v],
        })
    }

    /// The algorithm new versions get.
    pub fn signing_algorithm(&self) -> SigningAlgorithm {
        SigningAlgorithm::parse(&self.algorithm).unwrap_or(SigningAlgorithm::EdDSA)
    }

    /// Applies an update; a new rotation period restarts the schedule, a
    /// new algorithm rotates the key (the old version stays verifiable for
    /// `verification_ttl`, as at any rotation).
    pub fn update(&mut self, p: KeyParams, now: i64) -> Result<(), LogicalError> {
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
        if let Some(a) = p.algorithm {
            if a != self.signing_algorithm() {
                self.algorithm = a.as_str().into();
                self.rotate(now, None)?;
            }
        }
        Ok(())
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
    pub fn rotate(&mut self, now: i64, verification_ttl: Option<u64>) -> Result<(), LogicalError> {
        let v = KeyVersion::generate(self.signing_algorithm(), now)?;
        let ttl = verification_ttl.unwrap_or(self.verification_ttl);
        let expire = now.saturating_add(ttl as i64);
        for v in &mut self.versions {
            if v.expire_at.is_none() {
                v.expire_at = Some(expire);
            }
        }
        self.current = v.kid.clone();
        self.versions.push(v);
        self.next_rotation = now.saturating_add(self.rotation_period as i64);
        self.prune(now);
        Ok(())
    }

    /// Drops versions past their verification window. True if any went.
    fn prune(&mut self, now: i64) -> bool {
        let before = self.versions.len();
        self.versions.retain(|v| v.verifiable_at(now));
        self.versions.len() != before
    }

    /// Rotates if due and prunes; true if the entry changed.
    fn refresh(&mut self, now: i64) -> Result<bool, LogicalError> {
        if now >= self.next_rotation {
            self.rotate(now, None)?;
            return Ok(true);
        }
        Ok(self.prune(now))
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
        if key.refresh(now)? {
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

/// The algorithm and public JWK of `kid`, if some key publishes it at
/// `now`.
pub fn find_public(
    storage: &StorageView,
    kid: &str,
    now: i64,
) -> Result<Option<(SigningAlgorithm, Value)>, LogicalError> {
    Ok(all(storage)?
        .iter()
        .flat_map(|k| k.versions.iter())
        .find(|v| v.kid == kid && v.verifiable_at(now))
        .map(|v| (v.algorithm, v.jwk())))
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
                algorithm: Some(SigningAlgorithm::ES256),
                ..KeyParams::default()
            },
            1000,
        )
        .unwrap();
        let first = k.current.clone();
        assert!(!k.refresh(1099).unwrap());
        assert!(k.refresh(1100).unwrap());
        assert_ne!(k.current, first);
        assert_eq!(k.versions.len(), 2);
        assert_eq!(k.next_rotation, 1200);
        let old = k.versions.iter().find(|v| v.kid == first).unwrap();
        assert_eq!(old.expire_at, Some(1150));
        assert!(old.verifiable_at(1149) && !old.verifiable_at(1150));
        assert!(k.refresh(1150).unwrap()); // pruned
        assert_eq!(k.versions.len(), 1);
        // the signing key matches the published key
        let cur = k.current().unwrap();
        let claims = json!({"sub": "x"}).as_object().cloned().unwrap();
        let token = cur.sign(&claims).unwrap();
        assert_eq!(
            jwt::verify(&token, &cur.jwk, cur.algorithm.jose()).unwrap(),
            claims
        );
        // Debug never shows the private key
        let shown = format!("{k:?}");
        let private_b64 = STANDARD.encode(cur.private.expose());
        assert!(!shown.contains(&private_b64), "{shown}");
        // the storage form round-trips
        let stored = serde_json::to_value(cur).unwrap();
        assert_eq!(stored["pkcs8"], json!(private_b64));
        assert_eq!(stored["algorithm"], "ES256");
        let back: KeyVersion = serde_json::from_value(stored).unwrap();
        assert_eq!(back.private, cur.private);
        assert_eq!(back.jwk, cur.jwk);
        let mut bad = serde_json::to_value(cur).unwrap();
        bad["pkcs8"] = json!("not base64!");
        assert!(serde_json::from_value::<KeyVersion>(bad).is_err());
        let mut bad = serde_json::to_value(cur).unwrap();
        bad["algorithm"] = json!("HS256");
        assert!(serde_json::from_value::<KeyVersion>(bad).is_err());
    }

    #[test]
    fn an_algorithm_change_rotates() {
        let mut k = NamedKey::new(KeyParams::default(), 0).unwrap();
        assert_eq!(k.algorithm, "RS256");
        assert_eq!(k.current().unwrap().jwk["kty"], "RSA");
        let first = k.current.clone();
        k.update(
            KeyParams {
                algorithm: Some(SigningAlgorithm::EdDSA),
                ..KeyParams::default()
            },
            10,
        )
        .unwrap();
        assert_ne!(k.current, first);
        assert_eq!(k.current().unwrap().jwk["crv"], "Ed25519");
        let old = k.versions.iter().find(|v| v.kid == first).unwrap();
        assert_eq!(old.algorithm, SigningAlgorithm::RS256);
        assert_eq!(old.expire_at, Some(10 + DEFAULT_PERIOD as i64));
    }

    #[test]
    fn entries_from_before_algorithms_load_as_eddsa() {
        // An Ed25519 version as stored before keys had an algorithm: the
        // seed and the raw public key (RFC 8032 test vector 1).
        let seed = hex::decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
            .unwrap();
        let public = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
        let stored = json!({
            "kid": "old",
            "public": public,
            "seed": STANDARD.encode(&seed),
            "created": 5,
            "expire_at": null,
        });
        let v: KeyVersion = serde_json::from_value(stored).unwrap();
        assert_eq!(v.algorithm, SigningAlgorithm::EdDSA);
        assert_eq!(v.jwk["x"], public);
        assert_eq!(v.jwk["kid"], "old");
        let claims = json!({"a": 1}).as_object().cloned().unwrap();
        let t = v.sign(&claims).unwrap();
        assert_eq!(jwt::verify(&t, &v.jwk, v.algorithm.jose()).unwrap(), claims);
        let short = json!({"kid": "old", "seed": STANDARD.encode([1u8; 31]), "created": 5});
        assert!(serde_json::from_value::<KeyVersion>(short).is_err());
    }

    #[test]
    fn allowed_client_ids() {
        let mut k = NamedKey::new(
            KeyParams {
                algorithm: Some(SigningAlgorithm::EdDSA),
                ..KeyParams::default()
            },
            0,
        )
        .unwrap();
        assert!(k.allows("anything"));
        k.allowed_client_ids = vec!["a".into()];
        assert!(k.allows("a") && !k.allows("b"));
    }
}
