//! The expiration manager: leases, their time-ordered index, and revocation
//! on expiry.
//!
//! Owns: lease entries (`lease/<lease id>`) and a time index
//! (`idx/<hour>/<minute>/<expire secs>-<encoded id>`) in its own storage
//! view. In memory it keeps only the set of hour buckets that hold entries
//! (bounded by the span of TTLs, not by the number of leases), so unseal
//! never loads every lease. The core's scheduler asks it for what is due
//! at the clock's `now` and revokes it; a failed revocation is retried
//! with exponential backoff ([`ExpirationManager::retry_later`]). Every
//! time it records (issue, renewal, backoff) comes from the injected
//! [`Clock`].
//! Must not touch: the things leases point at. Revoking is delegated to the
//! caller through [`LeaseKind`] (tokens are revoked by the token store).

use std::collections::BTreeSet;
use std::sync::Mutex;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::barrier::{BarrierError, StorageView};
use std::sync::Arc;

use crate::sdk::Clock;

/// What a lease stands for.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LeaseKind {
    /// A service token, by its storage key (HMAC).
    Token { key: String },
}

/// A stored lease.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LeaseEntry {
    pub lease_id: String,
    pub kind: LeaseKind,
    pub issue_time: i64,
    pub expire_time: i64,
    #[serde(default)]
    pub last_renewal: i64,
    pub renewable: bool,
    /// Failed revocation attempts so far.
    #[serde(default)]
    pub attempts: u32,
    /// When the next attempt is due (the index position).
    pub due: i64,
}

const MAX_BACKOFF_SECS: i64 = 3600;

pub struct ExpirationManager {
    view: StorageView,
    hours: Mutex<BTreeSet<u64>>,
    clock: Arc<dyn Clock>,
}

fn lease_path(id: &str) -> Result<String, BarrierError> {
    if id.is_empty() || id.split('/').any(|s| s.is_empty() || s == "." || s == "..") {
        return Err(BarrierError::InvalidPath("invalid lease id".into()));
    }
    Ok(format!("lease/{id}"))
}

fn index_path(due: i64, id: &str) -> String {
    let due = due.max(0) as u64;
    format!(
        "idx/{:012}/{:02}/{:012}-{}",
        due / 3600,
        (due % 3600) / 60,
        due,
        B64URL.encode(id)
    )
}

fn hour_of(due: i64) -> u64 {
    due.max(0) as u64 / 3600
}

impl ExpirationManager {
    /// Opens the manager; reads only the hour buckets of the index.
    pub fn open(
        view: StorageView,
        clock: Arc<dyn Clock>,
    ) -> Result<ExpirationManager, BarrierError> {
        let mut hours = BTreeSet::new();
        for h in view.list("idx/")? {
            if let Ok(n) = h.trim_end_matches('/').parse::<u64>() {
                hours.insert(n);
            }
        }
        Ok(ExpirationManager {
            view,
            hours: Mutex::new(hours),
            clock,
        })
    }

    /// The clock leases are issued, renewed and expired by.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    fn hours(&self) -> std::sync::MutexGuard<'_, BTreeSet<u64>> {
        self.hours.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Number of hour buckets held in memory (for tests and metrics).
    pub fn bucket_count(&self) -> usize {
        self.hours().len()
    }

    /// Registers a lease expiring at `expire_time` (unix seconds).
    pub fn register(
        &self,
        lease_id: &str,
        kind: LeaseKind,
        expire_time: i64,
        renewable: bool,
    ) -> Result<(), BarrierError> {
        let entry = LeaseEntry {
            lease_id: lease_id.to_string(),
            kind,
            issue_time: self.clock.unix(),
            expire_time,
            last_renewal: 0,
            renewable,
            attempts: 0,
            due: expire_time,
        };
        self.write(&entry, None)
    }

    fn write(&self, entry: &LeaseEntry, old_due: Option<i64>) -> Result<(), BarrierError> {
        let bytes = serde_json::to_vec(entry).map_err(|_| BarrierError::Corrupt("lease"))?;
        let mut ops = vec![
            (lease_path(&entry.lease_id)?, Some(bytes)),
            (index_path(entry.due, &entry.lease_id), Some(Vec::new())),
        ];
        if let Some(old) = old_due.filter(|o| *o != entry.due) {
            ops.push((index_path(old, &entry.lease_id), None));
        }
        self.view.transaction(ops)?;
        self.hours().insert(hour_of(entry.due));
        Ok(())
    }

    /// The lease `lease_id`, if registered.
    pub fn lookup(&self, lease_id: &str) -> Result<Option<LeaseEntry>, BarrierError> {
        self.view.get_json(&lease_path(lease_id)?)
    }

    /// Moves the lease's expiry (renewal).
    pub fn renewed(&self, lease_id: &str, expire_time: i64) -> Result<(), BarrierError> {
        let Some(mut e) = self.lookup(lease_id)? else {
            return Ok(());
        };
        let old = e.due;
        e.expire_time = expire_time;
        e.due = expire_time;
        e.attempts = 0;
        e.last_renewal = self.clock.unix();
        self.write(&e, Some(old))
    }

    /// Forgets a lease (after its target was revoked).
    pub fn remove(&self, lease_id: &str) -> Result<(), BarrierError> {
        let Some(e) = self.lookup(lease_id)? else {
            return Ok(());
        };
        self.view.transaction(vec![
            (lease_path(lease_id)?, None),
            (index_path(e.due, lease_id), None),
        ])
    }

    /// Reschedules a lease whose revocation failed (exponential backoff).
    pub fn retry_later(&self, entry: &LeaseEntry) -> Result<(), BarrierError> {
        let mut e = entry.clone();
        e.attempts = e.attempts.saturating_add(1);
        let backoff = (1i64 << e.attempts.min(12)).min(MAX_BACKOFF_SECS);
        let old = e.due;
        e.due = self.clock.unix() + backoff;
        self.write(&e, Some(old))
    }

