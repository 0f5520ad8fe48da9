//! Token storage, lookup (with a cache on the hot path), renewal and
//! revocation of whole trees.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use super::{TokenEntry, TokenError, TokenParams};
use crate::barrier::{Plaintext, StorageView};
use crate::crypto::{self, hmac_sha256, random_base62, SecretBytes, SecretString};
use crate::expiration::{ExpirationManager, LeaseKind};
use crate::sdk::Clock;

const TOKEN_PREFIX: &str = "hvs.";
/// The prefix of a batch token: the rest is the base64url of its sealed
/// entry.
pub const BATCH_PREFIX: &str = "hvb.";
/// Binds a batch token's ciphertext to its purpose.
const BATCH_AAD: &[u8] = b"vault-rs batch token v1";
/// Longest batch token accepted for decoding (a bound on work for garbage).
const BATCH_MAX_LEN: usize = 16 * 1024;
/// 33 base62 characters: about 196 bits from the OS CSPRNG (≥ 24 bytes).
const TOKEN_RANDOM_LEN: usize = 33;
/// Length of a service token (prefix included): the length of the one-time
/// pad that encodes a generated root token.
pub const SERVICE_TOKEN_LEN: usize = TOKEN_PREFIX.len() + TOKEN_RANDOM_LEN;

/// System lease bounds applied to tokens.
#[derive(Clone, Copy, Debug)]
pub struct TtlLimits {
    pub default_ttl: u64,
    pub max_ttl: u64,
}

pub struct TokenStore {
    view: StorageView,
    salt: SecretBytes,
    /// The key batch tokens are sealed under (kept in the barrier).
    batch_key: SecretBytes,
    limits: TtlLimits,
    cache: RwLock<HashMap<String, TokenEntry>>,
    expiration: Arc<ExpirationManager>,
    /// The expiration manager's clock (TTLs, expiry).
    clock: Arc<dyn Clock>,
    on_revoke: RwLock<Option<RevokeHook>>,
    /// Striped locks serialising every change to one token's entry
    /// (use counting, renewal, revocation, unwrapping).
    stripes: Vec<Mutex<()>>,
}

const LOCK_STRIPES: usize = 64;

/// Called for each token before it is revoked (e.g. to destroy its
/// cubbyhole); an error keeps the token and fails the revocation.
pub type RevokeHook = Box<dyn Fn(&TokenEntry) -> Result<(), TokenError> + Send + Sync>;

/// The lease id of a token: its creation path and storage key.
pub fn lease_id_of(e: &TokenEntry) -> String {
    format!("{}/{}", e.path.trim_end_matches('/'), e.key)
}

impl TokenStore {
    /// Opens the store in `view`, creating its salt on first use.
    pub fn open(
        view: StorageView,
        limits: TtlLimits,
        expiration: Arc<ExpirationManager>,
    ) -> Result<TokenStore, TokenError> {
        let salt = match view.get("salt")? {
            Some(s) => SecretBytes::from_slice(&s),
            None => {
                let s = crypto::random_secret(32);
                view.put("salt", s.expose())?;
                s
            }
        };
        let batch_key = match view.get("batch-key")? {
            Some(k) => SecretBytes::from_slice(&k),
            None => {
                let k = crypto::random_secret(crypto::KEY_LEN);
                view.put("batch-key", k.expose())?;
                k
            }
        };
        Ok(TokenStore {
            view,
            salt,
            batch_key,
            limits,
            cache: RwLock::new(HashMap::new()),
            clock: expiration.clock().clone(),
            expiration,
            on_revoke: RwLock::new(None),
            stripes: (0..LOCK_STRIPES).map(|_| Mutex::new(())).collect(),
        })
    }

    /// Installs the hook run before each token is revoked.
    pub fn set_on_revoke(&self, hook: RevokeHook) {
        *self.on_revoke.write().unwrap_or_else(|p| p.into_inner()) = Some(hook);
    }

    pub fn limits(&self) -> TtlLimits {
        self.limits
    }

    /// The clock token TTLs are counted on.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The storage key of a token: hex HMAC-SHA256(salt, token).
    pub fn key_of(&self, token: &str) -> String {
        hex::encode(hmac_sha256(self.salt.expose(), token.as_bytes()))
    }

