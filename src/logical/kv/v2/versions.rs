//! The version state machine of one KV v2 key: its metadata, adding a
//! version (and pruning the oldest beyond `max_versions`), soft delete,
//! undelete, destroy, and when a version counts as deleted.
//!
//! Owns: the stored shape of key metadata and its JSON views. Must not
//! touch storage (see `store.rs`) or parse requests.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::logical::{LogicalError, LogicalRequest};
use crate::sdk::time::format_rfc3339;

/// Versions kept per key when neither the key nor the mount says.
pub(super) const DEFAULT_MAX_VERSIONS: u64 = 10;

/// The state of one version. Times are RFC 3339; `""` = not set.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct VersionMeta {
    pub created_time: String,
    #[serde(default)]
    pub deletion_time: String,
    #[serde(default)]
    pub destroyed: bool,
}

/// Everything about one key except its data.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct KeyMeta {
    #[serde(default)]
    pub current_version: u64,
    #[serde(default)]
    pub oldest_version: u64,
    #[serde(default)]
    pub created_time: String,
    #[serde(default)]
    pub updated_time: String,
    /// 0: the mount's setting (or the default) applies.
    #[serde(default)]
    pub max_versions: u64,
    #[serde(default)]
    pub cas_required: bool,
    /// Seconds; 0 = not set.
    #[serde(default)]
    pub delete_version_after: u64,
    /// `None` prints as `null`, as Vault does for a key without any.
    #[serde(default)]
    pub custom_metadata: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub versions: BTreeMap<u64, VersionMeta>,
}

/// Now, UTC, on the vault's clock.
pub(super) fn now(req: &LogicalRequest<'_>) -> OffsetDateTime {
    req.clock.now()
}

fn parse_time(text: &str) -> Result<OffsetDateTime, LogicalError> {
    OffsetDateTime::parse(text, &Rfc3339)
        .map_err(|_| LogicalError::Internal("kv: corrupt timestamp in key metadata".into()))
}

impl VersionMeta {
    /// Deleted: a deletion time that has passed.
    pub fn is_deleted(&self, now: OffsetDateTime) -> Result<bool, LogicalError> {
        if self.deletion_time.is_empty() {
            return Ok(false);
        }
        Ok(parse_time(&self.deletion_time)? < now)
    }

    /// Readable: neither destroyed nor deleted.
    pub fn is_live(&self, now: OffsetDateTime) -> Result<bool, LogicalError> {
        Ok(!self.destroyed && !self.is_deleted(now)?)
    }

    /// `{created_time, deletion_time, destroyed}` (metadata's `versions`).
    pub fn to_json(&self) -> Value {
        json!({
            "created_time": self.created_time,
            "deletion_time": self.deletion_time,
            "destroyed": self.destroyed,
        })
    }
}

impl KeyMeta {
    /// Metadata of a key that has no version yet.
    pub fn new(now: OffsetDateTime) -> KeyMeta {
        let t = format_rfc3339(now);
        KeyMeta {
            created_time: t.clone(),
            updated_time: t,
            ..KeyMeta::default()
        }
    }

    /// The number of versions kept: the key's setting, else the mount's,
    /// else 10.
    pub fn effective_max_versions(&self, mount_max: u64) -> u64 {
        if self.max_versions > 0 {
            self.max_versions
        } else if mount_max > 0 {
            mount_max
        } else {
            DEFAULT_MAX_VERSIONS
        }
    }

    /// Adds the next version and prunes the oldest beyond the limit.
    /// Returns the new version number and the pruned version numbers
    /// (whose data the caller deletes in the same transaction).
    pub fn add_version(
        &mut self,
        created: OffsetDateTime,
        deletion: Option<OffsetDateTime>,
        mount_max: u64,
    ) -> (u64, Vec<u64>) {
        let t = format_rfc3339(created);
        self.current_version += 1;
        self.versions.insert(
            self.current_version,
            VersionMeta {
                created_time: t.clone(),
                deletion_time: deletion.map(format_rfc3339).unwrap_or_default(),
                destroyed: false,
            },
        );
        if self.created_time.is_empty() {
            self.created_time = t.clone();
        }
        self.updated_time = t;
        (self.current_version, self.prune(mount_max))
    }

    /// Vault's sliding window: once `current - oldest >= max`, every
    /// version up to `current - max` goes and `oldest` moves past them.
    fn prune(&mut self, mount_max: u64) -> Vec<u64> {
        let max = self.effective_max_versions(mount_max);
        if self.current_version.saturating_sub(self.oldest_version) < max {
            return Vec::new();
        }
        let last_to_delete = self.current_version - max;
        let removed: Vec<u64> = self
            .versions
            .range(..=last_to_delete)
            .map(|(n, _)| *n)
            .collect();
        for n in &removed {
            self.versions.remove(n);
        }
        self.oldest_version = last_to_delete + 1;
        removed
    }

