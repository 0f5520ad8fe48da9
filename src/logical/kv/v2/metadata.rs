//! `metadata/:key`: read a key's metadata, set its settings and custom
//! metadata (POST, or PATCH as a merge), delete the key with every version,
//! and LIST keys and folders.
//!
//! Owns: validation of `custom_metadata`. Must not touch version data
//! except to delete it with the key.

use std::collections::BTreeMap;

use serde_json::Value;

use super::config;
use super::store::{self, Op, META_PREFIX};
use super::versions::{now, KeyMeta};
use super::{lock_key, require_key, valid_key, KvState};
use crate::logical::{fields, LogicalError, LogicalRequest};
use crate::sdk::{Operation, Response};

const MAX_CUSTOM_KEYS: usize = 64;
const MAX_CUSTOM_KEY_LEN: usize = 128;
const MAX_CUSTOM_VALUE_LEN: usize = 512;
const CUSTOM_PREFIX: &str = "custom_metadata validation failed";
const CAS_WARNING: &str =
    "\"cas_required\" set to false, but is mandated by backend config. This value will be ignored.";

pub(super) fn handle(
    kv: &KvState,
    req: &LogicalRequest<'_>,
    key: &str,
) -> Result<Response, LogicalError> {
    match req.operation {
        Operation::List => list(req, key),
        Operation::Read => read(req, key),
        Operation::Create | Operation::Update => write(kv, req, key),
        Operation::Patch => patch(kv, req, key),
        Operation::Delete => delete(kv, req, key),
    }
}

fn list(req: &LogicalRequest<'_>, key: &str) -> Result<Response, LogicalError> {
    let folder = if key.is_empty() || key.ends_with('/') {
        key.to_string()
    } else {
        format!("{key}/")
    };
    let keys = req.storage.list(&format!("{META_PREFIX}{folder}"))?;
    if keys.is_empty() {
        return Err(LogicalError::NotFound);
    }
    Ok(Response::list(keys))
}

fn read(req: &LogicalRequest<'_>, key: &str) -> Result<Response, LogicalError> {
    if !valid_key(key) {
        return Err(LogicalError::NotFound);
    }
    let meta = store::load_meta(req.storage, key)?.ok_or(LogicalError::NotFound)?;
    Ok(Response::json(meta.to_json()))
}

/// The settings a metadata write or patch may carry.
#[derive(Default)]
struct Settings {
    max_versions: Option<u64>,
    cas_required: Option<bool>,
    delete_version_after: Option<u64>,
}

impl Settings {
    fn apply(&self, meta: &mut KeyMeta) {
        if let Some(m) = self.max_versions {
            meta.max_versions = m;
        }
        if let Some(c) = self.cas_required {
            meta.cas_required = c;
        }
        if let Some(d) = self.delete_version_after {
            meta.delete_version_after = d;
        }
    }

    fn is_empty(&self) -> bool {
        self.max_versions.is_none()
            && self.cas_required.is_none()
            && self.delete_version_after.is_none()
    }
}

fn settings(req: &LogicalRequest<'_>, nulls_reset: bool) -> Result<Settings, LogicalError> {
    let null = |f: &str| nulls_reset && req.data.get(f) == Some(&Value::Null);
    Ok(Settings {
        max_versions: if null("max_versions") {
            Some(0)
        } else {
            config::opt_max_versions(req.data, "max_versions")?
        },
        cas_required: if null("cas_required") {
            Some(false)
        } else {
            fields::opt_bool(req.data, "cas_required")?
        },
        delete_version_after: if null("delete_version_after") {
            Some(0)
        } else {
            fields::opt_duration(req.data, "delete_version_after")?
        },
    })
}

/// A warning when a key asks to drop cas that the mount requires.
fn cas_warnings(req: &LogicalRequest<'_>, s: &Settings) -> Result<Vec<String>, LogicalError> {
    if s.cas_required == Some(false) && config::load(req.storage)?.cas_required {
        return Ok(vec![CAS_WARNING.to_string()]);
    }
    Ok(Vec::new())
}

