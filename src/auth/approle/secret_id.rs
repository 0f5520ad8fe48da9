//! AppRole secret ids: generate (`role/:name/secret-id`,
//! `…/custom-secret-id`), LIST accessors, lookup and destroy by secret id
//! or by accessor, `tidy/secret-id`, and their use at login.
//!
//! Owns: the `secret_id/` and `accessor/` entries of the mount. A secret id
//! is stored only as its HMAC (the storage key); the accessor is a random
//! uuid indexed by its HMAC. Expired or used-up secret ids are deleted
//! when met. Callers that change a role's secret ids hold its role lock.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::role::{normalize_name, require, RoleEntry};
use super::salt::Kind;
use super::AppRoleBackend;
use crate::auth::cidr;
use crate::auth::tokenutil::{cidr_list, cidrs_subset};
use crate::barrier::StorageView;
use crate::crypto::SecretString;
use crate::logical::{fields, LogicalError, LogicalRequest};
use crate::sdk::time::unix_to_rfc3339;
use crate::sdk::Response;

/// Go's zero time, which Vault prints for "never expires".
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// A stored secret id (the secret itself is only in the storage key, as
/// an HMAC).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(super) struct SecretIdEntry {
    pub secret_id_accessor: String,
    #[serde(default)]
    pub secret_id_num_uses: u64,
    #[serde(default)]
    pub secret_id_ttl: u64,
    pub creation_time: i64,
    /// Unix seconds; 0: never expires.
    #[serde(default)]
    pub expiration_time: i64,
    pub last_updated_time: i64,
    #[serde(default)]
    pub metadata: Map<String, Value>,
    #[serde(default)]
    pub cidr_list: Vec<String>,
    #[serde(default)]
    pub token_bound_cidrs: Vec<String>,
}

impl SecretIdEntry {
    fn expired(&self, now: i64) -> bool {
        self.expiration_time != 0 && self.expiration_time <= now
    }

    fn to_map(&self) -> Map<String, Value> {
        let expiration = if self.expiration_time == 0 {
            ZERO_TIME.to_string()
        } else {
            unix_to_rfc3339(self.expiration_time)
        };
        let m = json!({
            "secret_id_accessor": self.secret_id_accessor,
            "secret_id_num_uses": self.secret_id_num_uses,
            "secret_id_ttl": self.secret_id_ttl,
            "creation_time": unix_to_rfc3339(self.creation_time),
            "expiration_time": expiration,
            "last_updated_time": unix_to_rfc3339(self.last_updated_time),
            "metadata": self.metadata,
            "cidr_list": self.cidr_list,
            "token_bound_cidrs": self.token_bound_cidrs,
        });
        m.as_object().cloned().unwrap_or_default()
    }
}

/// The `accessor/<hmac>` index entry.
#[derive(Serialize, Deserialize)]
struct AccessorIndex {
    secret_id_hmac: String,
    role: String,
}

type Ops = Vec<(String, Option<Vec<u8>>)>;

fn entry_key(role: &str, sid_hmac: &str) -> String {
    format!("secret_id/{role}/{sid_hmac}")
}

fn json_bytes<T: Serialize>(v: &T) -> Result<Vec<u8>, LogicalError> {
    serde_json::to_vec(v).map_err(|_| LogicalError::Internal("cannot encode entry".into()))
}

/// The storage deletions that remove one secret id and its accessor.
fn delete_ops(
    b: &AppRoleBackend,
    s: &StorageView,
    role: &str,
    sid_hmac: &str,
    e: &SecretIdEntry,
) -> Result<Ops, LogicalError> {
    let acc = b.salt.hmac(s, Kind::Accessor, &e.secret_id_accessor)?;
    Ok(vec![
        (entry_key(role, sid_hmac), None),
        (format!("accessor/{acc}"), None),
    ])
}

/// Deletions for every secret id of `role` (used when deleting the role).
pub(super) fn delete_all_ops(
    b: &AppRoleBackend,
    s: &StorageView,
    role: &str,
) -> Result<Ops, LogicalError> {
    let mut ops = Vec::new();
    for sid_hmac in s.list(&format!("secret_id/{role}/"))? {
        match s.get_json::<SecretIdEntry>(&entry_key(role, &sid_hmac))? {
            Some(e) => ops.extend(delete_ops(b, s, role, &sid_hmac, &e)?),
            None => ops.push((entry_key(role, &sid_hmac), None)),
        }
    }
    Ok(ops)
}

