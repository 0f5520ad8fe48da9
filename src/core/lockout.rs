//! Login lockout (Vault's `user_lockout`): after `lockout_threshold`
//! failed logins of one alias on one auth mount, each within
//! `lockout_counter_reset` of the previous one, the alias is locked out
//! of that mount for `lockout_duration`; a login while locked is refused
//! without consulting the auth method. A successful login resets the
//! count. Times come from the core's clock.
//!
//! The alias is what the auth method names the login for (userpass: the
//! user name; AppRole: the role id), obtained before the login runs
//! (`LogicalBackend::login_alias`). The table lives in the unsealed state:
//! failure counts in memory only (a seal or restart starts them over), a
//! lockout also in storage (`locked-users/` in the core's view: one write
//! when an alias is locked, one delete when it is lifted), so a restart
//! does not lift it. It holds at most [`MAX_TRACKED`] aliases: when full,
//! expired counts are dropped first, then the oldest unlocked count (so a
//! flood of made-up names can neither exhaust memory nor lift a lockout).
//!
//! Owns: the per-(mount accessor, alias) counts, the stored lockouts, and
//! the lockout settings of a mount (`user_lockout_config` in its tune).
//! Must not touch: the login itself.

use std::collections::HashMap;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::barrier::{BarrierError, StorageView};

/// Where lockouts are stored, in the core's view.
const STORED: &str = "locked-users/";

/// A stored lockout.
#[derive(Serialize, Deserialize)]
struct StoredLock {
    accessor: String,
    alias: String,
    locked_at: i64,
    until: i64,
}

/// The storage path of a lockout (the alias hex-encoded: a role id may
/// hold any character).
fn stored_path(accessor: &str, alias: &str) -> String {
    format!("{STORED}{}/{}", hex::encode(accessor), hex::encode(alias))
}

/// Aliases tracked at most (failure counts and lockouts together).
pub const MAX_TRACKED: usize = 100_000;

pub use crate::router::UserLockoutConfig;

/// Vault's defaults: 5 failures, locked 15 minutes, count reset after 15
/// minutes without a failure.
pub const DEFAULT_THRESHOLD: u64 = 5;
pub const DEFAULT_DURATION: u64 = 15 * 60;
pub const DEFAULT_COUNTER_RESET: u64 = 15 * 60;

/// The settings in force for a mount.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Effective {
    pub threshold: u64,
    pub duration: u64,
    pub counter_reset: u64,
    pub disabled: bool,
}

/// Reading and changing a mount's [`UserLockoutConfig`].
pub trait LockoutSettings {
    fn effective(&self) -> Effective;
    fn apply(&mut self, data: &Map<String, Value>) -> Result<(), String>;
    fn to_json(&self) -> Value;
}

impl LockoutSettings for UserLockoutConfig {
    fn effective(&self) -> Effective {
        Effective {
            threshold: self.lockout_threshold.unwrap_or(DEFAULT_THRESHOLD),
            duration: self.lockout_duration.unwrap_or(DEFAULT_DURATION),
            counter_reset: self.lockout_counter_reset.unwrap_or(DEFAULT_COUNTER_RESET),
            disabled: self.lockout_disable.unwrap_or(false),
        }
    }

    /// Applies the fields present in a tune request's `user_lockout_config`
    /// (durations as seconds or Vault duration strings; `threshold` 0 is
    /// refused, as a lockout after zero failures would lock everyone).
    fn apply(&mut self, data: &Map<String, Value>) -> Result<(), String> {
        for (k, v) in data {
            match k.as_str() {
                "lockout_threshold" => {
                    let n = uint(k, v)?;
                    if n == 0 {
                        return Err("lockout_threshold must be at least 1".into());
                    }
                    self.lockout_threshold = Some(n);
                }
                "lockout_duration" => self.lockout_duration = Some(seconds(k, v)?),
                // Vault's name, and the name it stores the setting under.
                "lockout_counter_reset_duration" | "lockout_counter_reset" => {
                    self.lockout_counter_reset = Some(seconds(k, v)?)
                }
                "lockout_disable" => {
                    self.lockout_disable = Some(match v {
                        Value::Bool(b) => *b,
                        Value::String(s) => s
                            .parse::<bool>()
                            .map_err(|_| format!("{k}: expected a boolean"))?,
                        _ => return Err(format!("{k}: expected a boolean")),
                    })
                }
                other => return Err(format!("unknown user_lockout_config field \"{other}\"")),
            }
        }
        Ok(())
    }