fn with_warnings(warnings: Vec<String>) -> Response {
    let mut resp = Response::empty();
    resp.warnings = warnings;
    resp
}

fn write(kv: &KvState, req: &LogicalRequest<'_>, key: &str) -> Result<Response, LogicalError> {
    require_key(key)?;
    let s = settings(req, false)?;
    let custom = match req.data.get("custom_metadata") {
        None | Some(Value::Null) => None,
        Some(v) => Some(parse_custom_metadata(v, false)?),
    };
    if s.is_empty() && custom.is_none() {
        return Ok(Response::empty());
    }
    if let Some(c) = &custom {
        validate_custom_metadata(c)?;
    }
    store::ensure_marker(kv, req.storage)?;
    let warnings = cas_warnings(req, &s)?;
    let _guard = lock_key(kv, req, key);
    let mut meta = store::load_meta(req.storage, key)?.unwrap_or_else(|| KeyMeta::new(now(req)));
    s.apply(&mut meta);
    if let Some(c) = custom {
        meta.custom_metadata = (!c.is_empty()).then_some(c);
    }
    store::save_meta(req.storage, key, &meta)?;
    Ok(with_warnings(warnings))
}

fn patch(kv: &KvState, req: &LogicalRequest<'_>, key: &str) -> Result<Response, LogicalError> {
    require_key(key)?;
    let s = settings(req, true)?;
    let custom_patch = req.data.get("custom_metadata");
    if let Some(v @ Value::Object(_)) = custom_patch {
        validate_custom_metadata(&parse_custom_metadata(v, true)?)?;
    } else if let Some(v) = custom_patch.filter(|v| !v.is_null()) {
        parse_custom_metadata(v, true)?;
    }
    let warnings = cas_warnings(req, &s)?;
    let _guard = lock_key(kv, req, key);
    let mut meta = store::load_meta(req.storage, key)?.ok_or(LogicalError::NotFound)?;
    s.apply(&mut meta);
    if let Some(p) = custom_patch {
        let merged = merge_custom_metadata(meta.custom_metadata.take().unwrap_or_default(), p);
        validate_custom_metadata(&merged)?;
        meta.custom_metadata = (!merged.is_empty()).then_some(merged);
    }
    store::save_meta(req.storage, key, &meta)?;
    Ok(with_warnings(warnings))
}

fn delete(kv: &KvState, req: &LogicalRequest<'_>, key: &str) -> Result<Response, LogicalError> {
    require_key(key)?;
    let _guard = lock_key(kv, req, key);
    if store::load_meta(req.storage, key)?.is_none() {
        return Ok(Response::empty());
    }
    let mut ops: Vec<Op> = req
        .storage
        .scan(&store::versions_folder(key))?
        .into_iter()
        .map(|p| (p, None))
        .collect();
    ops.push((store::meta_path(key), None));
    req.storage.transaction(ops)?;
    Ok(Response::empty())
}

/// Custom metadata as strings (numbers and booleans are converted, as
/// Vault's weak decoding does). With `skip_nulls`, null members are left
/// out (a patch's "remove this key").
fn parse_custom_metadata(
    raw: &Value,
    skip_nulls: bool,
) -> Result<BTreeMap<String, String>, LogicalError> {
    let Value::Object(members) = raw else {
        return Err(LogicalError::BadRequest(
            "field \"custom_metadata\" must be an object".into(),
        ));
    };
    let mut out = BTreeMap::new();
    for (k, v) in members {
        let s = match v {
            Value::Null if skip_nulls => continue,
            Value::Null => String::new(),
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            _ => {
                return Err(LogicalError::BadRequest(format!(
                    "{CUSTOM_PREFIX}: value for key {k:?} must be a string"
                )))
            }
        };
        out.insert(k.clone(), s);
    }
    Ok(out)
}