/// `metadata`: a JSON string (what Vault documents and hvac sends) or an
/// object, of string values.
fn parse_metadata(data: &Map<String, Value>) -> Result<Map<String, Value>, LogicalError> {
    let obj = match data.get("metadata") {
        None | Some(Value::Null) => return Ok(Map::new()),
        Some(Value::String(s)) if s.trim().is_empty() => return Ok(Map::new()),
        Some(Value::String(s)) => serde_json::from_str::<Value>(s).map_err(|_| {
            LogicalError::BadRequest("failed to parse metadata: not a JSON object".into())
        })?,
        Some(other) => other.clone(),
    };
    match obj {
        Value::Object(m) if m.values().all(Value::is_string) => Ok(m),
        _ => Err(LogicalError::BadRequest(
            "failed to parse metadata: must be a JSON object of strings".into(),
        )),
    }
}

/// `num_uses` and `ttl` of a new secret id: the request's, within the role's.
fn uses_and_ttl(req: &LogicalRequest<'_>, role: &RoleEntry) -> Result<(u64, u64), LogicalError> {
    let num_uses = match fields::opt_u64(req.data, "num_uses")? {
        Some(n) if role.secret_id_num_uses > 0 && (n == 0 || n > role.secret_id_num_uses) => {
            return Err(LogicalError::BadRequest(
                "num_uses cannot be higher than the role's secret_id_num_uses".into(),
            ))
        }
        Some(n) => n,
        None => role.secret_id_num_uses,
    };
    let mut ttl = match fields::opt_duration(req.data, "ttl")? {
        Some(t) if role.secret_id_ttl > 0 && (t == 0 || t > role.secret_id_ttl) => {
            return Err(LogicalError::BadRequest(
                "ttl cannot be longer than the role's secret_id_ttl".into(),
            ))
        }
        Some(t) => t,
        None => role.secret_id_ttl,
    };
    let mount_max = req.mount.max_lease_ttl;
    if mount_max > 0 && ttl > mount_max {
        ttl = mount_max;
    }
    Ok((num_uses, ttl))
}

/// POST role/:name/custom-secret-id {secret_id, …}.
pub(super) fn generate_custom(
    b: &AppRoleBackend,
    req: &LogicalRequest<'_>,
    name: &str,
) -> Result<Response, LogicalError> {
    let secret = SecretString::new(fields::req_string(req.data, "secret_id")?);
    generate(b, req, name, Some(secret))
}

/// POST role/:name/secret-id — a new random (uuid) secret id, or `custom`.
pub(super) fn generate(
    b: &AppRoleBackend,
    req: &LogicalRequest<'_>,
    name: &str,
    custom: Option<SecretString>,
) -> Result<Response, LogicalError> {
    let name = normalize_name(name)?;
    let _guard = b.lock_role(&name);
    // Vault answers a secret-id of a missing role with 404 (the message
    // is the same as elsewhere, where it is a 400).
    let role = require(req.storage, &name).map_err(|e| match e {
        LogicalError::BadRequest(m) => LogicalError::Missing(m),
        other => other,
    })?;
    if !role.bind_secret_id {
        return Err(LogicalError::BadRequest(
            "bind_secret_id is not set on the role".into(),
        ));
    }
    let cidrs = cidr_list(req.data, "cidr_list")?.unwrap_or_default();
    if !cidrs_subset(&cidrs, &role.secret_id_bound_cidrs) {
        return Err(LogicalError::BadRequest(
            "cidr_list must be a subset of the role's secret_id_bound_cidrs".into(),
        ));
    }
    let token_cidrs = cidr_list(req.data, "token_bound_cidrs")?.unwrap_or_default();
    if !cidrs_subset(&token_cidrs, &role.token.token_bound_cidrs) {
        return Err(LogicalError::BadRequest(
            "token_bound_cidrs must be a subset of the role's token_bound_cidrs".into(),
        ));
    }
    let (num_uses, ttl) = uses_and_ttl(req, &role)?;
    let now = req.clock.unix();
    let entry = SecretIdEntry {
        secret_id_accessor: uuid::Uuid::new_v4().to_string(),
        secret_id_num_uses: num_uses,
        secret_id_ttl: ttl,
        creation_time: now,
        expiration_time: if ttl > 0 {
            now.saturating_add(ttl as i64)
        } else {
            0
        },
        last_updated_time: now,
        metadata: parse_metadata(req.data)?,
        cidr_list: cidrs,
        token_bound_cidrs: token_cidrs,
    };
    let secret = custom.unwrap_or_else(|| SecretString::new(uuid::Uuid::new_v4().to_string()));
    let sid_hmac = b.salt.hmac(req.storage, Kind::SecretId, secret.expose())?;
    let key = entry_key(&name, &sid_hmac);
    if req.storage.get(&key)?.is_some() {
        return Err(LogicalError::BadRequest(
            "SecretID is already registered".into(),
        ));
    }
    let acc_hmac = b
        .salt
        .hmac(req.storage, Kind::Accessor, &entry.secret_id_accessor)?;
    let index = AccessorIndex {
        secret_id_hmac: sid_hmac,
        role: name,
    };
    req.storage.transaction(vec![
        (key, Some(json_bytes(&entry)?)),
        (format!("accessor/{acc_hmac}"), Some(json_bytes(&index)?)),
    ])?;
    Ok(Response::json(json!({
        "secret_id": secret.expose(),
        "secret_id_accessor": entry.secret_id_accessor,
        "secret_id_ttl": ttl,
        "secret_id_num_uses": num_uses,
    })))
}