    fn cache_put(&self, e: &TokenEntry) {
        self.cache
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(e.key.clone(), e.clone());
    }

    fn cache_drop(&self, key: &str) {
        self.cache
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }

    /// The TTL of a new token and the latest expiry renewals may reach
    /// (0 = unbounded, for periodic tokens), at `now`.
    ///
    /// The rule, as in Vault: a token's lifetime is bounded by the system
    /// max TTL and its own explicit max TTL; a non-orphan child is also
    /// bounded by its parent's max expiry ([`TokenParams::parent_max_expire`]),
    /// since it is revoked with its parent. An orphan has no parent, so
    /// only the first two bounds apply to it.
    fn compute_ttl(&self, p: &TokenParams, now: i64) -> (u64, i64) {
        let (ttl, max_expire) = self.own_ttl(p, now);
        let cap = p.parent_max_expire;
        if cap == 0 {
            return (ttl, max_expire);
        }
        let max_expire = if max_expire == 0 {
            cap
        } else {
            max_expire.min(cap)
        };
        let left = u64::try_from(max_expire.saturating_sub(now))
            .unwrap_or(0)
            .max(1);
        let ttl = if ttl == 0 { left } else { ttl.min(left) };
        (ttl, max_expire)
    }

    /// [`TokenStore::compute_ttl`] without the parent's bound. Every input
    /// is capped by the system max TTL, so no arithmetic can overflow.
    fn own_ttl(&self, p: &TokenParams, now: i64) -> (u64, i64) {
        let system_max = self.limits.max_ttl;
        let explicit = p.explicit_max_ttl.min(system_max);
        let max = if explicit > 0 { explicit } else { system_max };
        let root_no_ttl = p.policies.iter().any(|x| x == "root") && p.ttl == 0 && p.period == 0;
        if root_no_ttl {
            let max_expire = if explicit > 0 {
                add_secs(now, explicit)
            } else {
                0
            };
            return (explicit, max_expire);
        }
        let ttl = if p.period > 0 {
            p.period
        } else if p.ttl > 0 {
            p.ttl
        } else {
            self.limits.default_ttl
        }
        .min(system_max);
        let max_expire = if p.period > 0 && explicit == 0 {
            0
        } else {
            add_secs(now, max)
        };
        let ttl = if max_expire == 0 { ttl } else { ttl.min(max) };
        (ttl, max_expire)
    }

    /// Creates a token; returns the token (shown once) and its entry.
    pub fn create(&self, p: TokenParams) -> Result<(SecretString, TokenEntry), TokenError> {
        let token = match &p.id {
            Some(id) if !id.is_empty() => id.clone(),
            _ => format!("{TOKEN_PREFIX}{}", random_base62(TOKEN_RANDOM_LEN)),
        };
        let key = self.key_of(&token);
        if self.view.get(&format!("id/{key}"))?.is_some() {
            return Err(TokenError::BadRequest(
                "cannot create a token with a duplicate ID".into(),
            ));
        }
        let now = self.clock.unix();
        let (ttl, max_expire) = self.compute_ttl(&p, now);
        let entry = TokenEntry {
            key: key.clone(),
            accessor: random_base62(24),
            policies: p.policies,
            parent: p.parent,
            meta: p.meta,
            display_name: p.display_name,
            num_uses: p.num_uses,
            path: p.path,
            creation_time: now,
            creation_ttl: ttl,
            expire_time: if ttl == 0 { 0 } else { add_secs(now, ttl) },
            max_expire_time: max_expire,
            last_renewal: 0,
            explicit_max_ttl: p.explicit_max_ttl,
            period: p.period,
            renewable: p.renewable && ttl > 0,
            role: p.role,
            entity_id: String::new(),
            internal_meta: p.internal_meta,
            bound_cidrs: p.bound_cidrs,
            uses_exhausted: false,
            batch: false,
        };
        let mut ops = vec![
            (format!("id/{key}"), Some(json_bytes(&entry)?)),
            (
                format!("accessor/{}", entry.accessor),
                Some(key.clone().into_bytes()),
            ),
        ];
        if !entry.parent.is_empty() {
            ops.push((format!("parent/{}/{key}", entry.parent), Some(Vec::new())));
        }
        self.view.transaction(ops)?;
        self.cache_put(&entry);
        if entry.expire_time != 0 {
            let kind = LeaseKind::Token {
                key: entry.key.clone(),
            };
            self.expiration.register(
                &lease_id_of(&entry),
                kind,
                entry.expire_time,
                entry.renewable,
            )?;
        }
        Ok((SecretString::new(token), entry))
    }

