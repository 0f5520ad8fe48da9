//! AppRole roles: `role/:name` (create, update, read, delete, LIST `role`),
//! `role/:name/role-id` and the one-field endpoints
//! (`role/:name/token-ttl`, `…/policies`, …).
//!
//! Owns: the `role/` and `role_id/` entries of the mount. Deleting a role
//! also deletes its secret ids (through [`super::secret_id`]).

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::salt::Kind;
use super::AppRoleBackend;
use crate::auth::tokenutil::{cidr_list, Alias, TokenFields};
use crate::barrier::StorageView;
use crate::logical::{fields, LogicalError, LogicalRequest};
use crate::sdk::{Operation, Response};

/// Legacy names a role still accepts.
const ALIASES: &[Alias] = &[("policies", "token_policies"), ("period", "token_period")];
/// Longest role name (as Vault).
const MAX_NAME_LEN: usize = 4096;

/// A stored role.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(super) struct RoleEntry {
    /// The role's name, lower-cased.
    pub name: String,
    pub role_id: String,
    pub bind_secret_id: bool,
    #[serde(default)]
    pub secret_id_bound_cidrs: Vec<String>,
    #[serde(default)]
    pub secret_id_num_uses: u64,
    #[serde(default)]
    pub secret_id_ttl: u64,
    #[serde(default)]
    pub local_secret_ids: bool,
    #[serde(flatten)]
    pub token: TokenFields,
}

/// The `role_id/<hmac>` index entry.
#[derive(Serialize, Deserialize)]
pub(super) struct RoleIdIndex {
    pub name: String,
}

/// A role name, checked and lower-cased (Vault's `GenericNameRegex`, plus
/// the spaces its documentation allows).
pub(super) fn normalize_name(name: &str) -> Result<String, LogicalError> {
    let ok_inner = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ' ');
    let ok_edge = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let valid = !name.is_empty()
        && name.len() < MAX_NAME_LEN
        && name.chars().all(ok_inner)
        && name.chars().next().is_some_and(ok_edge)
        && name.chars().last().is_some_and(ok_edge);
    if !valid {
        return Err(LogicalError::BadRequest(format!(
            "invalid role name \"{}\"",
            name.chars().take(64).collect::<String>()
        )));
    }
    // Policies match paths case-sensitively: a name that differs from its
    // stored (lower-case) form would be checked against another path.
    if name.chars().any(|c| c.is_ascii_uppercase()) {
        return Err(LogicalError::BadRequest(
            "role names must be lower case".into(),
        ));
    }
    Ok(name.to_string())
}

fn role_key(name: &str) -> String {
    format!("role/{name}")
}

fn json_bytes<T: Serialize>(v: &T) -> Result<Vec<u8>, LogicalError> {
    serde_json::to_vec(v).map_err(|_| LogicalError::Internal("cannot encode entry".into()))
}

/// Loads a role by (not yet normalized) name; `None` if it does not exist.
pub(super) fn load(storage: &StorageView, name: &str) -> Result<Option<RoleEntry>, LogicalError> {
    let Ok(name) = normalize_name(name) else {
        return Ok(None);
    };
    Ok(storage.get_json::<RoleEntry>(&role_key(&name))?)
}

/// Loads a role or fails with Vault's 400 `role "x" does not exist`.
pub(super) fn require(storage: &StorageView, name: &str) -> Result<RoleEntry, LogicalError> {
    load(storage, name)?.ok_or_else(|| {
        LogicalError::BadRequest(format!(
            "role \"{}\" does not exist",
            name.chars().take(64).collect::<String>()
        ))
    })
}