    /// The settings as Vault's tune read shows them: flat
    /// `user_lockout_*` fields, defaults filled in.
    fn to_json(&self) -> Value {
        let e = self.effective();
        json!({
            "user_lockout_threshold": e.threshold,
            "user_lockout_duration": e.duration,
            "user_lockout_counter_reset_duration": e.counter_reset,
            "user_lockout_disable": e.disabled,
        })
    }
}

fn uint(k: &str, v: &Value) -> Result<u64, String> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse::<u64>().ok(),
        _ => None,
    }
    .ok_or_else(|| format!("{k}: expected a non-negative integer"))
}

fn seconds(k: &str, v: &Value) -> Result<u64, String> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => crate::sdk::parse_duration(s),
        _ => None,
    }
    .ok_or_else(|| format!("{k}: expected a duration"))
}

#[derive(Clone, Debug)]
struct Entry {
    failures: u64,
    last_failure: i64,
    /// When locked: (locked at, locked until).
    locked: Option<(i64, i64)>,
}

/// One locked alias, as `sys/locked-users` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Locked {
    pub mount_accessor: String,
    pub alias: String,
    pub locked_at: i64,
}

/// Failure counts and lockouts, by (mount accessor, alias).
#[derive(Default)]
pub struct Lockouts {
    entries: Mutex<HashMap<(String, String), Entry>>,
    /// Where lockouts are kept across restarts (`None`: memory only).
    storage: Option<StorageView>,
}

impl Lockouts {
    /// The table over `storage`, with the stored lockouts that have not
    /// ended at `now` (ended ones are deleted).
    pub fn open(storage: StorageView, now: i64) -> Result<Lockouts, BarrierError> {
        let mut entries = HashMap::new();
        for path in storage.scan(STORED)? {
            let Some(l) = storage.get_json::<StoredLock>(&path)? else {
                continue;
            };
            if now >= l.until {
                storage.delete(&path)?;
                continue;
            }
            entries.insert(
                (l.accessor, l.alias),
                Entry {
                    failures: 0,
                    last_failure: l.locked_at,
                    locked: Some((l.locked_at, l.until)),
                },
            );
        }
        Ok(Lockouts {
            entries: Mutex::new(entries),
            storage: Some(storage),
        })
    }

    /// Stores a new lockout (a failure is logged: the lockout holds in
    /// memory all the same).
    fn store(&self, accessor: &str, alias: &str, locked_at: i64, until: i64) {
        let Some(view) = &self.storage else { return };
        let lock = StoredLock {
            accessor: accessor.to_string(),
            alias: alias.to_string(),
            locked_at,
            until,
        };
        if let Err(e) = view.put_json(&stored_path(accessor, alias), &lock) {
            tracing::warn!(error = %e, "cannot store a login lockout");
        }
    }

