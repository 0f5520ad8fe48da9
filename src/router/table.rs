//! Mount entries and their persisted table (stored behind the barrier).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::barrier::{BarrierError, StorageView};

/// Per-mount lease settings (0 = system default).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct MountConfig {
    #[serde(default)]
    pub default_lease_ttl: u64,
    #[serde(default)]
    pub max_lease_ttl: u64,
    /// An auth mount's login lockout settings (tune `user_lockout_config`;
    /// unset fields take the defaults the core applies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_lockout_config: Option<UserLockoutConfig>,
}

/// Vault's `user_lockout_config` of an auth mount, as stored.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserLockoutConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lockout_threshold: Option<u64>,
    /// Seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lockout_duration: Option<u64>,
    /// Seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lockout_counter_reset: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lockout_disable: Option<bool>,
}

/// One mounted engine.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MountEntry {
    /// Mount path with a trailing '/', e.g. "secret/".
    pub path: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub description: String,
    /// Storage view id: the barrier prefix for this mount's data.
    pub uuid: String,
    pub accessor: String,
    #[serde(default)]
    pub config: MountConfig,
    #[serde(default)]
    pub options: Map<String, Value>,
    #[serde(default)]
    pub local: bool,
    #[serde(default)]
    pub seal_wrap: bool,
}

impl MountEntry {
    /// A new entry with fresh UUID and accessor.
    pub fn new(path: &str, kind: &str, description: &str) -> MountEntry {
        let short = &uuid::Uuid::new_v4().simple().to_string()[..8];
        MountEntry {
            path: path.to_string(),
            kind: kind.to_string(),
            description: description.to_string(),
            uuid: uuid::Uuid::new_v4().to_string(),
            accessor: format!("{}_{short}", kind.replace('-', "_")),
            config: MountConfig::default(),
            options: Map::new(),
            local: false,
            seal_wrap: false,
        }
    }

    /// What the mount's backend sees of it, per request.
    pub fn point(&self) -> crate::sdk::MountPoint<'_> {
        crate::sdk::MountPoint {
            path: &self.path,
            kind: &self.kind,
            options: &self.options,
            default_lease_ttl: self.config.default_lease_ttl,
            max_lease_ttl: self.config.max_lease_ttl,
        }
    }

    /// The KV version option ("1" when absent).
    pub fn kv_version(&self) -> &str {
        self.options
            .get("version")
            .and_then(Value::as_str)
            .unwrap_or("1")
    }

    /// Vault's JSON shape of a mount in `sys/mounts`. The config's TTLs are
    /// the mount's own: 0 when untuned (the system default applies; the
    /// CLI shows "system"). The mounts Vault has built in (not from its
    /// plugin catalog) carry no deprecation status and no options; a mount
    /// enabled through the API has options `{}` when none were given.
    pub fn to_json(&self) -> Value {
        let builtin = BUILTIN_KINDS.contains(&self.kind.as_str());
        let options = if self.options.is_empty() && builtin {
            Value::Null
        } else {
            Value::Object(self.options.clone())
        };
        let mut config = serde_json::json!({
            "default_lease_ttl": self.config.default_lease_ttl,
            "max_lease_ttl": self.config.max_lease_ttl,
            "force_no_cache": false,
        });
        let passthrough = match self.kind.as_str() {
            "system" => Some("Accept"),
            "identity" => Some("Authorization"),
            _ => None,
        };
        if let (Some(h), Some(c)) = (passthrough, config.as_object_mut()) {
            c.insert("passthrough_request_headers".into(), serde_json::json!([h]));
        }
        let mut out = serde_json::json!({
            "type": self.kind,
            "description": self.description,
            "accessor": self.accessor,
            "uuid": self.uuid,
            "config": config,
            "options": options,
            "local": self.local,
            "seal_wrap": self.seal_wrap,
            "external_entropy_access": false,
            "plugin_version": "",
            "running_plugin_version": "",
            "running_sha256": "",
        });
        // `generic` is an alias, not a catalog entry, in Vault.
        if !builtin && self.kind != "generic" {
            if let Some(m) = out.as_object_mut() {
                m.insert("deprecation_status".into(), "supported".into());
            }
        }
        out
    }
}

/// The mount types Vault has built in rather than in its plugin catalog.
const BUILTIN_KINDS: [&str; 4] = ["system", "cubbyhole", "identity", "token"];

/// Errors of mount management.
#[derive(Debug)]
pub enum MountTableError {
    InvalidPath(String),
    Conflict(String),
    UnknownType(String),
    NotMounted(String),
    Protected(String),
    Storage(BarrierError),
}

impl std::fmt::Display for MountTableError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MountTableError::InvalidPath(p) => write!(f, "invalid mount path \"{p}\""),
            MountTableError::Conflict(p) => write!(f, "path is already in use at {p}"),
            MountTableError::UnknownType(t) => write!(f, "plugin not found in the catalog: {t}"),
            MountTableError::NotMounted(p) => write!(f, "no mount at \"{p}\""),
            MountTableError::Protected(p) => write!(f, "cannot unmount or remount \"{p}\""),
            MountTableError::Storage(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for MountTableError {}

impl From<BarrierError> for MountTableError {
    fn from(e: BarrierError) -> Self {
        MountTableError::Storage(e)
    }
}

/// A persisted list of mount entries (secrets mounts or auth mounts).
pub struct MountTable {
    storage: StorageView,
    key: &'static str,
}

impl MountTable {
    pub fn new(storage: StorageView, key: &'static str) -> Self {
        MountTable { storage, key }
    }

    pub fn load(&self) -> Result<Option<Vec<MountEntry>>, BarrierError> {
        self.storage.get_json(self.key)
    }

    pub fn save(&self, entries: &[MountEntry]) -> Result<(), BarrierError> {
        self.storage.put_json(self.key, &entries)
    }
}

/// Normalizes a user-given mount path: no leading '/', exactly one trailing
/// '/', no empty or dot segments, printable characters only.
pub fn normalize_mount_path(path: &str) -> Result<String, MountTableError> {
    let trimmed = path.trim_matches('/');
    let ok = !trimmed.is_empty()
        && trimmed.len() <= 256
        && trimmed
            .split('/')
            .all(|s| !s.is_empty() && s != "." && s != "..")
        && trimmed
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.+/".contains(c));
    if ok {
        Ok(format!("{trimmed}/"))
    } else {
        Err(MountTableError::InvalidPath(path.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_paths() {
        assert_eq!(normalize_mount_path("secret").unwrap(), "secret/");
        assert_eq!(normalize_mount_path("/a/b/").unwrap(), "a/b/");
        for bad in ["", "/", "a//b", "../x", "a b", "a/./b"] {
            assert!(normalize_mount_path(bad).is_err(), "{bad}");
        }
    }
}
