//! `login {role_id, secret_id}`: checks the credentials and the source
//! address, consumes one use of the secret id and asks the core for a
//! token with the role's settings. Every credential failure is the same
//! 400 "invalid role or secret ID".

use serde_json::{Map, Value};

use super::role::{RoleEntry, RoleIdIndex};
use super::salt::Kind;
use super::secret_id::{consume, invalid, unauthorized_source};
use super::AppRoleBackend;
use crate::auth::cidr;
use crate::crypto::{ct_eq, SecretString};
use crate::logical::{fields, LogicalError, LogicalRequest};
use crate::sdk::Response;

/// A trimmed, non-empty credential field, or `missing <field>`.
fn credential(req: &LogicalRequest<'_>, field: &str) -> Result<SecretString, LogicalError> {
    match fields::opt_string(req.data, field)? {
        Some(v) if !v.trim().is_empty() => Ok(SecretString::new(v.trim().to_string())),
        _ => Err(LogicalError::BadRequest(format!("missing {field}"))),
    }
}

/// POST login.
pub(super) fn login(
    b: &AppRoleBackend,
    req: &LogicalRequest<'_>,
) -> Result<Response, LogicalError> {
    let role_id = credential(req, "role_id")?;
    let id_hmac = b.salt.hmac(req.storage, Kind::RoleId, role_id.expose())?;
    let index = req
        .storage
        .get_json::<RoleIdIndex>(&format!("role_id/{id_hmac}"))?
        .ok_or_else(invalid)?;
    let _guard = b.lock_role(&index.name);
    let role = req
        .storage
        .get_json::<RoleEntry>(&format!("role/{}", index.name))?
        .filter(|r| ct_eq(r.role_id.as_bytes(), role_id.expose().as_bytes()))
        .ok_or_else(invalid)?;
    let remote = req.caller.remote_addr;
    if !cidr::allowed(&role.secret_id_bound_cidrs, remote) {
        return Err(unauthorized_source(remote, "role"));
    }
    let mut metadata = Map::new();
    let mut token_cidrs = role.token.token_bound_cidrs.clone();
    if role.bind_secret_id {
        let secret = credential(req, "secret_id")?;
        let entry = consume(b, req.storage, &role, &secret, remote, req.clock.unix())?;
        metadata = entry.metadata;
        if !entry.token_bound_cidrs.is_empty() {
            token_cidrs = entry.token_bound_cidrs;
        }
    }
    metadata.insert("role_name".into(), Value::from(role.name.clone()));
    let mut auth = role.token.login_auth();
    auth.metadata = metadata;
    auth.bound_cidrs = token_cidrs;
    auth.internal
        .insert("role_name".into(), Value::from(role.name.clone()));
    Ok(Response {
        login: Some(auth),
        ..Response::default()
    })
}