/// Persists `role`, moving its role_id index if the role_id changed.
fn save(
    b: &AppRoleBackend,
    storage: &StorageView,
    role: &RoleEntry,
    previous_role_id: Option<&str>,
) -> Result<(), LogicalError> {
    let _ids = b.lock_role_ids();
    let new_hmac = b.salt.hmac(storage, Kind::RoleId, &role.role_id)?;
    let new_key = format!("role_id/{new_hmac}");
    if let Some(idx) = storage.get_json::<RoleIdIndex>(&new_key)? {
        if idx.name != role.name {
            return Err(LogicalError::BadRequest("role_id already in use".into()));
        }
    }
    let mut ops = vec![
        (role_key(&role.name), Some(json_bytes(role)?)),
        (
            new_key.clone(),
            Some(json_bytes(&RoleIdIndex {
                name: role.name.clone(),
            })?),
        ),
    ];
    if let Some(old) = previous_role_id.filter(|old| *old != role.role_id) {
        let old_key = format!("role_id/{}", b.salt.hmac(storage, Kind::RoleId, old)?);
        if old_key != new_key {
            ops.push((old_key, None));
        }
    }
    storage.transaction(ops)?;
    Ok(())
}

/// Applies the role fields present in `data` to `role`.
fn apply(
    role: &mut RoleEntry,
    data: &Map<String, Value>,
    create: bool,
) -> Result<(), LogicalError> {
    if let Some(b) = fields::opt_bool(data, "bind_secret_id")? {
        role.bind_secret_id = b;
    }
    let cidr_field = if data.contains_key("secret_id_bound_cidrs") {
        "secret_id_bound_cidrs"
    } else {
        "bound_cidr_list"
    };
    if let Some(c) = cidr_list(data, cidr_field)? {
        role.secret_id_bound_cidrs = c;
    }
    if let Some(n) = fields::opt_u64(data, "secret_id_num_uses")? {
        role.secret_id_num_uses = n;
    }
    if let Some(t) = fields::opt_duration(data, "secret_id_ttl")? {
        role.secret_id_ttl = t;
    }
    if let Some(local) = fields::opt_bool(data, "local_secret_ids")? {
        if create {
            role.local_secret_ids = local;
        } else if local != role.local_secret_ids {
            return Err(LogicalError::BadRequest(
                "local_secret_ids can only be modified during role creation".into(),
            ));
        }
    }
    role.token.update(data, ALIASES)?;
    if let Some(id) = fields::opt_string(data, "role_id")? {
        let id = id.trim();
        if !id.is_empty() {
            role.role_id = id.to_string();
        }
    }
    if !role.bind_secret_id
        && role.secret_id_bound_cidrs.is_empty()
        && role.token.token_bound_cidrs.is_empty()
    {
        return Err(LogicalError::BadRequest(
            "at least one constraint should be enabled on the role".into(),
        ));
    }
    Ok(())
}

/// POST role/:name — create or update.
pub(super) fn write(
    b: &AppRoleBackend,
    req: &LogicalRequest<'_>,
    name: &str,
) -> Result<Response, LogicalError> {
    let name = normalize_name(name)?;
    let _guard = b.lock_role(&name);
    let existing = req.storage.get_json::<RoleEntry>(&role_key(&name))?;
    let create = existing.is_none();
    let previous_role_id = existing.as_ref().map(|r| r.role_id.clone());
    let mut role = existing.unwrap_or_else(|| RoleEntry {
        name: name.clone(),
        bind_secret_id: true,
        ..RoleEntry::default()
    });
    apply(&mut role, req.data, create)?;
    if role.role_id.is_empty() {
        role.role_id = uuid::Uuid::new_v4().to_string();
    }
    save(b, req.storage, &role, previous_role_id.as_deref())?;
    Ok(Response::empty())
}

/// The fields of a role as Vault's read shows them.
fn to_map(role: &RoleEntry) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("bind_secret_id".into(), json!(role.bind_secret_id));
    // Vault: null until set.
    let cidrs = &role.secret_id_bound_cidrs;
    m.insert(
        "secret_id_bound_cidrs".into(),
        if cidrs.is_empty() {
            Value::Null
        } else {
            json!(cidrs)
        },
    );
    m.insert("secret_id_num_uses".into(), json!(role.secret_id_num_uses));
    m.insert("secret_id_ttl".into(), json!(role.secret_id_ttl));
    m.insert("local_secret_ids".into(), json!(role.local_secret_ids));
    role.token.populate(&mut m);
    role.token.populate_legacy(&mut m, ALIASES);
    m
}