    /// Deletes a stored lockout.
    fn unstore(&self, accessor: &str, alias: &str) {
        let Some(view) = &self.storage else { return };
        if let Err(e) = view.delete(&stored_path(accessor, alias)) {
            tracing::warn!(error = %e, "cannot delete a stored login lockout");
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether `alias` is locked out of the mount at `now` (an expired
    /// lockout is lifted, and its count with it).
    pub fn is_locked(&self, accessor: &str, alias: &str, now: i64) -> bool {
        let mut map = self.lock();
        let key = (accessor.to_string(), alias.to_string());
        match map.get(&key).and_then(|e| e.locked) {
            Some((_, until)) if now < until => true,
            Some(_) => {
                map.remove(&key);
                self.unstore(accessor, alias);
                false
            }
            None => false,
        }
    }

    /// Records a failed login; `true` when it locks the alias out.
    pub fn failed(&self, accessor: &str, alias: &str, settings: Effective, now: i64) -> bool {
        let mut map = self.lock();
        let key = (accessor.to_string(), alias.to_string());
        if !map.contains_key(&key) && map.len() >= MAX_TRACKED {
            make_room(&mut map, settings, now);
            if map.len() >= MAX_TRACKED {
                return false;
            }
        }
        let entry = map.entry(key).or_insert(Entry {
            failures: 0,
            last_failure: now,
            locked: None,
        });
        if let Some((_, until)) = entry.locked {
            if now < until {
                return false;
            }
            entry.locked = None;
            entry.failures = 0;
            self.unstore(accessor, alias);
        }
        let window = i64::try_from(settings.counter_reset).unwrap_or(i64::MAX);
        if now.saturating_sub(entry.last_failure) >= window {
            entry.failures = 0;
        }
        entry.failures += 1;
        entry.last_failure = now;
        if entry.failures >= settings.threshold {
            let duration = i64::try_from(settings.duration).unwrap_or(i64::MAX);
            let until = now.saturating_add(duration);
            entry.locked = Some((now, until));
            self.store(accessor, alias, now, until);
            return true;
        }
        false
    }

    /// A successful login: the count starts over.
    pub fn succeeded(&self, accessor: &str, alias: &str) {
        let mut map = self.lock();
        if !map.is_empty() {
            map.remove(&(accessor.to_string(), alias.to_string()));
        }
    }

    /// Lifts a lockout (the operator's `unlock`); `false` when the alias
    /// was not locked.
    pub fn unlock(&self, accessor: &str, alias: &str, now: i64) -> bool {
        let mut map = self.lock();
        let key = (accessor.to_string(), alias.to_string());
        let stored = map.remove(&key).and_then(|e| e.locked);
        if stored.is_some() {
            self.unstore(accessor, alias);
        }
        stored.is_some_and(|(_, until)| now < until)
    }

    /// Forgets every count and lockout of a mount (it was disabled).
    pub fn forget_mount(&self, accessor: &str) {
        let mut map = self.lock();
        let gone: Vec<String> = map
            .iter()
            .filter(|((a, _), e)| a == accessor && e.locked.is_some())
            .map(|((_, alias), _)| alias.clone())
            .collect();
        map.retain(|(a, _), _| a != accessor);
        for alias in gone {
            self.unstore(accessor, &alias);
        }
    }

    /// The aliases locked at `now`, by accessor then alias.
    pub fn locked(&self, now: i64) -> Vec<Locked> {
        let mut out: Vec<Locked> = self
            .lock()
            .iter()
            .filter_map(|((accessor, alias), e)| {
                let (at, until) = e.locked?;
                (now < until).then(|| Locked {
                    mount_accessor: accessor.clone(),
                    alias: alias.clone(),
                    locked_at: at,
                })
            })
            .collect();
        out.sort_by(|a, b| (&a.mount_accessor, &a.alias).cmp(&(&b.mount_accessor, &b.alias)));
        out
    }

    /// How many aliases are locked at `now`.
    pub fn locked_count(&self, now: i64) -> usize {
        self.lock()
            .values()
            .filter(|e| e.locked.is_some_and(|(_, until)| now < until))
            .count()
    }
}

/// Drops counts whose window has passed and lockouts that have ended;
/// if that frees nothing, the unlocked count with the oldest failure.
fn make_room(map: &mut HashMap<(String, String), Entry>, settings: Effective, now: i64) {
    let window = i64::try_from(settings.counter_reset).unwrap_or(i64::MAX);
    map.retain(|_, e| match e.locked {
        Some((_, until)) => now < until,
        None => now.saturating_sub(e.last_failure) < window,
    });
    if map.len() < MAX_TRACKED {
        return;
    }
    let oldest = map
        .iter()
        .filter(|(_, e)| e.locked.is_none())
        .min_by_key(|(_, e)| e.last_failure)
        .map(|(k, _)| k.clone());
    if let Some(k) = oldest {
        map.remove(&k);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> Effective {
        UserLockoutConfig::default().effective()
    }

    #[test]
    fn locks_after_threshold_within_window_and_expires() {
        let l = Lockouts::default();
        let s = defaults();
        for i in 0..4 {
            assert!(!l.failed("acc", "bob", s, 1000 + i));
        }
        assert!(!l.is_locked("acc", "bob", 1004));
        assert!(l.failed("acc", "bob", s, 1004));
        assert!(l.is_locked("acc", "bob", 1005));
        assert!(!l.is_locked("acc", "alice", 1005));
        assert!(!l.is_locked("other", "bob", 1005));
        assert_eq!(l.locked(1005).len(), 1);
        assert_eq!(l.locked_count(1005), 1);
        // Locked for 15 minutes from the fifth failure.
        assert!(l.is_locked("acc", "bob", 1004 + 899));
        assert!(!l.is_locked("acc", "bob", 1004 + 900));
        assert_eq!(l.locked_count(1004 + 900), 0);
    }

    #[test]
    fn counter_resets_after_quiet_window_and_on_success() {
        let l = Lockouts::default();
        let s = defaults();
        for i in 0..4 {
            l.failed("acc", "bob", s, i);
        }
        // 15 minutes after the last failure the count starts over.
        assert!(!l.failed("acc", "bob", s, 3 + 900));
        for i in 0..3 {
            assert!(!l.failed("acc", "bob", s, 904 + i));
        }
        l.succeeded("acc", "bob");
        for i in 0..4 {
            assert!(!l.failed("acc", "bob", s, 910 + i));
        }
        assert!(l.failed("acc", "bob", s, 920));
    }

    #[test]
    fn unlock_and_settings() {
        let l = Lockouts::default();
        let mut cfg = UserLockoutConfig::default();
        let data = json!({"lockout_threshold": "2", "lockout_duration": "1m",
            "lockout_counter_reset_duration": "30s", "lockout_disable": false});
        cfg.apply(data.as_object().unwrap()).unwrap();
        let s = cfg.effective();
        assert_eq!((s.threshold, s.duration, s.counter_reset), (2, 60, 30));
        l.failed("acc", "bob", s, 0);
        assert!(l.failed("acc", "bob", s, 1));
        assert!(l.unlock("acc", "bob", 2));
        assert!(!l.is_locked("acc", "bob", 2));
        assert!(!l.unlock("acc", "bob", 2));
        assert!(cfg
            .apply(json!({"lockout_threshold": 0}).as_object().unwrap())
            .is_err());
        assert!(cfg.apply(json!({"nope": 1}).as_object().unwrap()).is_err());
        assert!(cfg
            .apply(json!({"lockout_duration": []}).as_object().unwrap())
            .is_err());
    }

    #[test]
    fn lockouts_are_stored_and_reloaded() {
        use crate::barrier::Barrier;
        use crate::physical::InmemBackend;
        use crate::seal::{new_unseal_key, SealConfig};
        let barrier = Barrier::new(std::sync::Arc::new(InmemBackend::new()));
        barrier
            .initialize(&new_unseal_key(), &SealConfig::new(1, 1).unwrap())
            .unwrap();
        let view = barrier.view("core");
        let s = Effective {
            threshold: 1,
            ..defaults()
        };
        let l = Lockouts::open(view.clone(), 0).unwrap();
        assert!(l.failed("acc", "role/with/slashes", s, 10));
        assert!(l.failed("acc", "bob", s, 10));
        assert!(l.failed("gone", "carol", s, 10));
        l.forget_mount("gone");
        assert!(l.unlock("acc", "bob", 11));
        drop(l);
        // A restart keeps what is still locked, and only that.
        let l = Lockouts::open(view.clone(), 11).unwrap();
        assert!(l.is_locked("acc", "role/with/slashes", 11));
        assert!(!l.is_locked("acc", "bob", 11));
        assert!(!l.is_locked("gone", "carol", 11));
        assert_eq!(view.scan(STORED).unwrap().len(), 1);
        // Once ended, it is gone from storage too.
        let later = 10 + DEFAULT_DURATION as i64;
        assert!(!l.is_locked("acc", "role/with/slashes", later));
        assert!(view.scan(STORED).unwrap().is_empty());
        drop(l);
        assert!(Lockouts::open(view, later).unwrap().lock().is_empty());
    }

    #[test]
    fn a_full_table_keeps_lockouts() {
        let l = Lockouts::default();
        let s = Effective {
            threshold: 1,
            ..defaults()
        };
        assert!(l.failed("acc", "victim", s, 0));
        let s3 = Effective {
            threshold: 3,
            ..defaults()
        };
        for i in 0..MAX_TRACKED + 10 {
            l.failed("acc", &format!("u{i}"), s3, 1);
        }
        assert!(l.is_locked("acc", "victim", 2));
        assert!(l.lock().len() <= MAX_TRACKED);
    }
}