    /// Creates a batch token: nothing is stored; the token is its entry,
    /// sealed under the store's batch key. No accessor, not renewable, no
    /// lease: it ends at its expiry, or with its parent.
    pub fn create_batch(&self, p: TokenParams) -> Result<(SecretString, TokenEntry), TokenError> {
        let now = self.clock.unix();
        let (ttl, max_expire) = self.compute_ttl(&p, now);
        let mut entry = TokenEntry {
            key: String::new(),
            accessor: String::new(),
            policies: p.policies,
            parent: p.parent,
            meta: p.meta,
            display_name: p.display_name,
            num_uses: 0,
            path: p.path,
            creation_time: now,
            creation_ttl: ttl,
            expire_time: if ttl == 0 { 0 } else { add_secs(now, ttl) },
            max_expire_time: max_expire,
            last_renewal: 0,
            explicit_max_ttl: p.explicit_max_ttl,
            period: 0,
            renewable: false,
            role: p.role,
            entity_id: String::new(),
            internal_meta: p.internal_meta,
            bound_cidrs: p.bound_cidrs,
            uses_exhausted: false,
            batch: true,
        };
        let sealed = crypto::seal(self.batch_key.expose(), BATCH_AAD, &json_bytes(&entry)?)
            .map_err(|_| TokenError::BadRequest("cannot seal the batch token".into()))?;
        use base64::Engine;
        let token = format!(
            "{BATCH_PREFIX}{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sealed)
        );
        entry.key = self.key_of(&token);
        Ok((SecretString::new(token), entry))
    }

