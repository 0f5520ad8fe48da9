//! `data/:key`: read a version, write a new one (with check-and-set),
//! patch the latest (JSON merge patch, RFC 7386), soft-delete the latest.
//!
//! Owns: the data endpoint's request handling and response shapes. Must
//! not write storage except through one transaction per change.

use serde_json::{json, Map, Value};

use super::config::{self, Config};
use super::store;
use super::versions::{auto_deletion_time, now, KeyMeta};
use super::{live_version, lock_key, not_found_with, require_key, valid_key, KvState, Live};
use crate::logical::{fields, LogicalError, LogicalRequest};
use crate::sdk::{Operation, Response};

pub(super) fn handle(
    kv: &KvState,
    req: &LogicalRequest<'_>,
    key: &str,
) -> Result<Response, LogicalError> {
    if !valid_key(key) {
        return Err(LogicalError::UnsupportedPath(req.path.to_string()));
    }
    match req.operation {
        Operation::Read => read(kv, req, key),
        Operation::Create | Operation::Update => write(kv, req, key),
        Operation::Patch => patch(kv, req, key),
        Operation::Delete => delete_latest(kv, req, key),
        Operation::List => Err(LogicalError::UnsupportedOperation),
    }
}

fn read(kv: &KvState, req: &LogicalRequest<'_>, key: &str) -> Result<Response, LogicalError> {
    let (data, metadata) = match live_version(kv, req, key, "data")? {
        Live::Found(data, metadata) => (data, metadata),
        Live::Gone(resp) => return Ok(*resp),
    };
    Ok(Response::json(json!({"data": data, "metadata": metadata})))
}

/// The required `data` object of a write or patch.
fn data_field(body: &Map<String, Value>) -> Result<&Map<String, Value>, LogicalError> {
    match body.get("data") {
        Some(Value::Object(m)) => Ok(m),
        None | Some(Value::Null) => Err(LogicalError::BadRequest("no data provided".into())),
        Some(_) => Err(LogicalError::BadRequest(
            "field \"data\" must be an object".into(),
        )),
    }
}

/// `options.cas`, if given.
fn cas_option(body: &Map<String, Value>) -> Result<Option<u64>, LogicalError> {
    let Some(options) = fields::opt_object(body, "options")? else {
        return Ok(None);
    };
    if !options.contains_key("cas") {
        return Ok(None);
    }
    // A negative integer matches no version: Vault's mismatch error.
    let negative = match options.get("cas") {
        Some(Value::Number(n)) => n.as_i64().is_some_and(|n| n < 0),
        Some(Value::String(s)) => s.trim().parse::<i64>().is_ok_and(|n| n < 0),
        _ => false,
    };
    if negative {
        return Err(LogicalError::CasMismatch);
    }
    match fields::opt_u64(&options, "cas") {
        Ok(Some(n)) => Ok(Some(n)),
        Ok(None) if options.get("cas") == Some(&Value::Null) => Ok(None),
        _ => Err(LogicalError::BadRequest(
            "error parsing check-and-set parameter".into(),
        )),
    }
}

/// Vault's check-and-set rules: a given `cas` must equal the current
/// version; without one, the write is refused if the mount or key says
/// cas is required.
fn check_cas(cas: Option<u64>, config: &Config, meta: &KeyMeta) -> Result<(), LogicalError> {
    match cas {
        Some(c) if c != meta.current_version => Err(LogicalError::CasMismatch),
        Some(_) => Ok(()),
        None if config.cas_required || meta.cas_required => Err(LogicalError::BadRequest(
            "check-and-set parameter required for this call".into(),
        )),
        None => Ok(()),
    }
}

fn write(kv: &KvState, req: &LogicalRequest<'_>, key: &str) -> Result<Response, LogicalError> {
    require_key(key)?;
    let data = data_field(req.data)?;
    let cas = cas_option(req.data)?;
    store::ensure_marker(kv, req.storage)?;
    let config = config::load(req.storage)?;
    let _guard = lock_key(kv, req, key);
    let meta = store::load_meta(req.storage, key)?.unwrap_or_default();
    check_cas(cas, &config, &meta)?;
    commit_version(req, key, meta, &config, data)
}

/// Adds `data` as the next version of `key`, prunes, stores it all in one
/// transaction and answers with the new version's metadata.
fn commit_version(
    req: &LogicalRequest<'_>,
    key: &str,
    mut meta: KeyMeta,
    config: &Config,
    data: &Map<String, Value>,
) -> Result<Response, LogicalError> {
    let created = now(req);
    let deletion = auto_deletion_time(
        created,
        config.delete_version_after,
        meta.delete_version_after,
    );
    let (n, pruned) = meta.add_version(created, deletion, config.max_versions);
    let ops = store::version_write_ops(key, &meta, n, data, &pruned)?;
    req.storage.transaction(ops)?;
    let v = meta
        .versions
        .get(&n)
        .ok_or_else(|| LogicalError::Internal("kv: new version missing".into()))?;
    Ok(Response::json(meta.version_json(n, v)))
}