/// JSON merge patch of custom metadata: `null` removes everything or one
/// key; other values set.
fn merge_custom_metadata(
    mut current: BTreeMap<String, String>,
    patch: &Value,
) -> BTreeMap<String, String> {
    let Value::Object(members) = patch else {
        return BTreeMap::new();
    };
    for (k, v) in members {
        match v {
            Value::Null => {
                current.remove(k);
            }
            Value::String(s) => {
                current.insert(k.clone(), s.clone());
            }
            other => {
                current.insert(k.clone(), other.to_string());
            }
        }
    }
    current
}

fn printable(s: &str) -> bool {
    !s.chars().any(char::is_control)
}

/// Vault's limits: at most 64 keys; keys 1..=128 bytes, values 1..=512
/// bytes, printable. Errors name the key, never the value.
fn validate_custom_metadata(m: &BTreeMap<String, String>) -> Result<(), LogicalError> {
    if m.len() > MAX_CUSTOM_KEYS {
        return Err(LogicalError::BadRequest(format!(
            "{CUSTOM_PREFIX}: payload must contain at most {MAX_CUSTOM_KEYS} keys, provided {}",
            m.len()
        )));
    }
    let mut errs = Vec::new();
    for (k, v) in m {
        if k.is_empty() || k.len() > MAX_CUSTOM_KEY_LEN {
            errs.push(format!(
                "{CUSTOM_PREFIX}: length of key {k:?} is {} but must be 0 < len(key) <= {MAX_CUSTOM_KEY_LEN}",
                k.len()
            ));
        }
        if v.is_empty() || v.len() > MAX_CUSTOM_VALUE_LEN {
            errs.push(format!(
                "{CUSTOM_PREFIX}: length of value for key {k:?} is {} but must be 0 < len(value) <= {MAX_CUSTOM_VALUE_LEN}",
                v.len()
            ));
        }
        if !printable(k) {
            errs.push(format!(
                "{CUSTOM_PREFIX}: key {k:?} contains unprintable characters"
            ));
        }
        if !printable(v) {
            errs.push(format!(
                "{CUSTOM_PREFIX}: value for key {k:?} contains unprintable characters"
            ));
        }
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(LogicalError::BadRequest(errs.join("; ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn custom_metadata_parsing_and_limits() {
        let m = parse_custom_metadata(&json!({"a": "x", "n": 5, "b": true}), false).unwrap();
        assert_eq!(m["n"], "5");
        assert_eq!(m["b"], "true");
        assert!(validate_custom_metadata(&m).is_ok());
        assert!(parse_custom_metadata(&json!({"a": {"x": 1}}), false).is_err());
        assert!(parse_custom_metadata(&json!("x"), false).is_err());
        let nulls = parse_custom_metadata(&json!({"a": null}), false).unwrap();
        assert!(validate_custom_metadata(&nulls).is_err());
        assert!(parse_custom_metadata(&json!({"a": null}), true)
            .unwrap()
            .is_empty());
        let too_many: BTreeMap<String, String> = (0..65)
            .map(|i| (format!("k{i}"), "v".to_string()))
            .collect();
        assert!(validate_custom_metadata(&too_many).is_err());
        let long_value = BTreeMap::from([("k".to_string(), "v".repeat(513))]);
        let err = validate_custom_metadata(&long_value)
            .unwrap_err()
            .to_string();
        assert!(!err.contains("vvvv"), "{err}");
        let ctrl = BTreeMap::from([("k".to_string(), "a\u{7}".to_string())]);
        assert!(validate_custom_metadata(&ctrl).is_err());
    }

    #[test]
    fn custom_metadata_merge() {
        let cur = BTreeMap::from([
            ("a".to_string(), "1".to_string()),
            ("b".to_string(), "2".to_string()),
        ]);
        let out = merge_custom_metadata(cur.clone(), &json!({"a": null, "c": "3"}));
        assert_eq!(
            out,
            BTreeMap::from([
                ("b".to_string(), "2".to_string()),
                ("c".to_string(), "3".to_string())
            ])
        );
        assert!(merge_custom_metadata(cur, &Value::Null).is_empty());
    }
}
