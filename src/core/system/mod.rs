//! The system backend (`sys/`), a part of the core: seal management,
//! mounts, policies, audit devices, leases, wrapping, capabilities.
//!
//! Owns: the HTTP-facing shape of `sys/*` paths (fields in, JSON out).
//! Must not touch physical storage or key material directly: it calls the
//! core's typed methods (the seal/rekey state machine in
//! [`super::seal_state`]) and the barrier's public operations.

mod audit;
mod capabilities;
mod leases;
mod mounts;
mod policies;
mod seal;
mod storage;

use std::sync::Arc;

pub(crate) use mounts::Migrations;

use crate::core::pipeline::{authorize, Authenticated};
use crate::core::{Active, Core, CoreError};
use crate::sdk::{Operation, Request, Response};

/// Serves the `sys/` paths that need no token (seal lifecycle, health).
/// `None`: not one of them.
pub fn handle_unauthenticated(core: &Core, req: &Request) -> Result<Option<Response>, CoreError> {
    if req.path == "sys/metrics" && core.config().unauthenticated_metrics {
        return metrics(core, req).map(Some);
    }
    seal::handle_unauthenticated(core, req)
}

/// Whether [`handle_unauthenticated`] serves `path` (whatever the
/// operation: a wrong one is refused there, not for want of a token).
pub fn is_unauthenticated(core: &Core, path: &str) -> bool {
    if path == "sys/metrics" && core.config().unauthenticated_metrics {
        return true;
    }
    path.strip_prefix("sys/")
        .is_some_and(|p| seal::UNAUTHENTICATED.contains(&p))
}

/// `sys/metrics` (`?format=prometheus` for the text format).
fn metrics(core: &Core, req: &Request) -> Result<Response, CoreError> {
    if req.operation != Operation::Read {
        return Err(crate::logical::LogicalError::UnsupportedOperation.into());
    }
    let format = crate::logical::fields::opt_string(&req.data, "format")?;
    Ok(match format.as_deref() {
        Some("prometheus") => Response {
            text: Some((
                "text/plain; version=0.0.4".into(),
                core.metrics().prometheus(core),
            )),
            status: Some(200),
            ..Response::default()
        },
        None | Some("") | Some("json") => Response::json(core.metrics().json(core)),
        Some(other) => {
            return Err(CoreError::BadRequest(format!(
                "unsupported metrics format \"{other}\""
            )))
        }
    })
}

/// Serves an authenticated `sys/` request.
pub(crate) fn handle(
    core: &Core,
    active: &Arc<Active>,
    req: &Request,
    auth: &Authenticated,
) -> Result<Response, CoreError> {
    let path = req.path.strip_prefix("sys/").unwrap_or("");
    // A token may ask how a mount it can use is configured (clients use it
    // to detect the KV version), as in Vault: the check is in `mounts`.
    if !path.starts_with("internal/ui/mounts/") {
        let sudo = needs_sudo(path, req.operation);
        authorize(auth, req.operation, &req.path, sudo)?;
    }
    if path == "metrics" {
        return metrics(core, req);
    }
    if let Some(r) = seal::handle(core, req, path)? {
        return Ok(r);
    }
    if let Some(r) = storage::handle(core, req, path)? {
        return Ok(r);
    }
    if let Some(r) = mounts::handle(core, active, req, path, auth)? {
        return Ok(r);
    }
    if let Some(r) = policies::handle(active, req, path)? {
        return Ok(r);
    }
    if let Some(r) = audit::handle(active, req, path)? {
        return Ok(r);
    }
    if let Some(r) = crate::core::wrapping::handle(active, req)? {
        return Ok(r);
    }
    if let Some(r) = leases::handle(active, req, path, auth)? {
        return Ok(r);
    }
    if let Some(r) = capabilities::handle(active, req, path, auth)? {
        return Ok(r);
    }
    if let Some(r) = crate::core::scheduler::handle_dev_clock(core, active, req, path, auth)? {
        return Ok(r);
    }
    Err(CoreError::UnsupportedPath(req.path.clone()))
}

/// Vault's root-protected system paths (the `sys/` route table).
fn needs_sudo(path: &str, op: Operation) -> bool {
    crate::core::sys_routes::sys_sudo(path, op)
}