fn patch(kv: &KvState, req: &LogicalRequest<'_>, key: &str) -> Result<Response, LogicalError> {
    require_key(key)?;
    let patch = data_field(req.data)?;
    let cas = cas_option(req.data)?;
    store::ensure_marker(kv, req.storage)?;
    let config = config::load(req.storage)?;
    let _guard = lock_key(kv, req, key);
    let meta = store::load_meta(req.storage, key)?.ok_or(LogicalError::NotFound)?;
    check_cas(cas, &config, &meta)?;
    let n = meta.current_version;
    let v = meta.versions.get(&n).ok_or(LogicalError::NotFound)?;
    if !v.is_live(now(req))? {
        // Vault answers a patch of a deleted/destroyed latest version with
        // the version's metadata, flat, and 404.
        return Ok(not_found_with(req, meta.version_json(n, v)));
    }
    let mut merged = Value::Object(store::load_version(req.storage, key, n)?);
    merge_patch(&mut merged, &Value::Object(patch.clone()));
    let Value::Object(merged) = merged else {
        return Err(LogicalError::Internal(
            "kv: merge patch lost the object".into(),
        ));
    };
    commit_version(req, key, meta, &config, &merged)
}

fn delete_latest(
    kv: &KvState,
    req: &LogicalRequest<'_>,
    key: &str,
) -> Result<Response, LogicalError> {
    let _guard = lock_key(kv, req, key);
    let Some(mut meta) = store::load_meta(req.storage, key)? else {
        return Ok(Response::empty());
    };
    let n = meta.current_version;
    if meta.soft_delete(n, now(req))? {
        store::save_meta(req.storage, key, &meta)?;
    }
    Ok(Response::empty())
}

/// Applies a JSON merge patch (RFC 7386) to `target` in place: objects
/// merge recursively, `null` removes a member, anything else replaces.
pub(super) fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(members) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Value::Object(t) = target else {
        return;
    };
    for (k, v) in members {
        if v.is_null() {
            t.remove(k);
        } else {
            merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mp(target: Value, patch: Value) -> Value {
        let mut t = target;
        merge_patch(&mut t, &patch);
        t
    }

    #[test]
    fn rfc7386_examples() {
        // The test vectors of RFC 7386, appendix A.
        let cases = [
            (json!({"a":"b"}), json!({"a":"c"}), json!({"a":"c"})),
            (json!({"a":"b"}), json!({"b":"c"}), json!({"a":"b","b":"c"})),
            (json!({"a":"b"}), json!({"a":null}), json!({})),
            (
                json!({"a":"b","b":"c"}),
                json!({"a":null}),
                json!({"b":"c"}),
            ),
            (json!({"a":["b"]}), json!({"a":"c"}), json!({"a":"c"})),
            (json!({"a":"c"}), json!({"a":["b"]}), json!({"a":["b"]})),
            (
                json!({"a":{"b":"c"}}),
                json!({"a":{"b":"d","c":null}}),
                json!({"a":{"b":"d"}}),
            ),
            (json!({"a":[{"b":"c"}]}), json!({"a":[1]}), json!({"a":[1]})),
            (json!(["a", "b"]), json!(["c", "d"]), json!(["c", "d"])),
            (json!({"a":"b"}), json!(["c"]), json!(["c"])),
            (json!({"a":"foo"}), json!(null), json!(null)),
            (json!({"a":"foo"}), json!("bar"), json!("bar")),
            (json!({"e":null}), json!({"a":1}), json!({"e":null,"a":1})),
            (json!([1, 2]), json!({"a":"b","c":null}), json!({"a":"b"})),
            (
                json!({}),
                json!({"a":{"bb":{"ccc":null}}}),
                json!({"a":{"bb":{}}}),
            ),
        ];
        for (target, patch, want) in cases {
            assert_eq!(
                mp(target.clone(), patch.clone()),
                want,
                "{target} + {patch}"
            );
        }
    }

    #[test]
    fn cas_rules() {
        let meta = KeyMeta {
            current_version: 2,
            ..KeyMeta::default()
        };
        let free = Config::default();
        let strict = Config {
            cas_required: true,
            ..Config::default()
        };
        assert!(check_cas(None, &free, &meta).is_ok());
        assert!(check_cas(Some(2), &free, &meta).is_ok());
        assert!(matches!(
            check_cas(Some(1), &free, &meta),
            Err(LogicalError::CasMismatch)
        ));
        assert!(matches!(
            check_cas(None, &strict, &meta),
            Err(LogicalError::BadRequest(_))
        ));
        let key_strict = KeyMeta {
            cas_required: true,
            ..meta.clone()
        };
        assert!(check_cas(None, &free, &key_strict).is_err());
        assert!(check_cas(Some(2), &strict, &key_strict).is_ok());
    }

    #[test]
    fn cas_option_parsing() {
        let b = |v: Value| v.as_object().cloned().unwrap();
        assert_eq!(cas_option(&b(json!({}))).unwrap(), None);
        assert_eq!(cas_option(&b(json!({"options": {}}))).unwrap(), None);
        assert_eq!(
            cas_option(&b(json!({"options": {"cas": 0}}))).unwrap(),
            Some(0)
        );
        assert_eq!(
            cas_option(&b(json!({"options": {"cas": "3"}}))).unwrap(),
            Some(3)
        );
        assert!(cas_option(&b(json!({"options": {"cas": "x"}}))).is_err());
        assert!(matches!(
            cas_option(&b(json!({"options": {"cas": -1}}))),
            Err(LogicalError::CasMismatch)
        ));
        assert!(matches!(
            cas_option(&b(json!({"options": {"cas": "-3"}}))),
            Err(LogicalError::CasMismatch)
        ));
        assert!(cas_option(&b(json!({"options": 5}))).is_err());
    }

    #[test]
    fn data_must_be_an_object() {
        let b = |v: Value| v.as_object().cloned().unwrap();
        assert!(data_field(&b(json!({}))).is_err());
        assert!(data_field(&b(json!({"data": "x"}))).is_err());
        assert!(data_field(&b(json!({"data": [1]}))).is_err());
        assert!(data_field(&b(json!({"data": {}}))).is_ok());
    }
}