/// LIST role/:name/secret-id — the accessors.
pub(super) fn list(
    b: &AppRoleBackend,
    req: &LogicalRequest<'_>,
    name: &str,
) -> Result<Response, LogicalError> {
    let name = normalize_name(name)?;
    let _guard = b.lock_role(&name);
    require(req.storage, &name)?;
    let mut keys = Vec::new();
    for sid_hmac in req.storage.list(&format!("secret_id/{name}/"))? {
        if let Some(e) = req
            .storage
            .get_json::<SecretIdEntry>(&entry_key(&name, &sid_hmac))?
        {
            keys.push(e.secret_id_accessor);
        }
    }
    if keys.is_empty() {
        return Err(LogicalError::NotFound);
    }
    keys.sort();
    Ok(Response::list(keys))
}

/// The secret id in the request (required), as a secret.
fn secret_field(req: &LogicalRequest<'_>) -> Result<SecretString, LogicalError> {
    match fields::opt_string(req.data, "secret_id")? {
        Some(s) if !s.trim().is_empty() => Ok(SecretString::new(s.trim().to_string())),
        _ => Err(LogicalError::BadRequest("missing secret_id".into())),
    }
}

/// The stored entry of `secret` under `role` (expired or not), with its HMAC.
fn stored_by_secret(
    b: &AppRoleBackend,
    s: &StorageView,
    role: &str,
    secret: &SecretString,
) -> Result<Option<(String, SecretIdEntry)>, LogicalError> {
    let sid_hmac = b.salt.hmac(s, Kind::SecretId, secret.expose())?;
    Ok(s.get_json::<SecretIdEntry>(&entry_key(role, &sid_hmac))?
        .map(|e| (sid_hmac, e)))
}

/// The live (unexpired) entry of `secret` under `role`, with its HMAC.
fn find_by_secret(
    b: &AppRoleBackend,
    s: &StorageView,
    role: &str,
    secret: &SecretString,
    now: i64,
) -> Result<Option<(String, SecretIdEntry)>, LogicalError> {
    Ok(stored_by_secret(b, s, role, secret)?.filter(|(_, e)| !e.expired(now)))
}

/// POST role/:name/secret-id/lookup {secret_id} — 204 when unknown (as Vault).
pub(super) fn lookup(
    b: &AppRoleBackend,
    req: &LogicalRequest<'_>,
    name: &str,
) -> Result<Response, LogicalError> {
    let secret = secret_field(req)?;
    let name = normalize_name(name)?;
    let _guard = b.lock_role(&name);
    require(req.storage, &name)?;
    match find_by_secret(b, req.storage, &name, &secret, req.clock.unix())? {
        Some((_, e)) => Ok(Response::data(e.to_map())),
        None => Ok(Response::empty()),
    }
}

