//! The per-request pipeline: unauthenticated system paths first; then
//! sealed check, token lookup, ACL check, dispatch, token use accounting.

use std::sync::Arc;

use super::state::{policy_err, token_err};
use super::{Active, Core, CoreError, Operation, Request, Response};
use crate::auth::token::TokenEntry;
use crate::logical::{system, Caller, LogicalRequest};
use crate::policy::{Acl, Capability};

/// Who made the request and what they may do.
pub(crate) struct Authenticated {
    pub caller: Caller,
    pub entry: TokenEntry,
    pub acl: Arc<Acl>,
}

pub(crate) fn handle(core: &Core, mut req: Request) -> Result<Response, CoreError> {
    if let Some(resp) = system::handle_unauthenticated(core, &req)? {
        return Ok(resp);
    }
    let active = core.active()?;
    let auth = authenticate(&active, &req)?;
    let result = dispatch(core, &active, &mut req, &auth);
    active.tokens.use_token(&auth.entry).map_err(token_err)?;
    result
}

fn authenticate(active: &Active, req: &Request) -> Result<Authenticated, CoreError> {
    let token = req
        .client_token
        .as_ref()
        .ok_or(CoreError::PermissionDenied)?;
    let entry = active.tokens.lookup(token.expose()).map_err(token_err)?;
    let acl = active.policies.acl(&entry.policies).map_err(policy_err)?;
    let caller = Caller {
        accessor: entry.accessor.clone(),
        token_key: entry.key.clone(),
        policies: entry.policies.clone(),
        display_name: entry.display_name.clone(),
        metadata: entry.meta.clone(),
        remote_addr: req.remote_addr,
    };
    Ok(Authenticated { caller, entry, acl })
}

/// The capability an operation needs.
pub(crate) fn capability_for(op: Operation) -> Capability {
    match op {
        Operation::Read => Capability::Read,
        Operation::List => Capability::List,
        Operation::Create => Capability::Create,
        Operation::Update => Capability::Update,
        Operation::Patch => Capability::Patch,
        Operation::Delete => Capability::Delete,
    }
}

/// Checks that `auth` may perform `op` on `path` (and has sudo if needed).
pub(crate) fn authorize(
    auth: &Authenticated,
    op: Operation,
    path: &str,
    sudo: bool,
) -> Result<(), CoreError> {
    let caps = if op == Operation::List {
        auth.acl.list_capabilities(path)
    } else {
        auth.acl.capabilities(path)
    };
    if !caps.contains(capability_for(op)) || (sudo && !caps.contains(Capability::Sudo)) {
        return Err(CoreError::PermissionDenied);
    }
    Ok(())
}

fn dispatch(
    core: &Core,
    active: &Arc<Active>,
    req: &mut Request,
    auth: &Authenticated,
) -> Result<Response, CoreError> {
    if req.path == "sys" || req.path.starts_with("sys/") {
        return system::handle(core, active, req, auth);
    }
    if req.path.starts_with("auth/token/") || req.path == "auth/token" {
        return crate::auth::token::handlers::handle(core, active, req, auth);
    }
    route_to_mount(active, req, auth)
}

fn route_to_mount(
    active: &Active,
    req: &mut Request,
    auth: &Authenticated,
) -> Result<Response, CoreError> {
    let router = active.router();
    let Some((mounted, rel)) = router.route(&req.path) else {
        return Err(CoreError::UnsupportedPath(req.path.clone()));
    };
    let lreq = LogicalRequest {
        operation: req.operation,
        path: rel,
        data: &req.data,
        storage: &mounted.storage,
        mount: &mounted.entry,
        caller: &auth.caller,
    };
    let op = resolve_write_op(mounted.backend.as_ref(), &lreq)?;
    req.operation = op;
    authorize(auth, op, &req.path, false)?;
    let lreq = LogicalRequest {
        operation: op,
        ..lreq
    };
    let mut resp = mounted.backend.handle(&lreq)?;
    resp.mount_type = Some(mounted.entry.kind.clone());
    Ok(resp)
}

/// Create vs update: asks the engine whether the target exists.
fn resolve_write_op(
    backend: &dyn crate::logical::LogicalBackend,
    req: &LogicalRequest<'_>,
) -> Result<Operation, CoreError> {
    if !matches!(req.operation, Operation::Create | Operation::Update) {
        return Ok(req.operation);
    }
    Ok(match backend.exists(req)? {
        Some(false) => Operation::Create,
        _ => Operation::Update,
    })
}