    /// The entry a batch token carries, if it is one this store sealed and
    /// it is live: unexpired, and its parent (if any) not revoked.
    fn lookup_batch(&self, token: &str) -> Result<TokenEntry, TokenError> {
        use base64::Engine;
        let body = token
            .strip_prefix(BATCH_PREFIX)
            .filter(|b| b.len() <= BATCH_MAX_LEN)
            .ok_or(TokenError::Invalid)?;
        let sealed = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| TokenError::Invalid)?;
        let plain = crypto::open(self.batch_key.expose(), BATCH_AAD, &sealed)
            .map_err(|_| TokenError::Invalid)?;
        let mut entry: TokenEntry =
            serde_json::from_slice(&plain).map_err(|_| TokenError::Invalid)?;
        if !entry.batch || entry.is_expired(self.clock.unix()) {
            return Err(TokenError::Invalid);
        }
        if !entry.parent.is_empty() {
            // Revoked with its parent: the parent must still be live.
            self.lookup_key(&entry.parent)?;
        }
        entry.key = self.key_of(token);
        Ok(entry)
    }

    /// The live entry of `token`; expired or unknown → [`TokenError::Invalid`].
    pub fn lookup(&self, token: &str) -> Result<TokenEntry, TokenError> {
        if token.starts_with(BATCH_PREFIX) {
            return self.lookup_batch(token);
        }
        self.lookup_key(&self.key_of(token))
    }

    /// The live entry stored under `key` (an HMAC).
    pub fn lookup_key(&self, key: &str) -> Result<TokenEntry, TokenError> {
        let cached = self
            .cache
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
            .cloned();
        let entry = match cached {
            Some(e) => e,
            None => {
                let e: TokenEntry = self
                    .view
                    .get_json(&format!("id/{key}"))?
                    .ok_or(TokenError::Invalid)?;
                self.cache_put(&e);
                e
            }
        };
        if entry.is_expired(self.clock.unix()) || entry.uses_exhausted {
            return Err(TokenError::Invalid);
        }
        Ok(entry)
    }

    /// The lock of the token stored under `key`.
    fn lock(&self, key: &str) -> MutexGuard<'_, ()> {
        let h = key
            .bytes()
            .fold(0usize, |h, b| h.wrapping_mul(31).wrapping_add(b as usize));
        self.stripes[h % LOCK_STRIPES]
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// The stored entry, read under the caller's lock (never the cache).
    fn live_stored(&self, key: &str) -> Result<TokenEntry, TokenError> {
        let e: TokenEntry = self
            .view
            .get_json(&format!("id/{key}"))?
            .ok_or(TokenError::Invalid)?;
        if e.is_expired(self.clock.unix()) || e.uses_exhausted {
            return Err(TokenError::Invalid);
        }
        Ok(e)
    }

    /// The entry of the token with `accessor`.
    pub fn lookup_accessor(&self, accessor: &str) -> Result<TokenEntry, TokenError> {
        if accessor.is_empty() || accessor.contains('/') {
            return Err(TokenError::BadRequest("invalid accessor".into()));
        }
        let key = self
            .view
            .get(&format!("accessor/{accessor}"))?
            .ok_or_else(|| TokenError::BadRequest("invalid accessor".into()))?;
        let key = std::str::from_utf8(&key).map_err(|_| TokenError::Invalid)?;
        self.lookup_key(key)
            .map_err(|_| TokenError::BadRequest("invalid accessor".into()))
    }

    /// Spends one use of a limited-use token before its request runs.
    /// Returns true when that was the last use: the token is then refused
    /// by every other request and must be revoked when this one ends.
    pub fn spend_use(&self, key: &str) -> Result<bool, TokenError> {
        let _guard = self.lock(key);
        let mut e = self.live_stored(key)?;
        match e.num_uses {
            0 => return Ok(false),
            1 => e.uses_exhausted = true,
            _ => e.num_uses -= 1,
        }
        self.save(&e)?;
        Ok(e.uses_exhausted)
    }

    fn save(&self, e: &TokenEntry) -> Result<(), TokenError> {
        self.view.put(&format!("id/{}", e.key), &json_bytes(e)?)?;
        self.cache_put(e);
        Ok(())
    }

    /// Renews the token: a new TTL of `increment` (or its original TTL /
    /// period), never past its max expiry.
    pub fn renew(&self, key: &str, increment: Option<u64>) -> Result<TokenEntry, TokenError> {
        let _guard = self.lock(key);
        let mut e = self.live_stored(key)?;
        if !e.renewable {
            return Err(TokenError::BadRequest("lease is not renewable".into()));
        }
        let now = self.clock.unix();
        let base = if e.period > 0 {
            e.period
        } else {
            increment.filter(|i| *i > 0).unwrap_or(e.creation_ttl)
        };
        let base = base.min(self.limits.max_ttl);
        let mut expire = add_secs(now, base);
        if e.max_expire_time != 0 {
            expire = expire.min(e.max_expire_time);
        }
        e.expire_time = expire;
        e.last_renewal = now;
        self.save(&e)?;
        self.expiration.renewed(&lease_id_of(&e), expire)?;
        Ok(e)
    }

    /// Revokes the token under `key` and every non-orphan descendant.
    pub fn revoke_tree(&self, key: &str) -> Result<(), TokenError> {
        let mut stack = vec![key.to_string()];
        let mut order = Vec::new();
        while let Some(k) = stack.pop() {
            for child in self.view.list(&format!("parent/{k}/"))? {
                stack.push(child);
            }
            order.push(k);
        }
        for k in order.into_iter().rev() {
            self.revoke_one(&k)?;
        }
        Ok(())
    }

    /// Revokes only the token under `key`; its children become orphans.
    pub fn revoke_orphan(&self, key: &str) -> Result<(), TokenError> {
        for child in self.view.list(&format!("parent/{key}/"))? {
            let _guard = self.lock(&child);
            if let Some(mut c) = self.view.get_json::<TokenEntry>(&format!("id/{child}"))? {
                c.parent.clear();
                self.view.transaction(vec![
                    (format!("id/{child}"), Some(json_bytes(&c)?)),
                    (format!("parent/{key}/{child}"), None),
                ])?;
                self.cache_put(&c);
            }
        }
        self.revoke_one(key)
    }

    fn revoke_one(&self, key: &str) -> Result<(), TokenError> {
        let _guard = self.lock(key);
        self.revoke_one_locked(key)
    }

    /// Revokes one token; the caller holds its lock.
    fn revoke_one_locked(&self, key: &str) -> Result<(), TokenError> {
        let Some(e) = self.view.get_json::<TokenEntry>(&format!("id/{key}"))? else {
            self.cache_drop(key);
            return Ok(());
        };
        if let Some(hook) = self
            .on_revoke
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            hook(&e)?;
        }
        let mut ops = vec![
            (format!("id/{key}"), None),
            (format!("accessor/{}", e.accessor), None),
        ];
        if !e.parent.is_empty() {
            ops.push((format!("parent/{}/{key}", e.parent), None));
        }
        if e.is_wrapping() {
            ops.push((format!("wrapped/{key}"), None));
        }
        self.view.transaction(ops)?;
        self.cache_drop(key);
        if e.expire_time != 0 {
            self.expiration.remove(&lease_id_of(&e))?;
        }
        Ok(())
    }

    /// Every accessor.
    pub fn accessors(&self) -> Result<Vec<String>, TokenError> {
        Ok(self.view.list("accessor/")?)
    }

    /// Every stored token key (HMAC), for tidy and the expiration manager.
    pub fn keys(&self) -> Result<Vec<String>, TokenError> {
        Ok(self.view.list("id/")?)
    }

    /// The raw stored entry even when expired (for the expiration manager).
    pub fn stored(&self, key: &str) -> Result<Option<TokenEntry>, TokenError> {
        Ok(self.view.get_json(&format!("id/{key}"))?)
    }

    /// Removes dangling accessor and parent index entries.
    pub fn tidy(&self) -> Result<u64, TokenError> {
        let mut removed = 0;
        for acc in self.view.list("accessor/")? {
            let key = self
                .view
                .get(&format!("accessor/{acc}"))?
                .unwrap_or_default();
            let key = String::from_utf8_lossy(&key).to_string();
            if self.view.get(&format!("id/{key}"))?.is_none() {
                self.view.delete(&format!("accessor/{acc}"))?;
                removed += 1;
            }
        }
        for parent in self.view.list("parent/")? {
            let parent = parent.trim_end_matches('/');
            for child in self.view.list(&format!("parent/{parent}/"))? {
                if self.view.get(&format!("id/{child}"))?.is_none() {
                    self.view.delete(&format!("parent/{parent}/{child}"))?;
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }
}

/// `now + secs`, saturating.
fn add_secs(now: i64, secs: u64) -> i64 {
    now.saturating_add(i64::try_from(secs).unwrap_or(i64::MAX))
}

fn json_bytes<T: serde::Serialize>(v: &T) -> Result<Vec<u8>, TokenError> {
    serde_json::to_vec(v).map_err(|_| TokenError::BadRequest("cannot encode token entry".into()))
}

impl TokenStore {
    /// The store's storage view (token roles live here too).
    pub fn view(&self) -> &StorageView {
        &self.view
    }
}

impl TokenStore {
    /// Stores the response wrapped by the wrapping token under `key`.
    pub fn put_wrapped(&self, key: &str, response: &[u8]) -> Result<(), TokenError> {
        Ok(self.view.put(&format!("wrapped/{key}"), response)?)
    }

    /// Takes the wrapped response of `key` and revokes the wrapping token:
    /// a wrapping token works once.
    pub fn take_wrapped(&self, key: &str) -> Result<Option<Plaintext>, TokenError> {
        let _guard = self.lock(key);
        let Some(data) = self.view.get(&format!("wrapped/{key}"))? else {
            return Ok(None);
        };
        // Only the caller that removes the token gets the data.
        self.revoke_one_locked(key)?;
        Ok(Some(data))
    }

    /// Reads the wrapped response without consuming it.
    pub fn peek_wrapped(&self, key: &str) -> Result<Option<Plaintext>, TokenError> {
        Ok(self.view.get(&format!("wrapped/{key}"))?)
    }
}
