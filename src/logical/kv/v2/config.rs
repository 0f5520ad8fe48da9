//! `config`: mount-wide KV v2 settings (`max_versions`, `cas_required`,
//! `delete_version_after`).
//!
//! Owns: the stored mount config. Must not touch keys.

use super::KvState;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::store::{self, CONFIG_PATH};
use super::versions::go_duration;
use crate::barrier::StorageView;
use crate::logical::{fields, LogicalError, LogicalRequest};
use crate::sdk::{Operation, Response};

/// Mount settings; zero values mean "not set".
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Config {
    #[serde(default)]
    pub max_versions: u64,
    #[serde(default)]
    pub cas_required: bool,
    /// Seconds; 0 = not set; negative = disabled for every key (Vault
    /// stores -1s).
    #[serde(default)]
    pub delete_version_after: i64,
}

/// The mount's config (defaults when never written).
pub(super) fn load(storage: &StorageView) -> Result<Config, LogicalError> {
    Ok(storage.get_json(CONFIG_PATH)?.unwrap_or_default())
}

pub(super) fn handle(kv: &KvState, req: &LogicalRequest<'_>) -> Result<Response, LogicalError> {
    match req.operation {
        Operation::Read => read(req),
        Operation::Create | Operation::Update => write(kv, req),
        _ => Err(LogicalError::UnsupportedOperation),
    }
}

fn read(req: &LogicalRequest<'_>) -> Result<Response, LogicalError> {
    let c = load(req.storage)?;
    Ok(Response::json(json!({
        "max_versions": c.max_versions,
        "cas_required": c.cas_required,
        "delete_version_after": go_duration(c.delete_version_after),
    })))
}

fn write(kv: &KvState, req: &LogicalRequest<'_>) -> Result<Response, LogicalError> {
    let max = opt_max_versions(req.data, "max_versions")?;
    let cas = fields::opt_bool(req.data, "cas_required")?;
    let dva = opt_signed_duration(req.data, "delete_version_after")?;
    if max.is_none() && cas.is_none() && dva.is_none() {
        return Ok(Response::empty());
    }
    store::ensure_marker(kv, req.storage)?;
    let mut c = load(req.storage)?;
    if let Some(m) = max {
        c.max_versions = m;
    }
    if let Some(b) = cas {
        c.cas_required = b;
    }
    if let Some(d) = dva {
        c.delete_version_after = if d < 0 { -1 } else { d };
    }
    req.storage.put(CONFIG_PATH, &store::encode(&c)?)?;
    Ok(Response::empty())
}

/// `max_versions`: a non-negative integer that fits Vault's uint32.
pub(super) fn opt_max_versions(
    data: &Map<String, Value>,
    field: &str,
) -> Result<Option<u64>, LogicalError> {
    match fields::opt_u64(data, field)? {
        Some(n) if n > u64::from(u32::MAX) => Err(LogicalError::BadRequest(format!(
            "field \"{field}\" is too large"
        ))),
        other => Ok(other),
    }
}

/// A duration that may be negative (Vault's `TypeSignedDurationSecond`):
/// integer seconds or a Go-style string, with an optional leading '-'.
fn opt_signed_duration(
    data: &Map<String, Value>,
    field: &str,
) -> Result<Option<i64>, LogicalError> {
    let bad = || LogicalError::BadRequest(format!("field \"{field}\" must be a duration"));
    match data.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(bad),
        Some(Value::String(s)) => {
            let t = s.trim();
            let (neg, body) = match t.strip_prefix('-') {
                Some(rest) => (true, rest),
                None => (false, t),
            };
            let secs = fields::parse_duration(body).ok_or_else(bad)?;
            let secs = i64::try_from(secs).map_err(|_| bad())?;
            Ok(Some(if neg { -secs } else { secs }))
        }
        Some(_) => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn signed_durations() {
        let d = m(json!({"a": "-1s", "b": "1h", "c": -5, "d": "0s", "e": true, "f": "x"}));
        assert_eq!(opt_signed_duration(&d, "a").unwrap(), Some(-1));
        assert_eq!(opt_signed_duration(&d, "b").unwrap(), Some(3600));
        assert_eq!(opt_signed_duration(&d, "c").unwrap(), Some(-5));
        assert_eq!(opt_signed_duration(&d, "d").unwrap(), Some(0));
        assert_eq!(opt_signed_duration(&d, "z").unwrap(), None);
        assert!(opt_signed_duration(&d, "e").is_err());
        assert!(opt_signed_duration(&d, "f").is_err());
    }

    #[test]
    fn max_versions_bounds() {
        let d = m(json!({"a": 5, "b": 5_000_000_000u64, "c": "x"}));
        assert_eq!(opt_max_versions(&d, "a").unwrap(), Some(5));
        assert!(opt_max_versions(&d, "b").is_err());
        assert!(opt_max_versions(&d, "c").is_err());
    }
}