    /// Soft-deletes `n` now unless it is missing, destroyed or already
    /// deleted. Returns whether anything changed.
    pub fn soft_delete(&mut self, n: u64, now: OffsetDateTime) -> Result<bool, LogicalError> {
        let Some(v) = self.versions.get_mut(&n) else {
            return Ok(false);
        };
        if v.destroyed || v.is_deleted(now)? {
            return Ok(false);
        }
        v.deletion_time = format_rfc3339(now);
        Ok(true)
    }

    /// Clears `n`'s deletion (unless destroyed); `redelete` is the new
    /// automatic deletion time, if `delete_version_after` applies.
    pub fn undelete(&mut self, n: u64, redelete: Option<OffsetDateTime>) -> bool {
        match self.versions.get_mut(&n) {
            Some(v) if !v.destroyed => {
                v.deletion_time = redelete.map(format_rfc3339).unwrap_or_default();
                true
            }
            _ => false,
        }
    }

    /// Marks `n` destroyed. Returns whether it existed and was not already.
    pub fn destroy(&mut self, n: u64) -> bool {
        match self.versions.get_mut(&n) {
            Some(v) if !v.destroyed => {
                v.destroyed = true;
                true
            }
            _ => false,
        }
    }

    /// `null` when there is none, like Vault.
    pub fn custom_metadata_json(&self) -> Value {
        match &self.custom_metadata {
            Some(m) if !m.is_empty() => json!(m),
            _ => Value::Null,
        }
    }

    /// The per-version block of `data/` reads and writes.
    pub fn version_json(&self, n: u64, v: &VersionMeta) -> Value {
        json!({
            "created_time": v.created_time,
            "custom_metadata": self.custom_metadata_json(),
            "deletion_time": v.deletion_time,
            "destroyed": v.destroyed,
            "version": n,
        })
    }

    /// The body of `GET metadata/:key`.
    pub fn to_json(&self) -> Value {
        let versions: serde_json::Map<String, Value> = self
            .versions
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_json()))
            .collect();
        json!({
            "cas_required": self.cas_required,
            "created_time": self.created_time,
            "current_version": self.current_version,
            "custom_metadata": self.custom_metadata_json(),
            "delete_version_after": go_duration(self.delete_version_after as i64),
            "max_versions": self.max_versions,
            "oldest_version": self.oldest_version,
            "updated_time": self.updated_time,
            "versions": versions,
        })
    }
}

/// When a version created (or undeleted) at `at` is deleted automatically:
/// the smaller non-zero of the mount's and the key's `delete_version_after`;
/// a negative mount setting disables it (Vault's rules).
pub(super) fn auto_deletion_time(
    at: OffsetDateTime,
    mount_secs: i64,
    key_secs: u64,
) -> Option<OffsetDateTime> {
    if mount_secs < 0 {
        return None;
    }
    let mount = mount_secs as u64;
    let secs = match (mount, key_secs) {
        (0, 0) => return None,
        (0, k) => k,
        (m, 0) => m,
        (m, k) => m.min(k),
    };
    let secs = i64::try_from(secs).ok()?;
    at.checked_add(time::Duration::seconds(secs))
}

