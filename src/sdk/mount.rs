//! What a backend may know of the mount serving a request.

use serde_json::{Map, Value};

/// The mount a request was routed to, as its backend sees it: a borrowed,
/// copyable view of the core's mount entry (no allocation per request).
#[derive(Clone, Copy, Debug)]
pub struct MountPoint<'a> {
    /// The mount path with its trailing '/', e.g. "secret/".
    pub path: &'a str,
    /// The mount type, e.g. "kv".
    pub kind: &'a str,
    /// The options set at mount or tune time (KV: `version`).
    pub options: &'a Map<String, Value>,
    /// The mount's lease TTLs in seconds (0: the system default).
    pub default_lease_ttl: u64,
    pub max_lease_ttl: u64,
}

impl<'a> MountPoint<'a> {
    /// A mount at `path` of type `kind` with `options` and the system
    /// default TTLs.
    pub fn new(path: &'a str, kind: &'a str, options: &'a Map<String, Value>) -> Self {
        MountPoint {
            path,
            kind,
            options,
            default_lease_ttl: 0,
            max_lease_ttl: 0,
        }
    }

    /// The KV version option ("1" when absent).
    pub fn kv_version(&self) -> &'a str {
        self.options
            .get("version")
            .and_then(Value::as_str)
            .unwrap_or("1")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn kv_version_defaults_to_one() {
        let none = Map::new();
        assert_eq!(MountPoint::new("kv/", "kv", &none).kv_version(), "1");
        let v2 = json!({"version": "2"}).as_object().cloned().unwrap();
        assert_eq!(MountPoint::new("kv/", "kv", &v2).kv_version(), "2");
        let odd = json!({"version": 2}).as_object().cloned().unwrap();
        assert_eq!(MountPoint::new("kv/", "kv", &odd).kv_version(), "1");
    }
}