/// GET role/:name.
pub(super) fn read(req: &LogicalRequest<'_>, name: &str) -> Result<Response, LogicalError> {
    match load(req.storage, name)? {
        Some(role) => Ok(Response::data(to_map(&role))),
        None => Err(LogicalError::NotFound),
    }
}

/// DELETE role/:name — with its role_id index and all its secret ids.
pub(super) fn delete(
    b: &AppRoleBackend,
    req: &LogicalRequest<'_>,
    name: &str,
) -> Result<Response, LogicalError> {
    let Ok(name) = normalize_name(name) else {
        return Ok(Response::empty());
    };
    let _guard = b.lock_role(&name);
    let Some(role) = req.storage.get_json::<RoleEntry>(&role_key(&name))? else {
        return Ok(Response::empty());
    };
    let _ids = b.lock_role_ids();
    let mut ops = super::secret_id::delete_all_ops(b, req.storage, &role.name)?;
    ops.push((role_key(&role.name), None));
    let id_hmac = b.salt.hmac(req.storage, Kind::RoleId, &role.role_id)?;
    ops.push((format!("role_id/{id_hmac}"), None));
    req.storage.transaction(ops)?;
    Ok(Response::empty())
}

/// LIST role.
pub(super) fn list(req: &LogicalRequest<'_>) -> Result<Response, LogicalError> {
    let keys = req.storage.list("role/")?;
    if keys.is_empty() {
        return Err(LogicalError::NotFound);
    }
    Ok(Response::list(keys))
}

/// GET role/:name/role-id.
pub(super) fn read_role_id(req: &LogicalRequest<'_>, name: &str) -> Result<Response, LogicalError> {
    let role = load(req.storage, name)?.ok_or(LogicalError::NotFound)?;
    Ok(Response::json(json!({ "role_id": role.role_id })))
}

/// POST role/:name/role-id {role_id}.
pub(super) fn write_role_id(
    b: &AppRoleBackend,
    req: &LogicalRequest<'_>,
    name: &str,
) -> Result<Response, LogicalError> {
    let new_id = fields::req_string(req.data, "role_id")?.trim().to_string();
    if new_id.is_empty() {
        return Err(LogicalError::BadRequest("missing role_id".into()));
    }
    let name = normalize_name(name)?;
    let _guard = b.lock_role(&name);
    let mut role = req
        .storage
        .get_json::<RoleEntry>(&role_key(&name))?
        .ok_or(LogicalError::NotFound)?;
    let previous = std::mem::replace(&mut role.role_id, new_id);
    save(b, req.storage, &role, Some(&previous))?;
    Ok(Response::empty())
}

/// A one-field endpoint: its path segment, the keys it shows (the first
/// is the one it sets), and the value a DELETE resets it to.
pub(super) struct FieldEndpoint {
    segment: &'static str,
    keys: &'static [&'static str],
    reset: fn() -> Value,
}

const fn field(
    segment: &'static str,
    keys: &'static [&'static str],
    reset: fn() -> Value,
) -> FieldEndpoint {
    FieldEndpoint {
        segment,
        keys,
        reset,
    }
}

pub(super) const FIELD_ENDPOINTS: &[FieldEndpoint] = &[
    field("policies", &["token_policies", "policies"], || json!([])),
    field("secret-id-num-uses", &["secret_id_num_uses"], || json!(0)),
    field("secret-id-ttl", &["secret_id_ttl"], || json!(0)),
    field("token-num-uses", &["token_num_uses"], || json!(0)),
    field("token-ttl", &["token_ttl"], || json!(0)),
    field("token-max-ttl", &["token_max_ttl"], || json!(0)),
    field("bind-secret-id", &["bind_secret_id"], || json!(true)),
    field("secret-id-bound-cidrs", &["secret_id_bound_cidrs"], || {
        json!([])
    }),
    field("bound-cidr-list", &["secret_id_bound_cidrs"], || json!([])),
    field("token-bound-cidrs", &["token_bound_cidrs"], || json!([])),
    field("period", &["token_period", "period"], || json!(0)),
    field("local-secret-ids", &["local_secret_ids"], || json!(false)),
];