    /// Direct children of `prefix` among lease ids ("" or ending in '/').
    pub fn list(&self, prefix: &str) -> Result<Vec<String>, BarrierError> {
        let p = if prefix.is_empty() {
            "lease/".to_string()
        } else {
            format!("lease/{prefix}")
        };
        self.view.list(&p)
    }

    /// How many leases there are (a scan of the lease index: for metrics,
    /// which cache the answer).
    pub fn count(&self) -> Result<usize, BarrierError> {
        Ok(self.view.scan("lease/")?.len())
    }

    /// Every lease id starting with the folder `prefix`.
    pub fn ids_under(&self, prefix: &str) -> Result<Vec<String>, BarrierError> {
        let p = format!("lease/{}", prefix.trim_end_matches('/'));
        let mut out = Vec::new();
        for path in self.view.scan(&format!("{p}/"))? {
            if let Some(id) = path.strip_prefix("lease/") {
                out.push(id.to_string());
            }
        }
        if self.view.get(&p)?.is_some() {
            out.push(p["lease/".len()..].to_string());
        }
        Ok(out)
    }

    /// Leases due at or before `now`, at most `limit` of them, oldest first.
    pub fn due(&self, now: i64, limit: usize) -> Result<Vec<LeaseEntry>, BarrierError> {
        let hours: Vec<u64> = self.hours().range(..=hour_of(now)).copied().collect();
        let mut out = Vec::new();
        for hour in hours {
            let minutes = self.view.list(&format!("idx/{hour:012}/"))?;
            if minutes.is_empty() {
                self.hours().remove(&hour);
                continue;
            }
            for minute in minutes {
                for item in self.view.list(&format!("idx/{hour:012}/{minute}"))? {
                    let Some((due, enc)) = item.split_once('-') else {
                        continue;
                    };
                    let due: i64 = due.parse().unwrap_or(i64::MAX);
                    if due > now {
                        return Ok(out);
                    }
                    let id = B64URL
                        .decode(enc)
                        .ok()
                        .and_then(|b| String::from_utf8(b).ok());
                    match id.map(|id| self.lookup(&id)).transpose()? {
                        Some(Some(e)) => out.push(e),
                        _ => self
                            .view
                            .delete(&format!("idx/{hour:012}/{minute}{item}"))?,
                    }
                    if out.len() >= limit {
                        return Ok(out);
                    }
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::barrier::Barrier;
    use crate::physical::InmemBackend;
    use crate::sdk::ManualClock;
    use crate::seal::{new_unseal_key, SealConfig};

    fn manager() -> (Arc<Barrier>, ExpirationManager) {
        let b = Barrier::new(Arc::new(InmemBackend::new()));
        b.initialize(&new_unseal_key(), &SealConfig::new(1, 1).unwrap())
            .unwrap();
        let clock = Arc::new(ManualClock::starting_now());
        let m = ExpirationManager::open(b.view("exp"), clock).unwrap();
        (b, m)
    }

    fn tok(k: &str) -> LeaseKind {
        LeaseKind::Token { key: k.into() }
    }

    #[test]
    fn due_returns_expired_in_order_only() {
        let (_, m) = manager();
        m.register("auth/token/create/c", tok("c"), 5000, true)
            .unwrap();
        m.register("auth/token/create/a", tok("a"), 1000, true)
            .unwrap();
        m.register("auth/token/create/b", tok("b"), 3700, true)
            .unwrap();
        let due: Vec<String> = m
            .due(4000, 10)
            .unwrap()
            .into_iter()
            .map(|e| e.lease_id)
            .collect();
        assert_eq!(due, vec!["auth/token/create/a", "auth/token/create/b"]);
        m.remove("auth/token/create/a").unwrap();
        assert_eq!(m.due(4000, 10).unwrap().len(), 1);
    }

    #[test]
    fn renew_moves_the_index_and_reopen_sees_buckets() {
        let (b, m) = manager();
        m.register("x/1", tok("1"), 100, true).unwrap();
        m.renewed("x/1", 90_000).unwrap();
        assert!(m.due(1000, 10).unwrap().is_empty());
        let m2 = ExpirationManager::open(b.view("exp"), m.clock().clone()).unwrap();
        assert_eq!(m2.due(90_000, 10).unwrap().len(), 1);
        assert_eq!(m2.list("x/").unwrap(), vec!["1"]);
        assert_eq!(m2.ids_under("x").unwrap(), vec!["x/1"]);
    }

    #[test]
    fn retry_backs_off() {
        let (_, m) = manager();
        m.register("r/1", tok("1"), 10, true).unwrap();
        let e = m.due(10, 1).unwrap().remove(0);
        m.retry_later(&e).unwrap();
        let e2 = m.lookup("r/1").unwrap().unwrap();
        assert_eq!(e2.attempts, 1);
        let now = m.clock().unix();
        assert!(e2.due > now);
        assert!(m.due(now, 10).unwrap().is_empty());
        // The backoff counts from the manager's clock, not the wall clock.
        assert!(m.clock().advance(std::time::Duration::from_secs(10_000)));
        m.retry_later(&e2).unwrap();
        let e3 = m.lookup("r/1").unwrap().unwrap();
        assert!(e3.due > now + 10_000, "{} vs {now}", e3.due);
    }

    #[test]
    fn bad_lease_ids_are_refused() {
        let (_, m) = manager();
        assert!(m.register("", tok("1"), 1, true).is_err());
        assert!(m.lookup("a//b").is_err());
    }
}