/// POST role/:name/secret-id/destroy {secret_id}.
pub(super) fn destroy(
    b: &AppRoleBackend,
    req: &LogicalRequest<'_>,
    name: &str,
) -> Result<Response, LogicalError> {
    let secret = secret_field(req)?;
    let name = normalize_name(name)?;
    let _guard = b.lock_role(&name);
    require(req.storage, &name)?;
    // Expired entries are destroyed too.
    if let Some((sid_hmac, e)) = stored_by_secret(b, req.storage, &name, &secret)? {
        req.storage
            .transaction(delete_ops(b, req.storage, &name, &sid_hmac, &e)?)?;
    }
    Ok(Response::empty())
}

/// The entry an accessor of role `name` stands for (404 if none).
fn find_by_accessor(
    b: &AppRoleBackend,
    req: &LogicalRequest<'_>,
    name: &str,
) -> Result<(String, SecretIdEntry), LogicalError> {
    let accessor = fields::opt_string(req.data, "secret_id_accessor")?
        .map(|a| a.trim().to_string())
        .filter(|a| !a.is_empty())
        .ok_or_else(|| LogicalError::BadRequest("missing secret_id_accessor".into()))?;
    let acc_hmac = b.salt.hmac(req.storage, Kind::Accessor, &accessor)?;
    let index = req
        .storage
        .get_json::<AccessorIndex>(&format!("accessor/{acc_hmac}"))?
        .filter(|i| i.role == name)
        .ok_or(LogicalError::NotFound)?;
    let entry = req
        .storage
        .get_json::<SecretIdEntry>(&entry_key(name, &index.secret_id_hmac))?
        .ok_or(LogicalError::NotFound)?;
    Ok((index.secret_id_hmac, entry))
}

/// POST role/:name/secret-id-accessor/lookup {secret_id_accessor}.
pub(super) fn accessor_lookup(
    b: &AppRoleBackend,
    req: &LogicalRequest<'_>,
    name: &str,
) -> Result<Response, LogicalError> {
    let name = normalize_name(name)?;
    let _guard = b.lock_role(&name);
    require(req.storage, &name)?;
    let (_, e) = find_by_accessor(b, req, &name)?;
    Ok(Response::data(e.to_map()))
}

/// POST role/:name/secret-id-accessor/destroy {secret_id_accessor}.
pub(super) fn accessor_destroy(
    b: &AppRoleBackend,
    req: &LogicalRequest<'_>,
    name: &str,
) -> Result<Response, LogicalError> {
    let name = normalize_name(name)?;
    let _guard = b.lock_role(&name);
    require(req.storage, &name)?;
    let (sid_hmac, e) = find_by_accessor(b, req, &name)?;
    req.storage
        .transaction(delete_ops(b, req.storage, &name, &sid_hmac, &e)?)?;
    Ok(Response::empty())
}

/// Vault's answer to any failed login credential check.
pub(super) fn invalid() -> LogicalError {
    LogicalError::InvalidCredentials("invalid role or secret ID".into())
}

/// Checks `secret` for a login on `role` from `remote` and consumes one
/// use. The caller holds the role's lock. Expired or used-up secret ids
/// are deleted.
pub(super) fn consume(
    b: &AppRoleBackend,
    s: &StorageView,
    role: &RoleEntry,
    secret: &SecretString,
    remote: Option<std::net::IpAddr>,
    now: i64,
) -> Result<SecretIdEntry, LogicalError> {
    let sid_hmac = b.salt.hmac(s, Kind::SecretId, secret.expose())?;
    let key = entry_key(&role.name, &sid_hmac);
    let mut entry = s.get_json::<SecretIdEntry>(&key)?.ok_or_else(invalid)?;
    if entry.expired(now) {
        s.transaction(delete_ops(b, s, &role.name, &sid_hmac, &entry)?)?;
        return Err(invalid());
    }
    let acc_hmac = b.salt.hmac(s, Kind::Accessor, &entry.secret_id_accessor)?;
    if s.get(&format!("accessor/{acc_hmac}"))?.is_none() {
        s.delete(&key)?;
        return Err(invalid());
    }
    if !cidrs_subset(&entry.cidr_list, &role.secret_id_bound_cidrs) {
        return Err(invalid());
    }
    if !cidr::allowed(&entry.cidr_list, remote) {
        return Err(unauthorized_source(remote, "secret ID"));
    }
    match entry.secret_id_num_uses {
        0 => {}
        1 => s.transaction(delete_ops(b, s, &role.name, &sid_hmac, &entry)?)?,
        n => {
            entry.secret_id_num_uses = n - 1;
            entry.last_updated_time = now;
            s.put_json(&key, &entry)?;
        }
    }
    Ok(entry)
}