/// Formats whole seconds as Go's `time.Duration.String()` does
/// ("0s", "30s", "1m30s", "1h0m0s", "-1s").
pub(super) fn go_duration(secs: i64) -> String {
    if secs == 0 {
        return "0s".into();
    }
    let sign = if secs < 0 { "-" } else { "" };
    let s = secs.unsigned_abs();
    let (h, m, s) = (s / 3600, (s / 60) % 60, s % 60);
    if h > 0 {
        format!("{sign}{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{sign}{m}m{s}s")
    } else {
        format!("{sign}{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap()
    }

    fn add(meta: &mut KeyMeta, mount_max: u64) -> (u64, Vec<u64>) {
        meta.add_version(t0(), None, mount_max)
    }

    #[test]
    fn versions_count_up_and_keep_times() {
        let mut m = KeyMeta::default();
        assert_eq!(add(&mut m, 0), (1, vec![]));
        assert_eq!(add(&mut m, 0), (2, vec![]));
        assert_eq!(m.current_version, 2);
        assert_eq!(m.oldest_version, 0);
        assert_eq!(m.created_time, format_rfc3339(t0()));
        assert_eq!(m.versions.len(), 2);
    }

    #[test]
    fn pruning_follows_vaults_window() {
        // key max 2: after writing 5 versions, 4 and 5 remain, oldest 4.
        let mut m = KeyMeta {
            max_versions: 2,
            ..KeyMeta::default()
        };
        assert_eq!(add(&mut m, 0).1, Vec::<u64>::new());
        assert_eq!(add(&mut m, 0).1, Vec::<u64>::new());
        assert_eq!(m.oldest_version, 1);
        assert_eq!(add(&mut m, 0).1, vec![1]);
        add(&mut m, 0);
        assert_eq!(add(&mut m, 0).1, vec![3]);
        assert_eq!(m.versions.keys().copied().collect::<Vec<_>>(), vec![4, 5]);
        assert_eq!(m.oldest_version, 4);
    }

    #[test]
    fn pruning_uses_key_then_mount_then_default() {
        let mut m = KeyMeta::default();
        for _ in 0..7 {
            add(&mut m, 5);
        }
        assert_eq!(m.versions.len(), 5);
        assert_eq!(m.oldest_version, 3);
        let mut d = KeyMeta::default();
        for _ in 0..12 {
            add(&mut d, 0);
        }
        assert_eq!(d.versions.len(), 10);
        assert_eq!(d.oldest_version, 3);
        // lowering max_versions prunes several at once on the next write
        d.max_versions = 3;
        assert_eq!(add(&mut d, 0).1, (3..=10).collect::<Vec<_>>());
        assert_eq!(d.versions.len(), 3);
        assert_eq!(d.oldest_version, 11);
    }

    #[test]
    fn delete_undelete_destroy() {
        let mut m = KeyMeta::default();
        add(&mut m, 0);
        add(&mut m, 0);
        let now = t0() + time::Duration::seconds(10);
        let later = now + time::Duration::seconds(1);
        assert!(m.soft_delete(2, now).unwrap());
        assert!(!m.versions[&2].is_live(later).unwrap());
        // already deleted: unchanged
        assert!(!m.soft_delete(2, later).unwrap());
        assert!(m.undelete(2, None));
        assert!(m.versions[&2].is_live(later).unwrap());
        assert!(m.destroy(1));
        assert!(!m.destroy(1));
        assert!(!m.undelete(1, None));
        assert!(!m.soft_delete(1, later).unwrap());
        assert!(!m.versions[&1].is_live(later).unwrap());
        assert!(!m.soft_delete(9, later).unwrap());
    }

    #[test]
    fn future_deletion_time_is_not_deleted_yet() {
        let mut m = KeyMeta::default();
        let del = auto_deletion_time(t0(), 0, 60);
        m.add_version(t0(), del, 0);
        let v = &m.versions[&1];
        assert!(v.is_live(t0() + time::Duration::seconds(59)).unwrap());
        assert!(!v.is_live(t0() + time::Duration::seconds(61)).unwrap());
    }

    #[test]
    fn auto_deletion_rules() {
        let at = t0();
        let plus = |s| Some(at + time::Duration::seconds(s));
        assert_eq!(auto_deletion_time(at, 0, 0), None);
        assert_eq!(auto_deletion_time(at, 30, 0), plus(30));
        assert_eq!(auto_deletion_time(at, 0, 20), plus(20));
        assert_eq!(auto_deletion_time(at, 30, 20), plus(20));
        assert_eq!(auto_deletion_time(at, 10, 20), plus(10));
        assert_eq!(auto_deletion_time(at, -1, 20), None);
    }

    #[test]
    fn go_durations() {
        assert_eq!(go_duration(0), "0s");
        assert_eq!(go_duration(30), "30s");
        assert_eq!(go_duration(90), "1m30s");
        assert_eq!(go_duration(3600), "1h0m0s");
        assert_eq!(go_duration(86400 + 61), "24h1m1s");
        assert_eq!(go_duration(-1), "-1s");
    }

    #[test]
    fn metadata_json_shape() {
        let mut m = KeyMeta::new(t0());
        add(&mut m, 0);
        let j = m.to_json();
        assert_eq!(j["custom_metadata"], Value::Null);
        assert_eq!(j["delete_version_after"], "0s");
        assert_eq!(j["versions"]["1"]["deletion_time"], "");
        assert_eq!(j["versions"]["1"]["destroyed"], false);
        // stored form round-trips (integer map keys)
        let text = serde_json::to_string(&m).unwrap();
        assert_eq!(serde_json::from_str::<KeyMeta>(&text).unwrap(), m);
    }
}