/// Whether `segment` is one of the one-field endpoints.
#[cfg(test)]
pub(super) fn is_field_endpoint(segment: &str) -> bool {
    FIELD_ENDPOINTS.iter().any(|f| f.segment == segment)
}

/// GET/POST/DELETE role/:name/<field>.
pub(super) fn field_endpoint(
    b: &AppRoleBackend,
    req: &LogicalRequest<'_>,
    name: &str,
    segment: &str,
) -> Result<Response, LogicalError> {
    let Some(endpoint) = FIELD_ENDPOINTS.iter().find(|f| f.segment == segment) else {
        return Err(LogicalError::UnsupportedPath(req.path.to_string()));
    };
    let name = normalize_name(name)?;
    let _guard = b.lock_role(&name);
    let mut role = req
        .storage
        .get_json::<RoleEntry>(&role_key(&name))?
        .ok_or(LogicalError::NotFound)?;
    if req.operation == Operation::Read {
        let all = to_map(&role);
        let shown = endpoint
            .keys
            .iter()
            .filter_map(|k| all.get(*k).map(|v| (k.to_string(), v.clone())))
            .collect();
        return Ok(Response::data(shown));
    }
    let data = field_change(endpoint, req)?;
    apply(&mut role, &data, false)?;
    save(b, req.storage, &role, Some(&role.role_id.clone()))?;
    Ok(Response::empty())
}

/// The role fields a write or delete on a one-field endpoint sets.
fn field_change(
    endpoint: &FieldEndpoint,
    req: &LogicalRequest<'_>,
) -> Result<Map<String, Value>, LogicalError> {
    let main = endpoint.keys[0];
    if endpoint.segment == "local-secret-ids" {
        return Err(LogicalError::UnsupportedOperation);
    }
    let mut data = Map::new();
    match req.operation {
        Operation::Delete => {
            data.insert(main.to_string(), (endpoint.reset)());
        }
        Operation::Create | Operation::Update => {
            let legacy: &[&str] = if main == "secret_id_bound_cidrs" {
                &["bound_cidr_list"]
            } else {
                &[]
            };
            for k in endpoint.keys.iter().chain(legacy) {
                if let Some(v) = req.data.get(*k).filter(|v| !v.is_null()) {
                    data.insert(k.to_string(), v.clone());
                }
            }
            if data.is_empty() {
                return Err(LogicalError::BadRequest(format!("missing {main}")));
            }
        }
        _ => return Err(LogicalError::UnsupportedOperation),
    }
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(normalize_name("web-app.1").unwrap(), "web-app.1");
        assert!(normalize_name("Web-App.1").is_err());
        assert!(normalize_name("a").is_ok());
        assert!(normalize_name("-a").is_err());
        assert!(normalize_name("a/b").is_err());
        assert!(normalize_name("").is_err());
    }

    #[test]
    fn constraints_and_aliases() {
        let mut role = RoleEntry {
            bind_secret_id: true,
            ..RoleEntry::default()
        };
        let data = json!({"policies": "Web,db", "period": "1h", "secret_id_ttl": "10m"});
        apply(&mut role, data.as_object().unwrap(), true).unwrap();
        assert_eq!(role.token.token_policies, vec!["db", "web"]);
        assert_eq!(role.token.token_period, 3600);
        assert_eq!(role.secret_id_ttl, 600);
        let off = json!({"bind_secret_id": false});
        assert!(apply(&mut role, off.as_object().unwrap(), false).is_err());
        let off = json!({"bind_secret_id": false, "secret_id_bound_cidrs": "127.0.0.1/32"});
        assert!(apply(&mut role, off.as_object().unwrap(), false).is_ok());
        let local = json!({"local_secret_ids": true});
        assert!(apply(&mut role, local.as_object().unwrap(), false).is_err());
    }
}