/// Vault's message for a login from outside the bound CIDR blocks.
pub(super) fn unauthorized_source(remote: Option<std::net::IpAddr>, what: &str) -> LogicalError {
    let addr = remote.map(|a| a.to_string()).unwrap_or_default();
    LogicalError::BadRequest(format!(
        "source address \"{addr}\" unauthorized by CIDR restrictions on the {what}"
    ))
}

/// POST tidy/secret-id — removes expired secret ids, secret ids of deleted
/// roles and accessors that point nowhere. Runs to completion before it
/// answers (202, as Vault, with a warning saying what was removed).
pub(super) fn tidy(b: &AppRoleBackend, req: &LogicalRequest<'_>) -> Result<Response, LogicalError> {
    let s = req.storage;
    let now = req.clock.unix();
    let mut removed = 0usize;
    for dir in s.list("secret_id/")? {
        let role = dir.trim_end_matches('/').to_string();
        let _guard = b.lock_role(&role);
        let role_exists = s.get(&format!("role/{role}"))?.is_some();
        let mut ops = Vec::new();
        for sid_hmac in s.list(&format!("secret_id/{role}/"))? {
            match s.get_json::<SecretIdEntry>(&entry_key(&role, &sid_hmac))? {
                Some(e) if !role_exists || e.expired(now) => {
                    ops.extend(delete_ops(b, s, &role, &sid_hmac, &e)?);
                    removed += 1;
                }
                _ => {}
            }
        }
        if !ops.is_empty() {
            s.transaction(ops)?;
        }
    }
    let dangling = tidy_accessors(b, s)?;
    let mut resp = Response::empty();
    resp.status = Some(202);
    resp.warnings.push(format!(
        "Tidy operation completed: removed {removed} expired secret IDs and {dangling} dangling accessors."
    ));
    Ok(resp)
}

/// Deletes accessor entries whose secret id no longer exists.
fn tidy_accessors(b: &AppRoleBackend, s: &StorageView) -> Result<usize, LogicalError> {
    let mut removed = 0;
    for acc_hmac in s.list("accessor/")? {
        let key = format!("accessor/{acc_hmac}");
        let Some(index) = s.get_json::<AccessorIndex>(&key)? else {
            continue;
        };
        let _guard = b.lock_role(&index.role);
        let gone = s
            .get(&entry_key(&index.role, &index.secret_id_hmac))?
            .is_none();
        // Re-check under the lock: a secret id being created writes both
        // entries in one transaction, so "gone" here is final.
        if gone && s.get(&key)?.is_some() {
            s.delete(&key)?;
            removed += 1;
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_forms() {
        let d = json!({"metadata": "{\"tag\": \"prod\"}"});
        assert_eq!(
            parse_metadata(d.as_object().unwrap()).unwrap()["tag"],
            json!("prod")
        );
        let d = json!({"metadata": {"a": "b"}});
        assert!(parse_metadata(d.as_object().unwrap()).is_ok());
        let d = json!({"metadata": "{\"a\": 1}"});
        assert!(parse_metadata(d.as_object().unwrap()).is_err());
        let d = json!({"metadata": "not json"});
        assert!(parse_metadata(d.as_object().unwrap()).is_err());
    }

    #[test]
    fn expiry_and_display() {
        let e = SecretIdEntry {
            expiration_time: 0,
            ..SecretIdEntry::default()
        };
        assert!(!e.expired(i64::MAX));
        assert_eq!(e.to_map()["expiration_time"], json!(ZERO_TIME));
        let e = SecretIdEntry {
            expiration_time: 10,
            ..SecretIdEntry::default()
        };
        assert!(e.expired(10));
        assert!(!e.expired(9));
    }
}
