//! sys/leases/* (and the legacy sys/renew, sys/revoke): lookup, renew,
//! revoke, revoke-prefix and listing of leases.

use serde_json::{json, Value};

use crate::core::pipeline::Authenticated;
use crate::core::sys_routes::SysRoute;
use crate::core::{Active, CoreError};
use crate::expiration::{LeaseEntry, LeaseKind};
use crate::logical::{fields, LogicalError};
use crate::sdk::time::unix_to_rfc3339;
use crate::sdk::{Operation, Request, Response};

pub(super) fn handle(
    active: &Active,
    req: &Request,
    route: SysRoute<'_>,
    _auth: &Authenticated,
) -> Result<Response, CoreError> {
    let write = matches!(req.operation, Operation::Create | Operation::Update);
    match route {
        SysRoute::LeaseLookup if write => lookup(active, &lease_id(req, None)?),
        SysRoute::LeaseRenew(id) if write => renew(active, &lease_id(req, id)?),
        SysRoute::LeaseRevoke(id) if write => revoke(active, &lease_id(req, id)?),
        SysRoute::LeaseRevokePrefix(prefix) if write => revoke_prefix(active, prefix),
        SysRoute::LeaseList(prefix) if req.operation == Operation::List => list(active, prefix),
        _ => Err(LogicalError::UnsupportedOperation.into()),
    }
}

fn lease_id(req: &Request, from_path: Option<&str>) -> Result<String, CoreError> {
    if let Some(p) = from_path.filter(|p| !p.is_empty()) {
        return Ok(p.to_string());
    }
    fields::opt_string(&req.data, "lease_id")?
        .filter(|s| !s.is_empty())
        .ok_or_else(|| CoreError::BadRequest("missing required field \"lease_id\"".into()))
}

fn find(active: &Active, id: &str) -> Result<LeaseEntry, CoreError> {
    active
        .expiration
        .lookup(id)
        .map_err(|_| CoreError::BadRequest("invalid lease".into()))?
        .ok_or_else(|| CoreError::BadRequest("invalid lease".into()))
}

fn lookup(active: &Active, id: &str) -> Result<Response, CoreError> {
    let e = find(active, id)?;
    let now = active.expiration.clock().unix();
    // The request path that made the lease: its ID less the last segment
    // (`auth/token/create/<id>` was made by `auth/token/create`).
    let path = e.lease_id.rsplit_once('/').map_or("", |(p, _)| p);
    Ok(Response::json(json!({
        "id": e.lease_id,
        "path": path,
        "issue_time": unix_to_rfc3339(e.issue_time),
        "expire_time": unix_to_rfc3339(e.expire_time),
        "last_renewal": if e.last_renewal == 0 { Value::Null } else { json!(unix_to_rfc3339(e.last_renewal)) },
        "renewable": e.renewable,
        "ttl": (e.expire_time - now).max(0),
    })))
}

/// `sys/leases/renew`: every lease vault-rs issues is a token's, and, as
/// Vault, a token is renewed through `auth/token/renew*` (which applies the
/// token's own rules), never here.
fn renew(active: &Active, id: &str) -> Result<Response, CoreError> {
    let e = find(active, id)?;
    let LeaseKind::Token { .. } = &e.kind;
    Err(CoreError::BadRequest(
        "tokens cannot be renewed through this endpoint: use auth/token/renew".into(),
    ))
}

fn revoke(active: &Active, id: &str) -> Result<Response, CoreError> {
    if let Some(e) = active
        .expiration
        .lookup(id)
        .map_err(|_| CoreError::BadRequest("invalid lease".into()))?
    {
        active.revoke_lease(&e)?;
    }
    Ok(Response::empty())
}

fn revoke_prefix(active: &Active, prefix: &str) -> Result<Response, CoreError> {
    // Canonical already: no leading, doubled or trailing '/'.
    if prefix.is_empty() {
        return Err(CoreError::BadRequest("missing prefix".into()));
    }
    for id in active.expiration.ids_under(prefix)? {
        if let Some(e) = active.expiration.lookup(&id)? {
            active.revoke_lease(&e)?;
        }
    }
    Ok(Response::empty())
}

fn list(active: &Active, prefix: &str) -> Result<Response, CoreError> {
    let prefix = if prefix.is_empty() || prefix.ends_with('/') {
        prefix.to_string()
    } else {
        format!("{prefix}/")
    };
    let keys = active.expiration.list(&prefix)?;
    if keys.is_empty() {
        return Err(LogicalError::NotFound.into());
    }
    Ok(Response::list(keys))
}
